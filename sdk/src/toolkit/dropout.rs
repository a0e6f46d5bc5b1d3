//! Dropout that is seeded in training and absent in evaluation.

use candle_core::Tensor;

use super::{rng::rng_from_seed, tensors::dropout, SeededRng};
use crate::error::PluginResult;

/// Inverted dropout drawing its masks from the step's seeded ChaCha stream
/// (Candle's CPU RNG cannot be seeded), or the identity when evaluating.
/// One value serves a whole forward pass: successive [`Dropout::apply`]
/// calls draw successive masks from the same stream.
pub struct Dropout {
    keep: f32,
    rng: Option<SeededRng>,
}

impl Dropout {
    /// Training mode: zeroes each element with probability `rate`.
    pub fn training(rate: f32, seed: u64) -> Self {
        Dropout {
            keep: 1.0 - rate,
            rng: (rate > 0.0).then(|| rng_from_seed(seed)),
        }
    }

    /// Evaluation mode: no dropout.
    pub fn evaluation() -> Self {
        Dropout {
            keep: 1.0,
            rng: None,
        }
    }

    /// `xs` with dropout applied (or unchanged).
    pub fn apply(&mut self, xs: &Tensor) -> PluginResult<Tensor> {
        match &mut self.rng {
            Some(rng) => dropout(xs, self.keep, rng),
            None => Ok(xs.clone()),
        }
    }
}
