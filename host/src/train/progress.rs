//! Progress bars with ETA for each phase (hidden when stderr is not a
//! terminal), and log lines that survive without them.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for `len` steps of `phase`, starting at `done`.
pub fn phase_bar(phase: &str, len: usize, done: usize) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>26} [{bar:30}] {pos}/{len} {msg} ({elapsed} elapsed, ETA {eta})",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_prefix(phase.to_string());
    bar.set_position(done as u64);
    bar
}

/// Prints a line above the bar (or plainly when the bar is hidden).
pub fn log(bar: &ProgressBar, line: &str) {
    if bar.is_hidden() {
        super::output::say(line);
    } else {
        bar.suspend(|| super::output::say(line));
    }
}
