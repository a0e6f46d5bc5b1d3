//! The experiment config: what a YAML file passed to `agon train` holds.
//!
//! Every struct denies unknown keys (a typo is an error naming the key and
//! its line, never a silently ignored setting) and has defaults for what may
//! be left out. The resolved config — defaults filled in, `--set` overrides
//! applied — is saved in the run directory as `config.yaml`.

mod load;
pub mod locate;
pub mod suggest;
mod training;

pub(crate) use load::shown as shown_assignment;
pub use load::{load_experiment, parse_experiment};
pub use training::{
    AdversarialConfig, Algorithm, Baseline, Credit, DenseConfig, GumbelConfig,
    InverseTemperatureConfig, TokenReward, TrainingConfig,
};

use std::path::PathBuf;

use agon_sdk::yaml;
use serde::{Deserialize, Serialize};

use crate::machine::Machine;

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
    /// Which agon wrote this resolved config (set in a run's config.yaml;
    /// ignored when read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_by: Option<WrittenBy>,
    /// Where the config was read from (not saved).
    #[serde(skip)]
    pub origin: ConfigOrigin,
}

/// The agon that wrote a run's config.yaml. Unknown fields are ignored when
/// read, so that a later agon may add one without older ones refusing its
/// runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WrittenBy {
    /// agon's version.
    pub agon_version: String,
    /// The git commit agon was built from (`-dirty` when the tree had
    /// uncommitted changes; `unknown` when built outside a git checkout).
    pub git_commit: String,
    /// The machine the run started on (runs are bit-identical only on one
    /// kind of machine: [`crate::machine`]); absent in runs written before
    /// agon recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<Machine>,
    /// Other machines a resumed run continued on, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resumed_on: Vec<Machine>,
}

impl WrittenBy {
    /// This build of agon, on this machine.
    pub fn this_build() -> Self {
        WrittenBy {
            agon_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: env!("AGON_GIT_COMMIT").to_string(),
            machine: Some(Machine::this()),
            resumed_on: Vec::new(),
        }
    }

    /// Every machine the run was made on, first the one it started on;
    /// empty when it was written before agon recorded them.
    pub fn machines(&self) -> Vec<&Machine> {
        self.machine.iter().chain(&self.resumed_on).collect()
    }
}

/// Where a config came from: the file as written and the `--set`
/// overrides, so that an error found later (in a plugin's config, after
/// merging) can point at the line the user wrote.
#[derive(Clone, Debug, Default)]
pub struct ConfigOrigin {
    pub file: PathBuf,
    pub text: String,
    pub overrides: Vec<String>,
    /// `(place, note)` for each `--set PLACE.plugin=…` that dropped the
    /// file's `config:`/`component:` of the old plugin. Said once the new
    /// plugin is found (`components::resolve`), not when the config is
    /// read: a misspelt plugin's error should not follow a note about it.
    pub plugin_switch_notes: Vec<(String, String)>,
}

impl PartialEq for ConfigOrigin {
    /// Two configs are equal by their values, wherever they were read.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl ConfigOrigin {
    /// Where the value at `path` (e.g. `["discriminator", "config",
    /// "hidden_dim"]`) was set: `--set …` when an override set it or a
    /// mapping above it, else `FILE line N` when the file has it, else the
    /// `--set` of a key below it, which made it (`--set
    /// generator.config.optimizer.lr=…` makes `generator.config.optimizer`
    /// where the file has none); `None` when none of them has it.
    pub fn place_of(&self, path: &[&str]) -> Option<String> {
        let dotted = path.join(".");
        let key_of = |assignment: &str| {
            assignment
                .split_once('=')
                .map_or(assignment, |(k, _)| k)
                .to_string()
        };
        let set = |wanted: &dyn Fn(&str) -> bool| {
            self.overrides
                .iter()
                .rev()
                .find(|assignment| wanted(&key_of(assignment)))
                .map(|assignment| format!("--set {}", load::shown(assignment)))
        };
        set(&|key| dotted == key || dotted.starts_with(&format!("{key}.")))
            .or_else(|| {
                locate::line_of(&self.text, path)
                    .map(|line| format!("{} line {line}", self.file.display()))
            })
            .or_else(|| set(&|key| key.starts_with(&format!("{dotted}."))))
    }
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
    /// Unconditional real text (poetry, captions, speeches): a tokenizer and
    /// a vocabulary from the training file; BLEU, Self-BLEU and NLL-test.
    Text,
    /// Conditional real text (translation, summarization, dialogue):
    /// line-aligned source and target files, one joint vocabulary; outputs
    /// decoded from the test sources are scored with sacreBLEU, ROUGE or
    /// distinct-n.
    Conditional,
}

impl TaskKind {
    /// The kind as a config spells it.
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::SyntheticOracle => "synthetic-oracle",
            TaskKind::Text => "text",
            TaskKind::Conditional => "conditional",
        }
    }
}

/// The task. One struct for every kind (so that a typo in any key is
/// reported with its line); keys that do not apply to the kind are refused
/// by [`TaskConfig::check_keys`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskConfig {
    /// Which task.
    pub kind: TaskKind,
    /// Oracle: number of token ids (default 5000). Text: the most ids the
    /// vocabulary may have (the most frequent tokens are kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocab_size: Option<u32>,
    /// Longest sequence, in tokens (text: including the end-of-sequence
    /// token). Oracle default 20; text default: the longest training line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_len: Option<u32>,
    /// Oracle: the start token fed first (SeqGAN: 0, also an ordinary token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_token: Option<u32>,
    /// Training data. Oracle: one sequence of space-separated ids per line
    /// (when absent, the oracle samples `train_samples` sequences). Text:
    /// one example per line. Conditional: the targets, line-aligned with
    /// `train_source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_data: Option<PathBuf>,
    /// Text: the test split (NLL-test, and the references of BLEU).
    /// Conditional: the test targets (the first reference), line-aligned
    /// with `test_source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_data: Option<PathBuf>,
    /// Conditional: the training sources (translation input, document,
    /// dialogue context), one per line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_source: Option<PathBuf>,
    /// Conditional: the test sources, one per line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_source: Option<PathBuf>,
    /// Conditional: more reference files, line-aligned with `test_data`
    /// (DialogSum has three summaries per dialogue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_references: Option<Vec<PathBuf>>,
    /// Conditional: longest source, in tokens including the end-of-sequence
    /// token; longer sources are cut (default: the longest training source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_source_len: Option<u32>,
    /// Conditional: the metrics and how outputs are decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<ConditionalEvaluation>,
    /// Text: how lines become tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<crate::text::TokenizerConfig>,
    /// Text: tokens seen fewer times in the training file become `<unk>`
    /// (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_count: Option<usize>,
    /// Text: lines longer than `max_len` − 1 tokens: `error` (default),
    /// `skip` or `truncate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_lines: Option<crate::text::LongLines>,
    /// Text: BLEU settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bleu: Option<BleuConfig>,
    /// Oracle: a frozen generator, e.g. the lstm generator with the SeqGAN
    /// oracle's weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oracle: Option<ComponentSpec>,
    /// Text and conditional: train on the first N lines (pairs) of the
    /// training file(s) only, for a quick run on a subset; the vocabulary
    /// is built from them. Default: every line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_limit: Option<usize>,
    /// Oracle: training sequences sampled when `train_data` is absent
    /// (default and paper: 9,984).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_samples: Option<usize>,
    /// Generator samples per evaluation (oracle: scored by the oracle,
    /// default 9,984; text: BLEU hypotheses, default 1,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_samples: Option<usize>,
    /// Oracle: held-out oracle samples for NLL-test (default 2,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heldout_samples: Option<usize>,
}

/// BLEU of generated samples against the test set (the Texygen protocol).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BleuConfig {
    /// BLEU-n and Self-BLEU-n for each n here.
    pub orders: Vec<usize>,
    /// The "fast" variant's reference count (Texygen: the first 500 test
    /// lines) and Self-BLEU's hypothesis count (the first 500 samples).
    pub fast_references: usize,
    /// The orders the task's paper reports (SeqGAN: BLEU-2 for poems,
    /// BLEU-3 and 4 for speeches); `agon eval` tests their differences.
    pub headline: Vec<usize>,
}

impl Default for BleuConfig {
    fn default() -> Self {
        BleuConfig {
            orders: vec![2, 3, 4, 5],
            fast_references: 500,
            headline: vec![2],
        }
    }
}

/// A metric of a conditional task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConditionalMetric {
    /// sacreBLEU corpus BLEU (13a; `case:lc` when the tokenizer lower-cases).
    Bleu,
    /// rouge-score ROUGE-1/2/L F1 (best over the references; stemmed with
    /// `rouge_stemmer`).
    Rouge,
    /// distinct-1 and distinct-2 of all outputs (Li et al. 2016).
    Distinct,
}

/// How a conditional task is evaluated: outputs decoded from the test
/// sources, scored on `metrics` (the first is the headline).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConditionalEvaluation {
    pub metrics: Vec<ConditionalMetric>,
    /// 1 = greedy decoding; more = beam search with this many beams.
    pub beam_size: u32,
    /// Beam scores are `log p / length^length_penalty`.
    pub length_penalty: f32,
    /// ROUGE with rouge-score's Porter stemming (`use_stemmer=True`), as
    /// many summarization papers report it.
    pub rouge_stemmer: bool,
}

impl Default for ConditionalEvaluation {
    fn default() -> Self {
        ConditionalEvaluation {
            metrics: vec![ConditionalMetric::Bleu],
            beam_size: 1,
            length_penalty: 1.0,
            rouge_stemmer: false,
        }
    }
}

impl TaskConfig {
    /// Keys set that do not apply to this kind of task, as errors.
    pub fn check_keys(&self) -> anyhow::Result<()> {
        let (kind, foreign): (&str, Vec<(&str, bool)>) = match self.kind {
            TaskKind::SyntheticOracle => (
                "synthetic-oracle",
                vec![
                    ("test_data", self.test_data.is_some()),
                    ("tokenizer", self.tokenizer.is_some()),
                    ("min_count", self.min_count.is_some()),
                    ("long_lines", self.long_lines.is_some()),
                    ("bleu", self.bleu.is_some()),
                    ("train_source", self.train_source.is_some()),
                    ("test_source", self.test_source.is_some()),
                    ("extra_references", self.extra_references.is_some()),
                    ("max_source_len", self.max_source_len.is_some()),
                    ("evaluation", self.evaluation.is_some()),
                    ("train_limit", self.train_limit.is_some()),
                ],
            ),
            TaskKind::Text => (
                "text",
                vec![
                    ("oracle", self.oracle.is_some()),
                    ("start_token", self.start_token.is_some()),
                    ("train_samples", self.train_samples.is_some()),
                    ("heldout_samples", self.heldout_samples.is_some()),
                    ("train_source", self.train_source.is_some()),
                    ("test_source", self.test_source.is_some()),
                    ("extra_references", self.extra_references.is_some()),
                    ("max_source_len", self.max_source_len.is_some()),
                    ("evaluation", self.evaluation.is_some()),
                ],
            ),
            TaskKind::Conditional => (
                "conditional",
                vec![
                    ("oracle", self.oracle.is_some()),
                    ("start_token", self.start_token.is_some()),
                    ("train_samples", self.train_samples.is_some()),
                    ("heldout_samples", self.heldout_samples.is_some()),
                    ("bleu", self.bleu.is_some()),
                ],
            ),
        };
        let set: Vec<&str> = foreign
            .into_iter()
            .filter_map(|(key, set)| set.then_some(key))
            .collect();
        anyhow::ensure!(
            set.is_empty(),
            "task.{} does not apply to a task of kind {kind}; remove it",
            set.join(", task.")
        );
        anyhow::ensure!(
            self.train_limit != Some(0),
            "task.train_limit is 0; it is the number of training lines to use, at least 1 (leave it out to use every line)"
        );
        if let Some(bleu) = &self.bleu {
            let uncomputed: Vec<String> = bleu
                .headline
                .iter()
                .filter(|n| !bleu.orders.contains(n))
                .map(|n| n.to_string())
                .collect();
            anyhow::ensure!(
                uncomputed.is_empty(),
                "task.bleu.headline names BLEU-{} but task.bleu.orders computes only {:?}: add the order to `orders` or drop it from `headline`",
                uncomputed.join(", BLEU-"),
                bleu.orders
            );
        }
        if let Some(evaluation) = &self.evaluation {
            anyhow::ensure!(
                !evaluation.metrics.is_empty(),
                "task.evaluation.metrics is empty; name at least one of bleu, rouge, distinct"
            );
            anyhow::ensure!(
                evaluation.beam_size >= 1,
                "task.evaluation.beam_size must be at least 1 (1 = greedy decoding)"
            );
            anyhow::ensure!(
                evaluation.length_penalty.is_finite() && evaluation.length_penalty >= 0.0,
                "task.evaluation.length_penalty must be a number ≥ 0, got {}",
                evaluation.length_penalty
            );
        }
        Ok(())
    }
}
