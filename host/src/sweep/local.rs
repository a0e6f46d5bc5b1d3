//! The local executor: cells as child processes of this `agon`
//! (`agon sweep run-cell`), `jobs` at a time, each with its share of the
//! cores, its output in the cell's log file.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};

use super::{finished, log_file, Cell, Manifest};
use crate::train::{checkpoint, interrupt::Interrupt, output::say};

/// Worker threads per run: `threads`, or the cores divided among `jobs`.
pub fn threads_per_run(jobs: usize, threads: Option<usize>) -> usize {
    threads.unwrap_or_else(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores / jobs.max(1)).max(1)
    })
}

struct Running {
    cell: Cell,
    child: Child,
    started: Instant,
}

fn spawn(agon: &Path, dir: &Path, cell: &Cell, threads: usize) -> anyhow::Result<Child> {
    let log = log_file(dir, cell);
    std::fs::create_dir_all(dir.join("logs"))?;
    // Appended, as Slurm's logs are: a resumed cell's log keeps the
    // attempts before it.
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    if out.metadata().is_ok_and(|m| m.len() > 0) {
        use std::io::Write;
        writeln!(out, "\n=== agon sweep: a new attempt at {} ===", cell.name)?;
    }
    let err = out.try_clone()?;
    let mut command = Command::new(agon);
    command
        .args(["sweep", "run-cell"])
        .arg(dir)
        .args(["--index", &cell.index.to_string()])
        .env("RAYON_NUM_THREADS", threads.to_string())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    #[cfg(unix)]
    watched_by_this_sweep(&mut command);
    command
        .spawn()
        .with_context(|| format!("cannot start cell {}", cell.name))
}

/// A cell hears of a terminal's Ctrl-C from this sweep alone, once: it
/// runs in a process group of its own, so the Ctrl-C reaches only the
/// sweep (which passes one SIGTERM on; a second signal would make the cell
/// exit at once and lose its epochs since the last checkpoint). It watches the sweep's
/// pid ([`super::watch_the_sweep`]): if the sweep dies (`kill -9`), the
/// cell checkpoints and exits instead of training on unwatched beside the
/// sweep run again.
#[cfg(unix)]
fn watched_by_this_sweep(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    command
        .process_group(0)
        .env(super::SWEEP_PID_VARIABLE, std::process::id().to_string());
}

/// Whether a cell ended by SIGTERM or SIGINT, the signals a stopping sweep
/// passes on (or a supervisor sends every process): not by a crash or the
/// OOM killer.
fn stopped_by_our_signal(status: &std::process::ExitStatus) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        matches!(status.signal(), Some(libc::SIGTERM | libc::SIGINT))
    }
    #[cfg(not(unix))]
    {
        let _ = status;
        false
    }
}

/// Runs every unfinished cell of the sweep in `dir`, `jobs` at a time.
pub fn run(
    dir: &Path,
    manifest: &Manifest,
    jobs: usize,
    threads: Option<usize>,
    progress_every: Duration,
) -> anyhow::Result<()> {
    let threads = threads_per_run(jobs, threads);
    // Resolved once: if the executable is rebuilt during a long sweep,
    // /proc/self/exe then names the deleted file, while this path holds the
    // new build.
    let agon = std::env::current_exe().context("cannot find the agon executable")?;
    let (done, unfinished): (Vec<&Cell>, Vec<&Cell>) =
        manifest.cells.iter().partition(|c| finished(dir, c));
    // A cell some other process runs (an earlier sweep, a Slurm task) is
    // left to it.
    let (elsewhere, mut queue): (Vec<&Cell>, Vec<&Cell>) = unfinished
        .into_iter()
        .partition(|c| super::status::live(dir, c));
    for cell in &elsewhere {
        say(&format!(
            "{} is running or queued elsewhere; left to that attempt",
            cell.name
        ));
    }
    let total = manifest.cells.len();
    if queue.is_empty() {
        say(&format!(
            "sweep {}: {total} cells, {} finished earlier; none left to run here",
            dir.display(),
            done.len()
        ));
    } else {
        say(&format!(
            "sweep {}: {total} cells, {} finished earlier; running {} with {jobs} at a time, {threads} thread(s) each (logs in {})",
            dir.display(),
            done.len(),
            queue.len(),
            dir.join("logs").display()
        ));
    }
    queue.reverse();
    let interrupt = Interrupt::install_with(
        "second interrupt: the sweep exits now; its running cells finish their current epoch and checkpoint (`agon sweep status` follows them)",
    );
    // `agon sweep … | head`: a closed standard output stops the sweep as
    // Ctrl-C does (its cells checkpoint), instead of killing this process
    // and leaving them running unwatched.
    crate::train::output::keep_running_on_closed_pipe();
    let stopping = || interrupt.raised() || crate::train::output::closed();
    let mut running: Vec<Running> = Vec::new();
    let mut failed = Vec::new();
    let mut completed = done.len();
    let mut passed_on = false;
    let mut progress = super::status::ProgressReporter::new(progress_every);
    loop {
        if stopping() && !passed_on {
            // The cells are in process groups of their own: a Ctrl-C or a
            // SIGTERM reached this process only, and is passed on once.
            for job in &running {
                #[cfg(unix)]
                // SAFETY: signalling our own child by its pid.
                unsafe {
                    libc::kill(job.child.id() as libc::pid_t, libc::SIGTERM);
                }
            }
            passed_on = true;
        }
        while running.len() < jobs && !stopping() {
            let Some(cell) = queue.pop() else { break };
            let resumes = super::status::checkpointed_progress(dir, cell);
            let child = spawn(&agon, dir, cell, threads)?;
            match resumes {
                Some(progress) => say(&format!(
                    "[{completed}/{total}] resumed  {} (from its checkpoint at {progress})",
                    cell.name
                )),
                None => say(&format!("[{completed}/{total}] started  {}", cell.name)),
            }
            running.push(Running {
                cell: cell.clone(),
                child,
                started: Instant::now(),
            });
        }
        if running.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        if progress.due() {
            if let Some(line) =
                super::status::progress_line(&super::status::statuses(dir, manifest))
            {
                say(&line);
            }
        }
        let mut still = Vec::new();
        for mut job in running {
            match job.child.try_wait()? {
                None => still.push(job),
                Some(status) => {
                    let seconds = job.started.elapsed().as_secs_f64();
                    if status.success() {
                        completed += 1;
                        say(&format!(
                            "[{completed}/{total}] finished {} ({seconds:.0} s)",
                            job.cell.name
                        ));
                    } else if status.code() == Some(130) {
                        // A cell that exited at a second signal had no time
                        // to record it.
                        super::status::record(
                            dir,
                            &job.cell,
                            super::status::Attempt::finished(130),
                        )?;
                        say(&format!(
                            "[{completed}/{total}] interrupted {} (checkpointed; it resumes when the sweep runs again)",
                            job.cell.name
                        ));
                    } else if stopping() && stopped_by_our_signal(&status) {
                        // Stopped by the signal passed on before it could
                        // catch it (still starting up), or at once by a
                        // second signal from outside (a supervisor that
                        // signals every process): not a failure.
                        super::status::record(
                            dir,
                            &job.cell,
                            super::status::Attempt::finished(130),
                        )?;
                        let checkpointed = checkpoint::find(&super::run_dir(dir, &job.cell))
                            .ok()
                            .flatten()
                            .is_some();
                        say(&format!(
                            "[{completed}/{total}] interrupted {} {}",
                            job.cell.name,
                            if checkpointed {
                                "at once (it resumes from its last checkpoint when the sweep runs again)"
                            } else {
                                "while starting (it starts again when the sweep runs again)"
                            }
                        ));
                    } else {
                        say(&format!(
                            "[{completed}/{total}] FAILED   {} ({status}); see {}",
                            job.cell.name,
                            log_file(dir, &job.cell).display()
                        ));
                        failed.push(job.cell.name.clone());
                    }
                }
            }
        }
        running = still;
    }
    if stopping() {
        return Err(crate::commands::Interrupted(format!(
            "interrupted; {completed} of {total} cells finished. Run the sweep again to continue: finished cells are skipped and stopped ones resume from their checkpoints"
        ))
        .into());
    }
    // The other attempt may have finished them, or stopped, meanwhile.
    let (elsewhere, stopped_meanwhile): (Vec<&Cell>, Vec<&Cell>) = elsewhere
        .into_iter()
        .filter(|c| !finished(dir, c))
        .partition(|c| super::status::live(dir, c));
    if !stopped_meanwhile.is_empty() {
        bail!(
            "{} of {total} cells another attempt was running stopped meanwhile ({}); run the sweep again to resume them",
            stopped_meanwhile.len(),
            stopped_meanwhile
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !elsewhere.is_empty() {
        bail!(
            "{} of {total} cells are running or queued in another attempt ({}); `agon sweep status {}` follows them",
            elsewhere.len(),
            elsewhere.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "),
            dir.display()
        );
    }
    if !failed.is_empty() {
        bail!(
            "{} of {total} cells failed ({}); their logs are in {}. Fix the cause and run the sweep again: finished cells are skipped",
            failed.len(),
            failed.join(", "),
            dir.join("logs").display()
        );
    }
    say(&format!(
        "done: {total} cells finished in {}",
        dir.display()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_split_among_the_jobs() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(threads_per_run(1, None), cores);
        assert_eq!(threads_per_run(cores * 2, None), 1);
        assert_eq!(threads_per_run(2, Some(3)), 3);
    }
}
