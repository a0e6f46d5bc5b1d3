//! Faults: a process killed at any moment — by `kill -9` at arbitrary times,
//! in the middle of writing a checkpoint, or stopped by SIGTERM in any phase
//! — leaves a loadable checkpoint, and resuming gives metrics bit-identical
//! to an uninterrupted run (weights, optimiser state, RNG streams and data
//! order are all restored).

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use agon_integration_tests::{trajectory, workspace_root, Sandbox};
use serde_json::Value;

/// The text smoke config with more evaluation points and longer phases
/// (about 2 s in a debug build on a 2-core machine): interruptions land in
/// every phase.
fn config() -> Vec<String> {
    let path = workspace_root().join("configs/smoke-text.yaml");
    [
        path.to_str().unwrap(),
        "--set",
        "training.discriminator_pretraining.rounds=4",
        "--set",
        "training.adversarial.epochs=6",
        "--set",
        "training.eval_every=2",
    ]
    .map(String::from)
    .to_vec()
}

/// `agon train CONFIG… --out run`.
fn train_args(run: &Path) -> Vec<String> {
    let mut args = vec!["train".to_string()];
    args.extend(config());
    args.extend(["--out".to_string(), run.display().to_string()]);
    args
}

/// The uninterrupted run: its trajectory and how long it took (computed
/// once per test process).
struct Whole {
    trajectory: Vec<Value>,
    duration: Duration,
}

fn whole_run() -> &'static Whole {
    static WHOLE: OnceLock<Whole> = OnceLock::new();
    WHOLE.get_or_init(|| {
        let sandbox = Sandbox::new();
        let out = sandbox.path().join("whole");
        let args = train_args(&out);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // The first `agon` of a test process builds the workspace: not part
        // of the run's time, which schedules the kills.
        agon_integration_tests::build_dir();
        let started = Instant::now();
        sandbox.run(&args, &[]).success();
        Whole {
            duration: started.elapsed(),
            trajectory: trajectory(&out),
        }
    })
}

/// The uninterrupted run's trajectory.
fn uninterrupted() -> &'static [Value] {
    &whole_run().trajectory
}

fn spawn(sandbox: &Sandbox, run: &Path, fresh: bool, env: &[(&str, &str)]) -> Child {
    let mut command: Command = sandbox.agon();
    if fresh {
        command.args(train_args(run));
    } else {
        command.args(["train", "--resume", run.to_str().unwrap()]);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn has_checkpoint(run: &Path) -> bool {
    ["latest", "previous"]
        .iter()
        .any(|c| run.join("checkpoints").join(c).join("state.json").is_file())
}

/// Resumes (or, if nothing resumable was left, restarts) until the run
/// finishes by itself.
fn finish(sandbox: &Sandbox, run: &Path) {
    if !has_checkpoint(run) {
        let _ = std::fs::remove_dir_all(run);
        let args = train_args(run);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sandbox.run(&args, &[]).success();
    } else {
        sandbox
            .run(&["train", "--resume", run.to_str().unwrap()], &[])
            .success();
    }
}

#[test]
fn a_crash_in_the_middle_of_writing_a_checkpoint_leaves_one_to_resume_from() {
    let sandbox = Sandbox::new();
    for (k, point) in [
        "checkpoint-written:2",
        "checkpoint-between-renames:2",
        "checkpoint-between-renames:4",
    ]
    .into_iter()
    .enumerate()
    {
        let run = sandbox.path().join(format!("crash-{k}"));
        let output = spawn(&sandbox, &run, true, &[("AGON_CRASH_AT", point)])
            .wait_with_output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.code().is_none() && stderr.contains("AGON_CRASH_AT: aborting"),
            "{point}: the process must die abruptly: {:?}\n{stderr}",
            output.status
        );
        assert!(has_checkpoint(&run), "{point}: a checkpoint survives");
        finish(&sandbox, &run);
        let leftovers: Vec<_> = std::fs::read_dir(run.join("checkpoints"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".partial"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "{point}: stale partial checkpoints {leftovers:?}"
        );
        assert_eq!(trajectory(&run), uninterrupted(), "{point}");
    }
}

#[test]
fn kill_9_at_arbitrary_moments_then_resuming_gives_the_uninterrupted_metrics() {
    let sandbox = Sandbox::new();
    let run: PathBuf = sandbox.path().join("killed");
    let mut kills = 0;
    // Longer and longer lives, in tenths of the uninterrupted run's time
    // on this machine (so the run always finishes, whatever the machine's
    // speed); the first ones die in MLE, later ones in discriminator
    // pretraining and adversarial epochs, at moments unrelated to the
    // checkpoint schedule.
    let tenth = whole_run().duration.as_millis() as u64 / 10;
    for (segment, life_ms) in (0..).zip((0..).map(|k| tenth * (2 + k))) {
        let fresh = segment == 0 || !has_checkpoint(&run);
        if fresh {
            let _ = std::fs::remove_dir_all(&run);
        }
        let mut child = spawn(&sandbox, &run, fresh, &[]);
        let started = Instant::now();
        let finished = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if started.elapsed() >= Duration::from_millis(life_ms) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        match finished {
            Some(status) => {
                assert!(status.success(), "segment {segment} failed: {status:?}");
                break;
            }
            None => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
            }
        }
        assert!(segment < 40, "the run never finished");
    }
    assert!(
        kills >= 3,
        "only {kills} kills: the schedule did not exercise resuming"
    );
    assert_eq!(trajectory(&run), uninterrupted());
}

#[test]
fn sigterm_in_discriminator_pretraining_and_adversarial_phases_checkpoints_and_resumes_exactly() {
    let sandbox = Sandbox::new();
    let run = sandbox.path().join("terminated");
    let rows = |run: &Path| {
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    // After the MLE phase's last evaluation (5 rows) the run is in
    // discriminator pretraining, which records rounds 2 and 4 (rows 6 and
    // 7); after the 7th row, in adversarial epochs.
    for (fresh, rows_before, phase) in [
        (true, 5, "discriminator-pretraining"),
        (false, 7, "adversarial"),
    ] {
        let mut child = spawn(&sandbox, &run, fresh, &[]);
        while rows(&run) < rows_before {
            assert!(
                child.try_wait().unwrap().is_none(),
                "finished before SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        // 130, as for Ctrl-C: the run stopped on a signal, checkpointed.
        assert_eq!(output.status.code(), Some(130), "{stderr}");
        assert!(
            stderr.contains("interrupted; the run is checkpointed"),
            "{stderr}"
        );
        let state = std::fs::read_to_string(run.join("checkpoints/latest/state.json")).unwrap();
        assert!(state.contains(phase), "stopped in {phase}: {state}");
    }
    finish(&sandbox, &run);
    assert_eq!(trajectory(&run), uninterrupted());
}
