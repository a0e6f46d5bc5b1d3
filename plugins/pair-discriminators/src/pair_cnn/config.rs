//! Configuration of `pair-cnn`.

use agon_sdk::kits::{DiscriminatorConfig, DiscriminatorTraining};
use serde::{Deserialize, Serialize};

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
    /// Dropout (on the pooled features), Adam, clipping, scoring chunk.
    pub training: DiscriminatorTraining,
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
            training: DiscriminatorTraining::default(),
            max_source_len: 50,
        }
    }
}

impl DiscriminatorConfig for PairCnnConfig {
    const DOCS: &'static [(&'static str, &'static str)] = &[
    (
            "embedding_dim",
            "Size of each token's embedding vector, one table for sources and targets, a whole number of at least 1.",
        ),
        (
            "conv1_filters",
            "Number of filters of the first 3x3 convolution over the source-by-target grid, at least 1; the costliest part (8 is about six times faster than 64).",
        ),
        (
            "conv2_filters",
            "Number of filters of the second 3x3 convolution, after the 2x2 max-pool, at least 1.",
        ),
        (
            "max_source_len",
            "Source tokens read per row (the first ones), at least 1; the grid has source-by-target cells, so this bounds the cost of long sources.",
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
            ("conv1_filters", self.conv1_filters),
            ("conv2_filters", self.conv2_filters),
        ]
    }
}
