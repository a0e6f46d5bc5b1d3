//! Sentence BLEU against a fixed reference corpus, as a reward.
//!
//! Every hypothesis is scored against the whole corpus as its reference set
//! (the PG-BLEU baseline of SeqGAN), with the SDK's BLEU core, which
//! reproduces NLTK's `sentence_bleu` with `method1` smoothing (checked
//! against NLTK fixtures in `sdk/metrics/tests/bleu_reference.rs`). The reference
//! n-grams are indexed once, so a reward costs O(length · order).

use agon_sdk::{
    metrics::BleuReferences, PluginError, PluginResult, RewardImpl, RewardInput, TokenBatch,
};
use serde::{Deserialize, Serialize};

/// Configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BleuRewardConfig {
    /// Highest n-gram order (BLEU-4 by default), with uniform weights.
    pub max_order: usize,
}

impl Default for BleuRewardConfig {
    fn default() -> Self {
        BleuRewardConfig { max_order: 4 }
    }
}

/// BLEU against the corpus given by `set_corpus`.
pub struct BleuReward {
    config: BleuRewardConfig,
    references: Option<BleuReferences>,
}

impl BleuReward {
    pub fn new(config: BleuRewardConfig) -> PluginResult<Self> {
        if config.max_order == 0 {
            return Err(PluginError::config("max_order must be at least 1"));
        }
        Ok(BleuReward {
            config,
            references: None,
        })
    }

    fn score(references: &BleuReferences, hypothesis: &[u32]) -> f64 {
        references.sentence_bleu(hypothesis)[references.max_order() - 1]
    }
}

impl RewardImpl for BleuReward {
    fn needs_discriminator(&self) -> bool {
        false
    }

    fn set_corpus(&mut self, corpus: &TokenBatch) -> PluginResult<()> {
        let rows: Vec<&[u32]> = corpus.iter_rows().collect();
        self.references = Some(BleuReferences::new(&rows, self.config.max_order));
        Ok(())
    }

    fn rewards(&mut self, input: &RewardInput) -> PluginResult<Vec<f32>> {
        let references = self
            .references
            .as_ref()
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                PluginError::input(
                    "bleu reward has no references: the host must call set_corpus first",
                )
            })?;
        Ok(input
            .sequences
            .iter_rows()
            .map(|h| Self::score(references, h) as f32)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn references(corpus: &[Vec<u32>]) -> BleuReferences {
        let mut r = BleuReward::new(BleuRewardConfig::default()).unwrap();
        r.set_corpus(&TokenBatch::from_rows(corpus, 0)).unwrap();
        r.references.unwrap()
    }

    // Fixtures from NLTK 3.9.1 (`pip install nltk==3.9.1`), computed with
    // `from nltk.translate.bleu_score import sentence_bleu, SmoothingFunction;
    //  sentence_bleu(refs, hyp, smoothing_function=SmoothingFunction().method1)`.

    #[test]
    fn a_reference_scores_one() {
        let r = references(&[vec![1, 2, 3, 4, 5, 6], vec![7, 8, 9, 10]]);
        assert!((BleuReward::score(&r, &[1, 2, 3, 4, 5, 6]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn matches_nltk_method1() {
        // refs [[1,2,3,4,5,6]], hyp [1,2,3,4,9,6] → 0.537284965911771
        let r = references(&[vec![1, 2, 3, 4, 5, 6]]);
        assert!((BleuReward::score(&r, &[1, 2, 3, 4, 9, 6]) - 0.537284965911771).abs() < 1e-9);
        // refs [[1..6], [7,8,9,10]], hyp [20..25] → 0 (no unigram match)
        let r = references(&[vec![1, 2, 3, 4, 5, 6], vec![7, 8, 9, 10]]);
        assert_eq!(BleuReward::score(&r, &[20, 21, 22, 23, 24, 25]), 0.0);
        // same refs, hyp [7,8,9] → 0.40293516672844226 (brevity penalty, p4 smoothed)
        assert!((BleuReward::score(&r, &[7, 8, 9]) - 0.40293516672844226).abs() < 1e-9);
    }
}
