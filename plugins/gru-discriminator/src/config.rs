//! Configuration of the GRU discriminator.

use agon_sdk::kits::{DiscriminatorConfig, DiscriminatorTraining};
use serde::{Deserialize, Serialize};

/// Hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GruDiscriminatorConfig {
    /// Token embedding size.
    pub embedding_dim: usize,
    /// GRU hidden size (per direction).
    pub hidden_dim: usize,
    /// A second GRU reads each sequence backwards; the logit sees both
    /// final states.
    pub bidirectional: bool,
    /// Dropout (on the final state), Adam, clipping, scoring chunk.
    pub training: DiscriminatorTraining,
}

impl Default for GruDiscriminatorConfig {
    fn default() -> Self {
        GruDiscriminatorConfig {
            embedding_dim: 64,
            hidden_dim: 64,
            bidirectional: false,
            training: DiscriminatorTraining::default(),
        }
    }
}

impl DiscriminatorConfig for GruDiscriminatorConfig {
    const DOCS: &'static [(&'static str, &'static str)] = &[
        (
            "embedding_dim",
            "Size of each token's embedding vector, a whole number of at least 1.",
        ),
        (
            "hidden_dim",
            "Size of the GRU's hidden state, a whole number of at least 1; the state at each sequence's last real token is what gets scored.",
        ),
        (
            "bidirectional",
            "true adds a second GRU that reads each sequence from its last real token back to the first; the logit then sees both final states.",
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
