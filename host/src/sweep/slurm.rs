//! The Slurm executor: the unfinished cells as one job array, submitted
//! with `sbatch`. Each array task runs `agon sweep run-cell DIR --index
//! $SLURM_ARRAY_TASK_ID`, which resumes its run from the checkpoint when a
//! preempted or failed task is run again (`--requeue`, or the sweep
//! submitted again).

use std::{path::Path, process::Command};

use anyhow::{bail, Context};

use super::{finished, spec::SlurmSettings, status, Cell, Manifest};
use crate::run_dir::write_atomic;

/// `0-3` style ranges of sorted indices, comma-separated (`0-2,5,7-8`).
pub fn array_ranges(indices: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let start = indices[i];
        let mut end = start;
        while i + 1 < indices.len() && indices[i + 1] == end + 1 {
            i += 1;
            end = indices[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// A word for a shell script, single-quoted.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The job script: the cell of the array task. Resources are `sbatch`
/// arguments ([`sbatch_args`]), never pasted into `#SBATCH` lines, so no
/// value can break or extend the script.
pub fn job_script(dir: &Path, agon: &Path) -> String {
    [
        "#!/bin/bash",
        "# Written by `agon sweep`: one array task per cell of the sweep; the",
        "# resources are on the sbatch command line (slurm/submitted.txt).",
        "set -euo pipefail",
        "export RAYON_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"",
        &format!(
            "exec {} sweep run-cell {} --index \"$SLURM_ARRAY_TASK_ID\"",
            quoted(&agon.display().to_string()),
            quoted(&dir.display().to_string())
        ),
        "",
    ]
    .join("\n")
}

/// `sbatch`'s arguments for the array `array` of the sweep in `dir`.
pub fn sbatch_args(
    dir: &Path,
    name: &str,
    settings: &SlurmSettings,
    array: &str,
    workdir: &Path,
) -> Vec<String> {
    let mut args = vec![
        "--parsable".to_string(),
        format!("--array={array}"),
        format!("--job-name=agon-{name}"),
        format!("--cpus-per-task={}", settings.cpus_per_task),
        // %A/%a: Slurm's job and task; a literal % in the path is doubled.
        format!(
            "--output={}/logs/slurm-%A_%a.log",
            dir.display().to_string().replace('%', "%%")
        ),
        // A requeued task appends to its log instead of truncating it.
        "--open-mode=append".to_string(),
        // Preempted or failed nodes: Slurm may run the task again, and
        // run-cell resumes its checkpoint.
        "--requeue".to_string(),
        // Two minutes before the time limit the run gets SIGTERM, finishes
        // its epoch and checkpoints; running the sweep again resumes it.
        "--signal=B:TERM@120".to_string(),
        format!("--chdir={}", workdir.display()),
    ];
    if let Some(partition) = &settings.partition {
        args.push(format!("--partition={partition}"));
    }
    if let Some(mem) = &settings.mem {
        args.push(format!("--mem={mem}"));
    }
    if let Some(time) = &settings.time {
        args.push(format!("--time={time}"));
    }
    args.extend(settings.extra_args.iter().cloned());
    args
}

/// Submits the cells of the sweep in `dir` that have neither finished nor
/// a live attempt as one job array; returns the job id (`None` when there
/// is nothing to submit).
pub fn submit(
    dir: &Path,
    manifest: &mut Manifest,
    settings: &SlurmSettings,
) -> anyhow::Result<Option<String>> {
    let todo: Vec<usize> = manifest
        .cells
        .iter()
        .filter(|c| !finished(dir, c) && !status::live(dir, c))
        .map(|c| c.index)
        .collect();
    if todo.is_empty() {
        println!(
            "sweep {}: every cell has finished or is queued or running; nothing to submit",
            dir.display()
        );
        return Ok(None);
    }
    // Array tasks run on other machines: every path they see is absolute.
    let dir =
        std::fs::canonicalize(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    let agon = std::env::current_exe().context("cannot find the agon executable")?;
    let script_path = dir.join("slurm").join("job.sh");
    std::fs::create_dir_all(dir.join("slurm"))?;
    write_atomic(&script_path, job_script(&dir, &agon).as_bytes())?;
    let mut array = array_ranges(&todo);
    if let Some(limit) = settings.max_running {
        array.push_str(&format!("%{limit}"));
    }
    let workdir = if manifest.workdir.as_os_str().is_empty() {
        std::env::current_dir()?
    } else {
        manifest.workdir.clone()
    };
    let args = sbatch_args(&dir, &manifest.name, settings, &array, &workdir);
    let cells: Vec<Cell> = manifest
        .cells
        .iter()
        .filter(|c| todo.contains(&c.index))
        .cloned()
        .collect();
    // Queued before sbatch: a task that starts at once then overwrites it
    // with `running`, never the other way round.
    let earlier: Vec<Option<status::Attempt>> =
        cells.iter().map(|c| status::last(&dir, c)).collect();
    for cell in &cells {
        status::record(&dir, cell, status::Attempt::queued(None))?;
    }
    let submitted = Command::new("sbatch")
        .args(&args)
        .arg(&script_path)
        .output();
    let failure = match &submitted {
        Err(e) => Some(format!(
            "cannot run sbatch ({e}): the Slurm executor needs Slurm's client commands on PATH; use `executor: {{kind: local}}` on a machine without Slurm"
        )),
        Ok(output) if !output.status.success() => Some(format!(
            "sbatch refused the job array ({}): {}; the job script is {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim(),
            script_path.display()
        )),
        Ok(_) => None,
    };
    if let Some(failure) = failure {
        for (cell, attempt) in cells.iter().zip(earlier) {
            match attempt {
                Some(attempt) => status::record(&dir, cell, attempt)?,
                None => status::forget(&dir, cell),
            }
        }
        bail!("{failure}");
    }
    let output = submitted.expect("checked above");
    let job = String::from_utf8_lossy(&output.stdout)
        .trim()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    for cell in &cells {
        status::mark_submitted(&dir, cell, &format!("{job}_{}", cell.index))?;
    }
    // Into the manifest file as it is now, not as this attempt read it;
    // this attempt goes on with the cells it submitted.
    manifest.slurm_jobs.push(job.clone());
    Manifest::update(&dir, |current| {
        current.slurm_jobs.push(job.clone());
        Ok(())
    })?;
    let mut record = format!("job {job}: sbatch");
    for arg in args
        .iter()
        .map(String::as_str)
        .chain([script_path.to_str().unwrap_or_default()])
    {
        record.push(' ');
        record.push_str(&quoted(arg));
    }
    record.push('\n');
    let mut log = std::fs::read_to_string(dir.join("slurm/submitted.txt")).unwrap_or_default();
    log.push_str(&record);
    write_atomic(&dir.join("slurm/submitted.txt"), log.as_bytes())?;
    println!(
        "submitted job array {job} ({} of {} cells: {array}); follow it with `agon sweep status {}`",
        todo.len(),
        manifest.cells.len(),
        dir.display()
    );
    Ok(Some(job))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_become_slurm_array_ranges() {
        assert_eq!(array_ranges(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(array_ranges(&[3]), "3");
    }

    #[test]
    fn the_job_script_runs_the_task_s_cell_and_resources_are_arguments() {
        let script = job_script(Path::new("/s/w d"), Path::new("/bin/agon"));
        assert!(
            script.contains(
                "exec '/bin/agon' sweep run-cell '/s/w d' --index \"$SLURM_ARRAY_TASK_ID\""
            ),
            "{script}"
        );
        assert!(!script.contains("#SBATCH"), "{script}");
        let settings = SlurmSettings {
            partition: Some("debug".into()),
            cpus_per_task: 2,
            mem: Some("4G".into()),
            time: None,
            max_running: None,
            extra_args: vec!["--qos=short".into()],
        };
        let args = sbatch_args(
            Path::new("/s/100%"),
            "grid",
            &settings,
            "0-3",
            Path::new("/w"),
        );
        for arg in [
            "--array=0-3",
            "--cpus-per-task=2",
            "--partition=debug",
            "--mem=4G",
            "--requeue",
            "--open-mode=append",
            "--output=/s/100%%/logs/slurm-%A_%a.log",
            "--chdir=/w",
            "--qos=short",
        ] {
            assert!(args.contains(&arg.to_string()), "{arg} missing: {args:?}");
        }
        assert!(!args.iter().any(|a| a.starts_with("--time")));
    }
}
