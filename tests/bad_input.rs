//! The bad-input catalogue: every way a user can hand agon something
//! unusable — config, data file, vocabulary, run directory, checkpoint,
//! plugin — gives one clear message naming the file, the place and the fix,
//! exit code 1 (no panic, no signal), and leaves no half-written run
//! directory. Cases tested elsewhere are listed at the end of this file.

use std::path::{Path, PathBuf};

use agon_integration_tests::{config, fixtures_dir, Sandbox};

fn smoke() -> String {
    config("smoke.yaml")
}

fn smoke_text() -> String {
    config("smoke-text.yaml")
}

/// `agon train CONFIG --out OUT --set …` must fail cleanly with every
/// needle in its message, and OUT must not exist afterwards.
fn refused_train(sandbox: &Sandbox, config: &str, overrides: &[&str], needles: &[&str]) {
    let out = sandbox.path().join("never-written");
    let mut args = vec!["train", config, "--out", out.to_str().unwrap()];
    for o in overrides {
        args.push("--set");
        args.push(o);
    }
    let message = sandbox.run(&args, &[]).clean_failure();
    for needle in needles {
        assert!(
            message.contains(needle),
            "{args:?}: {needle:?} missing from:\n{message}"
        );
    }
    assert!(!out.exists(), "{args:?} left a run directory");
}

/// Any agon command that must fail cleanly with every needle in its message.
fn refused(sandbox: &Sandbox, args: &[&str], needles: &[&str]) {
    let message = sandbox.run(args, &[]).clean_failure();
    for needle in needles {
        assert!(
            message.contains(needle),
            "{args:?}: {needle:?} missing from:\n{message}"
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A checkpointed run of `config` (stopped after one epoch), copied fresh
/// for each case.
fn stopped_run(sandbox: &Sandbox, config: &str, name: &str, extra: &[&str]) -> PathBuf {
    let out = sandbox.path().join(name);
    let mut args = vec![
        "train",
        config,
        "--out",
        out.to_str().unwrap(),
        "--stop-after",
        "1",
    ];
    args.extend_from_slice(extra);
    sandbox.run(&args, &[]).success();
    out
}

#[test]
fn bad_configs() {
    let sandbox = Sandbox::new();
    let smoke = smoke();
    let missing = sandbox.path().join("nope.yaml");
    refused_train(
        &sandbox,
        missing.to_str().unwrap(),
        &[],
        &["cannot read config", "nope.yaml"],
    );
    let latin1 = sandbox.path().join("latin1.yaml");
    std::fs::write(&latin1, b"name: caf\xe9\n").unwrap();
    refused_train(
        &sandbox,
        latin1.to_str().unwrap(),
        &[],
        &["latin1.yaml", "not UTF-8", "save it as UTF-8"],
    );
    let empty = sandbox.write("empty.yaml", "# nothing\n");
    refused_train(
        &sandbox,
        empty.to_str().unwrap(),
        &[],
        &["empty.yaml", "is empty", "configs/"],
    );
    let malformed = sandbox.write(
        "malformed.yaml",
        "name: x\ntask: {kind: synthetic-oracle\ngenerator: []\n",
    );
    refused_train(
        &sandbox,
        malformed.to_str().unwrap(),
        &[],
        &["malformed.yaml", "line"],
    );
    let no_generator = sandbox.write(
        "no-generator.yaml",
        "name: x\ntask: {kind: synthetic-oracle}\n",
    );
    refused_train(
        &sandbox,
        no_generator.to_str().unwrap(),
        &[],
        &["no-generator.yaml", "missing field `generator`"],
    );
    let wrong_type = sandbox.write(
        "wrong-type.yaml",
        &std::fs::read_to_string(&smoke)
            .unwrap()
            .replace("batch_size: 32", "batch_size: many"),
    );
    refused_train(
        &sandbox,
        wrong_type.to_str().unwrap(),
        &[],
        &[
            "wrong-type.yaml",
            "training.batch_size",
            "invalid type",
            "line 33",
        ],
    );
    refused_train(
        &sandbox,
        &smoke,
        &["task.kind=poetry"],
        &["unknown variant `poetry`", "synthetic-oracle", "text"],
    );
    refused_train(
        &sandbox,
        &smoke,
        &["training.batch_size=0"],
        &["smoke.yaml", "training.batch_size must be at least 1"],
    );
    refused_train(
        &sandbox,
        &smoke,
        &["training.adversarial.rollouts=0"],
        &["smoke.yaml", "rollouts must be at least 1"],
    );
    refused_train(
        &sandbox,
        &smoke,
        &["training.adversarial.rollout_update_rate=1.5"],
        &["rollout_update_rate must be in [0, 1]"],
    );
    refused_train(
        &sandbox,
        &smoke,
        &["training.epochs"],
        &["--set training.epochs", "KEY.PATH=VALUE"],
    );
    refused_train(
        &sandbox,
        &smoke,
        &["seed.deeper=1"],
        &["`seed` is not a mapping"],
    );
    refused_train(
        &sandbox,
        &smoke,
        &["training.batch_size=1000"],
        &[
            "batch_size is 1000",
            "only 640 sequences",
            "lower the batch size",
        ],
    );
    refused_train(
        &sandbox,
        &smoke,
        &["task.start_token=5000"],
        &["task.start_token 5000 is outside the vocabulary of 5000"],
    );
    refused_train(
        &sandbox,
        &smoke,
        &["device=cuda:0"],
        &["does not support device `cuda:0`", "supports: cpu"],
    );
    refused_train(
        &sandbox,
        &smoke,
        &["task.bleu={orders: [2]}"],
        &["task.bleu does not apply to a task of kind synthetic-oracle"],
    );
    refused_train(
        &sandbox,
        &smoke,
        &["task.train_limit=100"],
        &["task.train_limit does not apply to a task of kind synthetic-oracle"],
    );
    refused_train(
        &sandbox,
        &smoke_text(),
        &["task.train_limit=0"],
        &["task.train_limit is 0", "at least 1"],
    );
    // A plugin named without its namespace: the library of that name.
    refused_train(
        &sandbox,
        &smoke,
        &["discriminator.plugin=cnn-discriminator@^0.1"],
        &[
            "--set discriminator.plugin=cnn-discriminator@^0.1: discriminator.plugin: invalid plugin reference",
            "did you mean `seqgan-lab/cnn-discriminator@^0.1`?",
        ],
    );
    // A library without a component of the kind: placed at the reference.
    refused_train(
        &sandbox,
        &smoke,
        &["discriminator.plugin=agon/lstm-generator@^0.1"],
        &["--set discriminator.plugin=agon/lstm-generator@^0.1: discriminator.plugin: agon/lstm-generator@0.1.0 has no discriminator component"],
    );
    // A check of two keys together: placed at each.
    refused_train(
        &sandbox,
        &smoke,
        &["discriminator.config.filter_counts=[16, 16]"],
        &["smoke.yaml line 27 (discriminator.config.filter_sizes), --set discriminator.config.filter_counts=[16, 16] (discriminator.config.filter_counts): "],
    );
    // A reward that reads D's probabilities, and no discriminator: named
    // where the config asks for the reward.
    refused_train(
        &sandbox,
        &smoke,
        &["discriminator=null"],
        &[
            "smoke.yaml line",
            "agon/rewards@0.1.0:discriminator",
            "no `discriminator:` section; add one",
        ],
    );
}

#[test]
fn bad_data_files() {
    let sandbox = Sandbox::new();
    let smoke = smoke();
    let set_data = |path: &Path| format!("task.train_data={}", path.display());
    let missing = sandbox.path().join("missing.txt");
    refused_train(
        &sandbox,
        &smoke,
        &[&set_data(&missing)],
        &[&format!(
            "--set {}: task.train_data: cannot read data file {}",
            set_data(&missing),
            missing.display()
        )],
    );
    let binary = sandbox.path().join("binary.txt");
    std::fs::write(&binary, b"1 2 3\n4 \xff 6\n").unwrap();
    refused_train(
        &sandbox,
        &smoke,
        &[&set_data(&binary)],
        &["binary.txt:2: not UTF-8"],
    );
    let words = sandbox.write("words.txt", "1 2 3\n4 five 6\n");
    refused_train(
        &sandbox,
        &smoke,
        &[&set_data(&words)],
        &["words.txt:2: token 2 is `five`, not a token id"],
    );
    let outside = sandbox.write("outside.txt", "1 2 3\n4 5000 6\n");
    refused_train(
        &sandbox,
        &smoke,
        &[&set_data(&outside)],
        &[
            "outside.txt:2: token id 5000 is outside the vocabulary",
            "task.vocab_size",
        ],
    );
    let long = sandbox.write("long.txt", &format!("{}\n", vec!["7"; 21].join(" ")));
    refused_train(
        &sandbox,
        &smoke,
        &[&set_data(&long)],
        &["long.txt:1: 21 tokens, longer than task.max_len = 20"],
    );
    let blank = sandbox.write("blank.txt", "1 2\n\n3 4\n");
    refused_train(
        &sandbox,
        &smoke,
        &[&set_data(&blank)],
        &["blank.txt:2: empty line"],
    );
    // Text data.
    let text = smoke_text();
    let latin1 = sandbox.path().join("latin1.txt");
    std::fs::write(&latin1, b"a cat\na caf\xe9\n").unwrap();
    refused_train(
        &sandbox,
        &text,
        &[&format!("task.test_data={}", latin1.display())],
        &["latin1.txt:2: not UTF-8"],
    );
    let gap = sandbox.write("gap.txt", "a cat\n   \na dog\n");
    refused_train(
        &sandbox,
        &text,
        &[&format!("task.train_data={}", gap.display())],
        &["gap.txt:2: empty line"],
    );
    let few = sandbox.write("few.txt", "a cat\na dog\n");
    refused_train(
        &sandbox,
        &text,
        &[&format!("task.train_data={}", few.display())],
        &["only 2 sequences", "lower the batch size"],
    );
}

#[test]
fn bad_run_directories_and_checkpoints() {
    let sandbox = Sandbox::new();
    let smoke = smoke();
    let base = stopped_run(&sandbox, &smoke, "base", &[]);

    // --out that already holds something.
    let occupied = sandbox.path().join("occupied");
    std::fs::create_dir_all(&occupied).unwrap();
    std::fs::write(occupied.join("notes.txt"), "mine").unwrap();
    refused(
        &sandbox,
        &["train", &smoke, "--out", occupied.to_str().unwrap()],
        &["occupied already exists and is not empty"],
    );
    assert!(occupied.join("notes.txt").exists());

    // A damaged state.json.
    let damaged = sandbox.path().join("damaged");
    copy_dir(&base, &damaged);
    std::fs::write(
        damaged.join("checkpoints/latest/state.json"),
        "{\"format\": 1, \"posi",
    )
    .unwrap();
    refused(
        &sandbox,
        &["train", "--resume", damaged.to_str().unwrap()],
        &["checkpoints/latest/state.json is damaged"],
    );

    // A truncated generator checkpoint.
    let truncated = sandbox.path().join("truncated");
    copy_dir(&base, &truncated);
    let weights = truncated.join("checkpoints/latest/generator/lstm-generator.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    refused(
        &sandbox,
        &["train", "--resume", truncated.to_str().unwrap()],
        &["cannot restore checkpoint", "truncated/checkpoints/latest"],
    );

    // A checkpoint of another model (other dimensions) in this run.
    let other = stopped_run(
        &sandbox,
        &smoke,
        "other",
        &[
            "--set",
            "generator.config={embedding_dim: 16, hidden_dim: 48}",
        ],
    );
    let swapped = sandbox.path().join("swapped");
    copy_dir(&base, &swapped);
    std::fs::remove_dir_all(swapped.join("checkpoints/latest/generator")).unwrap();
    copy_dir(
        &other.join("checkpoints/latest/generator"),
        &swapped.join("checkpoints/latest/generator"),
    );
    refused(
        &sandbox,
        &["train", "--resume", swapped.to_str().unwrap()],
        &["cannot restore checkpoint", "swapped/checkpoints/latest"],
    );
    refused(
        &sandbox,
        &["sample", swapped.to_str().unwrap()],
        &["cannot restore checkpoint"],
    );

    // A metrics log that lost rows the checkpoint counts on.
    let cut = sandbox.path().join("cut");
    copy_dir(&base, &cut);
    std::fs::write(cut.join("metrics.jsonl"), "").unwrap();
    refused(
        &sandbox,
        &["train", "--resume", cut.to_str().unwrap()],
        &[
            "metrics.jsonl has 0 rows but the checkpoint expects 1",
            "inconsistent",
        ],
    );

    // No checkpoint at all; not a run.
    let bare = sandbox.path().join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    std::fs::copy(base.join("config.yaml"), bare.join("config.yaml")).unwrap();
    refused(
        &sandbox,
        &["train", "--resume", bare.to_str().unwrap()],
        &["has no checkpoint to resume from"],
    );
    refused(
        &sandbox,
        &["sample", bare.to_str().unwrap()],
        &["has no checkpoint yet"],
    );
    refused(
        &sandbox,
        &["sample", sandbox.path().to_str().unwrap()],
        &["is not a run directory", "no config.yaml"],
    );
    refused(
        &sandbox,
        &["sample", base.to_str().unwrap(), "--temperature", "0"],
        &["--temperature must be a positive number"],
    );
    refused(
        &sandbox,
        &["sample", base.to_str().unwrap(), "--snapshot", "mle"],
        &[
            "has no `mle` snapshot; it has ",
            "Without --snapshot the latest checkpoint is used",
        ],
    );
}

#[test]
fn bad_vocabularies() {
    let sandbox = Sandbox::new();
    let text = smoke_text();
    let base = stopped_run(&sandbox, &text, "base", &[]);
    // A vocabulary edited behind the run's back: the data no longer give it.
    let edited = sandbox.path().join("edited");
    copy_dir(&base, &edited);
    let vocab = std::fs::read_to_string(edited.join("vocab.txt")).unwrap();
    let fewer: Vec<&str> = vocab.lines().take(vocab.lines().count() - 5).collect();
    std::fs::write(edited.join("vocab.txt"), fewer.join("\n") + "\n").unwrap();
    refused(
        &sandbox,
        &["train", "--resume", edited.to_str().unwrap()],
        &["differs from the run's", "vocab.txt", "start a new run"],
    );
    refused(
        &sandbox,
        &["eval", edited.to_str().unwrap()],
        &["differs from the run's", "vocab.txt"],
    );
    // …and the checkpoint's embedding no longer fits it.
    refused(
        &sandbox,
        &["sample", edited.to_str().unwrap()],
        &["cannot restore checkpoint"],
    );
    // Not a vocabulary agon wrote.
    let foreign = sandbox.path().join("foreign");
    copy_dir(&base, &foreign);
    std::fs::write(foreign.join("vocab.txt"), "the\ncat\n").unwrap();
    refused(
        &sandbox,
        &["sample", foreign.to_str().unwrap()],
        &[
            "foreign/vocab.txt does not start with <pad>",
            "not written by agon",
        ],
    );
    std::fs::remove_file(foreign.join("vocab.txt")).unwrap();
    refused(
        &sandbox,
        &["train", "--resume", foreign.to_str().unwrap()],
        &["cannot read vocabulary", "foreign/vocab.txt"],
    );
    // agon eval compares runs of one task.
    let oracle = stopped_run(&sandbox, &smoke(), "oracle", &[]);
    refused(
        &sandbox,
        &["eval", base.to_str().unwrap(), oracle.to_str().unwrap()],
        &["is a synthetic-oracle run but", "is a text run"],
    );
    refused(
        &sandbox,
        &["eval", base.to_str().unwrap(), "--samples", "0"],
        &["--samples must be at least 1"],
    );
    // A snapshot the run does not keep (a typo), and no eval directory.
    refused(
        &sandbox,
        &[
            "eval",
            oracle.to_str().unwrap(),
            "--snapshots",
            "mle,best-nll,final",
        ],
        &[
            "has no `best-nll` snapshot",
            "Leave `best-nll` out of --snapshots",
        ],
    );
    assert!(!oracle.join("eval").exists());
}

#[test]
fn non_finite_rewards_stop_the_run_and_keep_the_last_good_checkpoint() {
    let sandbox = Sandbox::new();
    sandbox
        .run(&["plugins", "scan"], &[fixtures_dir()])
        .success();
    let out = sandbox.path().join("nan");
    let smoke = smoke();
    let message = sandbox
        .run(
            &[
                "train",
                &smoke,
                "--out",
                out.to_str().unwrap(),
                "--set",
                "reward={plugin: agon-testing/fault-injector, component: non-finite}",
            ],
            &[fixtures_dir()],
        )
        .clean_failure();
    for needle in [
        "returned NaN for sequence 0",
        "training stopped; the last good checkpoint (adversarial step 0) is kept",
        "agon train --resume",
    ] {
        assert!(
            message.contains(needle),
            "{needle:?} missing from:\n{message}"
        );
    }
    let state = std::fs::read_to_string(out.join("checkpoints/latest/state.json")).unwrap();
    assert!(state.contains("\"adversarial\""), "{state}");
    // The kept checkpoint loads: sampling from it works.
    let sampled = sandbox
        .run(
            &["sample", out.to_str().unwrap(), "-n", "2"],
            &[fixtures_dir()],
        )
        .success();
    assert_eq!(sampled.lines().count(), 2);
}

#[test]
fn an_exploding_learning_rate_is_a_clear_error_and_leaves_no_run_directory() {
    let sandbox = Sandbox::new();
    // Adam moves every weight by about the learning rate per step: at 1e38
    // the weights leave f32's range (3.4e38) within a few steps. (At 1e30
    // the generator's sigmoid gates saturate, their gradients vanish, and
    // training goes on with finite, useless weights.)
    refused_train(
        &sandbox,
        &smoke(),
        &["generator.config.optimizer.lr=1e38"],
        &[
            "generator (agon/lstm-generator@0.1.0:lstm): MLE step failed",
            "NaN",
            "the step was not applied",
        ],
    );
}

// Tested elsewhere (same guarantees: message, exit 1, no run directory):
// tests/cli.rs — unknown plugin, no version meeting the requirement,
//   malformed plugin reference, wrong component kind, unknown component,
//   ambiguous component, bad component config key, unknown config key with
//   its line, a panicking plugin, wrong-length plugin outputs, unloadable
//   libraries on the plugin path, a library not in the index.
// tests/refusals.rs — missing library file, not a shared library, truncated
//   library, a foreign shared library, incompatible SDK ABI, layout
//   mismatch, tampered library (checksum), a panicking constructor.
// tests/text.rs — text task: missing test_data, keys of another kind, long
//   lines, empty data file, unknown tokenizer level, max_len < 2, a changed
//   training file on resume, bad --temperatures.
// tests/training.rs — resuming something that is not a run.
