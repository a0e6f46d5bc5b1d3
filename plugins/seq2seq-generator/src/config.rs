//! Configuration of the seq2seq generator.

use agon_sdk::toolkit::AdamConfig;
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
