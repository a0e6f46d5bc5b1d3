//! Checkpoints: generator, discriminator and the position in the schedule,
//! written so that a crash at any moment leaves a loadable checkpoint.
//!
//! A checkpoint is written into `checkpoints/.partial-<pid>/`, every file
//! fsynced, then swapped in: `latest` → `previous`, partial → `latest`,
//! `previous` removed. If the process dies between the two renames, `latest`
//! is missing and `previous` is the checkpoint to resume from — so
//! `previous` is only ever deleted while a complete `latest` exists.
//! Partial directories of dead processes are removed by the next save.
//! tests/faults.rs kills runs at arbitrary moments and inside this function.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::{schedule::Position, Latest};
use crate::{
    components::{Discriminator, Generator},
    run_dir::{sync_parent, write_atomic},
};

const FORMAT: u32 = 1;

/// What the host itself needs to resume.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    pub format: u32,
    /// The next thing to do.
    pub position: Position,
    /// Rows of metrics.jsonl written before this checkpoint.
    pub metrics_rows: usize,
    /// The training statistics the next metrics row will report.
    #[serde(default)]
    pub latest: Latest,
    /// Wall time spent training up to this checkpoint, so a resumed run's
    /// `elapsed_seconds` counts the work done after the last metrics row
    /// (absent in checkpoints of older versions).
    #[serde(default)]
    pub elapsed_seconds: Option<f64>,
}

impl CheckpointState {
    /// The state of a checkpoint taken now.
    pub fn new(
        position: Position,
        metrics_rows: usize,
        latest: Latest,
        elapsed_seconds: f64,
    ) -> Self {
        CheckpointState {
            format: FORMAT,
            position,
            metrics_rows,
            latest,
            elapsed_seconds: Some(elapsed_seconds),
        }
    }
}

fn checkpoints(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoints")
}

/// Fault injection for the crash tests (tests/faults.rs): with
/// `AGON_CRASH_AT=<point>:<n>` the process aborts — as abruptly as
/// `kill -9` — the n-th time it reaches `point` (counted from 1).
fn crash_point(point: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static REACHED: AtomicUsize = AtomicUsize::new(0);
    let Some(spec) = std::env::var_os("AGON_CRASH_AT") else {
        return;
    };
    let spec = spec.to_string_lossy();
    let Some((name, n)) = spec.split_once(':') else {
        return;
    };
    if name == point && n.parse() == Ok(REACHED.fetch_add(1, Ordering::SeqCst) + 1) {
        eprintln!("AGON_CRASH_AT: aborting at {point}");
        std::process::abort();
    }
}

/// Removes `.partial-*` directories left by a process that died while
/// writing a checkpoint (never the live ones of this process).
fn remove_stale_partials(root: &Path) {
    let own = format!(".partial-{}", std::process::id());
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".partial-") && !name.starts_with(&own) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Saves a checkpoint.
pub fn save(
    run_dir: &Path,
    generator: &Generator,
    discriminator: Option<&Discriminator>,
    state: &CheckpointState,
) -> anyhow::Result<()> {
    let root = checkpoints(run_dir);
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    remove_stale_partials(&root);
    let partial = root.join(format!(".partial-{}", std::process::id()));
    if partial.exists() {
        std::fs::remove_dir_all(&partial)?;
    }
    std::fs::create_dir_all(partial.join("generator"))?;
    generator.save(&partial.join("generator"))?;
    if let Some(discriminator) = discriminator {
        std::fs::create_dir_all(partial.join("discriminator"))?;
        discriminator.save(&partial.join("discriminator"))?;
    }
    sync_tree(&partial)?;
    write_atomic(
        &partial.join("state.json"),
        serde_json::to_string_pretty(state)?.as_bytes(),
    )?;
    crash_point("checkpoint-written");
    let latest = root.join("latest");
    let previous = root.join("previous");
    if latest.exists() {
        if previous.exists() {
            std::fs::remove_dir_all(&previous)?;
        }
        std::fs::rename(&latest, &previous)?;
    }
    crash_point("checkpoint-between-renames");
    std::fs::rename(&partial, &latest)?;
    sync_parent(&latest);
    if previous.exists() {
        std::fs::remove_dir_all(&previous)?;
    }
    Ok(())
}

/// Saves the generator alone as `checkpoints/<name>/generator` (e.g. `mle`:
/// the generator at the end of MLE pretraining, which `agon eval` compares
/// with the adversarially trained one). Replaced atomically.
pub fn save_snapshot(run_dir: &Path, name: &str, generator: &Generator) -> anyhow::Result<()> {
    save_snapshot_with(run_dir, name, generator, None)
}

/// [`save_snapshot`] with an `info.json` beside the generator (what makes
/// the snapshot what it is: for `best`, the evaluation it won).
pub fn save_snapshot_with(
    run_dir: &Path,
    name: &str,
    generator: &Generator,
    info: Option<&serde_json::Value>,
) -> anyhow::Result<()> {
    let root = checkpoints(run_dir);
    let partial = root.join(format!(".partial-{name}-{}", std::process::id()));
    if partial.exists() {
        std::fs::remove_dir_all(&partial)?;
    }
    std::fs::create_dir_all(partial.join("generator"))
        .with_context(|| format!("cannot create {}", partial.display()))?;
    generator.save(&partial.join("generator"))?;
    if let Some(info) = info {
        std::fs::write(
            partial.join("info.json"),
            serde_json::to_string_pretty(info)?,
        )?;
    }
    sync_tree(&partial)?;
    let target = snapshot_dir(run_dir, name);
    if target.exists() {
        std::fs::remove_dir_all(&target)?;
    }
    std::fs::rename(&partial, &target)?;
    sync_parent(&target);
    Ok(())
}

/// The snapshot of the evaluation with the lowest NLL-test, kept beside
/// `best` (whose headline metric is BLEU, NLL-oracle…: for a headline of
/// NLL-test it would be `best` again, and is not kept).
pub const BEST_NLL_TEST: &str = "best-nll-test";

/// Where [`save_snapshot`] puts snapshot `name`.
pub fn snapshot_dir(run_dir: &Path, name: &str) -> PathBuf {
    checkpoints(run_dir).join(name)
}

/// The snapshots a run has (`mle`, `best`…), sorted.
pub fn snapshots(run_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(checkpoints(run_dir))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("generator").is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && n != "latest" && n != "previous")
        .collect();
    names.sort();
    names
}

/// fsyncs every file below `dir` (plugins write with plain `File`s).
fn sync_tree(dir: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            std::fs::File::open(&path)?.sync_all()?;
        }
    }
    sync_parent(&dir.join("x"));
    Ok(())
}

/// The newest complete checkpoint of a run: its directory and state.
pub fn find(run_dir: &Path) -> anyhow::Result<Option<(PathBuf, CheckpointState)>> {
    let root = checkpoints(run_dir);
    for name in ["latest", "previous"] {
        let dir = root.join(name);
        let state_file = dir.join("state.json");
        if !state_file.exists() {
            continue;
        }
        let text = std::fs::read(&state_file)?;
        return Ok(Some((dir, parse_state(&text, &state_file)?)));
    }
    Ok(None)
}

/// A checkpoint's `state.json` (`path` names it in errors).
pub fn parse_state(bytes: &[u8], path: &Path) -> anyhow::Result<CheckpointState> {
    let state: CheckpointState = serde_json::from_slice(bytes)
        .map_err(|e| anyhow::anyhow!("checkpoint {} is damaged ({e})", path.display()))?;
    anyhow::ensure!(
        state.format == FORMAT,
        "checkpoint {} has format {}, this agon reads format {FORMAT}",
        path.display(),
        state.format
    );
    Ok(state)
}

/// Restores the components from checkpoint directory `dir`.
pub fn restore(
    dir: &Path,
    generator: &mut Generator,
    discriminator: Option<&mut Discriminator>,
) -> anyhow::Result<()> {
    generator.load(&dir.join("generator"))?;
    if let Some(discriminator) = discriminator {
        discriminator.load(&dir.join("discriminator"))?;
    }
    Ok(())
}
