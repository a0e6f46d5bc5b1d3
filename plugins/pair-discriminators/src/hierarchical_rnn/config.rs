//! Configuration of `hierarchical-rnn`.

use agon_sdk::toolkit::AdamConfig;
use serde::{Deserialize, Serialize};

use crate::shared::settings::{PairConfig, TrainingSettings};

/// Hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HierarchicalRnnConfig {
    /// Token embedding size (one table for contexts and responses).
    pub embedding_dim: usize,
    /// Hidden size of the utterance-level GRU (shared by every utterance).
    pub utterance_hidden_dim: usize,
    /// Hidden size of the turn-level GRU.
    pub turn_hidden_dim: usize,
    /// An id that separates the turns of a multi-turn context; each turn is
    /// then encoded on its own and fed to the turn GRU in order. `null`: the
    /// whole context is one utterance (DailyDialog single-turn pairs).
    pub turn_separator: Option<u32>,
    /// Dropout rate on the turn GRU's final state (0 disables).
    pub dropout: f32,
    /// Adam.
    pub optimizer: AdamConfig,
    /// Global gradient-norm clip (0 disables).
    pub grad_clip: f32,
    /// Context tokens read per row (the first ones), separators included.
    pub max_source_len: usize,
}

impl Default for HierarchicalRnnConfig {
    fn default() -> Self {
        HierarchicalRnnConfig {
            embedding_dim: 64,
            utterance_hidden_dim: 64,
            turn_hidden_dim: 64,
            turn_separator: None,
            dropout: 0.25,
            optimizer: AdamConfig::default(),
            grad_clip: 5.0,
            max_source_len: 50,
        }
    }
}

impl PairConfig for HierarchicalRnnConfig {
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
            ("utterance_hidden_dim", self.utterance_hidden_dim),
            ("turn_hidden_dim", self.turn_hidden_dim),
        ]
    }
}
