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

/// The line of a unit (epoch or round) of `phase` that ended without an
/// evaluation, for logs without a bar: `mle  epoch  3  of 20, 3.6 s`,
/// aligned with the evaluation lines.
pub fn unit_line(
    phase: super::schedule::Phase,
    done: usize,
    total: usize,
    took: std::time::Duration,
    message: Option<&str>,
) -> String {
    let (name, unit) = match phase {
        super::schedule::Phase::DiscriminatorPretraining => ("d-pretrain", "round"),
        other => (other.name(), "epoch"),
    };
    format!(
        "{name:<12} {unit} {done:>4}  of {total}, {:.1} s{}",
        took.as_secs_f64(),
        message.map(|m| format!("  {m}")).unwrap_or_default()
    )
}

/// The file a running `agon train` keeps its position in, unit by unit
/// (checkpoints come only every `eval_every` units): `agon sweep status`
/// reads it for a cell that is running.
pub const LIVE_POSITION_FILE: &str = "progress.json";

/// Where a running training is: after `step` of `total` units of `phase`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LivePosition {
    pub phase: String,
    pub step: usize,
    pub total: usize,
    pub elapsed_seconds: f64,
}

/// Writes the live position: best effort, and without fsync (twice an
/// epoch on a network file system adds up); a full disk shows up at the
/// next checkpoint, which is neither.
pub fn record_live_position(
    run_dir: &std::path::Path,
    phase: super::schedule::Phase,
    step: usize,
    total: usize,
    elapsed_seconds: f64,
) {
    let position = LivePosition {
        phase: phase.name().to_string(),
        step,
        total,
        elapsed_seconds,
    };
    let Ok(text) = serde_json::to_string(&position) else {
        return;
    };
    // Renamed into place, so a reader never sees half a file.
    let file = run_dir.join(LIVE_POSITION_FILE);
    let partial = run_dir.join(format!("{LIVE_POSITION_FILE}.partial"));
    if std::fs::write(&partial, text).is_ok() {
        let _ = std::fs::rename(&partial, &file);
    }
}

pub fn clear_live_position(run_dir: &std::path::Path) {
    let _ = std::fs::remove_file(run_dir.join(LIVE_POSITION_FILE));
}

/// The live position of the training in `run_dir`, if it wrote one.
pub fn live_position(run_dir: &std::path::Path) -> Option<LivePosition> {
    let text = std::fs::read_to_string(run_dir.join(LIVE_POSITION_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::schedule::Phase;

    #[test]
    fn the_live_position_is_written_read_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(live_position(dir.path()), None);
        record_live_position(dir.path(), Phase::Adversarial, 3, 20, 12.5);
        assert_eq!(
            live_position(dir.path()),
            Some(LivePosition {
                phase: "adversarial".into(),
                step: 3,
                total: 20,
                elapsed_seconds: 12.5
            })
        );
        clear_live_position(dir.path());
        assert_eq!(live_position(dir.path()), None);
    }

    #[test]
    fn a_unit_line_aligns_with_the_evaluation_lines() {
        let took = std::time::Duration::from_millis(3_640);
        assert_eq!(
            unit_line(Phase::Mle, 3, 20, took, None),
            "mle          epoch    3  of 20, 3.6 s"
        );
        assert_eq!(
            unit_line(
                Phase::DiscriminatorPretraining,
                2,
                5,
                took,
                Some("D acc 0.71")
            ),
            "d-pretrain   round    2  of 5, 3.6 s  D acc 0.71"
        );
    }
}
