//! Configuration of the GRU discriminator.

use agon_sdk::toolkit::AdamConfig;
use serde::{Deserialize, Serialize};

/// Hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GruDiscriminatorConfig {
    /// Token embedding size.
    pub embedding_dim: usize,
    /// GRU hidden size.
    pub hidden_dim: usize,
    /// Dropout keep probability on the final hidden state during training.
    pub dropout_keep: f32,
    /// Adam.
    pub optimizer: AdamConfig,
    /// Global gradient-norm clip (0 disables).
    pub grad_clip: f32,
}

impl Default for GruDiscriminatorConfig {
    fn default() -> Self {
        GruDiscriminatorConfig {
            embedding_dim: 64,
            hidden_dim: 64,
            dropout_keep: 0.75,
            optimizer: AdamConfig {
                lr: 1e-3,
                ..AdamConfig::default()
            },
            grad_clip: 5.0,
        }
    }
}
