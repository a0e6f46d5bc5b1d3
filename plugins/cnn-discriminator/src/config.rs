//! Configuration of the CNN discriminator.

use agon_sdk::{
    toolkit::{AdamConfig, Compute},
    PluginError, PluginResult,
};
use serde::{Deserialize, Serialize};

/// Hyper-parameters; the defaults are SeqGAN's (`discriminator.py`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CnnDiscriminatorConfig {
    /// Token embedding size (paper: 64).
    pub embedding_dim: usize,
    /// Convolution widths (paper: 1–10, 15, 20).
    pub filter_sizes: Vec<usize>,
    /// Filters per width (paper: 100, 200, 200, 200, 200, 100 ×5, 160, 160).
    pub filter_counts: Vec<usize>,
    /// Dropout keep probability before the output layer (paper: 0.75).
    pub dropout_keep: f32,
    /// L2 penalty λ·(‖W‖² + ‖b‖²)/2 on the output layer (paper: 0.2).
    pub l2_lambda: f64,
    /// Adam (paper: lr 1e-4).
    pub optimizer: AdamConfig,
    /// Global gradient-norm clip (0 disables; SeqGAN does not clip D).
    pub grad_clip: f32,
    /// Hand-written CPU kernels or Candle tensor ops (`auto`: kernels on
    /// the CPU).
    pub compute: Compute,
}

impl Default for CnnDiscriminatorConfig {
    fn default() -> Self {
        CnnDiscriminatorConfig {
            embedding_dim: 64,
            filter_sizes: vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20],
            filter_counts: vec![100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160],
            dropout_keep: 0.75,
            l2_lambda: 0.2,
            optimizer: AdamConfig {
                lr: 1e-4,
                ..AdamConfig::default()
            },
            grad_clip: 0.0,
            compute: Compute::Auto,
        }
    }
}

impl CnnDiscriminatorConfig {
    /// Checks the config is usable.
    pub fn validate(&self) -> PluginResult<()> {
        if self.filter_sizes.len() != self.filter_counts.len() || self.filter_sizes.is_empty() {
            return Err(PluginError::config(format!(
                "filter_sizes ({} entries) and filter_counts ({} entries) must be non-empty and of equal length",
                self.filter_sizes.len(),
                self.filter_counts.len()
            )));
        }
        // One key per message, so the host can point at the line that set it.
        for (zero, message) in [
            (
                self.filter_sizes.contains(&0),
                "filter_sizes must hold widths of at least 1",
            ),
            (
                self.filter_counts.contains(&0),
                "filter_counts must hold counts of at least 1",
            ),
            (self.embedding_dim == 0, "embedding_dim must be at least 1"),
        ] {
            if zero {
                return Err(PluginError::config(message));
            }
        }
        if !(self.dropout_keep > 0.0 && self.dropout_keep <= 1.0) {
            return Err(PluginError::config(format!(
                "dropout_keep must be in (0, 1], got {}",
                self.dropout_keep
            )));
        }
        Ok(())
    }

    /// Total number of filters (the pooled feature size).
    pub fn total_filters(&self) -> usize {
        self.filter_counts.iter().sum()
    }
}
