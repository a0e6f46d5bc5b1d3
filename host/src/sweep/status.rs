//! Each cell's state: its last attempt (`status/<cell>.json`) and how far
//! its run has come (its checkpoint against its config's schedule).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{finished, run_dir, Cell, Manifest};
use crate::train::progress::LivePosition;
use crate::{
    run_dir::write_atomic,
    train::{
        checkpoint, metrics,
        schedule::{Lengths, Phase, Position},
    },
};

/// One attempt at a cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// `queued` (submitted to Slurm), `running`, or `exited` with
    /// `exit_code`.
    pub state: String,
    #[serde(default)]
    pub exit_code: Option<i32>,
    pub host: String,
    pub pid: u32,
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// The Slurm job and array task, when it ran under Slurm.
    #[serde(default)]
    pub slurm_job: Option<String>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

impl Attempt {
    fn new(state: &str, exit_code: Option<i32>) -> Self {
        let job = std::env::var("SLURM_ARRAY_JOB_ID").ok();
        let task = std::env::var("SLURM_ARRAY_TASK_ID").ok();
        Attempt {
            state: state.to_string(),
            exit_code,
            host: host(),
            pid: std::process::id(),
            time: now(),
            slurm_job: job.map(|j| format!("{j}_{}", task.unwrap_or_default())),
        }
    }

    /// An attempt submitted to Slurm (as array task `job` once known), not
    /// started yet.
    pub fn queued(job: Option<&str>) -> Self {
        Attempt {
            slurm_job: job.map(str::to_string),
            ..Attempt::new("queued", None)
        }
    }

    /// An attempt starting now.
    pub fn running() -> Self {
        Attempt::new("running", None)
    }

    /// An attempt that ended with `code` (0 finished, 130 interrupted).
    pub fn finished(code: i32) -> Self {
        Attempt::new("exited", Some(code))
    }

    /// Whether a `running` or `queued` attempt is over without having said
    /// so: its process is gone (on this machine), or Slurm no longer has its
    /// array task pending or running (when `squeue` can say).
    fn vanished(&self) -> bool {
        if let Some(job) = &self.slurm_job {
            if let Some(alive) = slurm_task_alive(job) {
                return !alive;
            }
        }
        self.state == "running"
            && self.host == host()
            && !Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

/// Whether Slurm still has array task `job` (`JOB_TASK`) pending or
/// running; `None` when `squeue` cannot tell (no Slurm here).
fn slurm_task_alive(job: &str) -> Option<bool> {
    let output = std::process::Command::new("squeue")
        .args(["-h", "-j", job, "-o", "%T"])
        .output()
        .ok()?;
    if !output.status.success() {
        // squeue refuses ids it no longer knows: the task is long gone.
        let stderr = String::from_utf8_lossy(&output.stderr);
        return stderr.contains("Invalid job id").then_some(false);
    }
    let states = String::from_utf8_lossy(&output.stdout);
    Some(states.lines().any(|state| {
        matches!(
            state.trim(),
            "PENDING"
                | "RUNNING"
                | "CONFIGURING"
                | "COMPLETING"
                | "REQUEUED"
                | "RESIZING"
                | "SUSPENDED"
        )
    }))
}

fn status_file(dir: &Path, cell: &Cell) -> PathBuf {
    dir.join("status").join(format!("{}.json", cell.name))
}

/// Whether the cell's last attempt is live (running, or queued in Slurm):
/// a sweep run again leaves such cells alone.
pub fn live(dir: &Path, cell: &Cell) -> bool {
    last_attempt(dir, cell)
        .is_some_and(|a| (a.state == "running" || a.state == "queued") && !a.vanished())
}

/// The cell's last attempt, if any.
pub fn last(dir: &Path, cell: &Cell) -> Option<Attempt> {
    last_attempt(dir, cell)
}

/// Forgets the cell's attempts (a submission that failed before any).
pub fn forget(dir: &Path, cell: &Cell) {
    let _ = std::fs::remove_file(status_file(dir, cell));
}

/// Names the Slurm array task of a `queued` attempt, unless the task has
/// already started and recorded itself.
pub fn mark_submitted(dir: &Path, cell: &Cell, job: &str) -> anyhow::Result<()> {
    match last_attempt(dir, cell) {
        Some(a) if a.state == "queued" => record(dir, cell, Attempt::queued(Some(job))),
        _ => Ok(()),
    }
}

/// Records `attempt` as the cell's latest.
pub fn record(dir: &Path, cell: &Cell, attempt: Attempt) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("status"))?;
    write_atomic(
        &status_file(dir, cell),
        serde_json::to_string_pretty(&attempt)?.as_bytes(),
    )
}

fn last_attempt(dir: &Path, cell: &Cell) -> Option<Attempt> {
    let text = std::fs::read_to_string(status_file(dir, cell)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Where a cell stands.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CellStatus {
    pub index: usize,
    pub name: String,
    /// `finished`, `running`, `failed`, `interrupted`, `stopped` (a
    /// checkpoint, no process), `pending` (not started).
    pub state: String,
    /// The phase and step reached, e.g. `adversarial 12/80`.
    pub progress: String,
    /// Training time up to the run's last checkpoint, over all its
    /// attempts (for a running cell, up to its last epoch or round, from
    /// the run's `progress.json`, when that is ahead of the checkpoint).
    pub elapsed_seconds: Option<f64>,
    /// The time the phase in progress still needs at the pace of its
    /// latest epochs (or rounds), evaluations included, from the same
    /// position: an estimate, and only of this phase (the next one's pace
    /// is not known yet).
    pub phase_left_seconds: Option<f64>,
    pub run_dir: PathBuf,
    /// The last attempt's exit code, if it ended.
    pub exit_code: Option<i32>,
}

/// The status of every cell of the sweep in `dir`.
pub fn statuses(dir: &Path, manifest: &Manifest) -> Vec<CellStatus> {
    manifest
        .cells
        .iter()
        .map(|cell| cell_status(dir, cell))
        .collect()
}

fn cell_status(dir: &Path, cell: &Cell) -> CellStatus {
    let run = run_dir(dir, cell);
    let found = checkpoint::find(&run).ok().flatten();
    let lengths = crate::assemble::open_config(&run)
        .ok()
        .map(|c| Lengths::of(&c.training));
    let progress = match (&found, lengths) {
        (Some((_, state)), _) if state.position.phase == Phase::Done => "done".to_string(),
        (Some((_, state)), Some(lengths)) => position_text(state.position, lengths),
        _ => "-".to_string(),
    };
    let elapsed_seconds = found.as_ref().and_then(|(_, state)| state.elapsed_seconds);
    // The last checkpoint as a timed point of its phase (one is written as
    // each phase starts, and when a run stops).
    let checkpoint_point: Vec<(Phase, usize, f64)> = found
        .as_ref()
        .and_then(|(_, state)| {
            Some((
                state.position.phase,
                state.position.step,
                state.elapsed_seconds?,
            ))
        })
        .into_iter()
        .collect();
    let phase_left_seconds = match (&found, lengths) {
        (Some((_, state)), Some(lengths)) => {
            phase_left(&run, state.position, lengths, &checkpoint_point)
        }
        _ => None,
    };
    let attempt = last_attempt(dir, cell);
    let running = matches!(&attempt, Some(a) if a.state == "running" && !a.vanished());
    // A running cell's own record of its position is newer than its last
    // checkpoint (written only every eval_every units).
    let live = running
        .then(|| crate::train::progress::live_position(&run))
        .flatten();
    let checkpointed = found.as_ref().map(|(_, state)| state.position);
    let (progress, elapsed_seconds, phase_left_seconds) = match (
        live.and_then(|live| live_ahead(live, checkpointed)),
        lengths,
    ) {
        (Some((live, position)), Some(lengths)) => (
            format!("{} {}/{}", live.phase, live.step, live.total),
            Some(live.elapsed_seconds),
            phase_left(
                &run,
                position,
                lengths,
                &[
                    checkpoint_point.as_slice(),
                    &[(position.phase, live.step, live.elapsed_seconds)],
                ]
                .concat(),
            ),
        ),
        _ => (progress, elapsed_seconds, phase_left_seconds),
    };
    let state = if finished(dir, cell) {
        "finished"
    } else {
        match &attempt {
            Some(a) if a.state == "running" && !a.vanished() => "running",
            Some(a) if a.state == "queued" && !a.vanished() => "pending",
            Some(a) if a.exit_code == Some(130) => "interrupted",
            Some(a) if a.exit_code.is_some_and(|c| c != 0) => "failed",
            _ if found.is_some() => "stopped",
            Some(a) if a.state == "running" || a.state == "queued" => "stopped",
            _ => "pending",
        }
    };
    CellStatus {
        index: cell.index,
        name: cell.name.clone(),
        state: state.to_string(),
        progress,
        elapsed_seconds,
        phase_left_seconds,
        run_dir: run,
        exit_code: attempt.and_then(|a| a.exit_code),
    }
}

/// Where a cell's run would resume: its checkpoint's position
/// (`adversarial 10/60`), or `None` when it has none (or has finished).
pub fn checkpointed_progress(dir: &Path, cell: &Cell) -> Option<String> {
    let run = run_dir(dir, cell);
    let (_, state) = checkpoint::find(&run).ok().flatten()?;
    let lengths = crate::assemble::open_config(&run)
        .ok()
        .map(|c| Lengths::of(&c.training))?;
    (state.position.phase != Phase::Done).then(|| position_text(state.position, lengths))
}

/// A position as the status table shows it: `adversarial 10/60`.
fn position_text(position: Position, lengths: Lengths) -> String {
    format!(
        "{} {}/{}",
        position.phase.name(),
        position.step,
        phase_length(position.phase, lengths)
    )
}

/// The live position with its schedule position, when it is ahead of the
/// last checkpoint: right after a phase ends, the checkpoint is at the
/// next phase's step 0 and the live file still at the old phase's end; a
/// resumed attempt's file can hold the previous attempt's position until
/// the trainer clears it.
fn live_ahead(
    live: LivePosition,
    checkpointed: Option<Position>,
) -> Option<(LivePosition, Position)> {
    let phase = Phase::from_name(&live.phase)?;
    let position = Position {
        phase,
        step: live.step,
    };
    let ahead = checkpointed.is_none_or(|c| (phase, live.step) > (c.phase, c.step));
    ahead.then_some((live, position))
}

/// How many epochs (or rounds) `phase` has in the schedule.
fn phase_length(phase: Phase, lengths: Lengths) -> usize {
    match phase {
        Phase::Mle => lengths.mle,
        Phase::DiscriminatorPretraining => lengths.discriminator_pretraining,
        Phase::Adversarial | Phase::Done => lengths.adversarial,
    }
}

/// How many of a phase's latest metrics rows set its pace: recent enough to
/// follow a machine that got busier or quieter, enough to span several
/// evaluations.
const PACE_ROWS: usize = 5;

/// The phase's remaining epochs (or rounds), from the last checkpoint, at
/// the pace of its latest metrics rows: the seconds between the first and
/// the last of its last `PACE_ROWS` rows over the epochs between them.
/// `extra` timed points (phase, step, elapsed seconds) count too: the last
/// checkpoint and a running cell's latest epoch, so a phase evaluated only
/// every `eval_every` epochs has an estimate from its start. None before
/// two points of the phase exist.
fn phase_left(
    run: &Path,
    position: Position,
    lengths: Lengths,
    extra: &[(Phase, usize, f64)],
) -> Option<f64> {
    if position.phase == Phase::Done {
        return None;
    }
    let total = phase_length(position.phase, lengths);
    let rows = metrics::read_rows(run);
    let mut points: Vec<(usize, f64)> = rows
        .iter()
        .filter(|r| r.phase == position.phase.name())
        .map(|r| (r.epoch, r.elapsed_seconds))
        .chain(
            extra
                .iter()
                .filter(|(phase, _, _)| *phase == position.phase)
                .map(|&(_, step, elapsed)| (step, elapsed)),
        )
        .collect();
    points.sort_by_key(|&(step, _)| step);
    points.dedup_by_key(|&mut (step, _)| step);
    let recent = &points[points.len().saturating_sub(PACE_ROWS)..];
    let (first, last) = (recent.first()?, recent.last()?);
    let epochs = last.0.checked_sub(first.0).filter(|&e| e > 0)?;
    let pace = (last.1 - first.1) / epochs as f64;
    Some(pace.max(0.0) * total.saturating_sub(position.step) as f64)
}

/// `95s`, `6m40s`, `2h05m`.
fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// One line on the running cells, for a sweep that runs or waits for its
/// cells, counted as the sweep's other lines are (finished of all):
/// `[1/3] running: 001_seed-2 mle 12/20 (~6m40s left in phase), 002_seed-3
/// …`. None while no cell runs.
pub fn progress_line(statuses: &[CellStatus]) -> Option<String> {
    let running: Vec<String> = statuses
        .iter()
        .filter(|s| s.state == "running")
        .map(|s| {
            let left = s
                .phase_left_seconds
                .map(|left| format!(" (~{} left in phase)", duration(left)))
                .unwrap_or_default();
            // `-`: no checkpoint or epoch yet.
            let progress = if s.progress == "-" {
                "starting"
            } else {
                &s.progress
            };
            format!("{} {progress}{left}", s.name)
        })
        .collect();
    if running.is_empty() {
        return None;
    }
    let finished = statuses.iter().filter(|s| s.state == "finished").count();
    Some(format!(
        "[{finished}/{}] running: {}",
        statuses.len(),
        running.join(", ")
    ))
}

/// Says [`progress_line`] every `every` while a sweep runs its cells (or
/// waits for them): a sweep of long cells is otherwise silent between a
/// cell's start and its end.
pub struct ProgressReporter {
    every: Option<std::time::Duration>,
    last: std::time::Instant,
}

impl ProgressReporter {
    /// `every` zero: never.
    pub fn new(every: std::time::Duration) -> Self {
        ProgressReporter {
            every: (!every.is_zero()).then_some(every),
            last: std::time::Instant::now(),
        }
    }

    /// Whether a line is due: `every` has passed since the last one (or
    /// the start). The caller says [`progress_line`] of its statuses.
    pub fn due(&mut self) -> bool {
        match self.every {
            Some(every) if self.last.elapsed() >= every => {
                self.last = std::time::Instant::now();
                true
            }
            _ => false,
        }
    }
}

/// The status table.
pub fn table(statuses: &[CellStatus]) -> String {
    let width = statuses
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let progress: Vec<String> = statuses.iter().map(|s| s.progress.clone()).collect();
    let progress_width = progress.iter().map(|p| p.len()).max().unwrap_or(0).max(8);
    let mut out = format!(
        "{:<width$}  {:<11}  {:<progress_width$}  {:>8}  left in phase\n",
        "cell", "state", "progress", "elapsed"
    );
    for s in statuses {
        let elapsed = s.elapsed_seconds.map_or("-".to_string(), duration);
        let left = match (s.state.as_str(), s.phase_left_seconds) {
            ("finished", _) | (_, None) => "-".to_string(),
            (_, Some(left)) => format!("~{}", duration(left)),
        };
        out.push_str(&format!(
            "{:<width$}  {:<11}  {:<progress_width$}  {elapsed:>8}  {left}\n",
            s.name, s.state, s.progress
        ));
    }
    let count = |state: &str| statuses.iter().filter(|s| s.state == state).count();
    out.push_str(&format!(
        "{} cells: {} finished, {} running, {} pending, {} stopped, {} interrupted, {} failed\n",
        statuses.len(),
        count("finished"),
        count("running"),
        count("pending"),
        count("stopped"),
        count("interrupted"),
        count("failed")
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(phase: &str, epoch: usize, elapsed: f64) -> String {
        format!(
            r#"{{"phase":"{phase}","epoch":{epoch},"global_epoch":{epoch},"nll_test":1.0,"g_loss":null,"mean_reward":null,"d_loss":null,"d_accuracy":null,"elapsed_seconds":{elapsed}}}"#
        )
    }

    #[test]
    fn the_progress_line_names_each_running_cell_and_what_is_left() {
        let cell = |index: usize, state: &str, progress: &str, left: Option<f64>| CellStatus {
            index,
            name: format!("00{index}_seed-{index}"),
            state: state.into(),
            progress: progress.into(),
            elapsed_seconds: None,
            phase_left_seconds: left,
            run_dir: PathBuf::new(),
            exit_code: None,
        };
        let mut cells = vec![
            cell(0, "finished", "done", None),
            cell(1, "running", "mle 12/20", Some(400.0)),
            cell(2, "running", "-", None),
            cell(3, "pending", "-", None),
        ];
        assert_eq!(
            progress_line(&cells).as_deref(),
            Some("[1/4] running: 001_seed-1 mle 12/20 (~6m40s left in phase), 002_seed-2 starting")
        );
        for c in &mut cells[1..3] {
            c.state = "stopped".into();
        }
        assert_eq!(
            progress_line(&cells),
            None,
            "nothing running, nothing to say"
        );
    }

    #[test]
    fn the_phase_left_is_its_remaining_epochs_at_its_own_pace() {
        let run = tempfile::tempdir().unwrap();
        let lengths = Lengths {
            mle: 20,
            discriminator_pretraining: 4,
            adversarial: 10,
        };
        let at = |phase, step| Position { phase, step };
        let write = |lines: &[String]| {
            std::fs::write(run.path().join("metrics.jsonl"), lines.join("\n")).unwrap()
        };
        // 2 s an epoch between epoch 0 and epoch 10; 8 epochs to go.
        write(&[
            row("mle", 0, 1.0),
            row("mle", 5, 11.0),
            row("mle", 10, 21.0),
        ]);
        assert_eq!(
            phase_left(run.path(), at(Phase::Mle, 12), lengths, &[]),
            Some(16.0)
        );
        // A machine that got busier: the last five rows set the pace (4 s
        // an epoch from epoch 2 on), not the first.
        write(&[
            row("mle", 0, 0.0),
            row("mle", 1, 1.0),
            row("mle", 2, 2.0),
            row("mle", 3, 6.0),
            row("mle", 4, 10.0),
            row("mle", 5, 14.0),
            row("mle", 6, 18.0),
        ]);
        assert_eq!(
            phase_left(run.path(), at(Phase::Mle, 6), lengths, &[]),
            Some(56.0)
        );
        // The next phase's pace is its own: one row is not a pace yet.
        write(&[
            row("mle", 0, 1.0),
            row("mle", 20, 41.0),
            row("discriminator-pretraining", 1, 100.0),
        ]);
        assert_eq!(
            phase_left(
                run.path(),
                at(Phase::DiscriminatorPretraining, 1),
                lengths,
                &[]
            ),
            None
        );
        // A running cell's latest round is a second point: 25 s a round
        // from round 1 to round 3, one round to go.
        assert_eq!(
            phase_left(
                run.path(),
                at(Phase::DiscriminatorPretraining, 3),
                lengths,
                &[
                    (Phase::DiscriminatorPretraining, 3, 150.0),
                    (Phase::Mle, 30, 999.0)
                ]
            ),
            Some(25.0)
        );
        // 30 s a round; a line being appended ends the read.
        write(&[
            row("mle", 20, 41.0),
            row("discriminator-pretraining", 1, 100.0),
            row("discriminator-pretraining", 2, 130.0),
            r#"{"phase":"discrim"#.to_string(),
        ]);
        assert_eq!(
            phase_left(
                run.path(),
                at(Phase::DiscriminatorPretraining, 2),
                lengths,
                &[]
            ),
            Some(60.0)
        );
        assert_eq!(
            phase_left(run.path(), at(Phase::Done, 0), lengths, &[]),
            None
        );
    }

    #[test]
    fn a_running_cell_shows_its_last_unit_not_its_last_checkpoint() {
        let sweep = tempfile::tempdir().unwrap();
        let cell = Cell {
            index: 0,
            name: "000_seed-1".into(),
            overrides: Vec::new(),
            seed: 1,
        };
        let run = run_dir(sweep.path(), &cell);
        std::fs::create_dir_all(&run).unwrap();
        let smoke = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/smoke.yaml");
        std::fs::copy(smoke, run.join("config.yaml")).unwrap();
        // No checkpoint yet: nothing to show.
        record(sweep.path(), &cell, Attempt::running()).unwrap();
        assert_eq!(cell_status(sweep.path(), &cell).progress, "-");
        // The trainer's position after each epoch, with a pace to go by.
        std::fs::write(
            run.join("metrics.jsonl"),
            [row("mle", 0, 0.0), row("mle", 1, 2.0)].join("\n"),
        )
        .unwrap();
        crate::train::progress::record_live_position(&run, Phase::Mle, 3, 4, 6.5);
        let status = cell_status(sweep.path(), &cell);
        assert_eq!(
            (status.state.as_str(), status.progress.as_str()),
            ("running", "mle 3/4")
        );
        assert_eq!(status.elapsed_seconds, Some(6.5));
        // The pace from the first row to the live epoch: 6.5 s over 3
        // epochs, one epoch to go.
        assert_eq!(status.phase_left_seconds, Some(6.5 / 3.0));
        // Once the process has ended, the position is the checkpoint's.
        record(sweep.path(), &cell, Attempt::finished(130)).unwrap();
        assert_eq!(cell_status(sweep.path(), &cell).progress, "-");
    }

    #[test]
    fn the_live_position_counts_only_when_ahead_of_the_checkpoint() {
        let live = |phase: &str, step| LivePosition {
            phase: phase.into(),
            step,
            total: 4,
            elapsed_seconds: 1.0,
        };
        let at = |phase, step| Some(Position { phase, step });
        assert!(live_ahead(live("mle", 3), at(Phase::Mle, 2)).is_some());
        assert!(live_ahead(live("mle", 3), None).is_some());
        // The unit after a checkpoint at it, and a phase just ended.
        assert!(live_ahead(live("mle", 2), at(Phase::Mle, 2)).is_none());
        assert!(live_ahead(live("mle", 4), at(Phase::DiscriminatorPretraining, 0)).is_none());
        assert!(live_ahead(
            live("adversarial", 1),
            at(Phase::DiscriminatorPretraining, 2)
        )
        .is_some());
        assert!(live_ahead(live("finished", 1), None).is_none());
    }

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(59.4), "59s");
        assert_eq!(duration(400.2), "6m40s");
        assert_eq!(duration(7500.0), "2h05m");
    }
}
