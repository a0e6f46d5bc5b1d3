//! The NLL-test of a model that knows only how often each token is, and
//! what a collapsed generator's NLL-test says beside it.
//!
//! A generator that gives one output for every source is undertrained,
//! memorising too small a training set, or not reading its inputs. The
//! unigram baseline tells some of these apart over a few evaluations: a
//! generator that learns moves below it; one that reads neither the source
//! nor the target prefix stays at it; one that memorises stays at it on the
//! test set while its training loss falls. A generator that reads the
//! prefix but ignores the source goes below it too (it models the targets
//! alone), so below the baseline the warning still says to check that the
//! source reaches the decoder if the outputs stay one.

/// Below the baseline by less than this (nats a token), a generator has
/// learned nothing the baseline does not know.
const MARGIN: f64 = 0.1;

/// Per-token cross-entropy of `test` under the unigram distribution of
/// `train` (every token counted, end-of-sequence included, as NLL-test
/// counts them), add-one smoothed over `vocabulary_size` ids so that a
/// test token unseen in training costs a finite amount.
pub fn unigram_nll(train: &[Vec<u32>], test: &[Vec<u32>], vocabulary_size: usize) -> f64 {
    let mut counts = vec![0u64; vocabulary_size];
    let mut total = 0u64;
    for &id in train.iter().flatten() {
        if let Some(count) = counts.get_mut(id as usize) {
            *count += 1;
            total += 1;
        }
    }
    let denominator = (total + vocabulary_size as u64) as f64;
    let (mut nll, mut tokens) = (0.0f64, 0usize);
    for &id in test.iter().flatten() {
        let count = counts.get(id as usize).copied().unwrap_or(0);
        nll -= ((count + 1) as f64 / denominator).ln();
        tokens += 1;
    }
    nll / tokens.max(1) as f64
}

/// Whether `nll_test` is clearly below the baseline: the generator has
/// learned more than token frequencies.
pub fn below_baseline(nll_test: f64, baseline: f64) -> bool {
    nll_test <= baseline - MARGIN
}

/// What a generator's `nll_test` says of why its outputs are all one,
/// given the [`unigram_nll`] baseline: the end of the collapse warning.
pub fn collapse_diagnosis(nll_test: f64, baseline: f64) -> String {
    if !below_baseline(nll_test, baseline) {
        format!(
            "its NLL-test ({nll_test:.3} nats a token) is no better than the {baseline:.3} of a model that knows only how often each token is, so nothing it has learned beyond token frequencies carries over to the test set. Early in training that is undertraining. Later, compare its training loss (the MLE progress lines' g-loss, `g_loss` in metrics.jsonl): well below {baseline:.3}, the generator learns its training set without generalising (too little data for the model: shrink it, or give it more pairs, raising task.train_limit if set); near {baseline:.3} over more epochs, it is not reading its inputs (check that teacher_forced_logits uses the source and the target prefix: docs/writing-a-plugin.md)"
        )
    } else {
        format!(
            "its NLL-test ({nll_test:.3} nats a token) is below the {baseline:.3} of a model that knows only how often each token is, so it has learned more than token frequencies; decoding a partly trained generator often gives one output for every source: train longer before judging it (a generator that ignores the source gets below the baseline too, by modelling the targets alone: if NLL-test falls and the outputs stay one, check that the source reaches the decoder)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_is_the_smoothed_unigram_cross_entropy() {
        // Training counts: id 0 ×3, id 1 ×1; vocabulary 3, so p = 4/7,
        // 2/7, 1/7 after add-one smoothing.
        let train = vec![vec![0, 0, 1], vec![0]];
        let test = vec![vec![0, 2], vec![1]];
        let expected = -((4.0f64 / 7.0).ln() + (1.0f64 / 7.0).ln() + (2.0f64 / 7.0).ln()) / 3.0;
        assert!((unigram_nll(&train, &test, 3) - expected).abs() < 1e-12);
        // A uniform training set over the vocabulary gives ln V.
        let uniform = vec![vec![0, 1, 2, 3]];
        assert!((unigram_nll(&uniform, &uniform, 4) - 4f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn the_diagnosis_tells_frequencies_from_learning() {
        let stuck = collapse_diagnosis(5.95, 6.0);
        assert!(stuck.contains("no better than the 6.000"), "{stuck}");
        assert!(stuck.contains("teacher_forced_logits"), "{stuck}");
        assert!(stuck.contains("g-loss"), "{stuck}");
        let learning = collapse_diagnosis(4.2, 6.0);
        assert!(learning.contains("below the 6.000"), "{learning}");
        assert!(learning.contains("train longer"), "{learning}");
    }
}
