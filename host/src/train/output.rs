//! `agon train`'s lines on standard output, and what a closed one means.
//!
//! `agon train … | head` closes the pipe while the run goes on. With
//! SIGPIPE's default action the next line would kill the process between
//! two checkpoints; `agon train` ignores SIGPIPE instead ([`keep_running_on_closed_pipe`]),
//! and a closed standard output stops the run as Ctrl-C does: the current
//! epoch finishes, the run is checkpointed, and `--resume` continues it.

use std::{
    io::Write,
    sync::atomic::{AtomicBool, Ordering},
};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Ignores SIGPIPE for the rest of the process, so that writing to a closed
/// standard output is an error [`say`] handles, not the end of the process.
pub fn keep_running_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: SIG_IGN is a valid disposition for SIGPIPE; the call changes
    // only which action the kernel takes for it.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// Writes `line` to standard output. Once standard output is closed, says
/// so on standard error (once), raises [`closed`], and writes nothing more.
pub fn say(line: &str) {
    if CLOSED.load(Ordering::SeqCst) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err()
        && !CLOSED.swap(true, Ordering::SeqCst)
    {
        eprintln!(
            "standard output was closed: stopping after the current epoch, checkpointed (as on Ctrl-C)"
        );
    }
}

/// Whether standard output was found closed.
pub fn closed() -> bool {
    CLOSED.load(Ordering::SeqCst)
}
