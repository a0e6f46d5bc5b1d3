//! BLEU, as NLTK's `sentence_bleu` (the Texygen protocol) and as sacreBLEU's
//! corpus BLEU.
//!
//! * [`BleuReferences::sentence_bleu`] reproduces
//!   `nltk.translate.bleu_score.sentence_bleu(refs, hyp, weights=(1/n,)*n,
//!   smoothing_function=SmoothingFunction().method1)`: modified n-gram
//!   precision with counts clipped by the largest count in any one
//!   reference, ε = 0.1 added to zero numerators, no score at all when no
//!   unigram matches, and the brevity penalty against the reference length
//!   closest to the hypothesis (ties: the shorter).
//! * The reference set is indexed once (per n-gram: the two largest counts
//!   and which reference holds the largest), so scoring a hypothesis against
//!   10,000 references costs O(length · order), and Self-BLEU — every
//!   hypothesis against all the *others* — needs no second index.
//! * [`corpus_bleu`] reproduces sacreBLEU's `corpus_bleu` on already
//!   tokenised text (`tokenize="none"`): statistics summed over the corpus,
//!   `exp` smoothing, BLEU-4, in percent.

use std::collections::{BTreeMap, HashMap};

/// NLTK `SmoothingFunction().method1`'s ε.
pub const NLTK_EPSILON: f64 = 0.1;

/// The two largest counts of one n-gram over the references.
#[derive(Clone, Copy, Debug, Default)]
struct TopCounts {
    best: u32,
    best_owner: u32,
    second: u32,
}

impl TopCounts {
    fn add(&mut self, count: u32, owner: u32) {
        if count > self.best {
            self.second = self.best;
            self.best = count;
            self.best_owner = owner;
        } else if count > self.second {
            self.second = count;
        }
    }

    /// The largest count in any reference other than `excluded`.
    fn max_without(&self, excluded: Option<u32>) -> u32 {
        if excluded == Some(self.best_owner) {
            self.second
        } else {
            self.best
        }
    }
}

/// An indexed reference set for sentence-level BLEU.
#[derive(Clone, Debug)]
pub struct BleuReferences {
    max_order: usize,
    /// Per order n (index n − 1): n-gram → top counts.
    tables: Vec<HashMap<Vec<u32>, TopCounts>>,
    /// Reference length → how many references have it.
    lengths: BTreeMap<usize, usize>,
    /// Length of each reference (to exclude one).
    reference_lengths: Vec<usize>,
}

fn ngram_counts(tokens: &[u32], n: usize) -> HashMap<&[u32], u32> {
    let mut counts = HashMap::new();
    if n > 0 && tokens.len() >= n {
        for gram in tokens.windows(n) {
            *counts.entry(gram).or_insert(0) += 1;
        }
    }
    counts
}

impl BleuReferences {
    /// Indexes `references` for BLEU up to `max_order` (≥ 1).
    pub fn new<R: AsRef<[u32]>>(references: &[R], max_order: usize) -> Self {
        let max_order = max_order.max(1);
        let mut tables: Vec<HashMap<Vec<u32>, TopCounts>> = vec![HashMap::new(); max_order];
        let mut lengths = BTreeMap::new();
        let mut reference_lengths = Vec::with_capacity(references.len());
        for (owner, reference) in references.iter().enumerate() {
            let reference = reference.as_ref();
            *lengths.entry(reference.len()).or_insert(0) += 1;
            reference_lengths.push(reference.len());
            for (n, table) in tables.iter_mut().enumerate() {
                for (gram, count) in ngram_counts(reference, n + 1) {
                    table
                        .entry(gram.to_vec())
                        .or_default()
                        .add(count, owner as u32);
                }
            }
        }
        BleuReferences {
            max_order,
            tables,
            lengths,
            reference_lengths,
        }
    }

    /// Number of references.
    pub fn len(&self) -> usize {
        self.reference_lengths.len()
    }

    /// Whether there are no references.
    pub fn is_empty(&self) -> bool {
        self.reference_lengths.is_empty()
    }

    /// Highest order indexed.
    pub fn max_order(&self) -> usize {
        self.max_order
    }

    /// NLTK sentence BLEU-n for every n in `1..=max_order` (index n − 1),
    /// each with uniform weights over orders 1..n.
    pub fn sentence_bleu(&self, hypothesis: &[u32]) -> Vec<f64> {
        self.score(hypothesis, None)
    }

    /// As [`Self::sentence_bleu`], with reference `excluded` left out of the
    /// set (Self-BLEU: a hypothesis is never its own reference).
    pub fn sentence_bleu_excluding(&self, hypothesis: &[u32], excluded: usize) -> Vec<f64> {
        self.score(hypothesis, Some(excluded))
    }

    fn closest_length(&self, hypothesis_len: usize, excluded: Option<usize>) -> Option<usize> {
        let excluded_len = excluded.map(|e| self.reference_lengths[e]);
        let available = |len: usize, count: usize| count > usize::from(Some(len) == excluded_len);
        let above = self
            .lengths
            .range(hypothesis_len..)
            .find(|&(&len, &count)| available(len, count))
            .map(|(&len, _)| len);
        let below = self
            .lengths
            .range(..hypothesis_len)
            .rev()
            .find(|&(&len, &count)| available(len, count))
            .map(|(&len, _)| len);
        match (below, above) {
            // Ties go to the shorter reference, as in NLTK.
            (Some(b), Some(a)) => Some(if hypothesis_len - b <= a - hypothesis_len {
                b
            } else {
                a
            }),
            (b, a) => b.or(a),
        }
    }

    fn score(&self, hypothesis: &[u32], excluded: Option<usize>) -> Vec<f64> {
        let owner = excluded.map(|e| e as u32);
        let len = hypothesis.len();
        let mut scores = vec![0.0; self.max_order];
        let Some(closest) = self.closest_length(len, excluded) else {
            return scores;
        };
        let mut log_precisions = Vec::with_capacity(self.max_order);
        for (n, table) in (1..=self.max_order).zip(&self.tables) {
            let hypothesis_counts = ngram_counts(hypothesis, n);
            let total: u32 = hypothesis_counts.values().sum();
            let clipped: u32 = hypothesis_counts
                .into_iter()
                .map(|(gram, count)| count.min(table.get(gram).map_or(0, |t| t.max_without(owner))))
                .sum();
            if n == 1 && clipped == 0 {
                // NLTK returns 0 outright when no unigram matches.
                return scores;
            }
            let denominator = f64::from(total.max(1));
            let numerator = if clipped == 0 {
                NLTK_EPSILON
            } else {
                f64::from(clipped)
            };
            log_precisions.push((numerator / denominator).ln());
        }
        let brevity = if len > closest {
            1.0
        } else {
            (1.0 - closest as f64 / len as f64).exp()
        };
        let mut sum = 0.0;
        for (n, log_p) in log_precisions.iter().enumerate() {
            sum += log_p;
            scores[n] = brevity * (sum / (n + 1) as f64).exp();
        }
        scores
    }
}

/// sacreBLEU's corpus statistics and score.
#[derive(Clone, Debug, PartialEq)]
pub struct CorpusBleu {
    /// BLEU in percent (0–100).
    pub score: f64,
    /// n-gram precisions in percent, orders 1–4.
    pub precisions: [f64; 4],
    /// Brevity penalty.
    pub brevity_penalty: f64,
    /// Hypothesis tokens.
    pub hypothesis_len: usize,
    /// Closest-reference tokens.
    pub reference_len: usize,
}

/// BLEU-4's sufficient statistics of one sentence or of a corpus (the sum
/// of its sentences'): a paired bootstrap of corpus BLEU resamples these.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BleuStats {
    /// Clipped n-gram matches, orders 1–4.
    pub correct: [u64; 4],
    /// Hypothesis n-grams, orders 1–4.
    pub total: [u64; 4],
    /// Hypothesis tokens.
    pub hypothesis_len: usize,
    /// Closest-reference tokens (ties: the shorter).
    pub reference_len: usize,
}

impl BleuStats {
    /// The statistics of `hypothesis` against its `references`.
    pub fn sentence<R: AsRef<[u32]>>(hypothesis: &[u32], references: &[R]) -> Self {
        const ORDER: usize = 4;
        let mut stats = BleuStats {
            hypothesis_len: hypothesis.len(),
            reference_len: references
                .iter()
                .map(|r| r.as_ref().len())
                .min_by_key(|&r| (r.abs_diff(hypothesis.len()), r))
                .unwrap_or(0),
            ..BleuStats::default()
        };
        for n in 1..=ORDER {
            let counts = ngram_counts(hypothesis, n);
            let mut max_reference: HashMap<&[u32], u32> = HashMap::new();
            for reference in references {
                for (gram, count) in ngram_counts(reference.as_ref(), n) {
                    let slot = max_reference.entry(gram).or_insert(0);
                    *slot = (*slot).max(count);
                }
            }
            for (gram, count) in counts {
                stats.total[n - 1] += u64::from(count);
                stats.correct[n - 1] +=
                    u64::from(count.min(*max_reference.get(gram).unwrap_or(&0)));
            }
        }
        stats
    }

    /// Adds another sentence's (or corpus's) statistics.
    pub fn add(&mut self, other: &BleuStats) {
        for n in 0..4 {
            self.correct[n] += other.correct[n];
            self.total[n] += other.total[n];
        }
        self.hypothesis_len += other.hypothesis_len;
        self.reference_len += other.reference_len;
    }

    /// sacreBLEU's score of these statistics: `exp` smoothing, BLEU-4, in
    /// percent.
    pub fn score(&self) -> CorpusBleu {
        const ORDER: usize = 4;
        let (correct, total) = (self.correct, self.total);
        let mut precisions = [0.0; ORDER];
        let mut smooth = 1.0;
        // sacreBLEU's early stop (its #141): no match of any order scores 0,
        // every precision 0, before any smoothing.
        let matched = correct.iter().any(|&c| c > 0);
        for n in (0..ORDER).take_while(|_| matched) {
            if total[n] == 0 {
                break;
            }
            precisions[n] = if correct[n] == 0 {
                smooth *= 2.0;
                100.0 / (smooth * total[n] as f64)
            } else {
                100.0 * correct[n] as f64 / total[n] as f64
            };
        }
        let (hypothesis_len, reference_len) = (self.hypothesis_len, self.reference_len);
        let brevity_penalty = if hypothesis_len >= reference_len {
            1.0
        } else if hypothesis_len == 0 {
            0.0
        } else {
            (1.0 - reference_len as f64 / hypothesis_len as f64).exp()
        };
        let score = if precisions.contains(&0.0) {
            0.0
        } else {
            brevity_penalty * (precisions.iter().map(|p| p.ln()).sum::<f64>() / ORDER as f64).exp()
        };
        CorpusBleu {
            score,
            precisions,
            brevity_penalty,
            hypothesis_len,
            reference_len,
        }
    }
}

/// Per-sentence statistics of `hypotheses` against row-aligned reference
/// lists (`references[k][i]` is reference k of hypothesis i).
///
/// # Panics
/// If a reference list is not as long as `hypotheses`.
pub fn sentence_stats<H: AsRef<[u32]>, R: AsRef<[u32]>>(
    hypotheses: &[H],
    references: &[Vec<R>],
) -> Vec<BleuStats> {
    for list in references {
        assert_eq!(list.len(), hypotheses.len(), "one reference per hypothesis");
    }
    hypotheses
        .iter()
        .enumerate()
        .map(|(i, hypothesis)| {
            let refs: Vec<&[u32]> = references.iter().map(|list| list[i].as_ref()).collect();
            BleuStats::sentence(hypothesis.as_ref(), &refs)
        })
        .collect()
}

/// Corpus BLEU-4 of `hypotheses` against row-aligned reference lists
/// (`references[k][i]` is reference k of hypothesis i), as sacreBLEU computes
/// it on tokenised text: `exp` smoothing, closest reference length (ties:
/// the shorter).
///
/// # Panics
/// If a reference list is not as long as `hypotheses`.
pub fn corpus_bleu<H: AsRef<[u32]>, R: AsRef<[u32]>>(
    hypotheses: &[H],
    references: &[Vec<R>],
) -> CorpusBleu {
    let mut total = BleuStats::default();
    for stats in sentence_stats(hypotheses, references) {
        total.add(&stats);
    }
    total.score()
}
