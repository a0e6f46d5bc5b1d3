//! The Slurm executor: the unfinished cells as one job array, submitted
//! with `sbatch`. Each array task runs `agon sweep run-cell DIR --index
//! $SLURM_ARRAY_TASK_ID`, which resumes its run from the checkpoint when a
//! preempted or failed task is run again (`--requeue`, or the sweep
//! submitted again).

use std::{path::Path, process::Command};

use anyhow::{anyhow, bail, Context};

use super::{finished, spec::SlurmSettings, Manifest};
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

/// The job script: resources as `#SBATCH` lines, then the cell.
pub fn job_script(dir: &Path, name: &str, settings: &SlurmSettings, agon: &Path) -> String {
    let mut lines = vec![
        "#!/bin/bash".to_string(),
        "# Written by `agon sweep`: one array task per cell of the sweep.".to_string(),
        format!("#SBATCH --job-name=agon-{name}"),
        format!("#SBATCH --cpus-per-task={}", settings.cpus_per_task),
        format!("#SBATCH --output={}/logs/slurm-%A_%a.log", dir.display()),
        "#SBATCH --requeue".to_string(),
        // Ctrl-C's graceful stop, before Slurm's KILL: the run checkpoints
        // after its current epoch and the requeued task resumes from it.
        "#SBATCH --signal=B:TERM@120".to_string(),
    ];
    if let Some(partition) = &settings.partition {
        lines.push(format!("#SBATCH --partition={partition}"));
    }
    if let Some(mem) = &settings.mem {
        lines.push(format!("#SBATCH --mem={mem}"));
    }
    if let Some(time) = &settings.time {
        lines.push(format!("#SBATCH --time={time}"));
    }
    lines.extend([
        "set -euo pipefail".to_string(),
        "export RAYON_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"".to_string(),
        format!(
            "exec {} sweep run-cell {} --index \"$SLURM_ARRAY_TASK_ID\"",
            quoted(&agon.display().to_string()),
            quoted(&dir.display().to_string())
        ),
    ]);
    let mut script = lines.join("\n");
    script.push('\n');
    script
}

/// Submits the unfinished cells of the sweep in `dir` as one job array;
/// returns the job id (`None` when every cell has finished).
pub fn submit(
    dir: &Path,
    manifest: &mut Manifest,
    settings: &SlurmSettings,
) -> anyhow::Result<Option<String>> {
    let todo: Vec<usize> = manifest
        .cells
        .iter()
        .filter(|c| !finished(dir, c))
        .map(|c| c.index)
        .collect();
    if todo.is_empty() {
        println!(
            "sweep {}: every cell has finished; nothing to submit",
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
    write_atomic(
        &script_path,
        job_script(&dir, &manifest.name, settings, &agon).as_bytes(),
    )?;
    let mut array = array_ranges(&todo);
    if let Some(limit) = settings.max_running {
        array.push_str(&format!("%{limit}"));
    }
    let output = Command::new("sbatch")
        .arg("--parsable")
        .arg(format!("--array={array}"))
        .arg(format!("--chdir={}", std::env::current_dir()?.display()))
        .args(&settings.extra_args)
        .arg(&script_path)
        .output()
        .map_err(|e| {
            anyhow!("cannot run sbatch ({e}): the Slurm executor needs Slurm's client commands on PATH; use `executor: {{kind: local}}` on a machine without Slurm")
        })?;
    if !output.status.success() {
        bail!(
            "sbatch refused the job array ({}): {}; the job script is {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim(),
            script_path.display()
        );
    }
    let job = String::from_utf8_lossy(&output.stdout)
        .trim()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    manifest.slurm_jobs.push(job.clone());
    manifest.write(&dir)?;
    // Until its task starts, a resubmitted cell is pending, not the
    // `stopped` its last attempt left.
    for cell in manifest.cells.iter().filter(|c| todo.contains(&c.index)) {
        super::status::record(
            &dir,
            cell,
            super::status::Attempt::queued(&format!("{job}_{}", cell.index)),
        )?;
    }
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
    fn the_job_script_runs_the_task_s_cell_with_its_resources() {
        let settings = SlurmSettings {
            partition: Some("debug".into()),
            cpus_per_task: 2,
            mem: Some("4G".into()),
            time: None,
            max_running: None,
            extra_args: Vec::new(),
        };
        let script = job_script(
            Path::new("/s/w d"),
            "grid",
            &settings,
            Path::new("/bin/agon"),
        );
        for line in [
            "#SBATCH --cpus-per-task=2",
            "#SBATCH --partition=debug",
            "#SBATCH --mem=4G",
            "#SBATCH --requeue",
            "exec '/bin/agon' sweep run-cell '/s/w d' --index \"$SLURM_ARRAY_TASK_ID\"",
        ] {
            assert!(script.contains(line), "{line} missing:\n{script}");
        }
        assert!(!script.contains("--time"));
    }
}
