//! One module per subcommand.

mod bench;
mod eval;
mod plugins;
mod sample;
mod train;

use crate::cli::{Cli, Command};

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
    }
}
