//! What a new user meets first: the README's and `--help`'s examples as
//! written, typos, a finished run resumed, a closed pipe, messages in plain
//! words, and `agon eval` that neither overwrites nor wastes minutes before
//! refusing.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
};

use agon_integration_tests::{config, trajectory, workspace_root, Sandbox};

fn smoke() -> String {
    config("smoke.yaml")
}

/// Every `--set KEY=VALUE` example in `text` (backticked, quoted or not),
/// placeholders (`key.path=value`, `<KEY.PATH=VALUE>`, `….KEY=VALUE`,
/// `…=N`) left out.
fn set_examples(text: &str) -> Vec<String> {
    let mut examples = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("--set ") {
        rest = &rest[at + "--set ".len()..];
        let example = match rest.strip_prefix('\'') {
            Some(quoted) => quoted.split('\'').next().unwrap_or_default(),
            None => rest
                .split(|c: char| c.is_whitespace() || c == '`' || c == ')' || c == ',')
                .next()
                .unwrap_or_default(),
        };
        let placeholder = example.to_lowercase().starts_with("key.path")
            || example.starts_with('<')
            || example.contains("KEY")
            || example.ends_with("=N");
        if example.contains('=') && !placeholder {
            examples.push(example.to_string());
        }
    }
    examples
}

#[test]
fn the_readme_and_help_examples_work_as_written() {
    let sandbox = Sandbox::new();
    let mut examples = Vec::new();
    for doc in ["README.md", "docs/configuration.md"] {
        let text = std::fs::read_to_string(workspace_root().join(doc)).unwrap();
        examples.extend(set_examples(&text));
    }
    for command in ["train", "bench"] {
        let help = sandbox.run(&[command, "--help"], &[]).success();
        let found = set_examples(&help);
        assert!(!found.is_empty(), "`agon {command} --help` has an example");
        examples.extend(found);
    }
    // The README's swap must be among them.
    assert!(
        examples.contains(&"discriminator.plugin=rnn-lab/gru-discriminator".to_string()),
        "{examples:?}"
    );
    // Each example works on the smoke config of a task it applies to: the
    // oracle's, or (a key of text or conditional tasks, such as
    // `task.train_limit`) the next that does not refuse it as foreign.
    let configs = [
        smoke(),
        config("smoke-text.yaml"),
        config("smoke-conditional.yaml"),
    ];
    for (i, example) in examples.iter().enumerate() {
        let mut refusals = Vec::new();
        for (k, base) in configs.iter().enumerate() {
            let out = sandbox.path().join(format!("example-{i}-{k}"));
            let run = sandbox.run(
                &[
                    "train",
                    base,
                    "--set",
                    example,
                    "--out",
                    out.to_str().unwrap(),
                    "--stop-after",
                    "1",
                ],
                &[],
            );
            if run.0.status.success() {
                break;
            }
            let stderr = run.stderr();
            assert!(
                stderr.contains("does not apply to a task of kind"),
                "--set {example} fails on {base}:\n{stderr}"
            );
            refusals.push(stderr);
            assert!(
                k + 1 < configs.len(),
                "--set {example} applies to no smoke config:\n{refusals:?}"
            );
        }
    }
    // The README's other plugin example.
    let shown = sandbox
        .run(&["plugins", "show", "seqgan-lab/cnn-discriminator"], &[])
        .success();
    assert!(shown.contains("filter_sizes"), "{shown}");
}

#[test]
fn swapping_a_plugin_drops_the_old_plugins_config_with_a_note() {
    let sandbox = Sandbox::new();
    let out = sandbox.path().join("swapped");
    let run = sandbox.run(
        &[
            "train",
            &smoke(),
            "--set",
            "discriminator.config.hidden_dim=24",
            "--set",
            "discriminator.plugin=rnn-lab/gru-discriminator@^0.1",
            "--out",
            out.to_str().unwrap(),
            "--stop-after",
            "1",
        ],
        &[],
    );
    run.success();
    assert!(
        run.stderr()
            .contains("discriminator.config belonged to seqgan-lab/cnn-discriminator"),
        "{}",
        run.stderr()
    );
    // The --set given beside the swap reaches the new plugin; the old
    // plugin's keys do not.
    let resolved = std::fs::read_to_string(out.join("config.yaml")).unwrap();
    assert!(resolved.contains("hidden_dim: 24"), "{resolved}");
    assert!(!resolved.contains("filter_sizes"), "{resolved}");
    // A version change of the same plugin keeps its config.
    let kept = sandbox.path().join("kept");
    sandbox
        .run(
            &[
                "train",
                &smoke(),
                "--set",
                "discriminator.plugin=seqgan-lab/cnn-discriminator@0.1",
                "--out",
                kept.to_str().unwrap(),
                "--stop-after",
                "1",
            ],
            &[],
        )
        .success();
    let resolved = std::fs::read_to_string(kept.join("config.yaml")).unwrap();
    assert!(resolved.contains("- 16\n"), "{resolved}");
    // A misspelt plugin is refused, and no note about its config comes
    // before the error: the note is said once the new plugin is found.
    let misspelt = sandbox.path().join("misspelt");
    let refused = sandbox.run(
        &[
            "train",
            &smoke(),
            "--set",
            "discriminator.plugin=rnn-lab/gru-discrimnator@^0.1",
            "--out",
            misspelt.to_str().unwrap(),
        ],
        &[],
    );
    let message = refused.clean_failure();
    assert!(
        message.contains("no plugin library provides `rnn-lab/gru-discrimnator@^0.1`"),
        "{message}"
    );
    assert!(
        !refused.stderr().contains("belonged to"),
        "{}",
        refused.stderr()
    );
    assert!(!misspelt.exists());
}

#[test]
fn a_plugin_config_error_names_the_users_line_or_the_set_that_made_it() {
    let sandbox = Sandbox::new();
    let text = std::fs::read_to_string(smoke())
        .unwrap()
        .replace("filter_sizes:", "filter_size:");
    let line = text
        .lines()
        .position(|l| l.contains("filter_size:"))
        .unwrap()
        + 1;
    let file = sandbox.write("typo.yaml", &text);
    let message = sandbox
        .run(&["train", file.to_str().unwrap()], &[])
        .clean_failure();
    for needle in [
        format!(
            "{} line {line}: discriminator.config.filter_size",
            file.display()
        ),
        "did you mean `filter_sizes`?".to_string(),
    ] {
        assert!(message.contains(&needle), "{needle:?} missing:\n{message}");
    }
    let message = sandbox
        .run(
            &[
                "train",
                &smoke(),
                "--set",
                "discriminator.config.embedding_dim=wide",
            ],
            &[],
        )
        .clean_failure();
    assert!(
        message.contains(
            "--set discriminator.config.embedding_dim=wide: discriminator.config.embedding_dim"
        ),
        "{message}"
    );
    assert!(
        !message.contains("line 1"),
        "no line of a merged document: {message}"
    );
}

#[test]
fn typos_get_a_suggestion_and_types_are_said_in_words() {
    let sandbox = Sandbox::new();
    for (set, needle) in [
        ("trainig.seed=3", "did you mean `training`?"),
        ("training.adversarial.rolouts=3", "did you mean `rollouts`?"),
        (
            "discriminator.plugin=rnn-lab/gru-discrimnator",
            "did you mean `rnn-lab/gru-discriminator`?",
        ),
        (
            "reward.component=discrimnator",
            "did you mean `discriminator`?",
        ),
        ("task.max_len=seven", "expected a whole number"),
        ("training.batch_size=-1", "expected a whole number"),
        ("training.adversarial.temperature=hot", "expected a number"),
    ] {
        let message = sandbox
            .run(&["train", &smoke(), "--set", set], &[])
            .clean_failure();
        assert!(
            message.contains(needle),
            "--set {set}: {needle:?} missing:\n{message}"
        );
        for rust in ["usize", "u32", "u64", "f32", "f64", "struct "] {
            assert!(
                !message.contains(rust),
                "--set {set}: a Rust type name `{rust}` in:\n{message}"
            );
        }
    }
}

#[test]
fn a_missing_data_file_says_where_relative_paths_resolve() {
    let sandbox = Sandbox::new();
    let message = sandbox
        .run(
            &[
                "train",
                &smoke(),
                "--set",
                "task.train_data=nowhere/train.txt",
            ],
            &[],
        )
        .clean_failure();
    let cwd = workspace_root().display().to_string();
    assert!(
        message.contains("cannot read data file nowhere/train.txt")
            && message.contains("resolve against the current directory")
            && message.contains(&cwd),
        "{message}"
    );
}

fn state(run: &Path) -> String {
    std::fs::read_to_string(run.join("checkpoints/latest/state.json")).unwrap()
}

#[test]
fn a_finished_run_resumes_to_nothing_and_extends_when_its_schedule_grows() {
    let sandbox = Sandbox::new();
    let short = sandbox.train(
        &smoke(),
        "short",
        &["--set", "training.adversarial.epochs=2"],
    );
    let metrics = std::fs::read(short.join("metrics.jsonl")).unwrap();
    let checkpoint = state(&short);

    let again = sandbox
        .run(&["train", "--resume", short.to_str().unwrap()], &[])
        .success();
    assert!(again.contains("has finished its schedule"), "{again}");
    assert!(!again.contains("resuming"), "{again}");
    assert_eq!(
        std::fs::read(short.join("metrics.jsonl")).unwrap(),
        metrics,
        "a finished run's metrics are left byte for byte"
    );
    assert_eq!(state(&short), checkpoint);

    // Raised to the config's 4 epochs, it continues to the run that had 4
    // from the start.
    let extended = sandbox
        .run(
            &[
                "train",
                "--resume",
                short.to_str().unwrap(),
                "--set",
                "training.adversarial.epochs=4",
            ],
            &[],
        )
        .success();
    assert!(extended.contains("resuming"), "{extended}");
    let full = sandbox.train(&smoke(), "full", &[]);
    assert_eq!(trajectory(&short), trajectory(&full));
    let resolved = std::fs::read_to_string(short.join("config.yaml")).unwrap();
    assert!(resolved.contains("epochs: 4"), "{resolved}");

    // Anything but a length is refused; so is shortening a finished phase.
    for (set, needle) in [
        ("seed=9", "only the schedule's lengths"),
        ("training.mle.epochs=9", "training.mle.epochs cannot change"),
    ] {
        let message = sandbox
            .run(
                &["train", "--resume", short.to_str().unwrap(), "--set", set],
                &[],
            )
            .clean_failure();
        assert!(message.contains(needle), "{set}: {message}");
    }
}

/// An MLE-only run whose config has no `reward:`, given adversarial epochs
/// on resume, is told to start a new run: not to add a section, which a
/// resumed run cannot take.
#[test]
fn an_mle_only_run_without_a_reward_is_told_to_start_anew_for_adversarial_epochs() {
    let sandbox = Sandbox::new();
    let text = std::fs::read_to_string(smoke()).unwrap();
    let without_reward = text.replace(
        "reward:\n  plugin: agon/rewards@^0.1\n  component: discriminator\n",
        "",
    );
    assert_ne!(without_reward, text, "smoke.yaml's reward section moved");
    let config = sandbox.write("mle-only.yaml", &without_reward);
    let run = sandbox.train(
        config.to_str().unwrap(),
        "mle-only",
        &["--set", "training.adversarial.epochs=0"],
    );
    let message = sandbox
        .run(
            &[
                "train",
                "--resume",
                run.to_str().unwrap(),
                "--set",
                "training.adversarial.epochs=2",
            ],
            &[],
        )
        .clean_failure();
    assert!(
        message.contains("has no adversarial phase, and its config.yaml cannot start one")
            && message.contains("no `reward:` section")
            && message.contains("start a new run from a config that has an adversarial phase")
            && !message.contains("add one"),
        "{message}"
    );
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let sandbox = Sandbox::new();
    for args in [&["plugins", "list"][..], &["plugins", "list", "--json"][..]] {
        let mut child = sandbox
            .agon()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before agon has written anything (`| head -0`).
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("panicked")
                && !stderr.contains("internal error")
                && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
        assert_ne!(output.status.code(), Some(101), "{args:?}: {stderr}");
    }
}

/// `agon ARGS | head -1`: runs agon, reads its first line of standard
/// output, closes the pipe, and waits for it to end.
fn first_line_then_close(sandbox: &Sandbox, args: &[&str]) -> (String, std::process::Output) {
    use std::io::BufRead;
    let mut child = sandbox
        .agon()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone (dropped with the BufReader).
    (first, child.wait_with_output().unwrap())
}

/// `agon train … | head -1`: the reader goes away after the first line, and
/// the run stops as on Ctrl-C (the epoch finished, checkpointed, exit 130)
/// instead of dying between checkpoints; resumed, it ends where an
/// uninterrupted run ends.
#[test]
fn a_training_run_whose_reader_goes_away_stops_checkpointed_and_resumes() {
    let sandbox = Sandbox::new();
    let run = sandbox.path().join("piped");
    let (first, output) = first_line_then_close(
        &sandbox,
        &["train", &smoke(), "--out", run.to_str().unwrap()],
    );
    assert!(first.starts_with("run directory:"), "{first}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("standard output was closed")
            && stderr.contains("checkpointed")
            && !stderr.contains("panicked"),
        "{stderr}"
    );
    // Stopped at an epoch's end, before the run's end.
    assert!(run.join("checkpoints").is_dir(), "{stderr}");
    sandbox
        .run(&["train", "--resume", run.to_str().unwrap()], &[])
        .success();
    let whole = sandbox.train(&smoke(), "whole", &[]);
    let without_time = |rows: Vec<serde_json::Value>| -> Vec<serde_json::Value> {
        rows.into_iter()
            .map(|mut row| {
                row.as_object_mut().unwrap().remove("elapsed_seconds");
                row
            })
            .collect()
    };
    assert_eq!(
        without_time(trajectory(&run)),
        without_time(trajectory(&whole))
    );
}

/// `agon sweep … | head -1`: the sweep stops as on Ctrl-C (its cells
/// stop, exit 130), instead of dying and leaving its cells running
/// unwatched; run again, it finishes.
#[test]
fn a_sweep_whose_reader_goes_away_stops_its_cells() {
    let sandbox = Sandbox::new();
    let file = sandbox.write(
        "two.yaml",
        &format!(
            "base: {}\nseeds: [1, 2]\nexecutor: {{kind: local, jobs: 2}}\n",
            smoke()
        ),
    );
    let dir = sandbox.path().join("sweep");
    let args = [
        "sweep",
        file.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ];
    let (first, output) = first_line_then_close(&sandbox, &args);
    assert!(first.starts_with("sweep "), "{first}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("standard output was closed") && !stderr.contains("panicked"),
        "{stderr}"
    );
    // No cell is left running: every one ended, interrupted.
    let cells = sandbox.sweep_status(&dir);
    assert!(cells.iter().all(|c| c["state"] != "running"), "{cells:?}");
    let again = sandbox.run(&args, &[]).success();
    assert!(again.contains("done: 2 cells finished"), "{again}");
}

/// `agon sweep … | head -2`: the reader goes away while the sweep's one
/// cell trains and the sweep has nothing to write; the sweep still notices
/// (it asks the kernel, it does not wait for its next line) and stops the
/// cell mid-schedule, checkpointed, instead of letting it train to the end.
#[test]
fn a_silent_sweep_whose_reader_goes_away_stops_its_running_cell() {
    use std::io::BufRead;
    let sandbox = Sandbox::new();
    // Long enough that only a stop ends it within the test's time.
    let file = sandbox.write(
        "long.yaml",
        &format!(
            "base: {}
seeds: [1]
set: {{training.mle.epochs: 5000}}
executor: {{kind: local, jobs: 1}}
",
            smoke()
        ),
    );
    let dir = sandbox.path().join("sweep");
    let mut child = sandbox
        .agon()
        .args([
            "sweep",
            file.to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
        ])
        .args(["--progress-every", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let started = lines
        .by_ref()
        .map(Result::unwrap)
        .find(|line| line.contains("started"));
    assert!(started.is_some(), "the sweep never started its cell");
    // Let the cell reach its epochs, then go away without reading more.
    std::thread::sleep(std::time::Duration::from_secs(3));
    drop(lines);
    // A sweep that does not notice trains on for minutes: fail long before.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the sweep did not notice its closed standard output in 120 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("standard output was closed"), "{stderr}");
    let cells = sandbox.sweep_status(&dir);
    assert_eq!(cells.len(), 1, "{cells:?}");
    assert_eq!(cells[0]["state"], "interrupted", "{cells:?}");
    // Stopped mid-schedule, checkpointed: its epochs are fewer than asked.
    let run = dir.join("runs").join(cells[0]["name"].as_str().unwrap());
    assert!(run.join("checkpoints/latest").is_dir(), "{cells:?}");
    let epochs = trajectory(&run).len();
    assert!((1..5000).contains(&epochs), "{epochs} evaluations");
}

/// A short text run whose training file has lines longer than `max_len`
/// (so loading its data prints a note).
fn text_run(sandbox: &Sandbox, name: &str) -> PathBuf {
    sandbox.train(
        &config("smoke-text.yaml"),
        name,
        &[
            "--set",
            "task.max_len=8",
            "--set",
            "task.long_lines=truncate",
        ],
    )
}

#[test]
fn eval_keeps_earlier_results_repeats_no_data_notes_and_refuses_mixed_tasks_first() {
    let sandbox = Sandbox::new();
    let text = text_run(&sandbox, "text");
    let eval = |runs: &[&Path]| {
        let mut args = vec!["eval".to_string(), "--samples".into(), "40".into()];
        args.extend(runs.iter().map(|r| r.display().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sandbox.run(&args, &[])
    };
    let first = eval(&[&text]);
    let table = first.success();
    // The note about long lines, said when the run trained, is not said
    // again, though the data are read for both of the run's models.
    let notes = first.stderr().matches("note: ").count();
    assert_eq!(notes, 0, "{}", first.stderr());
    assert!(table.contains("0–1"), "the table names its scale:\n{table}");
    assert!(
        table.contains("not the training-time samples behind metrics.jsonl"),
        "eval's BLEU is told apart from metrics.jsonl's:\n{table}"
    );
    let earlier = std::fs::read(text.join("eval/eval.json")).unwrap();
    let second = eval(&[&text]).success();
    assert!(second.contains("eval-2/eval.json"), "{second}");
    assert_eq!(std::fs::read(text.join("eval/eval.json")).unwrap(), earlier);

    // A conditional run beside a text run: refused before any model is
    // scored.
    let conditional = sandbox.train(
        &config("smoke-conditional.yaml"),
        "conditional",
        &["--stop-after", "1"],
    );
    let mixed = eval(&[&text, &conditional]);
    let message = mixed.clean_failure();
    assert!(
        message.contains("is a conditional run but") && message.contains("is a text run"),
        "{message}"
    );
    assert!(
        !mixed.stderr().contains("agon eval: "),
        "scored a model before refusing:\n{}",
        mixed.stderr()
    );
}
