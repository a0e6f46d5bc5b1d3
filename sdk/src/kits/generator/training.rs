//! How the kit trains a generator: the two Adams and the clip.

use serde::{Deserialize, Serialize};

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

/// One line per key of the `training:` block, for `agon plugins show`.
pub const GENERATOR_TRAINING_DOCS: &[(&str, &str)] = &[
    (
        "training",
        "How the generator is trained (the same keys for every generator built on the SDK's kit).",
    ),
    ("training.optimizer", "Adam of the MLE steps."),
    ("training.optimizer.lr", "Learning rate of the MLE steps' Adam (default 0.001)."),
    (
        "training.optimizer.beta1",
        "Adam's decay rate for its running mean of gradients, between 0 and 1 (0.9 is usual).",
    ),
    (
        "training.optimizer.beta2",
        "Adam's decay rate for its running mean of squared gradients, between 0 and 1 (0.999 is usual).",
    ),
    (
        "training.optimizer.eps",
        "Small constant added to the denominator of every Adam update so it never divides by zero.",
    ),
    (
        "training.optimizer.weight_decay",
        "L2 penalty: this times each weight is added to its gradient before the Adam update; 0 disables it.",
    ),
    (
        "training.adversarial_optimizer",
        "Adam of the adversarial steps (policy-gradient steps, and under `algorithm: gumbel` the steps through the discriminator's gradient), with moments of its own, fresh when the adversarial phase starts.",
    ),
    (
        "training.adversarial_optimizer.lr",
        "Learning rate of the adversarial steps' Adam (default 0.001).",
    ),
    (
        "training.adversarial_optimizer.beta1",
        "Adam's decay rate for its running mean of adversarial gradients, between 0 and 1 (0.9 is usual).",
    ),
    (
        "training.adversarial_optimizer.beta2",
        "Adam's decay rate for its running mean of squared adversarial gradients, between 0 and 1 (0.999 is usual).",
    ),
    (
        "training.adversarial_optimizer.eps",
        "Small constant added to the denominator of every adversarial Adam update so it never divides by zero.",
    ),
    (
        "training.adversarial_optimizer.weight_decay",
        "L2 penalty of adversarial steps: this times each weight is added to its gradient; 0 disables it.",
    ),
    (
        "training.grad_clip",
        "Largest norm of all gradients together; a larger gradient is scaled down to it; 0 turns clipping off.",
    ),
];
