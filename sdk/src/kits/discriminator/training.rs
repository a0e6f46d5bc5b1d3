//! The `training:` block every kit discriminator's config carries.

use serde::{Deserialize, Serialize};

pub use crate::kit_training_docs::DISCRIMINATOR_TRAINING_DOCS;
use crate::{
    error::{PluginError, PluginResult},
    toolkit::AdamConfig,
};

/// How the kit trains and scores a discriminator: one spelling for every
/// kit model, under the config key `training`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscriminatorTraining {
    /// Rate of the model's dropout while training (probability of zeroing
    /// an element; 0 turns it off). The model decides where it applies.
    pub dropout: f32,
    /// Adam.
    pub optimizer: AdamConfig,
    /// Largest global gradient norm; larger gradients are scaled down to it
    /// (0 disables).
    pub grad_clip: f32,
    /// Rows scored per forward pass when scoring (evaluation mode), which
    /// bounds memory whatever batch the host sends.
    pub score_chunk: usize,
    /// Rows taken through the model per forward and backward pass in the
    /// relaxed calls of `algorithm: gumbel` (0: the whole batch at once).
    /// A chunk bounds the pass's memory; a training step sums the chunks'
    /// gradients before its one optimiser step. Without dropout the result
    /// is the unchunked one to rounding; with dropout each chunk draws its
    /// own masks.
    pub relaxed_chunk: usize,
}

impl Default for DiscriminatorTraining {
    fn default() -> Self {
        DiscriminatorTraining {
            dropout: 0.25,
            optimizer: AdamConfig::default(),
            grad_clip: 5.0,
            score_chunk: 512,
            relaxed_chunk: 0,
        }
    }
}

impl DiscriminatorTraining {
    /// Checks the values are usable; errors name the key as `training.…`.
    pub fn validate(&self) -> PluginResult<()> {
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(PluginError::config(format!(
                "training.dropout must be at least 0 and below 1, got {}",
                self.dropout
            )));
        }
        if !(self.grad_clip >= 0.0 && self.grad_clip.is_finite()) {
            return Err(PluginError::config(format!(
                "training.grad_clip must be 0 (off) or a positive number, got {}",
                self.grad_clip
            )));
        }
        if self.score_chunk == 0 {
            return Err(PluginError::config(
                "training.score_chunk must be at least 1",
            ));
        }
        if !(self.optimizer.lr > 0.0 && self.optimizer.lr.is_finite()) {
            return Err(PluginError::config(format!(
                "training.optimizer.lr must be a positive number, got {}",
                self.optimizer.lr
            )));
        }
        Ok(())
    }
}
