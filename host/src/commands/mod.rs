//! One module per subcommand.

mod bench;
mod compare;
mod eval;
mod plugins;
mod plugins_new;
mod sample;
mod score;
mod sweep;
mod train;

pub use plugins_new::NewKind;

use crate::cli::{Cli, Command};

/// A run stopped by Ctrl-C or SIGTERM and checkpointed: `agon` exits with
/// 130, the shell's code for an interrupted command, after this message.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}

/// `agon train` with these arguments (a sweep's cells run through it).
pub fn train_run(args: crate::cli::TrainArgs) -> anyhow::Result<()> {
    train::run(args)
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    if cli.allow_unverified {
        agon_registry::allow_unverified(true);
    }
    match cli.command {
        Command::Plugins(command) => plugins::run(command),
        Command::Train(args) => train::run(args),
        Command::Sample(args) => sample::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Score(args) => score::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Compare(args) => compare::run(args),
    }
}
