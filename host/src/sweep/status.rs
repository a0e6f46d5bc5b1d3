//! Each cell's state: its last attempt (`status/<cell>.json`) and how far
//! its run has come (its checkpoint against its config's schedule).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{finished, run_dir, Cell, Manifest};
use crate::{
    run_dir::write_atomic,
    train::{
        checkpoint,
        schedule::{Lengths, Phase},
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
        (Some((_, state)), Some(lengths)) => {
            let total = match state.position.phase {
                Phase::Mle => lengths.mle,
                Phase::DiscriminatorPretraining => lengths.discriminator_pretraining,
                _ => lengths.adversarial,
            };
            format!(
                "{} {}/{total}",
                state.position.phase.name(),
                state.position.step
            )
        }
        _ => "-".to_string(),
    };
    let attempt = last_attempt(dir, cell);
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
        run_dir: run,
        exit_code: attempt.and_then(|a| a.exit_code),
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
    let mut out = format!("{:<width$}  {:<11}  progress\n", "cell", "state");
    for s in statuses {
        out.push_str(&format!(
            "{:<width$}  {:<11}  {}\n",
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
