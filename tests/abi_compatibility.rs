//! A plugin binary built against an earlier agon-sdk still loads and trains
//! (docs/abi-compatibility.md): `tests/fixtures/abi-1-0-generator` is built
//! against agon-sdk as it was at ABI 1.0 (`tests/fixtures/vendor/`, a
//! snapshot never edited), outside the workspace. This host trains it with
//! SeqGAN's algorithm through every phase and evaluates it. A change to
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
