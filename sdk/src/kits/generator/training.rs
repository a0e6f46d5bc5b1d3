//! How the kit trains a generator: the two Adams and the clip.

use serde::{Deserialize, Serialize};

pub use crate::kit_training_docs::GENERATOR_TRAINING_DOCS;
use crate::{
    error::{PluginError, PluginResult},
    toolkit::AdamConfig,
};

/// The optimiser settings of a kit generator. A new model carries it under
/// the config key `training` ([`GENERATOR_TRAINING_DOCS`]); a model whose
/// config spells these keys at its top level builds it from them in
/// [`super::GeneratorConfig::training`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeneratorTraining {
    /// Adam of the MLE steps.
    pub optimizer: AdamConfig,
    /// Adam of the policy-gradient steps, with moments of its own (SeqGAN's
    /// code keeps two; sharing MLE's moments divides every adversarial
    /// update by the size of MLE's gradients).
    pub adversarial_optimizer: AdamConfig,
    /// Largest global gradient norm; larger gradients are scaled down to it
    /// (0 disables).
    pub grad_clip: f32,
}

impl Default for GeneratorTraining {
    fn default() -> Self {
        GeneratorTraining {
            optimizer: AdamConfig::default(),
            adversarial_optimizer: AdamConfig::default(),
            grad_clip: 5.0,
        }
    }
}

impl GeneratorTraining {
    /// Checks the values are usable; errors name each key as
    /// `{prefix}key` (`prefix` is `"training."`, or `""` for top-level keys).
    pub fn validate(&self, prefix: &str) -> PluginResult<()> {
        if !(self.grad_clip >= 0.0 && self.grad_clip.is_finite()) {
            return Err(PluginError::config(format!(
                "{prefix}grad_clip must be 0 (off) or a positive number, got {}",
                self.grad_clip
            )));
        }
        for (key, adam) in [
            ("optimizer", &self.optimizer),
            ("adversarial_optimizer", &self.adversarial_optimizer),
        ] {
            if !(adam.lr > 0.0 && adam.lr.is_finite()) {
                return Err(PluginError::config(format!(
                    "{prefix}{key}.lr must be a positive number, got {}",
                    adam.lr
                )));
            }
        }
        Ok(())
    }
}
