//! `agon bench`: the peer's workloads run through the real plugins, reported
//! in the peer's JSON format, with medians of repeated runs.

use agon_integration_tests::{workspace_root, Sandbox};

/// The smoke config's components with a small vocabulary and length, so the
/// debug build runs every workload in seconds.
fn bench(sandbox: &Sandbox, extra: &[&str]) -> agon_integration_tests::Run {
    let config = workspace_root().join("configs/smoke.yaml");
    let mut args = vec![
        "bench",
        "--config",
        config.to_str().unwrap(),
        "--set",
        "task.vocab_size=64",
        "--set",
        "task.max_len=8",
    ];
    args.extend_from_slice(extra);
    sandbox.run(&args, &[])
}

#[test]
fn every_workload_reports_the_peers_fields_and_the_median_run() {
    let sandbox = Sandbox::new();
    let out = bench(&sandbox, &["--repeat", "3", "--json", "--threads", "1"]).success();
    let (commit, machine) = version_lines(&sandbox);
    let results: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let names: Vec<&str> = results
        .iter()
        .map(|r| r["workload"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "mle",
            "sample",
            "dtrain",
            "rollout-batched",
            "rollout-naive"
        ]
    );
    // The peer's shapes: 9,984 sequences in batches of 64; 16 rollouts.
    let expected_units = [
        (156 * 64 * 8, "tokens"),
        (9984, "sequences"),
        (9984 * 2, "sequences"),
        (64 * 8 * 16, "rewards"),
        (64 * 8 * 16, "rewards"),
    ];
    for (result, (units, unit)) in results.iter().zip(expected_units) {
        let name = result["workload"].as_str().unwrap();
        assert_eq!(result["units"].as_u64(), Some(units), "{name}");
        assert_eq!(result["unit"].as_str(), Some(unit), "{name}");
        let runs: Vec<f64> = result["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(runs.len(), 3, "{name}");
        let mut sorted = runs.clone();
        sorted.sort_by(f64::total_cmp);
        let seconds = result["seconds"].as_f64().unwrap();
        assert_eq!(seconds, sorted[1], "{name}: the median run");
        let per_second = result["per_second"].as_f64().unwrap();
        assert!(
            (per_second - units as f64 / seconds).abs() < 1e-6 * per_second,
            "{name}"
        );
        assert!(result["peak_rss_mib"].as_f64().unwrap() > 1.0, "{name}");
        assert!(result["impl"].as_str().unwrap().starts_with("agon-"));
        // Which build on which machine: the one `agon --version` names.
        assert_eq!(result["machine"].as_str(), Some(machine.as_str()), "{name}");
        assert_eq!(result["commit"].as_str(), Some(commit.as_str()), "{name}");
    }
}

/// `agon --version`'s commit and machine lines.
fn version_lines(sandbox: &Sandbox) -> (String, String) {
    let version = sandbox.run(&["--version"], &[]).success();
    let line = |key: &str| {
        version
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in {version}"))
            .to_string()
    };
    (line("commit: "), line("machine: "))
}

#[test]
fn a_table_by_default_and_a_subset_of_workloads() {
    let sandbox = Sandbox::new();
    let out = bench(
        &sandbox,
        &["--workloads", "sample", "--repeat", "1", "--threads", "2"],
    )
    .success();
    let (commit, machine) = version_lines(&sandbox);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("agon ")
            && lines[0].ends_with(&format!("(commit {commit}) on {machine}, 2 thread(s)")),
        "{out}"
    );
    assert!(lines[1].starts_with("workload"), "{out}");
    assert!(
        lines[2].starts_with("sample") && lines[2].contains("9984 sequences"),
        "{out}"
    );
}

#[test]
fn bad_arguments_are_clear_errors() {
    let sandbox = Sandbox::new();
    let all = bench(&sandbox, &["--workloads", "mle,nope"]).clean_failure();
    assert!(
        all.contains("unknown workload `nope`") && all.contains("rollout-batched"),
        "{all}"
    );
    let all = sandbox
        .run(&["bench", "--config", "no/such.yaml"], &[])
        .clean_failure();
    assert!(all.contains("no/such.yaml"), "{all}");
}

/// `dtrain-gru` runs only when named, trains rnn-lab/gru-discriminator
/// (whatever the config's discriminator) on the peer's 19,968 sequences.
#[test]
fn dtrain_gru_is_named_explicitly_and_trains_the_gru_discriminator() {
    let sandbox = Sandbox::new();
    let out = bench(
        &sandbox,
        &["--workloads", "dtrain-gru", "--repeat", "1", "--json"],
    )
    .success();
    let result: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(result["workload"], "dtrain-gru");
    assert_eq!(result["units"].as_u64(), Some(9984 * 2));
    assert!(result["per_second"].as_f64().unwrap() > 0.0);
    // `all` leaves it out (the first test); the list of names has it.
    let all = bench(&sandbox, &["--workloads", "nope"]).clean_failure();
    assert!(all.contains("dtrain-gru"), "{all}");
}

/// `dense-step` runs only when named: 50 ScratchGAN-style steps of 64
/// sequences with scratchgan-lab/lstm-discriminator's per-token scores
/// (whatever the config's discriminator).
#[test]
fn dense_step_is_named_explicitly_and_runs_fifty_steps_of_64() {
    let sandbox = Sandbox::new();
    let out = bench(
        &sandbox,
        &["--workloads", "dense-step", "--repeat", "1", "--json"],
    )
    .success();
    let result: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(result["workload"], "dense-step");
    assert_eq!(result["units"].as_u64(), Some(50 * 64));
    assert!(result["per_second"].as_f64().unwrap() > 0.0);
    let all = bench(&sandbox, &["--workloads", "nope"]).clean_failure();
    assert!(all.contains("dense-step"), "{all}");
}

/// `gumbel-step` runs only when named: 50 RelGAN-style steps of 64
/// sequences through relgan-lab/relgan's relaxed methods, whatever the
/// config's generator and discriminator, with the discriminator's rows
/// whole (`--relaxed-chunk 0`, the default) or in chunks.
#[test]
fn gumbel_step_is_named_explicitly_and_runs_fifty_steps_of_64() {
    let sandbox = Sandbox::new();
    for chunk in ["0", "16"] {
        let out = bench(
            &sandbox,
            &[
                "--workloads",
                "gumbel-step",
                "--repeat",
                "1",
                "--json",
                "--relaxed-chunk",
                chunk,
            ],
        )
        .success();
        let result: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(result["workload"], "gumbel-step");
        assert_eq!(result["units"].as_u64(), Some(50 * 64));
        assert!(result["per_second"].as_f64().unwrap() > 0.0);
    }
    let all = bench(&sandbox, &["--workloads", "nope"]).clean_failure();
    assert!(all.contains("gumbel-step"), "{all}");
}

/// What a workload needs is asked of the config for the workloads named
/// only: the generator's workloads run on a config without a reward, the
/// rollout workloads are refused up front, naming what is missing.
#[test]
fn a_config_without_a_reward_benches_the_workloads_that_need_none() {
    let sandbox = Sandbox::new();
    let config = workspace_root().join("configs/smoke-gumbel.yaml");
    let args = |workloads: &'static str| {
        vec![
            "bench".to_string(),
            "--config".into(),
            config.to_str().unwrap().into(),
            "--set".into(),
            "task.vocab_size=64".into(),
            "--set".into(),
            "task.max_len=8".into(),
            "--repeat".into(),
            "1".into(),
            "--workloads".into(),
            workloads.into(),
        ]
    };
    let run = |workloads| {
        let args = args(workloads);
        sandbox.run(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[])
    };
    let table = run("sample").success();
    assert!(table.contains("sample"), "{table}");
    let refused = run("sample,rollout-naive").clean_failure();
    assert!(
        refused.contains("workload(s) rollout-naive score rollouts with the config's reward, and it has no `reward:` section"),
        "{refused}"
    );
    assert!(
        !refused.contains("agon bench: sample"),
        "ran before refusing: {refused}"
    );
}
