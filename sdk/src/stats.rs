//! Small structs of per-step options and statistics.

use abi_stable::{
    std_types::{RString, RVec},
    StableAbi,
};

/// Options of one training step.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct StepOptions {
    /// Seed for the step's randomness (dropout, sampling). The host derives it
    /// from its own seeded stream so that runs are reproducible and resumable.
    pub seed: u64,
}

/// What a training step reports.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Default)]
pub struct StepStats {
    /// The loss that was minimised (mean over the batch).
    pub loss: f32,
    /// Number of sequences in the step.
    pub sequences: u32,
    /// Other named values (accuracy, gradient norm, mean reward…).
    pub extras: RVec<NamedValue>,
}

/// A named `f32`.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct NamedValue {
    /// The name, e.g. `accuracy`.
    pub name: RString,
    /// The value.
    pub value: f32,
}

impl StepStats {
    /// Stats with a loss for `sequences` sequences and no extras.
    pub fn new(loss: f32, sequences: usize) -> Self {
        StepStats {
            loss,
            sequences: sequences as u32,
            extras: RVec::new(),
        }
    }

    /// Adds a named value.
    pub fn with(mut self, name: &str, value: f32) -> Self {
        self.extras.push(NamedValue {
            name: name.into(),
            value,
        });
        self
    }

    /// The value named `name`, if reported.
    pub fn get(&self, name: &str) -> Option<f32> {
        self.extras
            .iter()
            .find(|v| v.name.as_str() == name)
            .map(|v| v.value)
    }
}
