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
    /// The sweep's copy of the base config (`base.yaml` in the sweep
    /// directory, absolute): editing the original does not change cells
    /// that have not started.
    pub base: PathBuf,
    /// Where the base config was copied from.
    #[serde(default)]
    pub base_source: PathBuf,
    /// The directory `agon sweep` first ran in: every cell runs there, so
    /// the config's relative data paths mean the same on every attempt.
    #[serde(default)]
    pub workdir: PathBuf,
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
        if dir.is_file() {
            bail!(
                "{} is a file, not a sweep directory: give the directory the sweep runs in (`sweeps/<name>`, or the --out it was given; `agon sweep FILE` prints it first)",
                dir.display()
            );
        }
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

    /// Reads the manifest of `dir` again, applies `change` and writes it,
    /// holding the directory's `manifest.lock` throughout: two `agon
    /// sweep`s on one directory (one growing it, one submitting to Slurm)
    /// cannot each write a manifest read before the other's write. Returns
    /// the manifest written.
    pub fn update(
        dir: &Path,
        change: impl FnOnce(&mut Manifest) -> anyhow::Result<()>,
    ) -> anyhow::Result<Manifest> {
        let _lock = ManifestLock::take(dir)?;
        let mut manifest = Self::read(dir)?;
        change(&mut manifest)?;
        manifest.write(dir)?;
        Ok(manifest)
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

/// Whether the cell's run has finished its schedule (a damaged checkpoint
/// is not finished; `run_cell` reports it).
pub fn finished(dir: &Path, cell: &Cell) -> bool {
    matches!(
        checkpoint::find(&run_dir(dir, cell)),
        Ok(Some((_, state))) if state.position.phase == Phase::Done
    )
}

/// Resolves every plugin a config names (without building it), so that a
/// misspelt plugin in a grid is refused before the sweep starts.
fn check_plugins(
    registry: &mut agon_registry::Registry,
    config: &crate::config::ExperimentConfig,
) -> anyhow::Result<()> {
    use agon_sdk::ComponentKind;
    let specs = [
        (
            Some(&config.generator),
            ComponentKind::Generator,
            "generator",
        ),
        (
            config.discriminator.as_ref(),
            ComponentKind::Discriminator,
            "discriminator",
        ),
        (config.reward.as_ref(), ComponentKind::Reward, "reward"),
        (
            config.task.oracle.as_ref(),
            ComponentKind::Generator,
            "task.oracle",
        ),
    ];
    for (spec, kind, place) in specs {
        if let Some(spec) = spec {
            crate::components::resolve(
                registry,
                spec,
                kind,
                place,
                &config.device,
                &config.origin,
            )?;
        }
    }
    Ok(())
}

/// Whether the sweep in `dir` can be started again with other cells: no
/// cell has a run directory, and none is running or queued (a Slurm array
/// still pending has no run directories yet).
fn nothing_started(dir: &Path, manifest: &Manifest) -> bool {
    manifest.slurm_jobs.is_empty()
        && manifest
            .cells
            .iter()
            .all(|cell| !run_dir(dir, cell).exists() && !status::live(dir, cell))
}

/// What went wrong, without the `--set`s it went wrong after: the root
/// cause from the first `: ` after its last `--set ` (a config error lists
/// every assignment of the cell, or the one it is about).
fn cause(error: &anyhow::Error) -> String {
    let root = error.root_cause().to_string();
    match root.rfind("--set ") {
        Some(set) => root[set..]
            .split_once(": ")
            .map_or(root.clone(), |(_, rest)| rest.to_string()),
        None => root,
    }
}

/// Where in the sweep file `cell`'s `error` comes from, as `FILE:LINE
/// (grid.KEY)`: the one `set` key that, over the base config, or grid key
/// that, over the base config and the `set` keys, fails to load or to
/// resolve its plugins with the same cause (tried when `registry` is
/// given: loading is cheap, building is not); or else the one of the
/// cell's keys the error names ([`names_key`]). `None` when neither
/// singles one out: the base config itself, or two settings together.
/// Where the error names a key below it (`KEY.config.embedding_dim: …`)
/// and the grid gives the key's values under labels, the line is that of
/// the nested key under the cell's label, as `FILE:LINE (grid.KEY:
/// LABEL.config.embedding_dim)`, or, naming none, the label's line; a
/// value in a list stays at the key's line, where two items may hold the
/// same nested key.
fn place_of_failure(
    spec_path: &Path,
    spec: &SweepSpec,
    cell: &Cell,
    error: &anyhow::Error,
    registry: Option<&mut agon_registry::Registry>,
) -> Option<String> {
    let key_of = |assignment: &str| {
        assignment
            .split_once('=')
            .map_or("", |(key, _)| key)
            .to_string()
    };
    // A cell's overrides: the sweep's `set` first, then its grid point.
    let (fixed, point) = cell
        .overrides
        .split_at(spec.set.len().min(cell.overrides.len()));
    let mut culprits: Vec<String> = Vec::new();
    if let Some(registry) = registry {
        let mut fails = |overrides: &[String]| {
            load_experiment(&spec.base, overrides)
                .and_then(|config| check_plugins(registry, &config))
                .err()
                .map(|e| cause(&e))
        };
        let cause = cause(error);
        // Each `set` key over the base config, each grid key over the base
        // config and the `set` keys, where those load.
        if fails(&[]).is_none() {
            culprits.extend(
                fixed
                    .iter()
                    .filter(|a| fails(std::slice::from_ref(*a)).as_ref() == Some(&cause))
                    .map(|a| key_of(a)),
            );
        }
        if fails(fixed).is_none() {
            culprits.extend(
                point
                    .iter()
                    .filter(|a| {
                        fails(&[fixed, std::slice::from_ref(*a)].concat()).as_ref() == Some(&cause)
                    })
                    .map(|a| key_of(a)),
            );
        }
    }
    let message = format!("{error:#}");
    if culprits.len() != 1 {
        // The keys the message names, or else those it names a key below
        // (a `set` block's key is above a grid key in it).
        let keys = cell.overrides.iter().map(|assignment| key_of(assignment));
        culprits = keys
            .clone()
            .filter(|key| names_key(&message, key))
            .collect();
        if culprits.is_empty() {
            culprits = keys
                .filter(|key| named_below(&message, key).is_some())
                .collect();
        }
    }
    let [key] = culprits.as_slice() else {
        return None;
    };
    let section = if spec.grid.keys().any(|k| k.as_str() == Some(key)) {
        "grid"
    } else {
        "set"
    };
    // Below the key: under the cell's label in the grid, or in the `set`
    // value; not into a list's items.
    let below: Vec<String> = match section {
        "grid" => cells::labels_of(&cells::labelled_cells(spec), cell)
            .into_iter()
            .find(|(labelled, _)| labelled == key)
            .map(|(_, label)| {
                std::iter::once(label)
                    .chain(named_below(&message, key).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default(),
        _ => named_below(&message, key).unwrap_or_default(),
    };
    let text = std::fs::read_to_string(spec_path).ok()?;
    // The deepest of those keys the file holds.
    let path: Vec<&str> = [section, key.as_str()]
        .into_iter()
        .chain(below.iter().map(String::as_str))
        .collect();
    let (depth, line) = (2..=path.len()).rev().find_map(|depth| {
        crate::config::locate::line_of(&text, &path[..depth]).map(|line| (depth, line))
    })?;
    let mut place = format!("{}:{line} ({section}.{key}", spec_path.display());
    if depth > 2 {
        place.push_str(&format!(": {}", path[2..depth].join(".")));
    }
    place.push(')');
    Some(place)
}

/// The key path below `key` that `message` names as the subject of what
/// it says (`KEY.config.embedding_dim: unknown field …` gives `config`,
/// `embedding_dim`), the deepest where it names several; `None` where it
/// names none below `key`.
fn named_below(message: &str, key: &str) -> Option<Vec<String>> {
    message
        .match_indices(&format!("{key}."))
        .filter(|(at, _)| {
            message[..*at]
                .chars()
                .next_back()
                .is_none_or(|c| c.is_whitespace() || c == '`' || c == '(')
        })
        .filter_map(|(at, found)| {
            let rest = &message[at + found.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'))
                .unwrap_or(rest.len());
            let (path, after) = rest.split_at(end);
            let path = path.trim_end_matches('.');
            (!path.is_empty() && after.starts_with([':', ' ', '`']))
                .then(|| path.split('.').map(str::to_string).collect::<Vec<_>>())
        })
        .max_by_key(Vec::len)
}

/// Whether `message` names the key path `key` as the subject of what it
/// says (`KEY: …`, `KEY must …`, `` `KEY` ``), not as part of a longer path
/// or of a `--set KEY=VALUE` it lists.
fn names_key(message: &str, key: &str) -> bool {
    message.match_indices(key).any(|(at, _)| {
        let before = message[..at].chars().next_back();
        let after = message[at + key.len()..].chars().next();
        before.is_none_or(|c| c.is_whitespace() || c == '`' || c == '(')
            && matches!(after, Some(':' | ' ' | '`'))
    })
}

/// Loads every cell's config, and builds once each setting of the grid that
/// has a cell left to run (the seed changes no check) as `agon train`
/// would: in `workdir`, where the cells of a sweep started before run, or
/// here for a new one. A Slurm sweep's cells run on other machines, with
/// their devices and files: its settings are loaded and their plugins
/// resolved, not built here.
fn check_cells(
    spec_path: &Path,
    spec: &SweepSpec,
    cells: &[Cell],
    dir: &Path,
    workdir: Option<&Path>,
) -> anyhow::Result<()> {
    let here = std::env::current_dir().context("cannot read the current directory")?;
    // Sweeps written before the workdir was recorded run where they are.
    let elsewhere = workdir.filter(|w| !w.as_os_str().is_empty() && *w != here);
    let context = |cell: &Cell, place: Option<String>| {
        let mut context = format!(
            "sweep file {}: cell {} ({})",
            place.unwrap_or_else(|| spec_path.display().to_string()),
            cell.name,
            cell.all_overrides()
                .iter()
                .map(|a| crate::config::shown_assignment(a))
                .collect::<Vec<_>>()
                .join(" ")
        );
        if let Some(workdir) = elsewhere {
            context.push_str(&format!(
                " (the sweep's cells run in {}, where it first started)",
                workdir.display()
            ));
        }
        context
    };
    let mut configs = Vec::new();
    let mut registry = agon_registry::Registry::from_environment();
    for cell in cells {
        let config = load_experiment(&spec.base, &cell.all_overrides())
            .and_then(|config| check_plugins(&mut registry, &config).map(|()| config))
            .map_err(|e| {
                let place = place_of_failure(spec_path, spec, cell, &e, Some(&mut registry));
                e.context(context(cell, place))
            })?;
        configs.push(config);
    }
    if matches!(spec.executor, Executor::Slurm(_)) {
        return Ok(());
    }
    let mut settings = std::collections::HashSet::new();
    let distinct: Vec<(&Cell, &crate::config::ExperimentConfig)> = cells
        .iter()
        .zip(&configs)
        .filter(|(cell, _)| !finished(dir, cell))
        .filter(|(cell, _)| settings.insert(cell.overrides.clone()))
        .collect();
    if distinct.len() > 1 {
        eprintln!(
            "checking the {} settings of {} ({} cells) …",
            distinct.len(),
            spec_path.display(),
            cells.len()
        );
    }
    // The run directories plugins are told of, absolute: the check may
    // run in the sweep's workdir.
    let dir = here.join(dir);
    if let Some(workdir) = elsewhere {
        std::env::set_current_dir(workdir).with_context(|| {
            format!(
                "cannot enter {}, where the sweep first started",
                workdir.display()
            )
        })?;
    }
    let several = distinct.len() > 1;
    let built = distinct.iter().try_for_each(|(cell, config)| {
        let mut build =
            || crate::assemble::build_in(&mut registry, config, &run_dir(&dir, cell), None);
        // Which setting a note is about, when there are several.
        let built = if several {
            crate::notes::within(
                &format!(
                    "{} ({})",
                    cell.name,
                    // Its grid point: the `set` keys are every cell's.
                    cell.overrides[spec.set.len().min(cell.overrides.len())..]
                        .iter()
                        .map(|a| crate::config::shown_assignment(a))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                build,
            )
        } else {
            build()
        };
        built.map(drop).map_err(|e| {
            let place = place_of_failure(spec_path, spec, cell, &e, None);
            e.context(context(cell, place))
        })
    });
    if elsewhere.is_some() {
        std::env::set_current_dir(&here)
            .with_context(|| format!("cannot return to {}", here.display()))?;
    }
    built
}

/// The sweep directory for `spec` (`out`, or `sweeps/<name>`), created with
/// its manifest — or, when it exists, checked to hold this same sweep.
/// Every setting of the grid that has cells to run is built first as `agon
/// train` would build it (its data read, its plugins loaded and
/// configured), so a bad grid value, a plugin's unknown config key or a
/// missing data file is refused before anything is written.
pub fn prepare(
    spec_path: &Path,
    spec: &SweepSpec,
    out: Option<&Path>,
) -> anyhow::Result<(PathBuf, Manifest)> {
    let cells = cells::cells(spec);
    let dir = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new("sweeps").join(spec.name()));
    let existing = if Manifest::path(&dir).exists() {
        Some(Manifest::read(&dir)?)
    } else {
        None
    };
    // The same settings as an earlier agon named and wrote them, or those
    // and more (more seeds, more values): the earlier cells keep their
    // names and runs, new ones are numbered on after them.
    let extended = existing
        .as_ref()
        .and_then(|existing| cells::extended(&existing.cells, &cells));
    let cells = extended.clone().unwrap_or(cells);
    let base_text = std::fs::read(&spec.base)
        .with_context(|| format!("cannot read {}", spec.base.display()))?;
    // A sweep whose cells changed, none of which has started (a first
    // attempt refused or stopped at once), is started again as new, once
    // the new cells pass the check.
    let restart = extended.is_none()
        && existing
            .as_ref()
            .is_some_and(|e| e.cells != cells && nothing_started(&dir, e));
    if let Some(existing) = existing.as_ref().filter(|_| !restart) {
        if existing.cells != cells && extended.is_none() {
            let example = cells::first_missing(&existing.cells, &cells)
                .map(|cell| {
                    format!(
                        ": its cell {} ({}) is not one that {} makes",
                        cell.name,
                        cell.all_overrides()
                            .iter()
                            .map(|a| crate::config::shown_assignment(a))
                            .collect::<Vec<_>>()
                            .join(" "),
                        spec_path.display()
                    )
                })
                .unwrap_or_default();
            bail!(
                "{} holds another sweep (its cells differ from those of {}, and not only by cells added to them: more seeds or more values of a swept key run in the same directory){example}. Choose another --out; or, to train its runs on with a longer schedule, resume each with `agon train --resume RUN --set KEY=VALUE` (schedule lengths only: docs/configuration.md); or remove it (`rm -r {}`: the runs it holds are lost)",
                dir.display(),
                spec_path.display(),
                dir.display()
            );
        }
        if std::fs::read(&existing.base).ok().as_deref() != Some(base_text.as_slice()) {
            bail!(
                "{} was changed since the sweep in {} started (its copy is {}); its finished cells ran the old config. Restore it, or start the sweep in another --out",
                spec.base.display(),
                dir.display(),
                existing.base.display()
            );
        }
    }
    check_cells(
        spec_path,
        spec,
        &cells,
        &dir,
        existing
            .as_ref()
            .filter(|_| !restart)
            .map(|m| m.workdir.as_path()),
    )?;
    let existing = if let Some(earlier) = existing.as_ref().filter(|_| restart) {
        // Under the manifest's lock, and only if no other `agon sweep`
        // changed it or started a cell while this one checked its cells.
        let _lock = ManifestLock::take(&dir)?;
        let now = Manifest::read(&dir)?;
        if now.cells != earlier.cells || !nothing_started(&dir, &now) {
            bail!(
                "another agon sweep changed {} while this one was checking its cells; run this one again",
                dir.display()
            );
        }
        crate::notes::note(&format!(
            "{} held another sweep none of whose cells had started; starting it again with the cells of {}",
            dir.display(),
            spec_path.display()
        ));
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove {}", dir.display()))?;
        None
    } else {
        existing
    };
    if let Some(existing) = existing {
        // Another `agon sweep` may have grown the sweep while this one
        // checked its cells: new cells of both would take the same
        // indices, and writing this one's list would drop the other's.
        let updated = Manifest::update(&dir, |current| {
            if current.cells != existing.cells {
                bail!(
                    "another agon sweep changed {} while this one was checking its cells; run this one again",
                    dir.display()
                );
            }
            // The executor may change between attempts (local now, Slurm later).
            current.executor = spec.executor.clone();
            current.cells = cells.clone();
            Ok(())
        })?;
        if cells.len() > existing.cells.len() {
            let added = cells.len() - existing.cells.len();
            crate::notes::note(&format!(
                "{}: {added} {} added to the {} of the sweep started there ({}); its earlier cells keep their runs",
                dir.display(),
                if added == 1 { "cell" } else { "cells" },
                existing.cells.len(),
                cells[existing.cells.len()..]
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            std::fs::copy(spec_path, dir.join("sweep.yaml"))
                .with_context(|| format!("cannot copy {}", spec_path.display()))?;
        }
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
    let result = (|| -> anyhow::Result<Manifest> {
        for sub in ["runs", "logs", "status"] {
            std::fs::create_dir_all(dir.join(sub))
                .with_context(|| format!("cannot create {}", dir.join(sub).display()))?;
        }
        std::fs::copy(spec_path, dir.join("sweep.yaml"))
            .with_context(|| format!("cannot copy {}", spec_path.display()))?;
        write_atomic(&dir.join("base.yaml"), &base_text)?;
        let absolute = |p: &Path| {
            std::fs::canonicalize(p).with_context(|| format!("cannot resolve {}", p.display()))
        };
        let manifest = Manifest {
            name: spec.name().to_string(),
            base: absolute(&dir.join("base.yaml"))?,
            base_source: absolute(&spec.base)?,
            workdir: std::env::current_dir().context("cannot read the current directory")?,
            cells,
            executor: spec.executor.clone(),
            written_by: WrittenBy::this_build(),
            slurm_jobs: Vec::new(),
        };
        manifest.write(&dir)?;
        Ok(manifest)
    })();
    match result {
        Ok(manifest) => Ok((dir, manifest)),
        Err(e) => {
            // Leave no half-made sweep directory.
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

/// Holds `manifest.lock` in a sweep directory while a process reads,
/// changes and writes its manifest ([`Manifest::update`]); waits for
/// another holder, which holds it only for that moment.
struct ManifestLock {
    /// Held for its lock, released when dropped.
    _file: std::fs::File,
}

impl ManifestLock {
    /// Takes the lock, saying so when it has to wait. On a file system
    /// without `flock` (some network mounts) it goes on unlocked, with a
    /// warning: two sweeps at once on the directory are then not caught.
    fn take(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("manifest.lock");
        let file = open_lock_file(&path)?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: a valid open descriptor; the lock goes with it.
            let lock = |how| unsafe { libc::flock(file.as_raw_fd(), how) };
            let mut how = libc::LOCK_EX | libc::LOCK_NB;
            while lock(how) != 0 {
                let error = std::io::Error::last_os_error();
                match error.kind() {
                    std::io::ErrorKind::Interrupted => {}
                    std::io::ErrorKind::WouldBlock => {
                        eprintln!(
                            "waiting for {}: another agon sweep is changing this sweep's manifest",
                            path.display()
                        );
                        how = libc::LOCK_EX;
                    }
                    _ => {
                        crate::notes::warn(&format!(
                            "cannot lock {} ({error}); going on without the lock, so two agon sweeps run at once on {} are not caught",
                            path.display(),
                            dir.display()
                        ));
                        break;
                    }
                }
            }
        }
        Ok(ManifestLock { _file: file })
    }
}

/// A lock file, opened (made if missing, never truncated) for `flock`.
fn open_lock_file(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))
}

/// Holds `status/<cell>.lock` while a process runs the cell, so that two
/// attempts (a sweep run twice, a Slurm array submitted over a live one)
/// never train one run directory at once.
struct CellLock {
    /// Held for its lock, released when dropped.
    _file: std::fs::File,
}

impl CellLock {
    fn take(dir: &Path, cell: &Cell) -> anyhow::Result<Option<Self>> {
        let path = dir.join("status").join(format!("{}.lock", cell.name));
        std::fs::create_dir_all(dir.join("status"))?;
        let file = open_lock_file(&path)?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: a valid open descriptor; the lock goes with it.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                return Ok(None);
            }
        }
        Ok(Some(CellLock { _file: file }))
    }
}

/// Runs one cell to the end of its schedule (`agon sweep run-cell`):
/// starts it, resumes it, or does nothing if it has finished. Records the
/// attempt in `status/<cell>.json`.
pub fn run_cell(dir: &Path, index: usize) -> anyhow::Result<()> {
    let manifest = Manifest::read(dir)?;
    let cell = manifest.cell(index)?.clone();
    let dir =
        std::fs::canonicalize(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    let dir = dir.as_path();
    let Some(_lock) = CellLock::take(dir, &cell)? else {
        bail!(
            "cell {} is being run by another process (its lock {} is held); this attempt does nothing",
            cell.name,
            dir.join("status").join(format!("{}.lock", cell.name)).display()
        );
    };
    if !manifest.workdir.as_os_str().is_empty() {
        std::env::set_current_dir(&manifest.workdir).with_context(|| {
            format!(
                "cannot enter {}, the directory the sweep started in (its configs' relative paths resolve there)",
                manifest.workdir.display()
            )
        })?;
    }
    let run = run_dir(dir, &cell);
    let found = checkpoint::find(&run).with_context(|| {
        format!(
            "cell {}: its checkpoint cannot be read; the run directory {} is left as it is",
            cell.name,
            run.display()
        )
    });
    let found = match found {
        Ok(found) => found,
        Err(e) => {
            status::record(dir, &cell, status::Attempt::finished(1))?;
            return Err(e);
        }
    };
    if found
        .as_ref()
        .is_some_and(|(_, state)| state.position.phase == Phase::Done)
    {
        println!("{}: finished earlier; nothing to do", cell.name);
        status::record(dir, &cell, status::Attempt::finished(0))?;
        return Ok(());
    }
    status::record(dir, &cell, status::Attempt::running())?;
    if found.is_none() && run.exists() {
        // An attempt that died before its first checkpoint: start afresh.
        std::fs::remove_dir_all(&run)
            .with_context(|| format!("cannot remove {}", run.display()))?;
    }
    let args = if found.is_some() {
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
    if !watch_the_sweep() {
        status::record(dir, &cell, status::Attempt::finished(130))?;
        return Err(crate::commands::Interrupted(format!(
            "{}: the sweep that started it is gone; not started",
            cell.name
        ))
        .into());
    }
    let result = crate::commands::train_run(args);
    let code = match &result {
        Ok(()) => 0,
        Err(e) if e.downcast_ref::<crate::commands::Interrupted>().is_some() => 130,
        Err(_) => 1,
    };
    status::record(dir, &cell, status::Attempt::finished(code))?;
    result
}

/// The environment variable through which the local executor gives its
/// cells its pid.
pub const SWEEP_PID_VARIABLE: &str = "AGON_SWEEP_PID";

/// In a cell of a local sweep: a thread that stops the run after its
/// current epoch (a checkpoint, then exit 130) once the sweep that started
/// it is gone, since no one would then follow the cell or stop it. False
/// when the sweep is gone already (the cell should not start). A Slurm
/// task has no such parent and is left alone.
fn watch_the_sweep() -> bool {
    #[cfg(unix)]
    {
        let Some(sweep) = std::env::var(SWEEP_PID_VARIABLE)
            .ok()
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            return true;
        };
        let parent = || std::os::unix::process::parent_id();
        let gone = move || {
            crate::train::interrupt::request_stop(&format!(
                "the sweep that started this cell (pid {sweep}) is gone"
            ))
        };
        if parent() != sweep {
            return false;
        }
        std::thread::spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_millis(500));
            if parent() != sweep {
                gone();
                return;
            }
        });
    }
    true
}

#[cfg(test)]
mod tests {
    use super::{named_below, names_key};

    #[test]
    fn a_key_is_named_as_a_subject_not_inside_a_path_or_an_assignment() {
        let key = "training.adversarial.rollouts";
        assert!(names_key(
            "training.adversarial.rollouts must be at least 1",
            key
        ));
        assert!(names_key(
            "--set x=1: training.adversarial.rollouts: expected a number",
            key
        ));
        assert!(names_key("set `training.adversarial.rollouts` to 2", key));
        // Listed among a cell's assignments, or inside a longer path.
        assert!(!names_key(
            "after --set training.adversarial.rollouts=4: unknown field",
            key
        ));
        assert!(!names_key("my.training.adversarial.rollouts: no", key));
        assert!(!names_key("training.adversarial.rollouts_max: no", key));
        // A short key is not found inside ordinary words.
        assert!(!names_key("the rewards: none", "reward"));
        assert!(names_key("reward: no plugin", "reward"));
    }

    #[test]
    fn a_key_below_a_cells_key_is_found_as_a_subject() {
        let message = "--set discriminator={plugin: x, config: {embeding_dim: 8}}: \
                       discriminator.config.embeding_dim: unknown field `embeding_dim`; \
                       discriminator (x@0.1.0) rejected it";
        assert_eq!(
            named_below(message, "discriminator"),
            Some(vec!["config".to_string(), "embeding_dim".to_string()])
        );
        assert_eq!(
            named_below(message, "discriminator.config"),
            Some(vec!["embeding_dim".to_string()])
        );
        // Not inside an assignment, another path, or a longer key.
        assert_eq!(named_below(message, "config"), None);
        assert_eq!(
            named_below("--set discriminator.config=1: no", "discriminator"),
            None
        );
        assert_eq!(
            named_below("discriminators.config: no", "discriminator"),
            None
        );
        assert_eq!(
            named_below("discriminator.config.: no", "discriminator"),
            Some(vec!["config".to_string()])
        );
    }
}
