//! Configuration of `pair-rnn`.

use agon_sdk::toolkit::AdamConfig;
use serde::{Deserialize, Serialize};

use crate::shared::settings::{PairConfig, TrainingSettings};

/// Hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PairRnnConfig {
    /// Token embedding size (one table for documents and summaries).
    pub embedding_dim: usize,
    /// Hidden size of both GRUs (equal, for `d ⊙ s` and `|d − s|`).
    pub hidden_dim: usize,
    /// Size of the tanh layer over `[d; s; d ⊙ s; |d − s|]`.
    pub mlp_dim: usize,
    /// Dropout rate on the pair features (0 disables).
    pub dropout: f32,
    /// Adam.
    pub optimizer: AdamConfig,
    /// Global gradient-norm clip (0 disables).
    pub grad_clip: f32,
    /// Document tokens read per row (the first ones: news leads carry most
    /// of a summary's content, and the GRU's cost grows with the length).
    pub max_source_len: usize,
}

impl Default for PairRnnConfig {
    fn default() -> Self {
        PairRnnConfig {
            embedding_dim: 64,
            hidden_dim: 64,
            mlp_dim: 64,
            dropout: 0.25,
            optimizer: AdamConfig::default(),
            grad_clip: 5.0,
            max_source_len: 200,
        }
    }
}

impl PairConfig for PairRnnConfig {
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
            ("hidden_dim", self.hidden_dim),
            ("mlp_dim", self.mlp_dim),
        ]
    }
}
