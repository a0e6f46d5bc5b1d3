//! Configuration of the per-token LSTM discriminator.

use agon_sdk::kits::{DiscriminatorConfig, DiscriminatorTraining};
use serde::{Deserialize, Serialize};

/// Hyper-parameters (ScratchGAN's discriminator, scaled to the task).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LstmDiscriminatorConfig {
    /// Token embedding size.
    pub embedding_dim: usize,
    /// LSTM hidden size.
    pub hidden_dim: usize,
    /// Layer normalisation of the LSTM's outputs before the logit.
    pub layer_norm: bool,
    /// Dropout (on the embeddings and on the LSTM's outputs), Adam,
    /// clipping, scoring chunk.
    pub training: DiscriminatorTraining,
}

impl Default for LstmDiscriminatorConfig {
    fn default() -> Self {
        LstmDiscriminatorConfig {
            embedding_dim: 64,
            hidden_dim: 64,
            layer_norm: false,
            training: DiscriminatorTraining::default(),
        }
    }
}

impl DiscriminatorConfig for LstmDiscriminatorConfig {
    const DOCS: &'static [(&'static str, &'static str)] = &[
        (
            "embedding_dim",
            "Size of each token's embedding vector, a whole number of at least 1.",
        ),
        (
            "hidden_dim",
            "Size of the LSTM's hidden and cell states, a whole number of at least 1; each position's logit is read from the hidden state after that token.",
        ),
        (
            "layer_norm",
            "true normalises each position's LSTM output (zero mean, unit variance, then a learned scale and shift) before dropout and the logit; ScratchGAN's discriminator normalises inside its LSTM cell instead.",
        ),
    ];

    fn training(&self) -> &DiscriminatorTraining {
        &self.training
    }

    fn dimensions(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("embedding_dim", self.embedding_dim),
            ("hidden_dim", self.hidden_dim),
        ]
    }
}
