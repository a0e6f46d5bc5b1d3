//! Configuration of RelGAN's generator.

use agon_sdk::kits::{GeneratorConfig, GeneratorTraining};
use agon_sdk::toolkit::Compute;
use agon_sdk::{PluginError, PluginResult};
use serde::{Deserialize, Serialize};

/// The recurrent core between the embedding and the output layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Core {
    /// RelGAN's relational memory (memory slots attending over themselves
    /// and the input).
    #[default]
    RelationalMemory,
    /// An LSTM of `hidden_dim` units: cheaper than relational memory. Its
    /// teacher-forced passes (MLE, NLL-test, a policy-gradient step's
    /// log-probabilities) run the toolkit's LSTM kernel on the CPU
    /// (`compute`); its sampling steps on Candle's tensor ops.
    Lstm,
}

/// Hyper-parameters; the defaults are RelGAN's synthetic-data generator
/// (embedding 32, one memory slot, two heads of 256).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelganGeneratorConfig {
    /// Token embedding size.
    pub embedding_dim: usize,
    /// `relational-memory` or `lstm`.
    pub core: Core,
    /// Memory slots of the relational memory.
    pub mem_slots: usize,
    /// Attention heads of the relational memory.
    pub num_heads: usize,
    /// Size of each head; a slot holds `num_heads × head_size` values.
    pub head_size: usize,
    /// LSTM units (`core: lstm`).
    pub hidden_dim: usize,
    /// The LSTM core's teacher-forced passes: the toolkit's kernel or
    /// Candle's tensor ops (`core: lstm` only).
    pub compute: Compute,
    /// Optimisers (MLE, adversarial) and gradient clipping.
    pub training: GeneratorTraining,
}

impl Default for RelganGeneratorConfig {
    fn default() -> Self {
        RelganGeneratorConfig {
            embedding_dim: 32,
            core: Core::RelationalMemory,
            mem_slots: 1,
            num_heads: 2,
            head_size: 256,
            hidden_dim: 32,
            compute: Compute::Auto,
            training: GeneratorTraining::default(),
        }
    }
}

impl GeneratorConfig for RelganGeneratorConfig {
    const DOCS: &'static [(&'static str, &'static str)] = &[
        ("embedding_dim", "Size of the token embedding, at least 1."),
        (
            "core",
            "`relational-memory` (RelGAN's) or `lstm` (cheaper: its teacher-forced passes, MLE, NLL-test and policy-gradient log-probabilities, run as one kernel on the CPU; docs/performance.md). Sampling steps on Candle's tensor ops with either core.",
        ),
        (
            "mem_slots",
            "Memory slots of the relational memory, at least 1.",
        ),
        (
            "num_heads",
            "Attention heads of the relational memory, at least 1.",
        ),
        (
            "head_size",
            "Size of each attention head, at least 1; a slot holds num_heads × head_size values.",
        ),
        ("hidden_dim", "LSTM units (core: lstm), at least 1."),
        (
            "compute",
            "core: lstm only. Which implementation runs the teacher-forced passes (MLE, NLL-test, policy-gradient log-probabilities): auto (the toolkit's LSTM kernel on the CPU, Candle tensor ops elsewhere), kernels (CPU only) or tensor (Candle tensor ops, the path a GPU runs). Both give the same numbers up to float rounding; sampling steps on tensor ops either way. relational-memory has no kernel: auto or tensor.",
        ),
    ];

    fn training(&self) -> GeneratorTraining {
        self.training.clone()
    }

    fn dimensions(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("embedding_dim", self.embedding_dim),
            ("mem_slots", self.mem_slots),
            ("num_heads", self.num_heads),
            ("head_size", self.head_size),
            ("hidden_dim", self.hidden_dim),
        ]
    }

    fn validate(&self) -> PluginResult<()> {
        if self.core == Core::RelationalMemory && self.compute == Compute::Kernels {
            return Err(PluginError::config(
                "compute: kernels needs core: lstm; the relational memory has no kernel (use compute: auto or tensor, or core: lstm)",
            ));
        }
        let values = self.mem_slots * self.num_heads * self.head_size;
        if self.core == Core::RelationalMemory && values > 1 << 20 {
            return Err(PluginError::config(format!(
                "mem_slots × num_heads × head_size is {values}, more than 1,048,576 values per row; the output layer alone would hold that times the vocabulary"
            )));
        }
        Ok(())
    }
}
