//! A plugin binary built against an earlier agon-sdk still loads and trains
//! (docs/abi-compatibility.md): `tests/fixtures/abi-1-0-generator` is built
//! against agon-sdk as it was at ABI 1.0, `tests/fixtures/abi-1-1-discriminator`
//! against its boundary at ABI 1.1 and `tests/fixtures/abi-1-2-discriminator`
//! against its boundary at ABI 1.2 (`tests/fixtures/vendor/`, snapshots
//! never edited), outside the workspace. This host trains each with
//! SeqGAN's algorithm through every phase (and evaluates the generator);
//! `algorithm: gumbel`, which needs ABI 1.2's relaxed methods, refuses the
//! 1.1 discriminator by name and trains the 1.2 one through them (ABI
//! 1.3's paired calls fall back to them). A change to
//! the SDK that breaks ABI 1.0 plugins fails here; the host checks such a
//! library against the ABI 1.0 interface it keeps (`agon_sdk::abi_1_0`),
//! since abi_stable refuses a library with fewer vtable entries than the
//! host's (docs/abi-compatibility.md).

use agon_integration_tests::{fixtures_dir, trajectory, Sandbox};

fn eval_json(run: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run.join("eval/eval.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn an_abi_1_0_generator_loads_trains_and_evaluates_under_this_host() {
    let sandbox = Sandbox::new();
    let plugins = [fixtures_dir()];
    sandbox.run(&["plugins", "scan"], &plugins).success();
    let listing = sandbox.run(&["plugins", "list"], &plugins).success();
    assert!(
        listing.contains("agon-testing/abi-1-0-generator 0.1.0  devices: cpu  ABI 1.0"),
        "{listing}"
    );

    let out = sandbox.path().join("unigram-run");
    sandbox
        .run(
            &[
                "train",
                "configs/smoke.yaml",
                "--out",
                out.to_str().unwrap(),
                "--set",
                "generator.plugin=agon-testing/abi-1-0-generator",
            ],
            &plugins,
        )
        .success();
    let rows = trajectory(&out);
    let phases: Vec<&str> = rows.iter().map(|r| r["phase"].as_str().unwrap()).collect();
    for phase in ["mle", "discriminator-pretraining", "adversarial"] {
        assert!(phases.contains(&phase), "{phase} missing: {phases:?}");
    }
    let last = rows.last().unwrap();
    assert!(last["nll_oracle"].as_f64().unwrap().is_finite(), "{last}");
    // MLE taught the unigram model something: NLL-test fell below the
    // uniform distribution's ln 5000 = 8.517.
    let first_test = rows[0]["nll_test"].as_f64().unwrap();
    let trained_test = rows.iter().rfind(|r| r["phase"] == "mle").unwrap()["nll_test"]
        .as_f64()
        .unwrap();
    assert!(
        trained_test < first_test - 0.01,
        "{first_test} → {trained_test}"
    );

    // Evaluation reads it back from its checkpoint. Across temperatures, it
    // has no NLL-test at T: the ABI 1.1 method is missing from its vtable,
    // its library declares no capabilities, and eval says so.
    sandbox
        .run(
            &[
                "eval",
                out.to_str().unwrap(),
                "--samples",
                "64",
                "--temperatures",
                "0.8",
            ],
            &plugins,
        )
        .success();
    let evaluation = eval_json(&out);
    let metrics = &evaluation["models"][0]["metrics"];
    assert!(
        metrics["nll_oracle"].as_f64().unwrap().is_finite(),
        "{metrics}"
    );
    assert!(
        metrics["nll_oracle_t0.8"].as_f64().unwrap().is_finite(),
        "{metrics}"
    );
    assert!(metrics.get("nll_test_t0.8").is_none(), "{metrics}");
    let warnings = evaluation["warnings"].to_string();
    assert!(
        warnings.contains("does not declare the `tempered-log-likelihood` capability"),
        "{warnings}"
    );
}

/// The fixture's discriminator as a config override.
const ABI_1_1_DISCRIMINATOR: &str =
    "discriminator={plugin: agon-testing/abi-1-1-discriminator, component: unigram}";

#[test]
fn an_abi_1_1_discriminator_trains_under_seqgan_and_is_refused_by_gumbel_by_name() {
    let sandbox = Sandbox::new();
    let plugins = [fixtures_dir()];
    sandbox.run(&["plugins", "scan"], &plugins).success();
    let listing = sandbox.run(&["plugins", "list"], &plugins).success();
    assert!(
        listing.contains("agon-testing/abi-1-1-discriminator 0.1.0  devices: cpu  ABI 1.1"),
        "{listing}"
    );

    // SeqGAN's algorithm calls only methods ABI 1.1 had: the library loads
    // through the kept 1.1 interface and trains through every phase.
    let out = sandbox.path().join("seqgan-run");
    sandbox
        .run(
            &[
                "train",
                "configs/smoke.yaml",
                "--out",
                out.to_str().unwrap(),
                "--set",
                ABI_1_1_DISCRIMINATOR,
            ],
            &plugins,
        )
        .success();
    let rows = trajectory(&out);
    let last = rows.last().unwrap();
    assert_eq!(last["phase"], "adversarial", "{last}");
    // The counts learned something: D tells real from generated rows more
    // often than chance by the end.
    assert!(last["d_accuracy"].as_f64().unwrap() > 0.5, "{last}");

    // `algorithm: gumbel` needs relaxed rows (ABI 1.2): one message naming
    // the component and the capability, and no run directory.
    let refused = sandbox.path().join("gumbel-run");
    let message = sandbox
        .run(
            &[
                "train",
                "configs/smoke-gumbel.yaml",
                "--out",
                refused.to_str().unwrap(),
                "--set",
                ABI_1_1_DISCRIMINATOR,
            ],
            &plugins,
        )
        .clean_failure();
    assert!(
        message.contains("training.adversarial.algorithm is `gumbel`, but discriminator (agon-testing/abi-1-1-discriminator@0.1.0:unigram) does not score relaxed rows (the `relaxed-rows` capability of plugin ABI 1.2"),
        "{message}"
    );
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(
        !refused.exists(),
        "a refused run left {}",
        refused.display()
    );
}

/// The 1.2 fixture's discriminator as a config override (its whole section:
/// smoke-gumbel.yaml's RelGAN discriminator config is not for it).
const ABI_1_2_DISCRIMINATOR: &str =
    "discriminator={plugin: agon-testing/abi-1-2-discriminator, component: unigram-relaxed}";

#[test]
fn an_abi_1_2_discriminator_trains_under_gumbel_through_the_1_2_methods() {
    let sandbox = Sandbox::new();
    let plugins = [fixtures_dir()];
    sandbox.run(&["plugins", "scan"], &plugins).success();
    let listing = sandbox.run(&["plugins", "list"], &plugins).success();
    assert!(
        listing.contains("agon-testing/abi-1-2-discriminator 0.1.0  devices: cpu  ABI 1.2"),
        "{listing}"
    );

    // `algorithm: gumbel` scores, differentiates and trains the
    // discriminator with ABI 1.3's paired calls, which a library of 1.2
    // lacks: their defaults join the rows (real ones one-hot) and call its
    // 1.2 relaxed methods. No discriminator pretraining: only
    // `relaxed_train_step` can move its weights.
    let out = sandbox.path().join("gumbel-run");
    sandbox
        .run(
            &[
                "train",
                "configs/smoke-gumbel.yaml",
                "--out",
                out.to_str().unwrap(),
                "--set",
                ABI_1_2_DISCRIMINATOR,
                "--set",
                "training.adversarial.epochs=4",
                "--set",
                "training.discriminator_pretraining.rounds=0",
            ],
            &plugins,
        )
        .success();
    let rows = trajectory(&out);
    let adversarial: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["phase"] == "adversarial")
        .collect();
    assert_eq!(adversarial.len(), 2, "{rows:#?}");
    assert_eq!(rows.last().unwrap()["phase"], "adversarial");
    for row in &adversarial {
        assert!(row["g_loss"].as_f64().unwrap().is_finite(), "{row}");
        assert!(row["d_loss"].as_f64().unwrap().is_finite(), "{row}");
    }
    // Its weights start at zero: untrained, every logit is 0 and the
    // RSGAN loss of every step exactly ln 2. The relaxed steps moved them.
    let off_ln_2 = |row: &&serde_json::Value| {
        (row["d_loss"].as_f64().unwrap() - std::f64::consts::LN_2).abs() > 1e-9
    };
    assert!(
        adversarial.iter().any(off_ln_2),
        "d_loss stayed at ln 2: the relaxed train step never changed the weights: {rows:#?}"
    );
    let saved =
        std::fs::read_to_string(out.join("checkpoints/latest/discriminator/unigram-weights.txt"))
            .unwrap();
    let weights: Vec<f32> = saved
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(weights.len(), 5000);
    assert!(weights.iter().all(|w| w.is_finite()), "{saved}");
    assert!(
        weights.iter().any(|&w| w != 0.0),
        "the saved weights are still all zero"
    );

    // SeqGAN's algorithm, through the ids methods it has had since ABI 1.0.
    let seqgan = sandbox.path().join("seqgan-run");
    sandbox
        .run(
            &[
                "train",
                "configs/smoke.yaml",
                "--out",
                seqgan.to_str().unwrap(),
                "--set",
                ABI_1_2_DISCRIMINATOR,
            ],
            &plugins,
        )
        .success();
    let last = trajectory(&seqgan).pop().unwrap();
    assert_eq!(last["phase"], "adversarial", "{last}");
    assert!(last["d_loss"].as_f64().unwrap().is_finite(), "{last}");
}

/// Labs mix plugins built at different times: one process loads the ABI 1.0
/// generator, the ABI 1.1 discriminator and the bundled (current) reward,
/// each checked against the interface it was built with. abi_stable keeps
/// the prefix types it has checked in process-wide globals; the three
/// checks must not disturb one another.
#[test]
fn plugins_of_three_abi_minors_train_together_in_one_run() {
    let sandbox = Sandbox::new();
    let plugins = [fixtures_dir()];
    sandbox.run(&["plugins", "scan"], &plugins).success();
    let out = sandbox.path().join("mixed-run");
    sandbox
        .run(
            &[
                "train",
                "configs/smoke.yaml",
                "--out",
                out.to_str().unwrap(),
                "--set",
                "generator.plugin=agon-testing/abi-1-0-generator",
                "--set",
                ABI_1_1_DISCRIMINATOR,
            ],
            &plugins,
        )
        .success();
    let rows = trajectory(&out);
    let last = rows.last().unwrap();
    assert_eq!(last["phase"], "adversarial", "{last}");
    assert!(last["nll_oracle"].as_f64().unwrap().is_finite(), "{last}");
    assert!(last["d_accuracy"].as_f64().unwrap() > 0.5, "{last}");
}
