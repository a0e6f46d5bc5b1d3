//! Configuration of `pair-cnn`.

use agon_sdk::toolkit::AdamConfig;
use serde::{Deserialize, Serialize};

use crate::shared::settings::{PairConfig, TrainingSettings};

/// Hyper-parameters; sizes follow Wu et al. (2017): 3×3 convolutions of 64
/// filters, 2×2 max-pooling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PairCnnConfig {
    /// Token embedding size (one table for sources and targets).
    pub embedding_dim: usize,
    /// Filters of the first 3×3 convolution (over `[emb(x_i); emb(y_j)]`).
    pub conv1_filters: usize,
    /// Filters of the second 3×3 convolution (after the 2×2 pool).
    pub conv2_filters: usize,
    /// Dropout rate on the pooled features (0 disables).
    pub dropout: f32,
    /// Adam.
    pub optimizer: AdamConfig,
    /// Global gradient-norm clip (0 disables).
    pub grad_clip: f32,
    /// Source tokens read per row (the first ones); the image has
    /// `source × target` cells, so this bounds the cost of long sources.
    pub max_source_len: usize,
}

impl Default for PairCnnConfig {
    fn default() -> Self {
        PairCnnConfig {
            embedding_dim: 64,
            conv1_filters: 64,
            conv2_filters: 64,
            dropout: 0.25,
            optimizer: AdamConfig::default(),
            grad_clip: 5.0,
            max_source_len: 50,
        }
    }
}

impl PairConfig for PairCnnConfig {
    fn training(&self) -> TrainingSettings {
        TrainingSettings {
            dropout: self.dropout,
            optimizer: self.optimizer.clone(),
            grad_clip: self.grad_clip,
            max_source_len: self.max_source_len,
        }
    }

    fn dimensions(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("embedding_dim", self.embedding_dim),
            ("conv1_filters", self.conv1_filters),
            ("conv2_filters", self.conv2_filters),
        ]
    }
}
