//! Configuration of `hierarchical-rnn`.

use agon_sdk::kits::{DiscriminatorConfig, DiscriminatorTraining};
use serde::{Deserialize, Serialize};

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
    /// Dropout (on the turn GRU's final state), Adam, clipping, scoring chunk.
    pub training: DiscriminatorTraining,
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
            training: DiscriminatorTraining::default(),
            max_source_len: 50,
        }
    }
}

impl DiscriminatorConfig for HierarchicalRnnConfig {
    const DOCS: &'static [(&'static str, &'static str)] = &[
    (
            "embedding_dim",
            "Size of each token's embedding vector, one table for contexts and responses, a whole number of at least 1.",
        ),
        (
            "utterance_hidden_dim",
            "State size of the utterance-level GRU, which encodes each context turn and the response, at least 1.",
        ),
        (
            "turn_hidden_dim",
            "State size of the turn-level GRU, which reads the utterance vectors in order, at least 1.",
        ),
        (
            "turn_separator",
            "Token id that splits a context into turns, each encoded on its own; null reads the whole context as one utterance.",
        ),
        (
            "max_source_len",
            "Context tokens read per row (the first ones, separators included), at least 1.",
        ),
    ];

    fn training(&self) -> &DiscriminatorTraining {
        &self.training
    }

    fn max_source_len(&self) -> Option<usize> {
        Some(self.max_source_len)
    }

    fn dimensions(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("embedding_dim", self.embedding_dim),
            ("utterance_hidden_dim", self.utterance_hidden_dim),
            ("turn_hidden_dim", self.turn_hidden_dim),
        ]
    }
}
