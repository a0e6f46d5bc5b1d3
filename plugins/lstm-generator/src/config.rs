//! Configuration of the LSTM generator.

use agon_sdk::toolkit::{AdamConfig, Compute};
use serde::{Deserialize, Serialize};

/// Hyper-parameters; the defaults are SeqGAN's synthetic-experiment values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LstmGeneratorConfig {
    /// Token embedding size (paper: 32).
    pub embedding_dim: usize,
    /// LSTM hidden size (paper: 32).
    pub hidden_dim: usize,
    /// Standard deviation of the N(0, σ²) initialisation of every weight
    /// (paper: 0.1).
    pub init_std: f32,
    /// Adam of the MLE steps (paper: lr 0.01).
    pub optimizer: AdamConfig,
    /// Adam of the policy-gradient steps, with moments of its own (the
    /// paper's code builds a second `AdamOptimizer`, lr 0.01).
    pub adversarial_optimizer: AdamConfig,
    /// Global gradient-norm clip (paper: 5.0; 0 disables).
    pub grad_clip: f32,
    /// Initial weights to load: a safetensors file in the layout of SeqGAN's
    /// oracle (`embedding`, `lstm.input_gate.W`, …, `output.b`). Relative
    /// paths are resolved against the working directory.
    pub oracle_weights: Option<String>,
    /// A frozen generator refuses every training step (the oracle).
    pub frozen: bool,
    /// Hand-written CPU kernels or Candle tensor ops (`auto`: kernels on
    /// the CPU).
    pub compute: Compute,
}

impl Default for LstmGeneratorConfig {
    fn default() -> Self {
        LstmGeneratorConfig {
            embedding_dim: 32,
            hidden_dim: 32,
            init_std: 0.1,
            optimizer: AdamConfig {
                lr: 0.01,
                ..AdamConfig::default()
            },
            adversarial_optimizer: AdamConfig {
                lr: 0.01,
                ..AdamConfig::default()
            },
            grad_clip: 5.0,
            oracle_weights: None,
            frozen: false,
            compute: Compute::Auto,
        }
    }
}
