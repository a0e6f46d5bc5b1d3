//! Seeded randomness for plugins.
//!
//! Candle's CPU random tensors come from an RNG that cannot be seeded, so a
//! plugin that used them would make runs irreproducible. Everything random —
//! initial weights, sampling, dropout masks — draws from a ChaCha stream
//! seeded from the context or the request instead.

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

pub use crate::seeds::derive_seed;

use super::softmax_kernels::{exp_shifted, inverse_cdf, row_max};

/// The RNG every plugin uses.
pub type SeededRng = rand_chacha::ChaCha8Rng;

/// A ChaCha RNG seeded with `seed`.
pub fn rng_from_seed(seed: u64) -> SeededRng {
    SeededRng::seed_from_u64(seed)
}

/// `n` draws from N(0, std²).
pub fn normal_vec(rng: &mut SeededRng, n: usize, std: f32) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let z: f32 = StandardNormal.sample(rng);
            z * std
        })
        .collect()
}

/// Draws one id from `softmax(logits / temperature)` by inverse CDF: one
/// pass for the max, one vectorised pass for the exponentials and their
/// block sums, then a walk over the block sums (f64 accumulation, so large
/// vocabularies lose no mass to rounding).
pub fn sample_from_logits(logits: &[f32], temperature: f32, rng: &mut SeededRng) -> u32 {
    thread_local! {
        static SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<f32>)> =
            const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
    }
    let max = row_max(logits);
    let uniform = rng.random::<f64>();
    let found = SCRATCH.with(|scratch| {
        let (exps, blocks) = &mut *scratch.borrow_mut();
        exps.resize(logits.len(), 0.0);
        let total = exp_shifted(logits, max, 1.0 / temperature, exps, blocks);
        inverse_cdf(exps, blocks, uniform * total)
    });
    // None: rounding left the target a hair above the sum; take the last
    // likely id.
    found.unwrap_or_else(|| {
        logits
            .iter()
            .rposition(|&l| l.is_finite())
            .unwrap_or(logits.len() - 1)
    }) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_streams_differ() {
        assert_eq!(
            normal_vec(&mut rng_from_seed(3), 4, 1.0),
            normal_vec(&mut rng_from_seed(3), 4, 1.0)
        );
    }

    #[test]
    fn sampling_follows_the_softmax() {
        let logits = [0.0f32, (3.0f32).ln(), f32::NEG_INFINITY];
        let mut rng = rng_from_seed(0);
        let mut counts = [0usize; 3];
        for _ in 0..20_000 {
            counts[sample_from_logits(&logits, 1.0, &mut rng) as usize] += 1;
        }
        assert_eq!(counts[2], 0);
        let p1 = counts[1] as f64 / 20_000.0;
        assert!((p1 - 0.75).abs() < 0.015, "p1 = {p1}");
    }
}
