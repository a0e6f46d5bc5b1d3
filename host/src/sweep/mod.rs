//! `agon sweep`: a grid of configs × seeds as one directory of runs.
//!
//! ```text
//! SWEEP_DIR/
//!   sweep.yaml       the sweep file as given
//!   manifest.json    base config, cells (name, overrides, seed), executor
//!   runs/<cell>/     one ordinary run directory per cell
//!   logs/<cell>.log  what the cell's `agon train` printed
//!   status/<cell>.json  the cell's last attempt: running / finished / failed
//!   slurm/job.sh     the job array's script (Slurm executor)
//! ```
//!
//! Every cell runs through [`run_cell`] (in a child process for the local
//! executor, in a Slurm array task for the Slurm one): it starts the run,
//! resumes it from its checkpoint if an earlier attempt was cut short, or
//! skips it if it has finished — so re-running a sweep, or Slurm requeueing
//! a preempted task, continues where each cell stopped.

pub mod cells;
pub mod local;
pub mod slurm;
pub mod spec;
pub mod status;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use serde::{Deserialize, Serialize};

use crate::{
    cli::TrainArgs,
    config::{load_experiment, WrittenBy},
    run_dir::write_atomic,
    train::{checkpoint, schedule::Phase},
};
pub use cells::Cell;
pub use spec::{Executor, SweepSpec};

/// What a sweep directory holds, written when it is created.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    /// The base config, absolute.
    pub base: PathBuf,
    pub cells: Vec<Cell>,
    pub executor: Executor,
    pub written_by: WrittenBy,
    /// Slurm job ids submitted for this sweep, oldest first.
    #[serde(default)]
    pub slurm_jobs: Vec<String>,
}

impl Manifest {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("manifest.json")
    }

    /// The manifest of sweep directory `dir`.
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let path = Self::path(dir);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            anyhow!(
                "{} is not a sweep directory (cannot read {}: {e})",
                dir.display(),
                path.display()
            )
        })?;
        serde_json::from_str(&text).map_err(|e| {
            anyhow!(
                "{} is damaged ({e}); start the sweep in a new directory",
                path.display()
            )
        })
    }

    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        write_atomic(
            &Self::path(dir),
            serde_json::to_string_pretty(self)?.as_bytes(),
        )
    }

    /// The cell with array index `index`.
    pub fn cell(&self, index: usize) -> anyhow::Result<&Cell> {
        self.cells.get(index).ok_or_else(|| {
            anyhow!(
                "the sweep has {} cells (indices 0 to {}); there is no cell {index}",
                self.cells.len(),
                self.cells.len().saturating_sub(1)
            )
        })
    }
}

/// A cell's run directory.
pub fn run_dir(dir: &Path, cell: &Cell) -> PathBuf {
    dir.join("runs").join(&cell.name)
}

/// A cell's log file.
pub fn log_file(dir: &Path, cell: &Cell) -> PathBuf {
    dir.join("logs").join(format!("{}.log", cell.name))
}

/// Whether the cell's run has finished its schedule.
pub fn finished(dir: &Path, cell: &Cell) -> bool {
    checkpoint::find(&run_dir(dir, cell))
        .ok()
        .flatten()
        .is_some_and(|(_, state)| state.position.phase == Phase::Done)
}

/// The sweep directory for `spec` (`out`, or `sweeps/<name>`), created with
/// its manifest — or, when it exists, checked to hold this same sweep.
/// Every cell's config is loaded first, so a bad grid value is refused
/// before anything is written.
pub fn prepare(
    spec_path: &Path,
    spec: &SweepSpec,
    out: Option<&Path>,
) -> anyhow::Result<(PathBuf, Manifest)> {
    let cells = cells::cells(spec);
    for cell in &cells {
        load_experiment(&spec.base, &cell.all_overrides()).with_context(|| {
            format!(
                "sweep file {}: cell {} ({})",
                spec_path.display(),
                cell.name,
                cell.all_overrides().join(" ")
            )
        })?;
    }
    let dir = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new("sweeps").join(spec.name()));
    let base = std::fs::canonicalize(&spec.base)
        .with_context(|| format!("cannot resolve {}", spec.base.display()))?;
    let manifest = Manifest {
        name: spec.name().to_string(),
        base,
        cells,
        executor: spec.executor.clone(),
        written_by: WrittenBy::this_build(),
        slurm_jobs: Vec::new(),
    };
    if Manifest::path(&dir).exists() {
        let existing = Manifest::read(&dir)?;
        if existing.cells != manifest.cells || existing.base != manifest.base {
            bail!(
                "{} holds another sweep (its base config or cells differ from {}); choose another --out, or remove it",
                dir.display(),
                spec_path.display()
            );
        }
        // The executor may change between attempts (local now, Slurm later).
        let updated = Manifest {
            executor: manifest.executor,
            ..existing
        };
        updated.write(&dir)?;
        return Ok((dir, updated));
    }
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{} exists and is not a sweep directory; choose another --out",
            dir.display()
        );
    }
    for sub in ["runs", "logs", "status"] {
        std::fs::create_dir_all(dir.join(sub))
            .with_context(|| format!("cannot create {}", dir.join(sub).display()))?;
    }
    std::fs::copy(spec_path, dir.join("sweep.yaml"))
        .with_context(|| format!("cannot copy {}", spec_path.display()))?;
    manifest.write(&dir)?;
    Ok((dir, manifest))
}

/// Runs one cell to the end of its schedule (`agon sweep run-cell`):
/// starts it, resumes it, or does nothing if it has finished. Records the
/// attempt in `status/<cell>.json`.
pub fn run_cell(dir: &Path, index: usize) -> anyhow::Result<()> {
    let manifest = Manifest::read(dir)?;
    let cell = manifest.cell(index)?.clone();
    if finished(dir, &cell) {
        println!("{}: finished earlier; nothing to do", cell.name);
        status::record(dir, &cell, status::Attempt::finished(0))?;
        return Ok(());
    }
    status::record(dir, &cell, status::Attempt::running())?;
    let run = run_dir(dir, &cell);
    let resumable = checkpoint::find(&run).ok().flatten().is_some();
    if !resumable && run.exists() {
        // An attempt that died before its first checkpoint: start afresh.
        std::fs::remove_dir_all(&run)
            .with_context(|| format!("cannot remove {}", run.display()))?;
    }
    let args = if resumable {
        TrainArgs {
            config: None,
            resume: Some(run.clone()),
            overrides: Vec::new(),
            out: None,
            stop_after: None,
        }
    } else {
        TrainArgs {
            config: Some(manifest.base.clone()),
            resume: None,
            overrides: cell.all_overrides(),
            out: Some(run.clone()),
            stop_after: None,
        }
    };
    let result = crate::commands::train_run(args);
    let code = match &result {
        Ok(()) => 0,
        Err(e) if e.downcast_ref::<crate::commands::Interrupted>().is_some() => 130,
        Err(_) => 1,
    };
    status::record(dir, &cell, status::Attempt::finished(code))?;
    result
}
