//! The experiment config: what a YAML file passed to `agon train` holds.
//!
//! Every struct denies unknown keys (a typo is an error naming the key and
//! its line, never a silently ignored setting) and has defaults for what may
//! be left out. The resolved config — defaults filled in, `--set` overrides
//! applied — is saved in the run directory as `config.yaml`.

mod load;
mod training;

pub use load::load_experiment;
pub use training::{AdversarialConfig, Baseline, TrainingConfig};

use std::path::PathBuf;

use agon_sdk::yaml;
use serde::{Deserialize, Serialize};

/// A whole experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Name of the run (the default run directory is `runs/<name>`).
    pub name: String,
    /// Seed of everything random in the run.
    #[serde(default)]
    pub seed: u64,
    /// `cpu` or `cuda:N`, for every component.
    #[serde(default = "default_device")]
    pub device: String,
    /// The task: vocabulary, data, metrics.
    pub task: TaskConfig,
    /// The generator being trained.
    pub generator: ComponentSpec,
    /// The discriminator (needed unless the reward needs none).
    #[serde(default)]
    pub discriminator: Option<ComponentSpec>,
    /// The reward function.
    #[serde(default)]
    pub reward: Option<ComponentSpec>,
    /// The schedule.
    #[serde(default)]
    pub training: TrainingConfig,
}

fn default_device() -> String {
    "cpu".to_string()
}

/// A component from a plugin library.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentSpec {
    /// `namespace/name@version-req`, e.g. `seqgan-lab/cnn-discriminator@^0.1`.
    pub plugin: String,
    /// Component name inside the library (optional when it has only one of
    /// the needed kind).
    #[serde(default)]
    pub component: Option<String>,
    /// The component's own config, merged over its default config.
    #[serde(default)]
    pub config: yaml::Value,
}

/// Which kind of task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskKind {
    /// SeqGAN's synthetic experiment: an oracle LSTM generates the data.
    SyntheticOracle,
}

/// The task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskConfig {
    /// Which task.
    pub kind: TaskKind,
    /// Number of token ids.
    #[serde(default = "default_vocab_size")]
    pub vocab_size: u32,
    /// Sequence length (the oracle task's sequences all have this length).
    #[serde(default = "default_max_len")]
    pub max_len: u32,
    /// The start token fed first (SeqGAN: 0, also an ordinary token).
    #[serde(default)]
    pub start_token: u32,
    /// Training data: one sequence per line, space-separated ids. When
    /// absent, the oracle samples `train_samples` sequences.
    #[serde(default)]
    pub train_data: Option<PathBuf>,
    /// The oracle (synthetic task): a frozen generator, e.g. the lstm
    /// generator with the SeqGAN oracle's weights.
    #[serde(default)]
    pub oracle: Option<ComponentSpec>,
    /// Training sequences sampled from the oracle when `train_data` is absent
    /// (paper: 9,984).
    #[serde(default = "default_samples")]
    pub train_samples: usize,
    /// Generator samples scored by the oracle for NLL-oracle (paper: 9,984).
    #[serde(default = "default_samples")]
    pub eval_samples: usize,
    /// Held-out oracle samples on which the generator's NLL is measured.
    #[serde(default = "default_heldout")]
    pub heldout_samples: usize,
}

fn default_samples() -> usize {
    9984
}

fn default_heldout() -> usize {
    2000
}

fn default_vocab_size() -> u32 {
    5000
}

fn default_max_len() -> u32 {
    20
}
