//! Sentence BLEU against a fixed reference corpus, as a reward.
//!
//! Every hypothesis is scored against the whole corpus as its reference set
//! (the PG-BLEU baseline of SeqGAN): modified n-gram precision with counts
//! clipped by the maximum count over references, NLTK's `method1`
//! smoothing (ε added to zero numerators), uniform weights, and the brevity
//! penalty against the closest reference length. The per-n-gram maximum
//! counts are precomputed once, so a reward costs O(length · order).

use std::collections::HashMap;

use agon_sdk::{PluginError, PluginResult, RewardImpl, RewardInput, TokenBatch};
use serde::{Deserialize, Serialize};

/// Configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BleuRewardConfig {
    /// Highest n-gram order (BLEU-4 by default).
    pub max_order: usize,
    /// NLTK `method1` ε for zero counts.
    pub epsilon: f64,
}

impl Default for BleuRewardConfig {
    fn default() -> Self {
        BleuRewardConfig {
            max_order: 4,
            epsilon: 0.1,
        }
    }
}

/// BLEU against the corpus given by `set_corpus`.
pub struct BleuReward {
    config: BleuRewardConfig,
    /// For each order n (index n − 1): n-gram → max count in any reference.
    max_counts: Vec<HashMap<Vec<u32>, u32>>,
    /// Sorted distinct reference lengths.
    reference_lengths: Vec<usize>,
}

impl BleuReward {
    pub fn new(config: BleuRewardConfig) -> PluginResult<Self> {
        if config.max_order == 0 {
            return Err(PluginError::config("max_order must be at least 1"));
        }
        Ok(BleuReward {
            max_counts: vec![HashMap::new(); config.max_order],
            reference_lengths: Vec::new(),
            config,
        })
    }

    fn score(&self, hypothesis: &[u32]) -> f64 {
        let len = hypothesis.len();
        if len == 0 {
            return 0.0;
        }
        let mut log_sum = 0.0;
        for n in 1..=self.config.max_order {
            let total = len.saturating_sub(n - 1);
            if total == 0 {
                // NLTK: a hypothesis shorter than n has precision 0 → smoothed.
                log_sum += (self.config.epsilon / 1.0f64).ln();
                continue;
            }
            let clipped = clipped_matches(hypothesis, n, &self.max_counts[n - 1]);
            if n == 1 && clipped == 0 {
                // NLTK returns 0 outright when no unigram matches, smoothing or not.
                return 0.0;
            }
            let precision = if clipped == 0 {
                self.config.epsilon / total as f64
            } else {
                clipped as f64 / total as f64
            };
            log_sum += precision.ln();
        }
        let closest = self
            .reference_lengths
            .iter()
            .copied()
            .min_by_key(|&r| (r.abs_diff(len), r))
            .unwrap_or(len);
        let brevity = if len >= closest {
            1.0
        } else {
            (1.0 - closest as f64 / len as f64).exp()
        };
        brevity * (log_sum / self.config.max_order as f64).exp()
    }
}

fn ngram_counts(tokens: &[u32], n: usize) -> HashMap<&[u32], u32> {
    let mut counts = HashMap::new();
    for gram in tokens.windows(n) {
        *counts.entry(gram).or_insert(0) += 1;
    }
    counts
}

fn clipped_matches(hypothesis: &[u32], n: usize, max_counts: &HashMap<Vec<u32>, u32>) -> u32 {
    ngram_counts(hypothesis, n)
        .into_iter()
        .map(|(gram, count)| count.min(max_counts.get(gram).copied().unwrap_or(0)))
        .sum()
}

impl RewardImpl for BleuReward {
    fn needs_discriminator(&self) -> bool {
        false
    }

    fn set_corpus(&mut self, corpus: &TokenBatch) -> PluginResult<()> {
        for table in &mut self.max_counts {
            table.clear();
        }
        let mut lengths = Vec::with_capacity(corpus.rows());
        for reference in corpus.iter_rows() {
            lengths.push(reference.len());
            for (n, table) in self.max_counts.iter_mut().enumerate() {
                for (gram, count) in ngram_counts(reference, n + 1) {
                    let slot = table.entry(gram.to_vec()).or_insert(0);
                    *slot = (*slot).max(count);
                }
            }
        }
        lengths.sort_unstable();
        lengths.dedup();
        self.reference_lengths = lengths;
        Ok(())
    }

    fn rewards(&mut self, input: &RewardInput) -> PluginResult<Vec<f32>> {
        if self.reference_lengths.is_empty() {
            return Err(PluginError::input(
                "bleu reward has no references: the host must call set_corpus first",
            ));
        }
        Ok(input
            .sequences
            .iter_rows()
            .map(|h| self.score(h) as f32)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reward(corpus: &[Vec<u32>]) -> BleuReward {
        let mut r = BleuReward::new(BleuRewardConfig::default()).unwrap();
        r.set_corpus(&TokenBatch::from_rows(corpus, 0)).unwrap();
        r
    }

    // Fixtures from NLTK 3.9.1 (`pip install nltk==3.9.1`), computed with
    // `from nltk.translate.bleu_score import sentence_bleu, SmoothingFunction;
    //  sentence_bleu(refs, hyp, smoothing_function=SmoothingFunction().method1)`.

    #[test]
    fn a_reference_scores_one() {
        let r = reward(&[vec![1, 2, 3, 4, 5, 6], vec![7, 8, 9, 10]]);
        assert!((r.score(&[1, 2, 3, 4, 5, 6]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn matches_nltk_method1() {
        // refs [[1,2,3,4,5,6]], hyp [1,2,3,4,9,6] → 0.537284965911771
        let r = reward(&[vec![1, 2, 3, 4, 5, 6]]);
        assert!((r.score(&[1, 2, 3, 4, 9, 6]) - 0.537284965911771).abs() < 1e-9);
        // refs [[1..6], [7,8,9,10]], hyp [20..25] → 0 (no unigram match)
        let r = reward(&[vec![1, 2, 3, 4, 5, 6], vec![7, 8, 9, 10]]);
        assert_eq!(r.score(&[20, 21, 22, 23, 24, 25]), 0.0);
        // same refs, hyp [7,8,9] → 0.40293516672844226 (brevity penalty, p4 smoothed)
        assert!((r.score(&[7, 8, 9]) - 0.40293516672844226).abs() < 1e-9);
    }
}
