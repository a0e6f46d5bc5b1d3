//! ROUGE-1, ROUGE-2 and ROUGE-L F1 as Google's `rouge-score` computes them
//! (`RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)`):
//! lower-case, every run of characters other than `a-z0-9` is a separator;
//! n-gram overlap clipped by counts; LCS for ROUGE-L; with several
//! references, the reference with the best F1 for each metric
//! (`score_multi`). `sdk/tests/rouge_reference.rs` checks against
//! rouge-score 0.1.2. Stemming (`use_stemmer=True`, NLTK's Porter stemmer)
//! is not implemented.

use std::collections::HashMap;

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
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        RougeScore {
            precision,
            recall,
            f1,
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

/// rouge-score's tokenizer without stemming.
pub fn tokenize(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    lower
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

fn ngram_counts(tokens: &[String], n: usize) -> HashMap<&[String], usize> {
    let mut counts = HashMap::new();
    if tokens.len() >= n {
        for gram in tokens.windows(n) {
            *counts.entry(gram).or_insert(0) += 1;
        }
    }
    counts
}

fn rouge_n(reference: &[String], prediction: &[String], n: usize) -> RougeScore {
    let reference_counts = ngram_counts(reference, n);
    let prediction_counts = ngram_counts(prediction, n);
    let overlap = reference_counts
        .iter()
        .map(|(gram, &count)| count.min(prediction_counts.get(gram).copied().unwrap_or(0)))
        .sum();
    RougeScore::new(
        overlap,
        prediction_counts.values().sum(),
        reference_counts.values().sum(),
    )
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
/// same LCS score as [`rouge`]'s `rouge_l` after its tokenizer.
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

/// The scores of `prediction` against `reference`.
pub fn rouge(reference: &str, prediction: &str) -> Rouge {
    let reference = tokenize(reference);
    let prediction = tokenize(prediction);
    Rouge {
        rouge1: rouge_n(&reference, &prediction, 1),
        rouge2: rouge_n(&reference, &prediction, 2),
        rouge_l: rouge_l(&reference, &prediction),
    }
}

/// The scores against several references: for each metric, the reference
/// with the highest F1 (the first on ties), as `score_multi` does.
pub fn rouge_multi<R: AsRef<str>>(references: &[R], prediction: &str) -> Rouge {
    let scores: Vec<Rouge> = references
        .iter()
        .map(|r| rouge(r.as_ref(), prediction))
        .collect();
    let best = |metric: fn(&Rouge) -> RougeScore| {
        scores
            .iter()
            .map(metric)
            .fold(None::<RougeScore>, |best, s| match best {
                Some(b) if b.f1 >= s.f1 => Some(b),
                _ => Some(s),
            })
            .unwrap_or_default()
    };
    Rouge {
        rouge1: best(|r| r.rouge1),
        rouge2: best(|r| r.rouge2),
        rouge_l: best(|r| r.rouge_l),
    }
}
