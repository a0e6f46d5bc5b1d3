//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Adversarial training of text generators (SeqGAN and its family) with
/// plugin generators, discriminators and rewards.
#[derive(Parser, Debug)]
#[command(name = "agon", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Inspect and verify plugin libraries.
    #[command(subcommand)]
    Plugins(PluginsCommand),
    /// Train from an experiment config (YAML).
    Train(TrainArgs),
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
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The experiment config.
    pub config: PathBuf,
    /// Override a config value: `--set training.seed=3` (repeatable; the
    /// value is read as YAML).
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub overrides: Vec<String>,
    /// Run directory (default: `runs/<name>`, numbered if it exists).
    #[arg(long)]
    pub out: Option<PathBuf>,
}
