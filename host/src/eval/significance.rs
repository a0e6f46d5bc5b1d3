//! Paired significance tests on per-sample scores.
//!
//! `agon eval` draws every model's samples with the same seed, and the
//! generators draw row `i` from its own random stream, so sample `i` of two
//! models shares its random numbers: the pairs are matched, and a paired
//! test is both valid and much tighter than an unpaired one.

use rand::{Rng, SeedableRng};

/// The result of a paired bootstrap test of mean(b − a) = 0.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PairedTest {
    /// mean(b) − mean(a).
    pub mean_difference: f64,
    /// 95% percentile-bootstrap interval of the mean difference.
    pub ci_low: f64,
    pub ci_high: f64,
    /// Two-sided p-value: twice the share of resampled means on the far
    /// side of zero (at least 1 / resamples).
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
    assert!(!a.is_empty(), "no pairs");
    let differences: Vec<f64> = a.iter().zip(b).map(|(x, y)| y - x).collect();
    let n = differences.len();
    let mean_difference = differences.iter().sum::<f64>() / n as f64;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let resamples = resamples.max(1);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| {
            let sum: f64 = (0..n).map(|_| differences[rng.random_range(0..n)]).sum();
            sum / n as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * resamples as f64) as usize).min(resamples - 1)];
    let at_or_below = means.iter().filter(|&&m| m <= 0.0).count();
    let at_or_above = means.iter().filter(|&&m| m >= 0.0).count();
    let tail = at_or_below.min(at_or_above).max(1) as f64 / resamples as f64;
    PairedTest {
        mean_difference,
        ci_low: at(0.025),
        ci_high: at(0.975),
        p_value: (2.0 * tail).min(1.0),
        resamples,
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
        assert!(test.p_value < 0.01 && test.ci_low > 0.0, "{test:?}");
        // Differences of ±0.1 in equal numbers: mean 0, not significant.
        let noisy: Vec<f64> = a
            .iter()
            .enumerate()
            .map(|(i, x)| x + if i % 2 == 0 { 0.1 } else { -0.1 })
            .collect();
        let test = paired_bootstrap(&a, &noisy, 2000, 1);
        assert!(
            test.p_value > 0.2 && test.ci_low < 0.0 && test.ci_high > 0.0,
            "{test:?}"
        );
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
