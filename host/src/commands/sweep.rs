//! `agon sweep SWEEP.yaml`, `agon sweep status DIR`, and the hidden
//! `agon sweep run-cell DIR --index I` every cell runs through.

use std::time::Duration;

use anyhow::bail;

use crate::{
    cli::{SweepArgs, SweepCommand},
    sweep::{self, status, Executor, Manifest, SweepSpec},
};

pub fn run(args: SweepArgs) -> anyhow::Result<()> {
    match args.command {
        Some(SweepCommand::Status { dir, json }) => {
            let manifest = Manifest::read(&dir)?;
            let statuses = status::statuses(&dir, &manifest);
            if json {
                println!("{}", serde_json::to_string_pretty(&statuses)?);
            } else {
                print!("{}", status::table(&statuses));
            }
            Ok(())
        }
        Some(SweepCommand::RunCell { dir, index }) => sweep::run_cell(&dir, index),
        None => {
            let Some(file) = args.file else {
                bail!("give a sweep file (`agon sweep SWEEP.yaml`) or a subcommand (`agon sweep status DIR`)");
            };
            let progress_every = Duration::from_secs(args.progress_every);
            let mut spec = SweepSpec::load(&file)?;
            override_local_executor(&mut spec, &file, args.jobs, args.threads)?;
            let (dir, mut manifest) = sweep::prepare(&file, &spec, args.out.as_deref())?;
            let new_sweep = manifest.slurm_jobs.is_empty()
                && manifest
                    .cells
                    .iter()
                    .all(|c| !sweep::run_dir(&dir, c).exists());
            match spec.executor.clone() {
                Executor::Local { jobs, threads } => {
                    sweep::local::run(&dir, &manifest, jobs, threads, progress_every)
                }
                Executor::Slurm(settings) => {
                    let submitted = match sweep::slurm::submit(&dir, &mut manifest, &settings) {
                        Ok(submitted) => submitted,
                        Err(e) => {
                            if new_sweep {
                                // Nothing ran: leave no sweep directory.
                                let _ = std::fs::remove_dir_all(&dir);
                            }
                            return Err(e);
                        }
                    };
                    if args.wait && submitted.is_some() {
                        wait_for_cells(&dir, &manifest, progress_every)?;
                    }
                    Ok(())
                }
            }
        }
    }
}

/// `--jobs` and `--threads` in place of the sweep file's local executor
/// settings; refused for a Slurm sweep, whose resources are its own keys.
fn override_local_executor(
    spec: &mut SweepSpec,
    file: &std::path::Path,
    new_jobs: Option<usize>,
    new_threads: Option<usize>,
) -> anyhow::Result<()> {
    if new_jobs.is_none() && new_threads.is_none() {
        return Ok(());
    }
    match &mut spec.executor {
        Executor::Local { jobs, threads } => {
            if let Some(n) = new_jobs {
                *jobs = n;
            }
            if new_threads.is_some() {
                *threads = new_threads;
            }
            Ok(())
        }
        Executor::Slurm(_) => bail!(
            "--jobs and --threads set the local executor, and {} runs on Slurm: set `executor.max_running` (array tasks at once) and `executor.cpus_per_task` (each task's threads) in the sweep file instead",
            file.display()
        ),
    }
}

/// Polls the cells' status until none is pending or running; fails if any
/// did not finish.
fn wait_for_cells(
    dir: &std::path::Path,
    manifest: &Manifest,
    progress_every: Duration,
) -> anyhow::Result<()> {
    let mut progress = status::ProgressReporter::new(progress_every);
    loop {
        let statuses = status::statuses(dir, manifest);
        if progress.due() {
            if let Some(line) = status::progress_line(&statuses) {
                crate::train::output::say(&line);
            }
        }
        let open = statuses
            .iter()
            .filter(|s| s.state == "pending" || s.state == "running")
            .count();
        if open == 0 {
            print!("{}", status::table(&statuses));
            let unfinished: Vec<&str> = statuses
                .iter()
                .filter(|s| s.state != "finished")
                .map(|s| s.name.as_str())
                .collect();
            if !unfinished.is_empty() {
                bail!(
                    "{} of {} cells did not finish ({}); their logs are in {}",
                    unfinished.len(),
                    statuses.len(),
                    unfinished.join(", "),
                    dir.join("logs").display()
                );
            }
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}
