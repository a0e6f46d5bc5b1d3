//! Paired significance tests on per-sample scores.
//!
//! `agon eval` draws every model's samples with the same seed, and the
//! generators draw row `i` from its own random stream, so sample `i` of two
//! models shares its random numbers: the pairs are matched, and a paired
//! test is both valid and much tighter than an unpaired one.

use rand::{Rng, SeedableRng};

/// The result of a paired test of "model b scores the same as model a".
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PairedTest {
    /// `paired bootstrap` or `approximate randomisation`.
    pub method: &'static str,
    /// mean(b) − mean(a) (for [`paired_bootstrap_of`]: the statistic's
    /// difference on all pairs).
    pub mean_difference: f64,
    /// 95% percentile-bootstrap interval of the difference (none for the
    /// randomisation test).
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// Two-sided p-value. Bootstrap: twice the share of resampled
    /// differences on the far side of zero (at least 1 / resamples).
    /// Randomisation: the share of shuffles at least as extreme as the
    /// observed difference, counting the observation itself.
    pub p_value: f64,
    pub resamples: usize,
    pub pairs: usize,
}

/// Paired bootstrap (resampling pairs with replacement, `resamples` times,
/// seeded) of the mean of `b[i] − a[i]`.
///
/// # Panics
/// If the slices differ in length or are empty.
pub fn paired_bootstrap(a: &[f64], b: &[f64], resamples: usize, seed: u64) -> PairedTest {
    assert_eq!(a.len(), b.len(), "paired scores");
    let differences: Vec<f64> = a.iter().zip(b).map(|(x, y)| y - x).collect();
    paired_bootstrap_of(differences.len(), resamples, seed, |indices| {
        indices.iter().map(|&i| differences[i]).sum::<f64>() / indices.len() as f64
    })
}

/// Paired bootstrap of any statistic of `n` pairs: `difference(indices)` is
/// the statistic of model b minus that of model a on the pairs `indices`
/// (with repeats). Corpus BLEU, for one, is not a mean of per-sentence
/// scores: its resamples sum sentence statistics (Koehn 2004).
///
/// # Panics
/// If `n` is 0.
pub fn paired_bootstrap_of(
    n: usize,
    resamples: usize,
    seed: u64,
    difference: impl Fn(&[usize]) -> f64,
) -> PairedTest {
    assert!(n > 0, "no pairs");
    let all: Vec<usize> = (0..n).collect();
    let observed = difference(&all);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let resamples = resamples.max(1);
    let mut indices = vec![0usize; n];
    let mut values: Vec<f64> = (0..resamples)
        .map(|_| {
            for slot in indices.iter_mut() {
                *slot = rng.random_range(0..n);
            }
            difference(&indices)
        })
        .collect();
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((q * resamples as f64) as usize).min(resamples - 1)];
    let at_or_below = values.iter().filter(|&&m| m <= 0.0).count();
    let at_or_above = values.iter().filter(|&&m| m >= 0.0).count();
    let tail = at_or_below.min(at_or_above).max(1) as f64 / resamples as f64;
    PairedTest {
        method: "paired bootstrap",
        mean_difference: observed,
        ci_low: Some(at(0.025)),
        ci_high: Some(at(0.975)),
        p_value: (2.0 * tail).min(1.0),
        resamples,
        pairs: n,
    }
}

/// Paired approximate randomisation (Riezler & Maxwell 2005), for
/// statistics that neither average nor sum over pairs — distinct-n counts
/// an n-gram once however many outputs hold it, so a bootstrap resample,
/// which repeats outputs, biases it. Each shuffle swaps the two models'
/// outputs of every pair with probability ½; `difference(swapped)` is the
/// statistic of b minus that of a after the swaps (`swapped[i]`: pair i
/// swapped).
///
/// # Panics
/// If `n` is 0.
pub fn paired_randomisation_of(
    n: usize,
    shuffles: usize,
    seed: u64,
    difference: impl Fn(&[bool]) -> f64,
) -> PairedTest {
    assert!(n > 0, "no pairs");
    let observed = difference(&vec![false; n]);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let shuffles = shuffles.max(1);
    let mut swapped = vec![false; n];
    let mut extreme = 0usize;
    for _ in 0..shuffles {
        for slot in swapped.iter_mut() {
            *slot = rng.random_bool(0.5);
        }
        if difference(&swapped).abs() >= observed.abs() - 1e-12 {
            extreme += 1;
        }
    }
    PairedTest {
        method: "approximate randomisation",
        mean_difference: observed,
        ci_low: None,
        ci_high: None,
        p_value: (extreme + 1) as f64 / (shuffles + 1) as f64,
        resamples: shuffles,
        pairs: n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consistent_shift_is_significant_and_noise_is_not() {
        let a: Vec<f64> = (0..400).map(|i| (i % 17) as f64 / 17.0).collect();
        let shifted: Vec<f64> = a
            .iter()
            .enumerate()
            .map(|(i, x)| x + 0.05 + ((i % 5) as f64 - 2.0) * 0.01)
            .collect();
        let test = paired_bootstrap(&a, &shifted, 2000, 1);
        assert!((test.mean_difference - 0.05).abs() < 1e-9);
        assert!(test.p_value < 0.01 && test.ci_low > Some(0.0), "{test:?}");
        // Differences of ±0.1 in equal numbers: mean 0, not significant.
        let noisy: Vec<f64> = a
            .iter()
            .enumerate()
            .map(|(i, x)| x + if i % 2 == 0 { 0.1 } else { -0.1 })
            .collect();
        let test = paired_bootstrap(&a, &noisy, 2000, 1);
        assert!(
            test.p_value > 0.2 && test.ci_low < Some(0.0) && test.ci_high > Some(0.0),
            "{test:?}"
        );
    }

    #[test]
    fn a_corpus_statistic_is_recomputed_on_each_resample() {
        // A ratio of sums (like corpus BLEU or distinct-n): b doubles every
        // numerator, so the ratio difference is the same on every resample.
        let (num_a, den): (Vec<f64>, Vec<f64>) = (0..50).map(|i| (i as f64, 100.0)).unzip();
        let ratio = |num: &[f64], idx: &[usize]| {
            idx.iter().map(|&i| num[i]).sum::<f64>() / idx.iter().map(|&i| den[i]).sum::<f64>()
        };
        let num_b: Vec<f64> = num_a.iter().map(|x| x * 2.0).collect();
        let test = paired_bootstrap_of(50, 500, 3, |idx| ratio(&num_b, idx) - ratio(&num_a, idx));
        assert!((test.mean_difference - 0.245).abs() < 1e-12, "{test:?}");
        assert!(test.ci_low > Some(0.1) && test.p_value < 0.01, "{test:?}");
        // The mean-difference test is the same bootstrap of a mean.
        let a = [0.1, 0.4, 0.3, 0.9];
        let b = [0.2, 0.5, 0.1, 1.0];
        let mean = paired_bootstrap_of(4, 200, 9, |idx| {
            idx.iter().map(|&i| b[i] - a[i]).sum::<f64>() / idx.len() as f64
        });
        assert_eq!(mean, paired_bootstrap(&a, &b, 200, 9));
    }

    #[test]
    fn randomisation_finds_a_consistent_difference_and_not_noise() {
        // b is a plus 1 on every pair: every swap set but the empty one
        // shrinks |b − a|.
        let a: Vec<f64> = (0..60).map(|i| (i % 7) as f64).collect();
        let b: Vec<f64> = a.iter().map(|x| x + 1.0).collect();
        let mean_difference = |x: &[f64], y: &[f64], swapped: &[bool]| {
            let total: f64 = (0..x.len())
                .map(|i| if swapped[i] { x[i] - y[i] } else { y[i] - x[i] })
                .sum();
            total / x.len() as f64
        };
        let test = paired_randomisation_of(60, 999, 4, |s| mean_difference(&a, &b, s));
        assert_eq!(test.mean_difference, 1.0);
        assert!((test.p_value - 1.0 / 1000.0).abs() < 1e-12, "{test:?}");
        assert_eq!((test.ci_low, test.ci_high), (None, None));
        // Two models that differ only by sign-symmetric noise.
        let noisy: Vec<f64> = a
            .iter()
            .enumerate()
            .map(|(i, x)| x + if i % 2 == 0 { 0.5 } else { -0.5 })
            .collect();
        let test = paired_randomisation_of(60, 999, 4, |s| mean_difference(&a, &noisy, s));
        assert!(test.p_value > 0.5, "{test:?}");
    }

    #[test]
    fn the_same_seed_gives_the_same_interval() {
        let a = [0.1, 0.4, 0.3, 0.9];
        let b = [0.2, 0.5, 0.1, 1.0];
        assert_eq!(
            paired_bootstrap(&a, &b, 500, 9),
            paired_bootstrap(&a, &b, 500, 9)
        );
    }
}
