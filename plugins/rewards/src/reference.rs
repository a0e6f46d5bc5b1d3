//! Rewards against each row's own reference (conditional tasks: the gold
//! translation, summary or response of the row's source), and their mixture
//! with the discriminator.
//!
//! * `sentence-bleu`: NLTK sentence BLEU (method1, uniform weights up to
//!   `max_order`) of the row against its reference — the SDK's BLEU core,
//!   checked against NLTK fixtures;
//! * `rouge-l`: ROUGE-L F1 (LCS) of the row against its reference, as
//!   rouge-score computes it, on token ids;
//! * `mixture`: `λ·D + (1 − λ)·metric` (Wu et al. 2017 mix the BLEU of
//!   sampled translations into the adversarial reward; Liu et al. 2018
//!   combine D with ROUGE for summaries).
//!
//! Token ids are compared up to each sequence's end-of-sequence token.

use agon_sdk::{
    metrics::{rouge_l, BleuReferences},
    PluginContext, PluginError, PluginResult, RewardImpl, RewardInput, TokenBatch,
};
use serde::{Deserialize, Serialize};

/// Which metric a reference reward computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    SentenceBleu,
    RougeL,
}

/// Configuration of `sentence-bleu`. (`rouge-l` has none: its manifest
/// declares no configuration, so the host refuses any.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricRewardConfig {
    /// Highest BLEU n-gram order, uniform weights.
    pub max_order: usize,
}

impl Default for MetricRewardConfig {
    fn default() -> Self {
        MetricRewardConfig { max_order: 4 }
    }
}

/// Configuration of `mixture`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MixtureConfig {
    /// The metric mixed with D.
    pub metric: Metric,
    /// Weight λ of the discriminator's probability (0 = the metric alone,
    /// 1 = D alone).
    pub lambda: f32,
    /// Highest BLEU n-gram order, uniform weights (`metric: sentence-bleu`).
    pub max_order: usize,
}

impl Default for MixtureConfig {
    fn default() -> Self {
        MixtureConfig {
            metric: Metric::SentenceBleu,
            lambda: 0.5,
            max_order: 4,
        }
    }
}

/// An id no vocabulary holds: what `<unk>` in an output is compared as, so
/// an unknown word never matches the reference's `<unk>` (the evaluation
/// metrics score against raw reference text, where it would not match
/// either).
const UNMATCHABLE: u32 = u32::MAX;

/// A metric against each row's reference, optionally mixed with D.
pub struct ReferenceReward {
    metric: Metric,
    /// `Some(λ)` for the mixture.
    lambda: Option<f32>,
    max_order: usize,
    eos: Option<u32>,
    unk: Option<u32>,
}

impl ReferenceReward {
    /// `sentence-bleu` or `rouge-l`.
    pub fn metric(metric: Metric, context: &PluginContext) -> PluginResult<Self> {
        let max_order = match metric {
            Metric::SentenceBleu => context.config::<MetricRewardConfig>()?.max_order,
            // Unused by ROUGE-L; any value `build` accepts.
            Metric::RougeL => MetricRewardConfig::default().max_order,
        };
        Self::build(metric, None, max_order, context)
    }

    /// `mixture`.
    pub fn mixture(context: &PluginContext) -> PluginResult<Self> {
        let config: MixtureConfig = context.config()?;
        if !(0.0..=1.0).contains(&config.lambda) {
            return Err(PluginError::config(format!(
                "lambda must be in [0, 1], got {}",
                config.lambda
            )));
        }
        Self::build(
            config.metric,
            Some(config.lambda),
            config.max_order,
            context,
        )
    }

    fn build(
        metric: Metric,
        lambda: Option<f32>,
        max_order: usize,
        context: &PluginContext,
    ) -> PluginResult<Self> {
        if max_order == 0 {
            return Err(PluginError::config("max_order must be at least 1"));
        }
        Ok(ReferenceReward {
            metric,
            lambda,
            max_order,
            eos: context.vocab.eos.into_option(),
            unk: context.vocab.unk.into_option(),
        })
    }

    fn until_eos<'a>(&self, ids: &'a [u32]) -> &'a [u32] {
        match self
            .eos
            .and_then(|eos| ids.iter().position(|&id| id == eos))
        {
            Some(end) => &ids[..end],
            None => ids,
        }
    }

    /// The metric of `hypothesis` against `reference`, in [0, 1].
    fn score(&self, hypothesis: &[u32], reference: &[u32]) -> f64 {
        let hypothesis: Vec<u32> = self
            .until_eos(hypothesis)
            .iter()
            .map(|&id| {
                if Some(id) == self.unk {
                    UNMATCHABLE
                } else {
                    id
                }
            })
            .collect();
        let reference = self.until_eos(reference);
        match self.metric {
            Metric::SentenceBleu => {
                let references = BleuReferences::new(&[reference], self.max_order);
                references.sentence_bleu(&hypothesis)[self.max_order - 1]
            }
            Metric::RougeL => rouge_l(reference, &hypothesis).f1,
        }
    }
}

fn references(input: &RewardInput) -> PluginResult<&TokenBatch> {
    let references = input.references.as_ref().into_option().ok_or_else(|| {
        PluginError::input(
            "this reward scores each sequence against its reference and none were given: use it on a conditional task (translation, summarization, dialogue)",
        )
    })?;
    if references.rows() != input.sequences.rows() {
        return Err(PluginError::input(format!(
            "{} references for {} sequences",
            references.rows(),
            input.sequences.rows()
        )));
    }
    Ok(references)
}

impl RewardImpl for ReferenceReward {
    fn needs_discriminator(&self) -> bool {
        self.lambda.is_some_and(|l| l > 0.0)
    }

    fn rewards(&mut self, input: &RewardInput) -> PluginResult<Vec<f32>> {
        let references = references(input)?;
        let metric = input
            .sequences
            .iter_rows()
            .zip(references.iter_rows())
            .map(|(h, r)| self.score(h, r) as f32);
        let Some(lambda) = self.lambda.filter(|&l| l > 0.0) else {
            return Ok(metric.collect());
        };
        let scores = input.discriminator.as_ref().into_option().ok_or_else(|| {
            PluginError::input("the mixture reward needs discriminator scores, and none were given")
        })?;
        Ok(metric
            .zip(scores.iter())
            .map(|(m, &d)| lambda * d + (1.0 - lambda) * m)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use abi_stable::std_types::ROption;

    use super::*;

    const EOS: u32 = 2;

    fn context(config: &str) -> PluginContext {
        let mut context = PluginContext::for_tests(30, 10);
        context.vocab.eos = ROption::RSome(EOS);
        context.config_yaml = config.into();
        context
    }

    fn input(sequences: &[Vec<u32>], references: &[Vec<u32>], d: Option<Vec<f32>>) -> RewardInput {
        RewardInput {
            sequences: TokenBatch::from_rows(sequences, 0),
            sources: ROption::RNone,
            references: ROption::RSome(TokenBatch::from_rows(references, 0)),
            discriminator: d.map_or(ROption::RNone, |d| ROption::RSome(d.into())),
        }
    }

    #[test]
    fn each_row_is_scored_against_its_own_reference_up_to_eos() {
        let mut bleu = ReferenceReward::metric(Metric::SentenceBleu, &context("")).unwrap();
        let refs = vec![vec![5, 6, 7, 8, 9, EOS], vec![10, 11, 12, 13, EOS]];
        // Row 0 copies its reference (then junk after EOS); row 1 copies row 0's.
        let rewards = bleu
            .rewards(&input(
                &[vec![5, 6, 7, 8, 9, EOS, 20], vec![5, 6, 7, 8, 9, EOS]],
                &refs,
                None,
            ))
            .unwrap();
        assert!((rewards[0] - 1.0).abs() < 1e-6, "{rewards:?}");
        assert_eq!(rewards[1], 0.0);
        assert!(!bleu.needs_discriminator());
        // NLTK: sentence_bleu([[1,2,3,4,5,6]], [1,2,3,4,9,6], method1) =
        // 0.537284965911771 (ids shifted by 10, clear of EOS).
        let r = bleu
            .rewards(&input(
                &[vec![11, 12, 13, 14, 19, 16]],
                &[vec![11, 12, 13, 14, 15, 16]],
                None,
            ))
            .unwrap();
        assert!((r[0] - 0.537_285).abs() < 1e-5, "{r:?}");
    }

    #[test]
    fn an_unknown_word_never_matches() {
        const UNK: u32 = 3;
        let mut context = context("");
        context.vocab.unk = ROption::RSome(UNK);
        let mut bleu = ReferenceReward::metric(Metric::SentenceBleu, &context).unwrap();
        let reference = vec![vec![5, UNK, 7, 8, 9, EOS]];
        let copy = bleu
            .rewards(&input(&[vec![5, UNK, 7, 8, 9, EOS]], &reference, None))
            .unwrap();
        assert!(copy[0] < 0.9, "<unk> earned credit: {copy:?}");
        let mut rouge = ReferenceReward::metric(Metric::RougeL, &context).unwrap();
        let r = rouge
            .rewards(&input(&[vec![UNK, EOS]], &[vec![UNK, EOS]], None))
            .unwrap();
        assert_eq!(r[0], 0.0);
    }

    #[test]
    fn rouge_l_is_the_lcs_f1() {
        let mut rouge = ReferenceReward::metric(Metric::RougeL, &context("")).unwrap();
        // LCS of [5,6,7,8] and [5,7,9]: 2 → P 2/3, R 2/4, F1 4/7.
        let r = rouge
            .rewards(&input(
                &[vec![5, 7, 9, EOS]],
                &[vec![5, 6, 7, 8, EOS]],
                None,
            ))
            .unwrap();
        assert!((r[0] - 4.0 / 7.0).abs() < 1e-6, "{r:?}");
    }

    #[test]
    fn the_mixture_weights_d_and_the_metric() {
        let mut mixture =
            ReferenceReward::mixture(&context("metric: rouge-l\nlambda: 0.25\n")).unwrap();
        assert!(mixture.needs_discriminator());
        let r = mixture
            .rewards(&input(
                &[vec![5, 7, 9, EOS]],
                &[vec![5, 6, 7, 8, EOS]],
                Some(vec![0.8]),
            ))
            .unwrap();
        assert!(
            (r[0] - (0.25 * 0.8 + 0.75 * 4.0 / 7.0)).abs() < 1e-6,
            "{r:?}"
        );
        let err = mixture
            .rewards(&input(&[vec![5]], &[vec![5]], None))
            .unwrap_err();
        assert!(err.message().contains("discriminator"), "{err}");
        let pure = ReferenceReward::mixture(&context("lambda: 0\n")).unwrap();
        assert!(!pure.needs_discriminator());
        assert!(ReferenceReward::mixture(&context("lambda: 2\n")).is_err());
        // The metric rewards have no λ: a mixture setting there is a typo.
        let err = ReferenceReward::metric(Metric::SentenceBleu, &context("lambda: 0.5\n"))
            .err()
            .unwrap();
        assert!(err.message().contains("lambda"), "{err}");
    }

    #[test]
    fn unconditional_input_is_refused_with_the_reason() {
        let mut bleu = ReferenceReward::metric(Metric::SentenceBleu, &context("")).unwrap();
        let mut no_refs = input(&[vec![5]], &[vec![5]], None);
        no_refs.references = ROption::RNone;
        let err = bleu.rewards(&no_refs).unwrap_err();
        assert!(err.message().contains("conditional task"), "{err}");
    }
}
