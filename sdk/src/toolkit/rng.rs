//! Seeded randomness for plugins.
//!
//! Candle's CPU random tensors come from an RNG that cannot be seeded, so a
//! plugin that used them would make runs irreproducible. Everything random —
//! initial weights, sampling, dropout masks — draws from a ChaCha stream
//! seeded from the context or the request instead.

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

pub use crate::seeds::derive_seed;

use super::softmax_kernels::{
    block_factor, exp_block_shifted, find_block, find_in_block, last_finite, BLOCK,
};

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
/// vectorised pass for the exponentials of each [`BLOCK`] shifted by the
/// block's max, with their block sums (see [`exp_block_shifted`]); then a
/// walk over the weighted block sums and inside the block it lands in (f64
/// accumulation, so large vocabularies lose no mass to rounding). NaN
/// logits weigh 0.
///
/// Sampling kernels that never hold a whole row of logits
/// (`OutputProjection::sample`) draw exactly the same ids: they follow these
/// steps with the same operations.
pub fn sample_from_logits(logits: &[f32], temperature: f32, rng: &mut SeededRng) -> u32 {
    thread_local! {
        static SCRATCH: std::cell::RefCell<[Vec<f32>; 3]> =
            const { std::cell::RefCell::new([Vec::new(), Vec::new(), Vec::new()]) };
    }
    let scale = 1.0 / temperature;
    let uniform = rng.random::<f64>();
    let found = SCRATCH.with(|scratch| {
        let [exps, block_max, block_sums] = &mut *scratch.borrow_mut();
        exps.resize(logits.len(), 0.0);
        exp_block_shifted(logits, scale, exps, block_max, block_sums);
        let max = block_max.iter().fold(f32::NEG_INFINITY, |m, &b| m.max(b));
        let factor = |b: usize| f64::from(block_factor(block_max[b], max, scale));
        let weight = |b: usize| f64::from(block_sums[b]) * factor(b);
        let blocks = block_sums.len();
        let target = uniform * (0..blocks).map(weight).sum::<f64>();
        find_block(blocks, weight, target).map(|(b, before)| {
            let values = &exps[b * BLOCK..(b * BLOCK + BLOCK).min(logits.len())];
            b * BLOCK + find_in_block(values, factor(b), before, target)
        })
    });
    // None: rounding left the target a hair above the sum, or no logit
    // weighs anything; take the last likely id.
    found.unwrap_or_else(|| last_finite(logits.iter().copied(), logits.len())) as u32
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
