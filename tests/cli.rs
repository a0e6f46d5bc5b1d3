//! `agon train` end to end: configs resolve and instantiate plugin
//! components; every bad reference is a clear error that leaves no run
//! directory behind.

use std::path::Path;

use agon_integration_tests::{fixtures_dir, workspace_root, Sandbox};

const TASK: &str = "task:
  kind: synthetic-oracle
  vocab_size: 5000
  max_len: 20
  train_data: data/seqgan_oracle/real_data.txt
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

#[test]
fn train_wiring_config_calls_every_component() {
    let sandbox = Sandbox::new();
    let config = workspace_root().join("configs/wiring.yaml");
    let (run, out) = train(&sandbox, config.to_str().unwrap(), &[]);
    let stdout = run.success();
    assert!(stdout.contains("sampled 8 sequences"), "{stdout}");
    assert!(stdout.contains("P(real) of the samples"), "{stdout}");
    assert!(
        stdout.contains("one MLE step on the training data, loss 8.5"),
        "{stdout}"
    );
    let resolved = std::fs::read_to_string(out.join("config.yaml")).unwrap();
    assert!(
        resolved.contains("device: cpu"),
        "defaults are saved: {resolved}"
    );
    let plugins = std::fs::read_to_string(out.join("plugins.json")).unwrap();
    assert!(
        plugins.contains("seqgan-lab/cnn-discriminator@0.1.0:cnn-highway"),
        "{plugins}"
    );
    assert!(plugins.contains("sha256"), "{plugins}");
}

#[test]
fn swapping_the_discriminator_is_a_config_change() {
    let sandbox = Sandbox::new();
    let config = workspace_root().join("configs/wiring.yaml");
    let (run, out) = {
        let out = sandbox.path().join("run");
        let run = sandbox.run(
            &[
                "train",
                config.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--set",
                "discriminator={plugin: rnn-lab/gru-discriminator@^0.1, config: {hidden_dim: 16}}",
            ],
            &[],
        );
        (run, out)
    };
    let stdout = run.success();
    assert!(
        stdout.contains("rnn-lab/gru-discriminator@0.1.0:gru"),
        "{stdout}"
    );
    assert!(out.join("config.yaml").exists());
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
            "generator: no plugin library provides `nobody/nothing@^1`",
            "available: ",
            "agon/lstm-generator@0.1.0",
        ],
    );
}

#[test]
fn version_requirement_that_nothing_meets_is_refused() {
    let sandbox = Sandbox::new();
    assert_refused(
        &sandbox,
        "generator:\n  plugin: agon/lstm-generator@^2\n",
        &[],
        &["no plugin library provides `agon/lstm-generator@^2`"],
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
        &["generator: agon/rewards@0.1.0's `bleu` is a reward, not a generator"],
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
        &["has no generator named `transformer`", "are: lstm"],
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
            "generator (agon/lstm-generator@0.1.0:lstm): construction failed",
            "unknown field `hidden_size`",
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
        &["unknown field `epochs`", "line 10"],
    );
}

#[test]
fn a_panicking_reward_stops_the_run_cleanly() {
    let sandbox = Sandbox::new();
    assert_refused(
        &sandbox,
        "generator:\n  plugin: agon/lstm-generator\nreward:\n  plugin: agon-testing/fault-injector\n  component: panics\n",
        &[fixtures_dir()],
        &["reward (agon-testing/fault-injector@0.1.0:panics): reward failed: panic: plugin panicked at", "index out of bounds"],
    );
}

#[test]
fn a_discriminator_returning_the_wrong_number_of_scores_is_caught() {
    let sandbox = Sandbox::new();
    assert_refused(
        &sandbox,
        "generator:\n  plugin: agon/lstm-generator\ndiscriminator:\n  plugin: agon-testing/fault-injector\n",
        &[fixtures_dir()],
        &["scoring returned 9 values for 8 sequences"],
    );
}

#[test]
fn incompatible_library_on_the_plugin_path_does_not_hide_good_ones() {
    // The fixtures directory holds two unloadable libraries; resolution of a
    // real plugin still works, and a failed lookup lists the refusals.
    let sandbox = Sandbox::new();
    let config = workspace_root().join("configs/wiring.yaml");
    let out = sandbox.path().join("run");
    sandbox
        .run(
            &[
                "train",
                config.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            &[fixtures_dir()],
        )
        .success();
    assert_refused(
        &Sandbox::new(),
        "generator:\n  plugin: someone/else\n",
        &[fixtures_dir()],
        &["refused: ", "ABI 2.0", "layout does not match"],
    );
}
