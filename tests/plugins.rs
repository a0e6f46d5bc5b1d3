//! Plugins loaded into one process: several libraries of one interface side
//! by side, panics caught at the boundary, and `agon plugins list`.

use std::path::Path;

use abi_stable::std_types::{ROption, RStr};
use agon_integration_tests::{
    build_dir, config, fixture_library, fixtures_dir, plugin_library, Sandbox,
};
use agon_registry::{PluginRequirement, Registry, SearchPath};
use agon_sdk::{Batch, ComponentKind, ErrorKind, PluginContext, RewardInput, TokenBatch};

fn registry(dirs: &[&Path], sandbox: &Sandbox) -> Registry {
    Registry::new(
        SearchPath::explicit(dirs.iter().map(|d| d.to_path_buf())),
        &sandbox.home().join("plugins-index.json"),
    )
}

fn small_context() -> PluginContext {
    let mut context = PluginContext::for_tests(50, 12);
    context.seed = 11;
    context
}

fn batch() -> Batch {
    Batch::unconditional(TokenBatch::from_rows(
        &[
            vec![1u32, 2, 3, 4, 5, 6],
            vec![7, 8, 9],
            vec![10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21],
        ],
        0,
    ))
}

#[test]
fn two_discriminator_libraries_live_side_by_side_and_differ() {
    let sandbox = Sandbox::new();
    let mut registry = registry(&[build_dir()], &sandbox);
    let mut scores = Vec::new();
    for (plugin, config) in [
        (
            "seqgan-lab/cnn-discriminator",
            "filter_sizes: [2, 3]\nfilter_counts: [8, 8]\n",
        ),
        (
            "rnn-lab/gru-discriminator",
            "hidden_dim: 16\nembedding_dim: 8\n",
        ),
    ] {
        let resolved = registry
            .resolve(
                &PluginRequirement::parse(plugin).unwrap(),
                ComponentKind::Discriminator,
                None,
            )
            .unwrap();
        let mut context = small_context();
        context.config_yaml = config.into();
        let mut discriminator = (resolved.library.module.new_discriminator())(
            RStr::from_str(resolved.component.name.as_str()),
            &context,
        )
        .unwrap();
        let probabilities = discriminator.probabilities(&batch()).unwrap().into_vec();
        assert_eq!(probabilities.len(), 3);
        assert!(
            probabilities.iter().all(|p| (0.0..=1.0).contains(p)),
            "{probabilities:?}"
        );
        scores.push((resolved.library.path.clone(), probabilities, discriminator));
    }
    assert_ne!(scores[0].0, scores[1].0, "two different library files");
    assert_ne!(
        scores[0].1, scores[1].1,
        "two different models score differently"
    );
    // Both stay usable, interleaved, in one process.
    let (_, _, first) = &mut scores[0];
    assert_eq!(first.probabilities(&batch()).unwrap().len(), 3);
    let (_, _, second) = &mut scores[1];
    assert_eq!(second.probabilities(&batch()).unwrap().len(), 3);
}

#[test]
fn the_same_library_resolves_to_one_loaded_instance() {
    let sandbox = Sandbox::new();
    let mut registry = registry(&[build_dir()], &sandbox);
    let requirement = PluginRequirement::parse("agon/rewards@^0.1").unwrap();
    let a = registry
        .resolve(&requirement, ComponentKind::Reward, Some("bleu"))
        .unwrap();
    let b = registry
        .resolve(&requirement, ComponentKind::Reward, Some("maligan"))
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(&a.library, &b.library));
}

#[test]
fn a_panicking_plugin_returns_an_error_and_the_host_carries_on() {
    let sandbox = Sandbox::new();
    let mut registry = registry(&[fixtures_dir(), build_dir()], &sandbox);
    let faulty = registry
        .load(&fixture_library("agon_fixture_fault_injector"))
        .unwrap();
    let context = small_context();
    let input = RewardInput {
        sequences: TokenBatch::from_rows(&[vec![1u32, 2]], 0),
        sources: ROption::RNone,
        references: ROption::RNone,
        discriminator: ROption::RNone,
    };

    let mut reward = (faulty.module.new_reward())(RStr::from_str("panics"), &context).unwrap();
    // The fixture behaves on its first call (the host's pre-run probe) and
    // panics from the second on.
    assert_eq!(reward.rewards(&input).unwrap().as_slice(), [1.0]);
    let error = reward.rewards(&input).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Panic);
    assert!(error.message().contains("index out of bounds"), "{error}");
    assert!(
        error.message().contains("fault-injector/src/lib.rs"),
        "{error}"
    );
    // Its state is no longer trusted.
    assert_eq!(
        reward.rewards(&input).unwrap_err().kind(),
        ErrorKind::Poisoned
    );

    let Err(error) =
        (faulty.module.new_reward())(RStr::from_str("panics-on-construction"), &context)
            .into_result()
    else {
        panic!("construction should fail");
    };
    assert_eq!(error.kind(), ErrorKind::Panic);
    assert!(error.message().contains("constructor exploded"), "{error}");

    // The host, and other plugins, carry on.
    let good = registry.load(&plugin_library("agon_rewards")).unwrap();
    let mut reward = (good.module.new_reward())(RStr::from_str("discriminator"), &context).unwrap();
    let input = RewardInput {
        discriminator: ROption::RSome(vec![0.25f32].into()),
        ..input
    };
    assert_eq!(reward.rewards(&input).unwrap().into_vec(), vec![0.25]);
}

#[test]
fn plugins_list_shows_every_built_library_with_kind_version_devices_and_sha256() {
    let sandbox = Sandbox::new();
    let listing = sandbox.run(&["plugins", "list"], &[]).success();
    for (qualified, crate_name, component) in [
        (
            "agon/lstm-generator 0.1.0",
            "agon_lstm_generator",
            "generator      lstm",
        ),
        (
            "seqgan-lab/cnn-discriminator 0.1.0",
            "agon_cnn_discriminator",
            "discriminator  cnn-highway",
        ),
        (
            "rnn-lab/gru-discriminator 0.1.0",
            "agon_gru_discriminator",
            "discriminator  gru",
        ),
        (
            "scratchgan-lab/lstm-discriminator 0.1.0",
            "agon_lstm_discriminator",
            "discriminator  lstm-per-token",
        ),
        ("agon/rewards 0.1.0", "agon_rewards", "reward         bleu"),
    ] {
        assert!(
            listing.contains(&format!(
                "{qualified}  devices: cpu  ABI {}",
                agon_sdk::ABI_VERSION
            )),
            "{qualified} missing:\n{listing}"
        );
        assert!(
            listing.contains(component),
            "{component} missing:\n{listing}"
        );
        let bytes = std::fs::read(plugin_library(crate_name)).unwrap();
        let sha = agon_registry::library_file::sha256_hex(&bytes);
        assert!(
            listing.contains(&format!("sha256 {sha}")),
            "sha256 of {crate_name} missing:\n{listing}"
        );
    }
    assert!(
        !listing.contains("fixture"),
        "fixtures must not sit beside the real plugins:\n{listing}"
    );
    // The listing indexed them.
    let index = std::fs::read_to_string(sandbox.home().join("plugins-index.json")).unwrap();
    assert!(index.contains("agon_cnn_discriminator"), "{index}");
}

#[test]
fn plugins_show_prints_the_manifest_and_default_configs() {
    let sandbox = Sandbox::new();
    let shown = sandbox
        .run(
            &["plugins", "show", "seqgan-lab/cnn-discriminator@^0.1"],
            &[],
        )
        .success();
    assert!(shown.contains("discriminator `cnn-highway`"), "{shown}");
    assert!(shown.contains("filter_sizes"), "{shown}");
    assert!(shown.contains("l2_lambda: 0.2"), "{shown}");
}

/// A plugin crate outside the workspace, depending on agon-sdk alone (the
/// example of docs/writing-a-plugin.md), builds and is used by `agon train`.
#[test]
fn a_plugin_built_outside_the_workspace_loads_and_runs() {
    let sandbox = Sandbox::new();
    let root = agon_integration_tests::workspace_root();
    let crate_dir = sandbox.path().join("distinct-tokens-reward");
    std::fs::create_dir_all(crate_dir.join("src")).unwrap();
    let example = root.join("docs/examples/distinct-tokens-reward");
    let manifest = std::fs::read_to_string(example.join("Cargo.toml"))
        .unwrap()
        .replace("../../../sdk", root.join("sdk").to_str().unwrap());
    std::fs::write(crate_dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(example.join("src/lib.rs"), crate_dir.join("src/lib.rs")).unwrap();
    // Same dependency versions as the workspace, and the fixtures' target
    // directory, where agon-sdk (without Candle) is already built.
    std::fs::copy(root.join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    let target = fixtures_dir().parent().unwrap();
    let output = std::process::Command::new(env!("CARGO"))
        .args(["build", "--target-dir", target.to_str().unwrap()])
        .current_dir(&crate_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let library = fixtures_dir().join(agon_integration_tests::library_file(
        "distinct_tokens_reward",
    ));

    let verified = sandbox
        .run(&["plugins", "verify", library.to_str().unwrap()], &[])
        .success();
    assert!(verified.contains("acme/distinct-tokens"), "{verified}");
    // A good library is not yet a usable one: `verify` says what is missing.
    assert!(
        verified.contains("not on the plugin search path"),
        "{verified}"
    );
    let unscanned = sandbox.path().join("unscanned");
    std::fs::create_dir_all(&unscanned).unwrap();
    let copy = unscanned.join(library.file_name().unwrap());
    std::fs::copy(&library, &copy).unwrap();
    let verify_copy = || {
        sandbox
            .run(
                &["plugins", "verify", copy.to_str().unwrap()],
                &[&unscanned],
            )
            .success()
    };
    let verified = verify_copy();
    assert!(
        verified.contains("not indexed yet: run `agon plugins scan`"),
        "{verified}"
    );
    sandbox.run(&["plugins", "scan"], &[&unscanned]).success();
    let verified = verify_copy();
    assert!(
        verified.starts_with("ok") && !verified.contains("agon plugins scan"),
        "{verified}"
    );
    // Installed on the plugin path, it is indexed deliberately.
    let plugin_dir = install(&sandbox, &library, "acme");
    // Policy gradient with the external reward in place of a discriminator.
    let config = root.join("configs/smoke.yaml");
    let out = sandbox.path().join("run");
    sandbox
        .run(
            &[
                "train",
                config.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--set",
                "reward={plugin: acme/distinct-tokens@^0.3, config: {power: 2.0}}",
                "--set",
                "training={batch_size: 16, mle: {epochs: 0}, discriminator_pretraining: {rounds: 0}, adversarial: {epochs: 1, rollouts: 2}}",
            ],
            &[&plugin_dir],
        )
        .success();
    let plugins = std::fs::read_to_string(out.join("plugins.json")).unwrap();
    assert!(
        plugins.contains("acme/distinct-tokens@0.3.1:distinct-tokens"),
        "{plugins}"
    );
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"adversarial\""), "{metrics}");
}

/// Copies `library` into the folder `folder` of `sandbox` and indexes it;
/// returns the folder, for the plugin path.
fn install(sandbox: &Sandbox, library: &Path, folder: &str) -> std::path::PathBuf {
    let plugin_dir = sandbox.path().join(folder);
    std::fs::create_dir_all(&plugin_dir).unwrap();
    std::fs::copy(library, plugin_dir.join(library.file_name().unwrap())).unwrap();
    let scanned = sandbox.run(&["plugins", "scan"], &[&plugin_dir]).success();
    assert!(scanned.contains("indexed"), "{scanned}");
    plugin_dir
}

/// A one-epoch-per-phase smoke run into `<sandbox>/<out>` with `component`
/// (a YAML mapping) as its `kind` (`generator`, `discriminator`);
/// returns the run directory.
fn smoke_run_with(
    sandbox: &Sandbox,
    plugin_path: &[&Path],
    kind: &str,
    component: &str,
    out: &str,
) -> std::path::PathBuf {
    let out = sandbox.path().join(out);
    train_smoke(
        sandbox,
        plugin_path,
        &out,
        (kind, component),
        &[
            "--set",
            "training={batch_size: 16, mle: {epochs: 1}, discriminator_pretraining: {rounds: 1, epochs: 1}, adversarial: {epochs: 1, rollouts: 2}}",
        ],
    )
    .success();
    out
}

/// `agon train configs/smoke.yaml --out OUT --set KIND=COMPONENT EXTRA…`
/// with `plugin_path` on the plugin path (the libraries beside `agon` are
/// found anyway).
fn train_smoke(
    sandbox: &Sandbox,
    plugin_path: &[&Path],
    out: &Path,
    (kind, component): (&str, &str),
    extra: &[&str],
) -> agon_integration_tests::Run {
    let config = agon_integration_tests::workspace_root().join("configs/smoke.yaml");
    let set = format!("{kind}={component}");
    let mut args = vec![
        "train",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--set",
        &set,
    ];
    args.extend_from_slice(extra);
    sandbox.run(&args, plugin_path)
}

/// `agon plugins show SPEC` lists every one of `keys`.
fn assert_shows(sandbox: &Sandbox, plugin_dir: &Path, spec: &str, keys: &[&str]) {
    let shown = sandbox
        .run(&["plugins", "show", spec], &[plugin_dir])
        .success();
    for key in keys {
        assert!(shown.contains(key), "{key} missing:\n{shown}");
    }
}

/// The rows of a run's metrics.jsonl.
fn metrics_rows(run: &Path) -> Vec<serde_json::Value> {
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A smoke config whose `kind` is `component` is refused with `message`
/// before a run directory exists.
fn assert_refused_before_run(
    sandbox: &Sandbox,
    plugin_dir: &Path,
    (kind, component): (&str, &str),
    message: &str,
) {
    let out = sandbox.path().join("bad");
    let refused = train_smoke(sandbox, &[plugin_dir], &out, (kind, component), &[]).clean_failure();
    assert!(refused.contains(message), "{refused}");
    assert!(!out.exists());
}

/// The discriminator of docs/writing-a-plugin.md section 3, written on the
/// SDK's kit (docs/examples/mean-pool-discriminator), loads beside the
/// host's own plugins, documents its config and trains in a smoke run; a
/// bad value of its own key is refused before a run directory exists.
#[test]
fn the_guides_kit_discriminator_loads_documents_its_config_and_trains() {
    let sandbox = Sandbox::new();
    let library = fixtures_dir().join(agon_integration_tests::library_file(
        "mean_pool_discriminator",
    ));
    let plugin_dir = install(&sandbox, &library, "my-lab");
    assert_shows(
        &sandbox,
        &plugin_dir,
        "my-lab/mean-pool-discriminator@^0.1",
        &[
            "pooling: mean",
            "training:",
            "score_chunk: 512",
            "# Rows scored per forward pass",
        ],
    );
    let out = smoke_run_with(
        &sandbox,
        &[&plugin_dir],
        "discriminator",
        "{plugin: my-lab/mean-pool-discriminator@^0.1, config: {embedding_dim: 16, pooling: max}}",
        "run",
    );
    let plugins = std::fs::read_to_string(out.join("plugins.json")).unwrap();
    assert!(
        plugins.contains("my-lab/mean-pool-discriminator@0.1.0:mean-pool"),
        "{plugins}"
    );
    let rows = metrics_rows(&out);
    let accuracy = rows
        .iter()
        .filter_map(|row| row["d_accuracy"].as_f64())
        .next_back()
        .unwrap_or_else(|| panic!("no D accuracy logged: {rows:?}"));
    assert!((0.0..=1.0).contains(&accuracy), "{accuracy}");
    assert!(out
        .join("checkpoints/latest/discriminator/mean-pool.safetensors")
        .is_file());
    // Its relaxed path trains under Gumbel-softmax gradients (RelGAN's
    // algorithm) too: the host's RSGAN loss through it into the generator.
    let gumbel = sandbox.path().join("gumbel");
    sandbox
        .run(
            &[
                "train",
                &config("smoke-gumbel.yaml"),
                "--out",
                gumbel.to_str().unwrap(),
                "--set",
                "discriminator={plugin: my-lab/mean-pool-discriminator@^0.1, config: {embedding_dim: 16}}",
                "--set",
                "training.mle.epochs=1",
                "--set",
                "training.adversarial.epochs=2",
            ],
            &[&plugin_dir],
        )
        .success();
    let last = metrics_rows(&gumbel).pop().unwrap();
    assert_eq!(last["phase"], "adversarial", "{last}");
    assert!(last["d_loss"].as_f64().unwrap().is_finite(), "{last}");
    assert!(last["nll_oracle"].as_f64().unwrap().is_finite(), "{last}");
    // A bad value of the model's own key is refused with its message.
    assert_refused_before_run(
        &sandbox,
        &plugin_dir,
        (
            "discriminator",
            "{plugin: my-lab/mean-pool-discriminator@^0.1, config: {pooling: median}}",
        ),
        "pooling must be mean or max",
    );
}

/// The generator of docs/writing-a-plugin.md section 3, written on the
/// SDK's generator kit (docs/examples/gru-lm-generator), loads beside the
/// host's own plugins, documents its config, trains through every phase of
/// a smoke run (MLE, rollouts, policy gradient) and samples from the run;
/// a bad value of its own key is refused before a run directory exists.
#[test]
fn the_guides_kit_generator_loads_documents_its_config_trains_and_samples() {
    let sandbox = Sandbox::new();
    let library = fixtures_dir().join(agon_integration_tests::library_file("gru_lm_generator"));
    let plugin_dir = install(&sandbox, &library, "my-lab");
    assert_shows(
        &sandbox,
        &plugin_dir,
        "my-lab/gru-lm-generator@^0.1",
        &[
            "hidden_dim: 64",
            "training:",
            "adversarial_optimizer:",
            "# Size of the GRU's state",
            "tempered-log-likelihood",
        ],
    );
    let out = smoke_run_with(
        &sandbox,
        &[&plugin_dir],
        "generator",
        "{plugin: my-lab/gru-lm-generator@^0.1, config: {embedding_dim: 16, hidden_dim: 16}}",
        "run",
    );
    let plugins = std::fs::read_to_string(out.join("plugins.json")).unwrap();
    assert!(
        plugins.contains("my-lab/gru-lm-generator@0.1.0:gru-lm"),
        "{plugins}"
    );
    let rows = metrics_rows(&out);
    let last = rows
        .iter()
        .rfind(|row| row["phase"] == "adversarial")
        .unwrap_or_else(|| panic!("no adversarial epoch logged: {rows:?}"));
    for key in ["nll_oracle", "g_loss", "mean_reward"] {
        assert!(
            last[key].as_f64().is_some_and(f64::is_finite),
            "{key} in {last}"
        );
    }
    assert!(out
        .join("checkpoints/latest/generator/gru-lm.safetensors")
        .is_file());
    let sampled = sandbox
        .run(
            &["sample", out.to_str().unwrap(), "-n", "3"],
            &[&plugin_dir],
        )
        .success();
    assert_eq!(
        sampled.lines().filter(|l| !l.trim().is_empty()).count(),
        3,
        "{sampled}"
    );
    // A bad value of the model's own key is refused with its message.
    assert_refused_before_run(
        &sandbox,
        &plugin_dir,
        (
            "generator",
            "{plugin: my-lab/gru-lm-generator@^0.1, config: {hidden_dim: 0}}",
        ),
        "hidden_dim must be at least 1",
    );
}

/// The conditional examples of docs/writing-a-plugin.md section 4
/// (docs/examples/gru-seq2seq-generator, pair-pool-discriminator), written
/// on the kits, load beside the host's plugins, declare that they need
/// sources, train together through every phase of a translation smoke run
/// (MLE, rollouts, policy gradient) and under Gumbel-softmax gradients,
/// and decode in `agon eval`; a language-model task is refused them.
#[test]
fn the_guides_conditional_examples_train_together_and_evaluate() {
    let sandbox = Sandbox::new();
    let plugin_dir = install(
        &sandbox,
        &fixtures_dir().join(agon_integration_tests::library_file(
            "gru_seq2seq_generator",
        )),
        "my-lab",
    );
    install(
        &sandbox,
        &fixtures_dir().join(agon_integration_tests::library_file(
            "pair_pool_discriminator",
        )),
        "my-lab",
    );
    assert_shows(
        &sandbox,
        &plugin_dir,
        "my-lab/gru-seq2seq-generator@^0.1",
        &[
            "hidden_dim: 64",
            "sources-required",
            "# Size of the encoder's",
        ],
    );
    assert_shows(
        &sandbox,
        &plugin_dir,
        "my-lab/pair-pool-discriminator@^0.1",
        &["hidden_dim: 64", "sources-required", "relaxed-rows"],
    );
    let generator = "generator={plugin: my-lab/gru-seq2seq-generator@^0.1, config: {embedding_dim: 16, hidden_dim: 32}}";
    let discriminator = "discriminator={plugin: my-lab/pair-pool-discriminator@^0.1, config: {embedding_dim: 8, hidden_dim: 16}}";
    let conditional = config("smoke-conditional.yaml");
    let train = |name: &str, extra: &[&str]| {
        let out = sandbox.path().join(name);
        let mut args = vec![
            "train",
            &conditional,
            "--out",
            out.to_str().unwrap(),
            "--set",
            generator,
            "--set",
            discriminator,
            "--set",
            "training.mle.epochs=2",
        ];
        args.extend(extra);
        sandbox.run(&args, &[&plugin_dir]).success();
        out
    };
    let run = train("nmt", &["--set", "training.adversarial.epochs=1"]);
    let plugins = std::fs::read_to_string(run.join("plugins.json")).unwrap();
    for component in [
        "my-lab/gru-seq2seq-generator@0.1.0:gru-seq2seq",
        "my-lab/pair-pool-discriminator@0.1.0:pair-pool",
    ] {
        assert!(plugins.contains(component), "{component}: {plugins}");
    }
    let last = metrics_rows(&run).pop().unwrap();
    assert_eq!(last["phase"], "adversarial", "{last}");
    for key in ["bleu", "g_loss", "d_accuracy"] {
        assert!(
            last[key].as_f64().is_some_and(f64::is_finite),
            "{key} in {last}"
        );
    }
    // Beams join and split rows, which the encoder's masking must survive.
    let eval_dir = sandbox.path().join("nmt-eval");
    let evaluated = sandbox
        .run(
            &[
                "eval",
                run.to_str().unwrap(),
                "--samples",
                "20",
                "--beam-size",
                "2",
                "--out",
                eval_dir.to_str().unwrap(),
                "--json",
            ],
            &[&plugin_dir],
        )
        .success();
    let evaluated: serde_json::Value = serde_json::from_str(&evaluated).unwrap();
    let models = evaluated["models"].as_array().unwrap();
    assert!(!models.is_empty(), "{evaluated}");
    for model in models {
        assert!(
            model["metrics"]["bleu"]
                .as_f64()
                .is_some_and(f64::is_finite),
            "{model}"
        );
        let label = model["label"].as_str().unwrap().replace('/', "-");
        let decoded = std::fs::read_to_string(eval_dir.join(format!("{label}.txt"))).unwrap();
        assert_eq!(decoded.lines().count(), 20, "{label}:\n{decoded}");
    }

    let gumbel = train(
        "nmt-gumbel",
        &[
            "--set",
            "training.adversarial={algorithm: gumbel, epochs: 2, g_steps: 1, d_steps: 1, gumbel: {loss: rsgan}}",
        ],
    );
    let last = metrics_rows(&gumbel).pop().unwrap();
    assert_eq!(last["phase"], "adversarial", "{last}");
    for key in ["d_loss", "g_loss"] {
        assert!(
            last[key].as_f64().is_some_and(f64::is_finite),
            "{key} in {last}"
        );
    }
    // Gradients through the discriminator, not rewards.
    assert!(last["mean_reward"].is_null(), "{last}");

    for component in [generator, discriminator] {
        let refused = sandbox
            .run(
                &[
                    "train",
                    &config("smoke.yaml"),
                    "--out",
                    sandbox.path().join("lm").to_str().unwrap(),
                    "--set",
                    component,
                ],
                &[&plugin_dir],
            )
            .clean_failure();
        assert!(refused.contains("sources-required"), "{refused}");
    }
}

/// The per-token discriminator of docs/writing-a-plugin.md section 4
/// (docs/examples/causal-conv-discriminator), written on the kit, declares
/// its per-token scores and trains under each way the host uses a
/// discriminator: dense per-token rewards (ScratchGAN), Monte-Carlo
/// rollouts scored a row at a time (SeqGAN), and Gumbel-softmax gradients
/// through its relaxed path (RelGAN).
#[test]
fn the_guides_per_token_discriminator_trains_under_dense_rewards_rollouts_and_gumbel() {
    let sandbox = Sandbox::new();
    let plugin_dir = install(
        &sandbox,
        &fixtures_dir().join(agon_integration_tests::library_file(
            "causal_conv_discriminator",
        )),
        "my-lab",
    );
    assert_shows(
        &sandbox,
        &plugin_dir,
        "my-lab/causal-conv-discriminator@^0.1",
        &[
            "kernel_width: 3",
            "token-logits",
            "relaxed-rows",
            "# Tokens each position reads",
        ],
    );
    let discriminator = "discriminator={plugin: my-lab/causal-conv-discriminator@^0.1, config: {embedding_dim: 8, hidden_dim: 16}}";
    let train = |name: &str, config_file: &str, extra: &[&str]| {
        let out = sandbox.path().join(name);
        let config_path = config(config_file);
        let mut args = vec![
            "train",
            &config_path,
            "--out",
            out.to_str().unwrap(),
            "--set",
            discriminator,
        ];
        args.extend(extra);
        sandbox.run(&args, &[&plugin_dir]).success();
        let plugins = std::fs::read_to_string(out.join("plugins.json")).unwrap();
        assert!(
            plugins.contains("my-lab/causal-conv-discriminator@0.1.0:causal-conv"),
            "{plugins}"
        );
        let last = metrics_rows(&out).pop().unwrap();
        assert_eq!(last["phase"], "adversarial", "{name}: {last}");
        last
    };
    // Dense credit: one scoring call per g-step, a reward per token.
    let dense = train(
        "dense",
        "smoke-dense.yaml",
        &["--set", "training.adversarial.epochs=2"],
    );
    for key in ["mean_reward", "d_loss", "nll_oracle"] {
        assert!(
            dense[key].as_f64().is_some_and(f64::is_finite),
            "{key} in {dense}"
        );
    }
    // Rollouts: the row's logit (its last position's) rewards each prefix.
    let rollouts = train("rollouts", "smoke.yaml", &[]);
    assert!(
        rollouts["mean_reward"]
            .as_f64()
            .is_some_and(|r| (0.0..=1.0).contains(&r)),
        "{rollouts}"
    );
    // Gumbel-softmax gradients through the relaxed path: no rewards.
    let gumbel = train(
        "gumbel",
        "smoke-gumbel.yaml",
        &[
            "--set",
            "training.mle.epochs=1",
            "--set",
            "training.adversarial.epochs=2",
        ],
    );
    assert!(
        gumbel["g_loss"].as_f64().is_some_and(f64::is_finite),
        "{gumbel}"
    );
    assert!(gumbel["mean_reward"].is_null(), "{gumbel}");
}

/// Sections 3 and 4 of docs/writing-a-plugin.md show the example crates'
/// code as it is, so the guide's code is what the tests above build and run.
#[test]
fn the_guides_kit_code_is_the_example_crates() {
    let root = agon_integration_tests::workspace_root();
    let guide = std::fs::read_to_string(root.join("docs/writing-a-plugin.md")).unwrap();
    for (example, files) in [
        (
            "mean-pool-discriminator",
            &["src/lib.rs", "src/tests.rs", "Cargo.toml"][..],
        ),
        (
            "gru-lm-generator",
            &["src/lib.rs", "src/tests.rs", "Cargo.toml"],
        ),
        ("gru-seq2seq-generator", &["src/lib.rs"]),
        ("pair-pool-discriminator", &["src/lib.rs"]),
        ("causal-conv-discriminator", &["src/lib.rs"]),
    ] {
        for file in files {
            let fence = match file.ends_with(".toml") {
                true => "```toml\n",
                false => "```rust\n",
            };
            let path = root.join("docs/examples").join(example).join(file);
            let code = std::fs::read_to_string(path).unwrap();
            let block = format!("{fence}{code}```");
            assert!(
                guide.contains(&block),
                "docs/writing-a-plugin.md must show docs/examples/{example}/{file} verbatim in a {fence:?} block"
            );
        }
    }
}

/// The guide's `discriminator_config!` block is the macro's first rustdoc
/// example, line for line, so `cargo test --doc` compiles what it shows.
#[test]
fn the_guides_config_macro_block_is_the_macros_compiled_example() {
    let root = agon_integration_tests::workspace_root();
    let guide = std::fs::read_to_string(root.join("docs/writing-a-plugin.md")).unwrap();
    let start = guide
        .find("```rust\nagon_sdk::discriminator_config! {")
        .expect("the guide shows a discriminator_config! block");
    let block: Vec<&str> = guide[start..]
        .lines()
        .skip(1)
        .take_while(|line| *line != "```")
        .collect();
    let source =
        std::fs::read_to_string(root.join("sdk/src/kits/discriminator/config_macro.rs")).unwrap();
    let example: Vec<&str> = source
        .lines()
        .map(|line| line.trim_start())
        .skip_while(|line| *line != "/// ```")
        .skip(1)
        .map_while(|line| line.strip_prefix("/// ").or((line == "///").then_some("")))
        .take(block.len())
        .collect();
    assert_eq!(block, example, "docs/writing-a-plugin.md section 3");
}

/// `agon plugins new discriminator|generator|reward lab/x DIR` writes a crate
/// outside the workspace that builds against the SDK, passes its own tests
/// (the SDK's contract among them), loads and trains in a smoke run; with `--conditional`, a generator and a
/// discriminator that build and train together on a translation task; with
/// `--per-token`, a discriminator that trains under dense rewards (those
/// crates' tests are the guide's examples', which run in the workspace;
/// here they compile). A second `new` into the same directory is refused.
#[test]
fn a_crate_made_by_plugins_new_builds_passes_its_tests_and_trains() {
    let sandbox = Sandbox::new();
    let root = agon_integration_tests::workspace_root();
    let sdk = root.join("sdk");
    // The fixtures' target directory already holds the SDK with Candle
    // (built for the guide's examples), so each build is of the new crate alone.
    let target = fixtures_dir().parent().unwrap();
    let scaffold = |kind: &str, name: &str, form: Option<&str>, cargo: &[&[&str]]| {
        let crate_dir = sandbox.path().join(name);
        let full_name = format!("lab/{name}");
        let mut args = vec![
            "plugins",
            "new",
            kind,
            &full_name,
            crate_dir.to_str().unwrap(),
            "--sdk",
            sdk.to_str().unwrap(),
        ];
        args.extend(form);
        let written = sandbox.run(&args, &[]).success();
        assert!(written.contains(&format!("wrote lab/{name}")), "{written}");
        for args in cargo {
            let output = std::process::Command::new(env!("CARGO"))
                .args(*args)
                .args(["--offline", "--target-dir", target.to_str().unwrap()])
                .current_dir(&crate_dir)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{kind}: cargo {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let library = fixtures_dir().join(agon_integration_tests::library_file(
            &name.replace('-', "_"),
        ));
        install(&sandbox, &library, &format!("installed-{name}"))
    };
    for (kind, name, config) in [
        ("discriminator", "x-disc", "{embedding_dim: 8}"),
        ("generator", "x-gen", "{embedding_dim: 8}"),
        // Its tests include the SDK's reward contract.
        ("reward", "x-reward", "{power: 2.0}"),
    ] {
        let plugin_dir = scaffold(kind, name, None, &[&["test"], &["build"]]);
        let component = format!("{{plugin: lab/{name}@^0.1, config: {config}}}");
        let out = smoke_run_with(
            &sandbox,
            &[&plugin_dir],
            kind,
            &component,
            &format!("run-{name}"),
        );
        let plugins = std::fs::read_to_string(out.join("plugins.json")).unwrap();
        assert!(
            plugins.contains(&format!("lab/{name}@0.1.0:{name}")),
            "{plugins}"
        );
    }

    // The conditional pair: their tests are the guide's examples' (run in
    // the workspace), renamed; here they compile, and the crates build and
    // train together.
    let cargo: &[&[&str]] = &[&["test", "--no-run"], &["build"]];
    let generator = scaffold("generator", "x-seq2seq", Some("--conditional"), cargo);
    let discriminator = scaffold("discriminator", "x-pairs", Some("--conditional"), cargo);
    let out = sandbox.path().join("run-conditional");
    sandbox
        .run(
            &[
                "train",
                &config("smoke-conditional.yaml"),
                "--out",
                out.to_str().unwrap(),
                "--set",
                "generator={plugin: lab/x-seq2seq@^0.1, config: {embedding_dim: 8, hidden_dim: 16}}",
                "--set",
                "discriminator={plugin: lab/x-pairs@^0.1, config: {embedding_dim: 8}}",
                "--set",
                "training={batch_size: 32, mle: {epochs: 1}, discriminator_pretraining: {rounds: 1, epochs: 1}, adversarial: {epochs: 1, rollouts: 2}}",
            ],
            &[&generator, &discriminator],
        )
        .success();
    let plugins = std::fs::read_to_string(out.join("plugins.json")).unwrap();
    for component in ["lab/x-seq2seq@0.1.0:x-seq2seq", "lab/x-pairs@0.1.0:x-pairs"] {
        assert!(plugins.contains(component), "{component}: {plugins}");
    }

    // The per-token discriminator: dense per-token rewards.
    let per_token = scaffold("discriminator", "x-dense", Some("--per-token"), cargo);
    let out = sandbox.path().join("run-dense");
    sandbox
        .run(
            &[
                "train",
                &config("smoke-dense.yaml"),
                "--out",
                out.to_str().unwrap(),
                "--set",
                "discriminator={plugin: lab/x-dense@^0.1, config: {embedding_dim: 8}}",
                "--set",
                "training.adversarial.epochs=2",
            ],
            &[&per_token],
        )
        .success();
    let plugins = std::fs::read_to_string(out.join("plugins.json")).unwrap();
    assert!(plugins.contains("lab/x-dense@0.1.0:x-dense"), "{plugins}");

    let refused = sandbox
        .run(
            &[
                "plugins",
                "new",
                "reward",
                "lab/x-disc",
                sandbox.path().join("x-disc").to_str().unwrap(),
            ],
            &[],
        )
        .clean_failure();
    assert!(refused.contains("already exists"), "{refused}");
}

/// `agon plugins new` refuses an `--sdk` that is not agon's sdk/ directory,
/// a conditional reward and a per-token one, naming the fix, and writes
/// nothing.
#[test]
fn plugins_new_refuses_a_directory_that_is_not_the_sdk() {
    let sandbox = Sandbox::new();
    let crate_dir = sandbox.path().join("lab-y");
    let refused_reward = |sdk: &Path, extra: &[&str]| {
        let mut args = vec![
            "plugins",
            "new",
            "reward",
            "lab/y",
            crate_dir.to_str().unwrap(),
            "--sdk",
            sdk.to_str().unwrap(),
        ];
        args.extend(extra);
        let refused = sandbox.run(&args, &[]).clean_failure();
        assert!(!crate_dir.exists());
        refused
    };
    let refused = refused_reward(sandbox.path(), &[]);
    assert!(
        refused.contains("not agon's sdk/ directory") && refused.contains("give the path of sdk/"),
        "{refused}"
    );
    // A reward has no conditional form (it gets the sources anyway).
    let sdk = agon_integration_tests::workspace_root().join("sdk");
    let refused = refused_reward(&sdk, &["--conditional"]);
    assert!(
        refused.contains("RewardInput::sources") && refused.contains("without --conditional"),
        "{refused}"
    );
    // Per-token scores are a discriminator's.
    let refused = refused_reward(&sdk, &["--per-token"]);
    assert!(
        refused.contains("new discriminator NAMESPACE/NAME --per-token"),
        "{refused}"
    );
    // One form at a time: a usage error (clap's exit code 2).
    let both = sandbox.run(
        &[
            "plugins",
            "new",
            "discriminator",
            "lab/y",
            crate_dir.to_str().unwrap(),
            "--per-token",
            "--conditional",
        ],
        &[],
    );
    assert_eq!(both.0.status.code(), Some(2), "{:?}", both.0);
    assert!(
        both.stderr().contains("cannot be used with") && !crate_dir.exists(),
        "{}",
        both.stderr()
    );
    // Run from inside another agon checkout, this agon says which SDK the
    // crate gets and how to get the other.
    let other = sandbox.path().join("other-agon");
    std::fs::create_dir_all(other.join("sdk")).unwrap();
    std::fs::write(
        other.join("sdk/Cargo.toml"),
        "[package]\nname = \"agon-sdk\"\n",
    )
    .unwrap();
    let mut inside = sandbox.agon();
    inside
        .current_dir(&other)
        .args(["plugins", "new", "reward", "lab/z"]);
    let written = agon_integration_tests::Run(inside.output().unwrap());
    written.success();
    let other_sdk = other.join("sdk").canonicalize().unwrap();
    assert!(
        written.stderr().contains("you are in the agon checkout of")
            && written
                .stderr()
                .contains(&format!("pass --sdk {}", other_sdk.display())),
        "{}",
        written.stderr()
    );
    assert!(
        written
            .stderr()
            .contains("or run this checkout's own target/release/agon"),
        "{}",
        written.stderr()
    );
    // The same agon copied into that checkout does not suggest itself.
    let copied = other.join("target/release/agon");
    std::fs::create_dir_all(copied.parent().unwrap()).unwrap();
    std::fs::copy(inside.get_program(), &copied).unwrap();
    let mut copy = std::process::Command::new(&copied);
    copy.current_dir(&other)
        .env("AGON_HOME", sandbox.home())
        .args(["plugins", "new", "reward", "lab/w"]);
    let written = agon_integration_tests::Run(copy.output().unwrap());
    written.success();
    assert!(
        written
            .stderr()
            .contains("this agon was copied into this checkout: `cargo build --release` here builds one of its own")
            && !written.stderr().contains("or run this checkout's own"),
        "{}",
        written.stderr()
    );
    let manifest = std::fs::read_to_string(other.join("z/Cargo.toml")).unwrap();
    let built_from = agon_integration_tests::workspace_root()
        .join("sdk")
        .canonicalize()
        .unwrap();
    assert!(
        manifest.contains(&format!("path = {:?}", built_from.display().to_string())),
        "{manifest}"
    );
}

/// RelGAN's discriminator reads ids as well as relaxed rows, so the
/// policy-gradient algorithms can use it: it trains through every phase of
/// a SeqGAN smoke run, and its accuracy is logged.
#[test]
fn relgans_discriminator_trains_under_the_policy_gradient() {
    let sandbox = Sandbox::new();
    let out = smoke_run_with(
        &sandbox,
        &[],
        "discriminator",
        "{plugin: relgan-lab/relgan@^0.1, config: {embedding_dim: 8, representations: 4, filters_per_size: 8, hidden_dim: 8}}",
        "run",
    );
    let rows = metrics_rows(&out);
    let accuracy = rows
        .iter()
        .rfind(|row| row["phase"] == "adversarial")
        .and_then(|row| row["d_accuracy"].as_f64())
        .unwrap_or_else(|| panic!("no adversarial D accuracy: {rows:?}"));
    assert!((0.0..=1.0).contains(&accuracy), "{accuracy}");
    assert!(out
        .join("checkpoints/latest/discriminator/relgan-discriminator.safetensors")
        .is_file());
}
