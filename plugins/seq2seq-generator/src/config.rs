//! Configuration of the seq2seq generator.

use agon_sdk::{
    kits::{GeneratorConfig, GeneratorTraining},
    toolkit::{AdamConfig, ADAM_CONFIG_DOCS, ADVERSARIAL_ADAM_CONFIG_DOCS},
    PluginError, PluginResult,
};
use serde::{Deserialize, Serialize};

/// Hyper-parameters. The defaults are sized for CPU training (RNNsearch used
/// 620-dimensional embeddings and 1000 hidden units; these are about a fifth).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Seq2SeqConfig {
    /// Token embedding size, for sources and targets.
    pub embedding_dim: usize,
    /// Decoder GRU state size; also the size of an encoder annotation
    /// `h_i = [→h_i; ←h_i]`, so each encoder direction has `hidden_dim / 2`
    /// units (it must be even).
    pub hidden_dim: usize,
    /// Size of the additive attention's hidden layer (`W_s`, `U_h`, `v`).
    pub attention_dim: usize,
    /// Size of the deep-output layer `tanh(W_d [s_t; c_t; emb(y_{t−1})])`
    /// before the vocabulary projection.
    pub output_dim: usize,
    /// One embedding table for sources and targets (the vocabulary is joint).
    pub share_embeddings: bool,
    /// Weights are drawn from U(−init_scale, init_scale); biases start at 0.
    pub init_scale: f32,
    /// Adam of the MLE steps.
    pub optimizer: AdamConfig,
    /// Adam of the policy-gradient steps, with moments of its own.
    pub adversarial_optimizer: AdamConfig,
    /// Global gradient-norm clip (0 disables).
    pub grad_clip: f32,
}

impl Default for Seq2SeqConfig {
    fn default() -> Self {
        Seq2SeqConfig {
            embedding_dim: 128,
            hidden_dim: 256,
            attention_dim: 256,
            output_dim: 256,
            share_embeddings: true,
            init_scale: 0.08,
            optimizer: AdamConfig::default(),
            adversarial_optimizer: AdamConfig::default(),
            grad_clip: 5.0,
        }
    }
}

impl Seq2SeqConfig {
    /// Refuses sizes the model cannot be built with.
    pub fn validate(&self) -> Result<(), String> {
        let sizes = [
            ("embedding_dim", self.embedding_dim),
            ("hidden_dim", self.hidden_dim),
            ("attention_dim", self.attention_dim),
            ("output_dim", self.output_dim),
        ];
        if let Some((name, _)) = sizes.iter().find(|(_, size)| *size == 0) {
            return Err(format!("{name} must be positive"));
        }
        if self.hidden_dim & 1 == 1 {
            return Err(format!(
                "hidden_dim must be even (each encoder direction gets hidden_dim / 2 units), got {}",
                self.hidden_dim
            ));
        }
        if !(self.init_scale.is_finite() && self.init_scale > 0.0) {
            return Err(format!(
                "init_scale must be a positive number, got {}",
                self.init_scale
            ));
        }
        if !(self.grad_clip.is_finite() && self.grad_clip >= 0.0) {
            return Err(format!(
                "grad_clip must be ≥ 0 (0 disables), got {}",
                self.grad_clip
            ));
        }
        Ok(())
    }
}

/// The training keys sit at the top level of this config (it predates the
/// kit's `training:` block); [`GeneratorConfig::training`] gathers them.
impl GeneratorConfig for Seq2SeqConfig {
    const DOCS: &'static [(&'static str, &'static str)] = CONFIG_DOCS;
    const TRAINING_DOCS: &'static [&'static [(&'static str, &'static str)]] =
        &[ADAM_CONFIG_DOCS, ADVERSARIAL_ADAM_CONFIG_DOCS];
    const TRAINING_PREFIX: &'static str = "";

    fn training(&self) -> GeneratorTraining {
        GeneratorTraining {
            optimizer: self.optimizer.clone(),
            adversarial_optimizer: self.adversarial_optimizer.clone(),
            grad_clip: self.grad_clip,
        }
    }

    fn validate(&self) -> PluginResult<()> {
        Seq2SeqConfig::validate(self).map_err(PluginError::config)
    }
}

/// One line per key of `seq2seq`'s own part of the config, for `agon
/// plugins show` (the optimisers' other keys come from the toolkit's docs).
const CONFIG_DOCS: &[(&str, &str)] = &[
    (
        "embedding_dim",
        "Size of each token's embedding vector, for sources and targets, a whole number of at least 1.",
    ),
    (
        "hidden_dim",
        "Size of the decoder GRU's state and of each encoder annotation, an even whole number; each encoder direction gets half.",
    ),
    (
        "attention_dim",
        "Size of the additive attention's hidden layer, a whole number of at least 1.",
    ),
    (
        "output_dim",
        "Size of the tanh layer between the decoder and the projection onto the vocabulary, a whole number of at least 1.",
    ),
    (
        "share_embeddings",
        "true: one embedding table for sources and targets (the vocabulary is joint); false: one table each.",
    ),
    (
        "init_scale",
        "Initial weights are drawn uniformly between -init_scale and init_scale, a positive number; biases start at 0.",
    ),
    ("optimizer.lr", "Learning rate of Adam (default 0.001)."),
    (
        "adversarial_optimizer.lr",
        "Learning rate of the adversarial steps' Adam (default 0.001).",
    ),
    (
        "grad_clip",
        "Largest norm of all gradients together, at least 0; a larger gradient is scaled down to it; 0 turns clipping off.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_odd_hidden_sizes_are_refused() {
        assert!(Seq2SeqConfig::default().validate().is_ok());
        let odd = Seq2SeqConfig {
            hidden_dim: 7,
            ..Seq2SeqConfig::default()
        };
        assert!(odd.validate().unwrap_err().contains("even"));
    }
}
