//! `agon train` end to end: configs resolve and instantiate plugin
//! components; every bad reference is a clear error that leaves no run
//! directory behind.

use std::path::Path;

use agon_integration_tests::{fixtures_dir, Sandbox};

/// A tiny task and schedule: one MLE epoch, one adversarial epoch with one
/// rollout, so that every component is called within seconds.
const TASK: &str = "task:
  kind: synthetic-oracle
  max_len: 20
  oracle:
    plugin: agon/lstm-generator
    config: {oracle_weights: data/seqgan_oracle/oracle.safetensors, frozen: true}
  train_samples: 64
  heldout_samples: 32
  eval_samples: 32
training:
  batch_size: 16
  mle: {epochs: 1}
  discriminator_pretraining: {rounds: 0}
  adversarial: {epochs: 1, rollouts: 1, d_steps: 0}
";

fn config(sandbox: &Sandbox, components: &str) -> String {
    sandbox
        .write(
            "experiment.yaml",
            &format!("name: t\nseed: 1\n{TASK}{components}"),
        )
        .to_string_lossy()
        .into_owned()
}

fn train(
    sandbox: &Sandbox,
    config: &str,
    plugin_path: &[&Path],
) -> (agon_integration_tests::Run, std::path::PathBuf) {
    let out = sandbox.path().join("run");
    let run = sandbox.run(
        &["train", config, "--out", out.to_str().unwrap()],
        plugin_path,
    );
    (run, out)
}

fn smoke() -> String {
    agon_integration_tests::config("smoke.yaml")
}

/// `agon train configs/smoke.yaml --out OUT --stop-after N`, which must
/// succeed; its stdout.
fn smoke_until(sandbox: &Sandbox, out: &Path, n: &str) -> String {
    let config = smoke();
    let args = [
        "train",
        &config,
        "--out",
        out.to_str().unwrap(),
        "--stop-after",
        n,
    ];
    sandbox.run(&args, &[]).success()
}

#[test]
fn train_resolves_and_instantiates_every_configured_component() {
    let sandbox = Sandbox::new();
    let out = sandbox.path().join("run");
    let stdout = sandbox
        .run(
            &[
                "train",
                &smoke(),
                "--out",
                out.to_str().unwrap(),
                "--stop-after",
                "1",
            ],
            &[],
        )
        .success();
    assert!(
        stdout.contains("mle          epoch    0  NLL-oracle"),
        "{stdout}"
    );
    assert!(stdout.contains("stopped as asked"), "{stdout}");
    let resolved = std::fs::read_to_string(out.join("config.yaml")).unwrap();
    assert!(
        resolved.contains("device: cpu") && resolved.contains("rollout_token_budget"),
        "defaults are saved: {resolved}"
    );
    let plugins = std::fs::read_to_string(out.join("plugins.json")).unwrap();
    for component in [
        "agon/lstm-generator@0.1.0:lstm",
        "seqgan-lab/cnn-discriminator@0.1.0:cnn-highway",
        "agon/rewards@0.1.0:discriminator",
    ] {
        assert!(
            plugins.contains(component),
            "{component} missing: {plugins}"
        );
    }
    assert!(plugins.contains("sha256"), "{plugins}");
}

/// `--stop-after` counts epochs and rounds across phases: stopping after
/// the last MLE epoch stops at the phase's end, before any pretraining
/// round, and a resume with `--stop-after 1` does just the first round.
#[test]
fn stop_after_the_last_unit_of_a_phase_stops_at_its_end() {
    let sandbox = Sandbox::new();
    let out = sandbox.path().join("run");
    let train = |args: &[&str]| sandbox.run(args, &[]).success();
    // configs/smoke.yaml: 4 MLE epochs, 2 pretraining rounds.
    let stdout = smoke_until(&sandbox, &out, "4");
    assert!(stdout.contains("stopped as asked"), "{stdout}");
    let state = || std::fs::read_to_string(out.join("checkpoints/latest/state.json")).unwrap();
    let at = state();
    assert!(
        at.contains("\"phase\": \"discriminator-pretraining\"") && at.contains("\"step\": 0"),
        "{at}"
    );
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert!(!metrics.contains("discriminator-pretraining"), "{metrics}");
    train(&[
        "train",
        "--resume",
        out.to_str().unwrap(),
        "--stop-after",
        "1",
    ]);
    let at = state();
    assert!(
        at.contains("\"phase\": \"discriminator-pretraining\"") && at.contains("\"step\": 1"),
        "{at}"
    );
}

/// Sampling a run whose generator library has been rebuilt since it
/// trained warns once, naming both builds; the unchanged library does not.
#[test]
fn sampling_with_a_rebuilt_generator_library_warns() {
    let sandbox = Sandbox::new();
    let out = sandbox.path().join("run");
    smoke_until(&sandbox, &out, "1");
    let sample = || sandbox.run(&["sample", out.to_str().unwrap(), "-n", "2"], &[]);
    let same = sample();
    same.success();
    assert!(
        !same.stderr().contains("another build"),
        "{}",
        same.stderr()
    );
    // As if the library had been rebuilt since: plugins.json records
    // another sha256 for the generator.
    let path = out.join("plugins.json");
    let mut plugins: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let generator = plugins
        .iter_mut()
        .find(|p| p["place"] == "generator")
        .unwrap();
    generator["sha256"] = serde_json::json!("0123456789abcdef");
    std::fs::write(&path, serde_json::to_string(&plugins).unwrap()).unwrap();
    let changed = sample();
    changed.success();
    let stderr = changed.stderr();
    assert!(
        stderr.contains("generator trained with another build of its library")
            && stderr.contains("sha256 0123456789ab in plugins.json")
            && stderr.matches("warning:").count() == 1,
        "{stderr}"
    );
}

#[test]
fn swapping_the_discriminator_is_a_config_change() {
    let sandbox = Sandbox::new();
    let out = sandbox.path().join("run");
    sandbox
        .run(
            &[
                "train",
                &smoke(),
                "--out",
                out.to_str().unwrap(),
                "--stop-after",
                "5",
                "--set",
                "discriminator={plugin: rnn-lab/gru-discriminator@^0.1, config: {hidden_dim: 16}}",
            ],
            &[],
        )
        .success();
    let plugins = std::fs::read_to_string(out.join("plugins.json")).unwrap();
    assert!(
        plugins.contains("rnn-lab/gru-discriminator@0.1.0:gru"),
        "{plugins}"
    );
    assert!(out
        .join("checkpoints/latest/discriminator/gru-discriminator.safetensors")
        .is_file());
}

fn assert_refused(sandbox: &Sandbox, components: &str, plugin_path: &[&Path], needles: &[&str]) {
    let config = config(sandbox, components);
    let (run, out) = train(sandbox, &config, plugin_path);
    let message = run.clean_failure();
    for needle in needles {
        assert!(
            message.contains(needle),
            "{needle:?} missing from:\n{message}"
        );
    }
    assert!(!out.exists(), "a refused run must leave no run directory");
}

#[test]
fn unknown_plugin_is_refused_with_what_is_available() {
    let sandbox = Sandbox::new();
    assert_refused(
        &sandbox,
        "generator:\n  plugin: nobody/nothing@^1\n",
        &[],
        &[
            "experiment.yaml line ",
            ": generator.plugin: no plugin library provides `nobody/nothing@^1`",
            "available with a generator: ",
            "agon/lstm-generator@0.1.0",
        ],
    );
}

#[test]
fn a_library_named_in_the_wrong_namespace_is_suggested_in_its_own() {
    let sandbox = Sandbox::new();
    assert_refused(
        &sandbox,
        "generator:\n  plugin: agon/lstm-generator\ndiscriminator:\n  plugin: agon/cnn-discriminator@^0.1\n",
        &[],
        &["did you mean `seqgan-lab/cnn-discriminator`?"],
    );
}

#[test]
fn a_missing_data_file_is_refused_at_the_line_that_names_it() {
    let sandbox = Sandbox::new();
    let config = sandbox.write(
        "experiment.yaml",
        "name: t\nseed: 1\ntask:\n  kind: synthetic-oracle\n  train_data: nowhere.txt\ngenerator:\n  plugin: agon/lstm-generator\n",
    );
    let (run, out) = train(&sandbox, config.to_str().unwrap(), &[]);
    let message = run.clean_failure();
    assert!(
        message
            .contains("experiment.yaml line 5: task.train_data: cannot read data file nowhere.txt"),
        "{message}"
    );
    assert!(!out.exists(), "a refused run must leave no run directory");
}

#[test]
fn unknown_reward_lists_only_libraries_with_a_reward() {
    let sandbox = Sandbox::new();
    let config = config(
        &sandbox,
        "generator:\n  plugin: agon/lstm-generator\nreward:\n  plugin: nobody/nothing@^1\n",
    );
    let (run, out) = train(&sandbox, &config, &[]);
    let message = run.clean_failure();
    for needle in ["available with a reward: ", "agon/rewards@0.1.0"] {
        assert!(
            message.contains(needle),
            "{needle:?} missing from:\n{message}"
        );
    }
    for other_kind in ["agon/lstm-generator@", "seqgan-lab/cnn-discriminator@"] {
        assert!(!message.contains(other_kind), "{other_kind}: {message}");
    }
    assert!(!out.exists(), "a refused run must leave no run directory");
}

#[test]
fn version_requirement_that_nothing_meets_is_refused() {
    let sandbox = Sandbox::new();
    assert_refused(
        &sandbox,
        "generator:\n  plugin: agon/lstm-generator@^2\n",
        &[],
        &[
            ": generator.plugin: no plugin library provides `agon/lstm-generator@^2`",
            "`agon/lstm-generator` is installed at 0.1.0, which `^2` does not allow: ask for `agon/lstm-generator@^0.1`",
        ],
    );
}

#[test]
fn malformed_plugin_reference_is_refused() {
    let sandbox = Sandbox::new();
    assert_refused(
        &sandbox,
        "generator:\n  plugin: lstm-generator\n",
        &[],
        &["generator.plugin: invalid plugin reference `lstm-generator`"],
    );
}

#[test]
fn wrong_component_kind_is_refused() {
    let sandbox = Sandbox::new();
    assert_refused(
        &sandbox,
        "generator:\n  plugin: agon/rewards\n  component: bleu\n",
        &[],
        &[
            "experiment.yaml line ",
            ": generator.component: agon/rewards@0.1.0's `bleu` is a reward, not a generator",
        ],
    );
    assert_refused(
        &sandbox,
        "generator:\n  plugin: seqgan-lab/cnn-discriminator\n",
        &[],
        &["has no generator component (it provides discriminator `cnn-highway`)"],
    );
}

#[test]
fn unknown_component_name_is_refused() {
    let sandbox = Sandbox::new();
    assert_refused(
        &sandbox,
        "generator:\n  plugin: agon/lstm-generator\n  component: transformer\n",
        &[],
        &[
            ": generator.component: agon/lstm-generator@0.1.0 has no generator named `transformer`",
            "are: lstm",
        ],
    );
}

#[test]
fn ambiguous_component_is_refused() {
    let sandbox = Sandbox::new();
    assert_refused(
        &sandbox,
        "generator:\n  plugin: agon/lstm-generator\nreward:\n  plugin: agon/rewards\n",
        &[],
        &["several reward components", "name one with `component:`"],
    );
}

#[test]
fn bad_component_config_names_the_section_and_key() {
    let sandbox = Sandbox::new();
    assert_refused(
        &sandbox,
        "generator:\n  plugin: agon/lstm-generator\n  config:\n    hidden_size: 3\n",
        &[],
        &[
            "generator.config.hidden_size: unknown field `hidden_size`",
            "did you mean `hidden_dim`?",
            "generator (agon/lstm-generator@0.1.0:lstm) rejected it",
        ],
    );
}

/// A plugin's own check of a value (no line of its own) is reported at the
/// line of the user's file that set the key it names.
#[test]
fn a_value_a_plugin_rejects_is_placed_at_the_key_it_names() {
    let sandbox = Sandbox::new();
    let components = "generator:\n  plugin: agon/lstm-generator\ndiscriminator:\n  plugin: seqgan-lab/cnn-discriminator\n  config:\n    filter_sizes: [2]\n";
    let line = TASK.lines().count() + 2 + components.lines().count();
    assert_refused(
        &sandbox,
        components,
        &[],
        &[
            &format!("line {line}: discriminator.config.filter_sizes: filter_sizes (1 entries)"),
            "(seqgan-lab/cnn-discriminator@0.1.0:cnn-highway) rejected it",
        ],
    );
}

#[test]
fn unknown_config_key_is_refused_with_its_line() {
    let sandbox = Sandbox::new();
    assert_refused(
        &sandbox,
        "generator:\n  plugin: agon/lstm-generator\nepochs: 3\n",
        &[],
        &["unknown field `epochs`", "line 19"],
    );
}

/// A failure in the middle of training: a clean error, and the run
/// directory keeps its last good checkpoint.
fn assert_fails_during_training(sandbox: &Sandbox, components: &str, needles: &[&str]) {
    let config = config(sandbox, components);
    // Libraries on AGON_PLUGIN_PATH load once indexed.
    sandbox
        .run(&["plugins", "scan"], &[fixtures_dir()])
        .success();
    let (run, out) = train(sandbox, &config, &[fixtures_dir()]);
    let message = run.clean_failure();
    for needle in needles {
        assert!(
            message.contains(needle),
            "{needle:?} missing from:\n{message}"
        );
    }
    let state = std::fs::read_to_string(out.join("checkpoints/latest/state.json")).unwrap();
    assert!(
        state.contains("adversarial"),
        "the checkpoint before the failure is kept: {state}"
    );
}

#[test]
fn a_panicking_reward_stops_the_run_cleanly() {
    assert_fails_during_training(
        &Sandbox::new(),
        "generator:\n  plugin: agon/lstm-generator\nreward:\n  plugin: agon-testing/fault-injector\n  component: panics\n",
        &["reward (agon-testing/fault-injector@0.1.0:panics): reward failed: panic: plugin panicked at", "index out of bounds"],
    );
}

#[test]
fn a_discriminator_returning_the_wrong_number_of_scores_is_caught() {
    assert_fails_during_training(
        &Sandbox::new(),
        "generator:\n  plugin: agon/lstm-generator\ndiscriminator:\n  plugin: agon-testing/fault-injector\nreward:\n  plugin: agon/rewards\n  component: discriminator\n",
        &["scoring returned 17 values for 16 sequences", "(a bug in the plugin)"],
    );
}

#[test]
fn incompatible_library_on_the_plugin_path_does_not_hide_good_ones() {
    // The fixtures directory holds two unloadable libraries; resolution of a
    // real plugin still works, and a failed lookup lists the refusals.
    let sandbox = Sandbox::new();
    let out = sandbox.path().join("run");
    sandbox
        .run(
            &[
                "train",
                &smoke(),
                "--out",
                out.to_str().unwrap(),
                "--stop-after",
                "1",
            ],
            &[fixtures_dir()],
        )
        .success();
    // Without the index's word, they are not even opened...
    assert_refused(
        &Sandbox::new(),
        "generator:\n  plugin: someone/else\n",
        &[fixtures_dir()],
        &["refused: ", "not in the plugin index", "agon plugins scan"],
    );
    // ... and opened with --allow-unverified, which then says why each one
    // cannot be used.
    let sandbox = Sandbox::new();
    let config = config(&sandbox, "generator:\n  plugin: someone/else\n");
    let message = sandbox
        .run(
            &[
                "train",
                &config,
                "--allow-unverified",
                "--out",
                sandbox.path().join("run").to_str().unwrap(),
            ],
            &[fixtures_dir()],
        )
        .clean_failure();
    for needle in [
        "refused: ",
        "ABI 2.0",
        "layout does not match",
        "--allow-unverified: loading",
    ] {
        assert!(
            message.contains(needle),
            "{needle:?} missing from:\n{message}"
        );
    }
}

#[test]
fn a_library_on_the_plugin_path_loads_only_once_indexed_or_allowed() {
    let sandbox = Sandbox::new();
    let components = "generator:\n  plugin: agon/lstm-generator\nreward:\n  plugin: agon-testing/fault-injector\n  component: panics\n";
    let config = config(&sandbox, components);
    let out = sandbox.path().join("run");
    // Not indexed: refused before it is opened, with the two ways out.
    let message = sandbox
        .run(
            &["train", &config, "--out", out.to_str().unwrap()],
            &[fixtures_dir()],
        )
        .clean_failure();
    assert!(
        message.contains("libagon_fixture_fault_injector")
            && message.contains("not in the plugin index")
            && message.contains("--allow-unverified"),
        "{message}"
    );
    assert!(!out.exists());
    // Allowed: it loads (and the run fails later, in the reward, as the
    // fixture means to), with a warning naming the file.
    let message = sandbox
        .run(
            &[
                "--allow-unverified",
                "train",
                &config,
                "--out",
                out.to_str().unwrap(),
            ],
            &[fixtures_dir()],
        )
        .clean_failure();
    assert!(
        message.contains("warning: --allow-unverified: loading")
            && message.contains("plugin panicked"),
        "{message}"
    );
    // Not indexed by --allow-unverified: still refused without it.
    let listing = sandbox
        .run(&["plugins", "list"], &[fixtures_dir()])
        .success();
    assert!(listing.contains("not in the plugin index"), "{listing}");
}

#[test]
fn a_plugin_found_twice_at_one_version_says_which_copy_it_loaded() {
    let sandbox = Sandbox::new();
    let copies = sandbox.path().join("copies");
    std::fs::create_dir_all(&copies).unwrap();
    let built = agon_integration_tests::plugin_library("agon_lstm_generator");
    let copy = copies.join(agon_integration_tests::library_file("agon_lstm_generator"));
    // MLE alone: the generator is all this test needs.
    let config = config(&sandbox, "generator:\n  plugin: agon/lstm-generator\n");
    let train_into = |name: &str| {
        let out = sandbox.path().join(name);
        let args = ["train", &config, "--out", out.to_str().unwrap()];
        let set = ["--set", "training.adversarial.epochs=0"];
        let run = sandbox.run(&[&args[..], &set].concat(), &[&copies]);
        run.success();
        (run.stderr(), out)
    };

    // A byte-identical copy loads the same code: no note.
    std::fs::copy(&built, &copy).unwrap();
    sandbox.run(&["plugins", "scan"], &[&copies]).success();
    let (stderr, _) = train_into("identical");
    assert!(!stderr.contains("also has"), "{stderr}");

    // Another build of the same version (here: the bytes differ).
    let mut bytes = std::fs::read(&built).unwrap();
    bytes.extend_from_slice(b"another build");
    std::fs::write(&copy, bytes).unwrap();
    sandbox.run(&["plugins", "scan"], &[&copies]).success();
    let (stderr, out) = train_into("other-build");
    // AGON_PLUGIN_PATH comes before the build output, so its copy wins.
    let loaded = std::fs::canonicalize(&copy).unwrap();
    let other = std::fs::canonicalize(&built).unwrap();
    let notes: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("note: agon/lstm-generator@0.1.0"))
        .collect();
    // Once, though the oracle and the generator both use the library.
    assert_eq!(notes.len(), 1, "{stderr}");
    assert!(
        notes[0].contains(&format!("is loaded from {}", loaded.display()))
            && notes[0].contains(&format!("{} also has", other.display())),
        "{}",
        notes[0]
    );
    let plugins = std::fs::read_to_string(out.join("plugins.json")).unwrap();
    assert!(plugins.contains(&loaded.display().to_string()), "{plugins}");
}

#[test]
fn a_plugin_path_directory_that_does_not_exist_is_named() {
    let sandbox = Sandbox::new();
    let nowhere = sandbox.path().join("target-elsewhere/release");
    let listed = sandbox.run(&["plugins", "list"], &[&nowhere]);
    listed.success();
    assert!(
        listed.stderr().contains(&format!(
            "note: AGON_PLUGIN_PATH names {}, which is not a directory",
            nowhere.display()
        )),
        "{}",
        listed.stderr()
    );
    // The miss names where it looked, and which directory is not there.
    let config = config(&sandbox, "generator:\n  plugin: my-lab/not-built\n");
    let (run, out) = train(&sandbox, &config, &[&nowhere]);
    let message = run.clean_failure();
    assert!(
        message.contains(&format!(
            "(searched: {} (does not exist), ",
            nowhere.display()
        )),
        "{message}"
    );
    assert!(!out.exists(), "a refused run must leave no run directory");
}
