//! Configuration of `pair-rnn`.

use agon_sdk::kits::{DiscriminatorConfig, DiscriminatorTraining};
use serde::{Deserialize, Serialize};

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
    /// Dropout (on the pair features), Adam, clipping, scoring chunk.
    pub training: DiscriminatorTraining,
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
            training: DiscriminatorTraining::default(),
            max_source_len: 200,
        }
    }
}

impl DiscriminatorConfig for PairRnnConfig {
    const DOCS: &'static [(&'static str, &'static str)] = &[
    (
            "embedding_dim",
            "Size of each token's embedding vector, one table for documents and summaries, a whole number of at least 1.",
        ),
        (
            "hidden_dim",
            "State size of both GRUs, the document's and the summary's, at least 1.",
        ),
        (
            "mlp_dim",
            "Size of the tanh layer over the document vector, the summary vector, their product and their absolute difference, at least 1.",
        ),
        (
            "max_source_len",
            "Document tokens read per row (the first ones), at least 1; the GRU's cost grows with it.",
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
            ("hidden_dim", self.hidden_dim),
            ("mlp_dim", self.mlp_dim),
        ]
    }
}
