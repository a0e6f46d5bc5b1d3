//! `agon sweep` on a real single-node Slurm cluster (no mock): a job array
//! runs every cell; tasks killed part-way are resumed from their
//! checkpoints when the sweep is submitted again.
//!
//! Needs a running cluster: `.ci/run` starts one with
//! `scripts/slurm-cluster.sh` (docs/slurm-test.md), exports `SLURM_CONF` and
//! runs this file with `--ignored`. Without `SLURM_CONF` the test fails; it
//! never passes without having run.

use agon_integration_tests::{config, trajectory, Sandbox};

#[test]
#[ignore = "needs a Slurm cluster: .ci/run starts one (scripts/slurm-cluster.sh) and runs this with --ignored"]
fn a_slurm_sweep_runs_every_cell_and_resumes_killed_tasks() {
    assert!(
        std::env::var_os("SLURM_CONF").is_some(),
        "SLURM_CONF is not set: start a cluster with `scripts/slurm-cluster.sh start DIR` and export the line it prints"
    );
    let sandbox = Sandbox::new();
    let file = sandbox.write(
        "grid.yaml",
        &format!(
            "base: {}\ngrid:\n  training.adversarial.rollouts: [2, 4]\nseeds: [1, 2]\nexecutor: {{kind: slurm, partition: debug, cpus_per_task: 1}}\n",
            config("smoke.yaml")
        ),
    );
    let dir = sandbox.path().join("sweep");
    let submit = |crash: Option<&str>| {
        let mut command = sandbox.agon();
        command.args([
            "sweep",
            file.to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
            "--wait",
        ]);
        if let Some(point) = crash {
            // The array tasks inherit the submitter's environment: every
            // task aborts, as abruptly as kill -9, in its third checkpoint.
            command.env("AGON_CRASH_AT", point);
        }
        agon_integration_tests::Run(command.output().unwrap())
    };

    let killed = submit(Some("checkpoint-written:3"));
    let message = killed.clean_failure();
    assert!(message.contains("4 of 4 cells did not finish"), "{message}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["slurm_jobs"].as_array().unwrap().len(), 1);
    assert!(dir.join("slurm/job.sh").is_file());
    for cell in sandbox.sweep_status(&dir) {
        assert_eq!(cell["state"], "stopped", "{cell}");
        assert!(
            cell["progress"].as_str().unwrap().starts_with("mle "),
            "{cell}"
        );
    }

    // Submitted again: each task resumes its cell from the checkpoint.
    let out = submit(None).success();
    assert!(out.contains("submitted job array"), "{out}");
    for cell in sandbox.sweep_status(&dir) {
        assert_eq!(cell["state"], "finished", "{cell}");
    }
    let log: String = std::fs::read_dir(dir.join("logs"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(
        log.contains("resuming"),
        "the second attempt resumed:\n{log}"
    );
    // A resumed cell is the run an uninterrupted `agon train` gives.
    let alone = sandbox.train(
        &config("smoke.yaml"),
        "alone",
        &[
            "--set",
            "training.adversarial.rollouts=4",
            "--set",
            "seed=1",
        ],
    );
    assert_eq!(
        trajectory(&dir.join("runs/002_rollouts-4_seed-1")),
        trajectory(&alone)
    );

    // Everything finished: nothing more is submitted.
    let out = submit(None).success();
    assert!(out.contains("nothing to submit"), "{out}");
}
