//! `agon` — the host: runs adversarial training of text generators with
//! generators, discriminators and rewards loaded from plugin libraries.

use std::process::ExitCode;

use agon::{cli, commands};
use clap::Parser;

fn main() -> ExitCode {
    // A panic is a bug in agon; say so plainly instead of printing a backtrace
    // prompt at the user. (Plugin panics never get here: the SDK turns them
    // into errors inside the plugin.)
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error in agon (please report it): {info}");
    }));
    restore_default_sigpipe();
    agon::plugin_threads::keep_candle_ops_on_calling_threads();
    agon::allocator::tune_for_tensors();
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => match error.downcast_ref::<commands::Interrupted>() {
            // The shell's convention for a run stopped by SIGINT: 128 + 2.
            Some(interrupted) => {
                eprintln!("{interrupted}");
                ExitCode::from(130)
            }
            None => {
                eprintln!("error: {}", render(&error));
                ExitCode::FAILURE
            }
        },
    }
}

/// Rust ignores SIGPIPE, so writing to a closed pipe (`agon plugins list |
/// head -1`) makes `println!` panic. Restored, the process ends quietly like
/// any Unix filter when its reader goes away.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists;
    // SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The error and its causes, one clause each.
fn render(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}
