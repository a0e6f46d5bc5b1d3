//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Adversarial training of text generators (SeqGAN and its family) with
/// plugin generators, discriminators and rewards.
#[derive(Parser, Debug)]
#[command(name = "agon", version, long_version = long_version(), about, long_about = None)]
pub struct Cli {
    /// Load plugin libraries that are not in the plugin index, or whose
    /// sha256 changed since they were indexed (each with a warning), instead
    /// of refusing them. Same as AGON_ALLOW_UNVERIFIED=1.
    #[arg(long, global = true)]
    pub allow_unverified: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// `agon --version`: the version, the commit it was built from and this
/// machine (runs are bit-identical only on one kind of machine).
fn long_version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        format!(
            "{}\ncommit: {}\nmachine: {}",
            env!("CARGO_PKG_VERSION"),
            env!("AGON_GIT_COMMIT"),
            crate::machine::Machine::this()
        )
    })
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Inspect and verify plugin libraries.
    #[command(subcommand)]
    Plugins(PluginsCommand),
    /// Train from an experiment config (YAML), or resume a run.
    Train(TrainArgs),
    /// Sample sequences from a run's latest checkpoint (one per line).
    Sample(SampleArgs),
    /// Score runs' generators (the end-of-MLE and final ones of each run,
    /// or the snapshots --snapshots names, side by side, with paired
    /// significance tests) on their task's
    /// metrics: NLL-oracle and NLL-test (oracle), BLEU-2..5 and Self-BLEU
    /// (text; optionally across temperatures), sacreBLEU / ROUGE /
    /// distinct-n of decoded outputs (conditional).
    Eval(EvalArgs),
    /// Compare runs and sweeps: groups by config (seeds pooled), means and
    /// 95% intervals of every metric, tests between groups, learning curves
    /// with interval bands, a Markdown and an HTML report.
    Compare(CompareArgs),
    /// Run a grid of configs × seeds (a sweep file) on local cores or a
    /// Slurm cluster; `agon sweep status DIR` shows where each cell is.
    Sweep(SweepArgs),
    /// Time the SeqGAN synthetic workloads (those of the PyTorch peer in
    /// benches/torch_seqgan_peer.py) through the real plugins.
    Bench(BenchArgs),
    /// Score a file of hypotheses against reference files without a run:
    /// sacreBLEU (with its signature), ROUGE-1/2/L, Texygen BLEU-n and
    /// Self-BLEU-n, distinct-n, on agon's 0–1 scale.
    Score(ScoreArgs),
}

#[derive(Subcommand, Debug)]
pub enum PluginsCommand {
    /// Every plugin library on the search path, with its components,
    /// version, devices and sha256; refused libraries with the reason.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// One library's manifest, including each component's default config.
    Show {
        /// `namespace/name`, optionally with `@version-req`.
        name: String,
    },
    /// Check libraries (all on the search path, or the given files) and
    /// report every problem; exits non-zero if any is refused.
    Verify {
        /// Library files to check instead of the search path.
        paths: Vec<PathBuf>,
    },
    /// Re-index every library on the search path, accepting rebuilt ones.
    Scan,
    /// Write a new plugin crate that builds against the SDK, passes its own
    /// tests and trains as it is: the guide's example of KIND
    /// (docs/writing-a-plugin.md), renamed. Then `cargo build --release`
    /// in DIR.
    New {
        /// `discriminator` (a model on the SDK's discriminator kit),
        /// `generator` (a model on the SDK's generator kit) or `reward`.
        #[arg(value_enum)]
        kind: crate::commands::NewKind,
        /// `namespace/name` of the library; the name is also the crate's
        /// and the component's.
        name: String,
        /// Where the crate goes (default: `./NAME`); must not exist or be
        /// empty.
        dir: Option<PathBuf>,
        /// A model for conditional tasks (translation, summarization,
        /// dialogue), which reads a source per row: a GRU encoder–decoder
        /// generator, or a discriminator of (source, target) pairs.
        #[arg(long)]
        conditional: bool,
        /// A discriminator that scores every token, for the host's dense
        /// per-token rewards (`credit: dense`, ScratchGAN): a causal
        /// convolution with a logit at every position.
        #[arg(long, conflicts_with = "conditional")]
        per_token: bool,
        /// agon's `sdk/` directory, for a path dependency (default: the
        /// checkout this agon was built from, when it is still there).
        #[arg(long, value_name = "PATH")]
        sdk: Option<PathBuf>,
        /// A git URL of agon's repository, for a git dependency instead.
        #[arg(long, value_name = "URL", conflicts_with = "sdk")]
        sdk_git: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The experiment config.
    #[arg(required_unless_present = "resume")]
    pub config: Option<PathBuf>,
    /// Resume the run in this directory from its latest checkpoint.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["config", "out"])]
    pub resume: Option<PathBuf>,
    /// Override a config value: `--set seed=3`, `--set
    /// training.adversarial.epochs=50` (repeatable; the value is read as
    /// YAML). Changing a component's `plugin` drops the config file's
    /// `config:` and `component:` of the old plugin. With --resume, only the
    /// schedule's lengths may change (to extend a run, or shorten the phase
    /// in progress down to the step it reached).
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub overrides: Vec<String>,
    /// Run directory (default: `runs/<name>`, numbered if it exists).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Stop after this many epochs or rounds, counted across phases from
    /// where this invocation starts, with a checkpoint; continue later with
    /// `--resume`.
    #[arg(long, value_name = "N")]
    pub stop_after: Option<usize>,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Run directories and sweep directories (a sweep's cells are its runs).
    /// The first group is the baseline of the tests.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Where compare.md, compare.html, compare.json and the plots go
    /// (default: `compare/` inside the first path, numbered if taken).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the JSON instead of the Markdown.
    #[arg(long)]
    pub json: bool,
    /// Names for the groups, in the order they are found, comma-separated
    /// (e.g. `--names "shared Adam,separate Adam"`), instead of the keys
    /// that set them apart.
    #[arg(long, value_delimiter = ',')]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub command: Option<SweepCommand>,
    /// The sweep file: `base` (a config, relative to the sweep file),
    /// `grid` (key path → values), `seeds`, `executor` (`local` or `slurm`).
    /// See docs/sweeps.md.
    #[arg(required = true)]
    pub file: Option<PathBuf>,
    /// Sweep directory (default: `sweeps/<name>`). Running a sweep again
    /// into the same directory skips finished cells and resumes stopped
    /// ones.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Slurm executor: wait until every cell has ended, then report.
    #[arg(long)]
    pub wait: bool,
    /// Local executor: runs at once, instead of the sweep file's
    /// `executor.jobs` (the sweep file is not changed).
    #[arg(long, value_parser = at_least_one)]
    pub jobs: Option<usize>,
    /// Local executor: worker threads per run, instead of the sweep file's
    /// `executor.threads` (without either: the cores divided by the jobs).
    /// Runs give the same results whatever their thread count.
    #[arg(long, value_parser = at_least_one)]
    pub threads: Option<usize>,
    /// Every this many seconds while cells run (locally, or on Slurm with
    /// `--wait`), a line on each running cell: its phase, epoch and about
    /// how long its phase still needs (`agon sweep status` at a glance).
    /// 0: none.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub progress_every: u64,
    /// Refused with the fix (hidden): a sweep's settings are in its file,
    /// whose copy in the sweep directory says what its cells ran.
    #[arg(long = "set", hide = true, value_name = "KEY=VALUE", value_parser = settings_are_in_the_sweep_file)]
    pub set: Vec<String>,
}

/// `agon sweep --set`, which `agon train` takes and a sweep does not.
fn settings_are_in_the_sweep_file(_: &str) -> Result<String, String> {
    Err("agon sweep takes its settings from the sweep file: put `KEY: VALUE` under `set:` (one value for every cell) or `KEY: [VALUES]` under `grid:` (values to sweep); see docs/sweeps.md".into())
}

/// A count of 1 or more.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e}: give a whole number of at least 1")),
    }
}

#[derive(Subcommand, Debug)]
pub enum SweepCommand {
    /// Each cell's state (finished, running, pending, stopped, interrupted,
    /// failed), progress, training time, and about how long its phase in
    /// progress still needs.
    Status {
        /// The sweep directory.
        dir: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run one cell (what each local child process and Slurm array task
    /// runs): start, resume from its checkpoint, or skip it if finished.
    #[command(hide = true)]
    RunCell {
        dir: PathBuf,
        #[arg(long)]
        index: usize,
    },
}

#[derive(Args, Debug)]
pub struct SampleArgs {
    /// The run directory.
    pub run_dir: PathBuf,
    /// Number of sequences.
    #[arg(short = 'n', long = "count", default_value_t = 10)]
    pub count: usize,
    /// Softmax temperature.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f32,
    /// Sampling seed (default: the run's seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Sample from a snapshot instead of the latest checkpoint (`mle`: the
    /// generator at the end of MLE pretraining; `best`: at the evaluation
    /// with the best headline metric; `best-nll-test`: at the lowest
    /// NLL-test; `final`: the latest checkpoint, as without it).
    #[arg(long)]
    pub snapshot: Option<String>,
    /// Print token ids even for text tasks.
    #[arg(long)]
    pub ids: bool,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Run directories (their models are compared with the first one's
    /// first model: the end-of-MLE snapshot when it has one; and each later
    /// run's final model with its own end-of-MLE snapshot).
    #[arg(required = true)]
    pub run_dirs: Vec<PathBuf>,
    /// Samples per model (text tasks; default: the task's eval_samples), or
    /// test sources decoded (conditional tasks; default: all of them).
    #[arg(long)]
    pub samples: Option<usize>,
    /// Sampling temperature of the metric table (text and oracle tasks;
    /// default 1).
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Text and oracle tasks: comma-separated temperatures for the
    /// quality–diversity sweep, e.g. 0.5,0.7,1.0,1.3 (plots BLEU against
    /// Self-BLEU for each model; on the oracle, NLL-oracle against
    /// NLL-test).
    #[arg(long)]
    pub temperatures: Option<String>,
    /// Sampling seed, the same for every model (default: the first run's seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Bootstrap resamples of the paired tests.
    #[arg(long, default_value_t = 10_000)]
    pub resamples: usize,
    /// Comma-separated snapshots of each run to score: `mle` (the end of
    /// MLE pretraining; left out for runs without one), `final` (the latest
    /// checkpoint), `best` (the best evaluation of the headline metric),
    /// `best-nll-test` (the lowest NLL-test), or any other folder of the
    /// run's checkpoints/. Scored `mle` first and `final` last, whatever
    /// the order given.
    #[arg(long, value_name = "NAMES", default_value = "mle,final")]
    pub snapshots: String,
    /// Where eval.json and the plot go (default: RUN_DIR/eval of the first run).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Conditional tasks: decode with this many beams (1 = greedy) instead
    /// of the task's `evaluation.beam_size`.
    #[arg(long)]
    pub beam_size: Option<u32>,
    /// Text tasks: a run whose generator is a language model of the real
    /// data (an MLE-only run of the same task, not one of the runs
    /// evaluated). Adds Caccia et al.'s LM score (`lm_nll`: the samples
    /// under that LM) and reverse LM score (`reverse_lm_nll`: the test set
    /// under a fresh generator of that run's config trained on the samples).
    #[arg(long, value_name = "LM_RUN_DIR")]
    pub lm: Option<PathBuf>,
    /// Reverse LM score: MLE epochs on each model's samples (default: the
    /// --lm run's `training.mle.epochs`; 0 skips the reverse LM score).
    #[arg(long, value_name = "N", requires = "lm")]
    pub reverse_lm_epochs: Option<usize>,
    /// Reverse LM score: samples drawn from each model to train on
    /// (default: as many as the task has training sequences).
    #[arg(long, value_name = "N", requires = "lm")]
    pub reverse_lm_samples: Option<usize>,
    /// Print the JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The experiment config whose generator, discriminator, reward, vocabulary
    /// and length are benchmarked (the paper's dimensions by default).
    #[arg(long, default_value = "configs/seqgan-oracle.yaml")]
    pub config: PathBuf,
    /// Override a config value, as for `agon train`:
    /// `--set training.rollout_token_budget=20480` (repeatable).
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub overrides: Vec<String>,
    /// Comma-separated workloads: mle, sample, dtrain, rollout-batched,
    /// rollout-naive, or all (those five); and, run only when named,
    /// dtrain-gru (one epoch of rnn-lab/gru-discriminator on the SDK's kit,
    /// the peer's `dtrain-gru`) and dense-step (50 ScratchGAN-style steps
    /// with scratchgan-lab/lstm-discriminator's per-token scores, the
    /// peer's `dense-step`) and gumbel-step (50 RelGAN-style steps through
    /// the relaxed boundary with relgan-lab/relgan's generator and
    /// discriminator at the peer's sizes, the peer's `gumbel-step`). Those
    /// three time their own discriminators (and gumbel-step its own
    /// generator), whatever --config's; dtrain-gru and dense-step use
    /// --config's generator (docs/performance.md's table says what
    /// each workload times, and its unit).
    #[arg(long, default_value = "all")]
    pub workloads: String,
    /// Runs per workload; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Monte-Carlo rollouts per prefix in the rollout workloads (the peer
    /// uses 16); rewards per second should not depend on it.
    #[arg(long, default_value_t = crate::bench::ROLLOUTS)]
    pub rollouts: usize,
    /// gumbel-step: rows per forward and backward pass of the RelGAN
    /// discriminator (its `training.relaxed_chunk`; 0, the default, takes
    /// each batch whole). Peak RSS shows what chunking saves.
    #[arg(long, default_value_t = 0)]
    pub relaxed_chunk: usize,
    /// Worker threads of every plugin (sets RAYON_NUM_THREADS; default: all
    /// cores, or RAYON_NUM_THREADS if set).
    #[arg(long)]
    pub threads: Option<usize>,
    /// One JSON object per workload (the peer's format) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// Metrics (repeatable or comma-separated): sacrebleu, rouge (ROUGE-1,
    /// ROUGE-2, ROUGE-L), bleu (Texygen BLEU-n), self-bleu, distinct
    /// (distinct-1, distinct-2).
    #[arg(
        long = "metric",
        value_name = "NAME",
        required = true,
        value_delimiter = ','
    )]
    pub metrics: Vec<String>,
    /// The hypotheses (system outputs), one per line, UTF-8.
    #[arg(long, value_name = "FILE")]
    pub hyp: PathBuf,
    /// A reference file, one reference per line (repeatable). sacrebleu and
    /// rouge: line-aligned with --hyp, each file one reference stream
    /// (several: multi-reference). bleu: every line of every file, together
    /// one reference set for each hypothesis (Texygen). Not needed by
    /// self-bleu and distinct.
    #[arg(long = "ref", value_name = "FILE")]
    pub refs: Vec<PathBuf>,
    /// BLEU-n and Self-BLEU-n for each n here (comma-separated).
    #[arg(long, value_name = "N,N,…", default_value = "2,3,4,5")]
    pub orders: String,
    /// Tokens of bleu, self-bleu and distinct: `whitespace` (split on
    /// spaces), `word` (agon's word tokenizer: punctuation split off, as a
    /// text task's default), `char` (every non-space character). sacrebleu
    /// always uses its 13a tokenizer, rouge rouge-score's.
    #[arg(long, value_name = "NAME", default_value = "whitespace")]
    pub tokenizer: String,
    /// Case-insensitive: sacreBLEU's `-lc`, and lower-cased tokens for
    /// bleu, self-bleu and distinct (rouge-score always lower-cases).
    #[arg(long)]
    pub lowercase: bool,
    /// ROUGE with Porter stemming (rouge-score's `use_stemmer=True`).
    #[arg(long)]
    pub rouge_stemmer: bool,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}
