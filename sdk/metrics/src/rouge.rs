//! ROUGE-1, ROUGE-2 and ROUGE-L as Google's `rouge-score` computes them
//! (`RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=…)`, `score`
//! and `score_multi`), through the `rougers` crate, a port that reproduces
//! rouge-score's tokenizer, NLTK's Porter stemmer and its scores exactly.
//! `tests/text_metrics_reference.rs` checks it against fixtures made by
//! rouge-score 0.1.2, with and without stemming.
//!
//! [`rouge_l`] is the same LCS score on token ids, for rewards, which see
//! ids rather than text.

use rougers::{RougeScorer, RougeType};

/// Precision, recall and F1 of one ROUGE metric.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RougeScore {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl RougeScore {
    fn new(overlap: usize, predicted: usize, reference: usize) -> Self {
        let precision = overlap as f64 / predicted.max(1) as f64;
        let recall = overlap as f64 / reference.max(1) as f64;
        RougeScore {
            precision,
            recall,
            f1: rougers::fmeasure(precision, recall),
        }
    }
}

impl From<rougers::Score> for RougeScore {
    fn from(score: rougers::Score) -> Self {
        RougeScore {
            precision: score.precision,
            recall: score.recall,
            f1: score.fmeasure,
        }
    }
}

/// ROUGE-1, ROUGE-2, ROUGE-L of one prediction.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rouge {
    pub rouge1: RougeScore,
    pub rouge2: RougeScore,
    pub rouge_l: RougeScore,
}

impl Rouge {
    fn from_scores(scores: &rougers::Scores) -> Self {
        let get = |kind| scores.get(kind).map(RougeScore::from).unwrap_or_default();
        Rouge {
            rouge1: get(RougeType::N(1)),
            rouge2: get(RougeType::N(2)),
            rouge_l: get(RougeType::L),
        }
    }
}

/// rouge-score's scorer for ROUGE-1/2/L, with or without Porter stemming.
#[derive(Clone, Debug)]
pub struct RougeMetric {
    scorer: RougeScorer,
}

impl RougeMetric {
    pub fn new(use_stemmer: bool) -> Self {
        let scorer = RougeScorer::with_tokenizer(
            vec![RougeType::N(1), RougeType::N(2), RougeType::L],
            rougers::Tokenizer::new(use_stemmer),
        )
        .expect("n-gram sizes 1 and 2 are valid");
        RougeMetric { scorer }
    }

    /// The scores of `prediction` against `reference`.
    pub fn score(&self, reference: &str, prediction: &str) -> Rouge {
        Rouge::from_scores(&self.scorer.score(reference, prediction))
    }

    /// The scores against several references: for each metric, the
    /// reference with the highest F1 (the first on ties), as `score_multi`
    /// does; zero without references.
    pub fn score_multi<R: AsRef<str>>(&self, references: &[R], prediction: &str) -> Rouge {
        self.scorer
            .score_multi(references, prediction)
            .map(|scores| Rouge::from_scores(&scores))
            .unwrap_or_default()
    }
}

fn longest_common_subsequence<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut previous = vec![0usize; b.len() + 1];
    let mut current = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            current[j + 1] = if x == y {
                previous[j] + 1
            } else {
                current[j].max(previous[j + 1])
            };
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// ROUGE-L of already tokenised sequences (token ids, for rewards): the
/// LCS score that [`RougeMetric`] computes after its tokenizer.
pub fn rouge_l<T: PartialEq>(reference: &[T], prediction: &[T]) -> RougeScore {
    if reference.is_empty() || prediction.is_empty() {
        return RougeScore::default();
    }
    RougeScore::new(
        longest_common_subsequence(reference, prediction),
        prediction.len(),
        reference.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rouge_l_on_ids_equals_the_text_score() {
        let metric = RougeMetric::new(false);
        let (reference, prediction) = ("a b c d e", "a c x e d");
        let ids = |text: &str| {
            text.split(' ')
                .map(|w| w.as_bytes()[0])
                .collect::<Vec<u8>>()
        };
        assert_eq!(
            rouge_l(&ids(reference), &ids(prediction)),
            metric.score(reference, prediction).rouge_l
        );
    }
}
