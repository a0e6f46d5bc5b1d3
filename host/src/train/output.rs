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
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        mark_closed();
    }
}

/// Raises [`closed`], saying so on standard error the first time.
fn mark_closed() {
    if !CLOSED.swap(true, Ordering::SeqCst) {
        eprintln!(
            "standard output was closed: stopping after the current epoch, checkpointed (as on Ctrl-C)"
        );
    }
}

/// Whether standard output was found closed: by a write that failed, or
/// by asking the kernel whether its reader is gone. The second matters
/// for a sweep, which writes nothing for minutes while its cells train
/// (`agon sweep … | head` would otherwise let them run to the end).
pub fn closed() -> bool {
    if !CLOSED.load(Ordering::SeqCst) && reader_gone() {
        mark_closed();
    }
    CLOSED.load(Ordering::SeqCst)
}

/// Whether standard output's reader is gone: a pipe whose read end is
/// closed polls as `POLLERR`, a socket or terminal that hung up as
/// `POLLHUP`. Only those are asked: files poll as neither, and some
/// devices (`/dev/kmsg`) poll as `POLLERR` while writes to them succeed.
#[cfg(unix)]
fn reader_gone() -> bool {
    let fd = libc::STDOUT_FILENO;
    // SAFETY: fstat fills a stat of the right type, which may start zeroed.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut stat) } != 0 {
        return false;
    }
    // SAFETY: isatty only reads the descriptor's kind.
    let gone = match stat.st_mode & libc::S_IFMT {
        libc::S_IFIFO => libc::POLLERR,
        libc::S_IFSOCK => libc::POLLHUP,
        libc::S_IFCHR if unsafe { libc::isatty(fd) } == 1 => libc::POLLHUP,
        _ => return false,
    };
    let mut stdout = libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid pollfd and its count; a zero timeout never blocks.
    let ready = unsafe { libc::poll(&mut stdout, 1, 0) };
    ready > 0 && stdout.revents & gone != 0
}

#[cfg(not(unix))]
fn reader_gone() -> bool {
    false
}
