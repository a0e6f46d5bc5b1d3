//! The experiment loop: a sweep of configs × seeds on the local executor,
//! re-running it (finished cells skipped, stopped ones resumed), its
//! status, `agon compare` of it, and `agon eval` of oracle runs.

use std::path::PathBuf;

use agon_integration_tests::{config, trajectory, Sandbox};

/// The smoke config × 2 seeds × 2 values of one key, two at a time.
fn sweep_file(sandbox: &Sandbox, executor: &str) -> PathBuf {
    sandbox.write(
        "grid.yaml",
        &format!(
            "base: {}\ngrid:\n  training.adversarial.rollouts: [2, 4]\nseeds: [1, 2]\nexecutor: {executor}\n",
            config("smoke.yaml")
        ),
    )
}

#[test]
fn a_local_sweep_runs_every_cell_skips_finished_ones_and_compares() {
    let sandbox = Sandbox::new();
    let file = sweep_file(&sandbox, "{kind: local, jobs: 2}");
    let dir = sandbox.path().join("sweep");
    let run_sweep = || {
        sandbox
            .run(
                &[
                    "sweep",
                    file.to_str().unwrap(),
                    "--out",
                    dir.to_str().unwrap(),
                ],
                &[],
            )
            .success()
    };
    let out = run_sweep();
    assert!(out.contains("4 cells finished"), "{out}");
    let cells = sandbox.sweep_status(&dir);
    assert_eq!(cells.len(), 4);
    assert!(cells.iter().all(|c| c["state"] == "finished"), "{cells:?}");
    // A finished cell reports its training time and no phase left.
    assert!(
        cells
            .iter()
            .all(|c| c["elapsed_seconds"].as_f64().unwrap() > 0.0
                && c["phase_left_seconds"].is_null()),
        "{cells:?}"
    );

    // Each cell is the run `agon train` gives for its settings and seed.
    let cell = dir.join("runs/003_rollouts-4_seed-2");
    let alone = sandbox.train(
        &config("smoke.yaml"),
        "alone",
        &[
            "--set",
            "training.adversarial.rollouts=4",
            "--set",
            "seed=2",
        ],
    );
    assert_eq!(trajectory(&cell), trajectory(&alone));

    // A stopped cell resumes; finished cells are skipped.
    std::fs::remove_dir_all(dir.join("runs/000_rollouts-2_seed-1/checkpoints/latest")).unwrap();
    let reference = trajectory(&dir.join("runs/001_rollouts-2_seed-2"));
    std::fs::remove_dir_all(dir.join("runs/001_rollouts-2_seed-2")).unwrap();
    let states: Vec<String> = sandbox
        .sweep_status(&dir)
        .iter()
        .map(|c| c["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states[2..], ["finished", "finished"], "{states:?}");
    assert_ne!(states[1], "finished");
    let again = run_sweep();
    assert!(again.contains("2 finished earlier; running 2"), "{again}");
    assert_eq!(
        trajectory(&dir.join("runs/001_rollouts-2_seed-2")),
        reference
    );

    // A different sweep into the same directory is refused.
    let other = sandbox.write(
        "other.yaml",
        &format!("base: {}\nseeds: [9]\n", config("smoke.yaml")),
    );
    let refused = sandbox
        .run(
            &[
                "sweep",
                other.to_str().unwrap(),
                "--out",
                dir.to_str().unwrap(),
            ],
            &[],
        )
        .clean_failure();
    assert!(
        refused.contains("holds another sweep") && refused.contains("rm -r"),
        "{refused}"
    );

    // The first group's runs are evaluated across temperatures; compare
    // pools their sweeps.
    for cell in ["000_rollouts-2_seed-1", "001_rollouts-2_seed-2"] {
        let run = dir.join("runs").join(cell);
        sandbox
            .run(
                &[
                    "eval",
                    run.to_str().unwrap(),
                    "--samples",
                    "64",
                    "--temperatures",
                    "0.8",
                ],
                &[],
            )
            .success();
    }

    // One run of the second group is evaluated the same way (its seed's
    // samples pair with the first group's); the other is not.
    let paired_run = dir.join("runs").join("002_rollouts-4_seed-1");
    sandbox
        .run(
            &[
                "eval",
                paired_run.to_str().unwrap(),
                "--samples",
                "64",
                "--temperatures",
                "0.8",
            ],
            &[],
        )
        .success();

    // compare: two groups of two seeds, labelled by the key that differs.
    let report = sandbox
        .run(&["compare", dir.to_str().unwrap(), "--json"], &[])
        .success();
    let comparison: serde_json::Value = serde_json::from_str(&report).unwrap();
    let groups = comparison["groups"].as_array().unwrap();
    let labels: Vec<&str> = groups
        .iter()
        .map(|g| g["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "training.adversarial.rollouts=2",
            "training.adversarial.rollouts=4"
        ]
    );
    assert_eq!(groups[1]["seeds"], serde_json::json!([1, 2]));
    assert_eq!(comparison["one_seed_groups"], serde_json::json!([]));
    // A directory named twice counts once; a copy of a run (the same
    // config and seed) is refused, not pooled as another seed.
    let twice = sandbox
        .run(
            &[
                "compare",
                dir.to_str().unwrap(),
                dir.to_str().unwrap(),
                "--json",
            ],
            &[],
        )
        .success();
    let twice: serde_json::Value = serde_json::from_str(&twice).unwrap();
    assert_eq!(twice["groups"][1]["seeds"], serde_json::json!([1, 2]));
    let copy = sandbox.path().join("copy-of-a-run");
    let copied = std::process::Command::new("cp")
        .arg("-r")
        .arg(dir.join("runs/003_rollouts-4_seed-2"))
        .arg(&copy)
        .status()
        .unwrap();
    assert!(copied.success());
    let refused = sandbox
        .run(
            &["compare", dir.to_str().unwrap(), copy.to_str().unwrap()],
            &[],
        )
        .clean_failure();
    assert!(
        refused.contains("the same config with the same seed (2)"),
        "{refused}"
    );
    std::fs::remove_dir_all(&copy).unwrap();
    // A path that is not there is named as missing.
    let missing = sandbox.path().join("no-such-sweep");
    let refused = sandbox
        .run(&["compare", missing.to_str().unwrap()], &[])
        .clean_failure();
    assert!(
        refused.contains("no-such-sweep: no such run or sweep directory"),
        "{refused}"
    );
    // The fields scripts/results-tables.py reads (its own tests build
    // reports of this shape by hand).
    for key in ["commits", "machines", "differences", "matched_quality"] {
        assert!(comparison[key].is_array(), "{key}");
    }
    let evaluated = &comparison["evaluations"]["models"][0];
    assert!(evaluated["metrics"].is_object());
    assert!(evaluated["group"].is_string() && evaluated["model"].is_string());
    let group_difference = &comparison["differences"][0];
    assert!(
        group_difference["difference"].is_f64() && group_difference["low"].is_f64(),
        "a difference's fields beside its group's: {group_difference}"
    );
    let change = &comparison["evaluations"]["changes"][0];
    assert!(change["against"].is_string() && change["p_value"].is_f64());
    let matched = &comparison["matched_quality"][0];
    for key in [
        "group",
        "model",
        "baseline",
        "temperature",
        "runs",
        "outside",
    ] {
        assert!(!matched[key].is_null(), "matched_quality[].{key}");
    }
    assert!(
        matched.get("difference").is_some(),
        "matched_quality[].difference"
    );
    for key in [
        "label",
        "runs",
        "seeds",
        "curve",
        "phase_ends",
        "adversarial_change",
    ] {
        assert!(!groups[0][key].is_null(), "groups[].{key}");
    }
    let first_point = &groups[0]["curve"][0];
    for key in ["phase", "epoch", "global_epoch"] {
        assert!(!first_point[0][key].is_null(), "curve point {key}");
    }
    assert!(first_point[1]["nll_oracle"]["mean"].is_f64());
    // The end-of-run NLL-oracle of the second group is the mean of its two
    // runs' last rows, with an interval around it.
    let ends: Vec<f64> = ["002_rollouts-4_seed-1", "003_rollouts-4_seed-2"]
        .iter()
        .map(|c| {
            let rows = trajectory(&dir.join("runs").join(c));
            rows.last().unwrap()["nll_oracle"].as_f64().unwrap()
        })
        .collect();
    let adversarial_end = groups[1]["phase_ends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p[0] == "adversarial")
        .unwrap()[1]["nll_oracle"]
        .clone();
    let mean = (ends[0] + ends[1]) / 2.0;
    assert!((adversarial_end["mean"].as_f64().unwrap() - mean).abs() < 1e-12);
    assert!(adversarial_end["low"].as_f64().unwrap() < mean);
    assert_eq!(adversarial_end["n"], 2);
    // Paired over the shared seeds, with the adversarial change per group.
    let difference = &comparison["differences"][0];
    assert_eq!(difference["test"], "paired t");
    assert!(groups[0]["adversarial_change"]["nll_oracle"]["p_value"]
        .as_f64()
        .is_some());
    let points = comparison["quality_diversity"].as_array().unwrap();
    assert_eq!(
        points.len(),
        8,
        "mle and final of each group at the swept temperature and eval's own (1): {points:?}"
    );
    for point in points {
        // Two seeds of the first group, one evaluated run of the second.
        let n = match point["group"].as_str().unwrap() {
            "training.adversarial.rollouts=2" => 2,
            _ => 1,
        };
        assert_eq!(point["quality"]["n"], n, "{point}");
        assert_eq!(point["diversity"]["n"], n, "NLL-test at each temperature");
        let t = point["temperature"].as_f64().unwrap();
        assert!((t - 0.8).abs() < 1e-6 || t == 1.0, "{point}");
    }
    // NLL-oracle at equal NLL-test, recomputed from the runs' eval.json:
    // the final model's point against the mle curve through T = 0.8 and 1.
    let curve_point = |metrics: &serde_json::Value, t: &str| -> (f64, f64) {
        let key = |m: &str| match t {
            "1" => m.to_string(),
            t => format!("{m}_t{t}"),
        };
        (
            metrics[key("nll_test")].as_f64().unwrap(),
            metrics[key("nll_oracle")].as_f64().unwrap(),
        )
    };
    for t in ["0.8", "1"] {
        let mut differences = Vec::new();
        let mut outside = 0;
        for cell in ["000_rollouts-2_seed-1", "001_rollouts-2_seed-2"] {
            let file = dir.join("runs").join(cell).join("eval/eval.json");
            let eval: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
            let metrics = |model: &str| {
                eval["models"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|m| m["label"] == format!("{cell}/{model}"))
                    .unwrap()["metrics"]
                    .clone()
            };
            let (mle, fin) = (metrics("mle"), metrics("final"));
            let (mut a, mut b) = (curve_point(&mle, "0.8"), curve_point(&mle, "1"));
            if a.0 > b.0 {
                std::mem::swap(&mut a, &mut b);
            }
            let (x, y) = curve_point(&fin, t);
            if x < a.0 || x > b.0 {
                outside += 1;
            } else {
                differences.push(y - (a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0)));
            }
        }
        let matched = comparison["matched_quality"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| {
                m["group"] == "training.adversarial.rollouts=2"
                    && (m["temperature"].as_f64().unwrap() - t.parse::<f64>().unwrap()).abs() < 1e-6
            })
            .unwrap_or_else(|| panic!("{}", comparison["matched_quality"]));
        assert_eq!(matched["baseline"], "mle");
        assert_eq!(matched["outside"], outside, "{matched}");
        assert_eq!(matched["runs"], differences.len(), "{matched}");
        if differences.len() == 2 {
            let mean = (differences[0] + differences[1]) / 2.0;
            let got = matched["difference"]["difference"].as_f64().unwrap();
            assert!((got - mean).abs() < 1e-9, "{got} vs {mean}");
        }
    }
    // The second group's evaluated run against the first group's mle curve
    // pooled over its two seeds: one run, inside or outside the curve.
    let across: Vec<&serde_json::Value> = comparison["matched_quality"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["group"] == "training.adversarial.rollouts=4" && m["baseline"] != "mle")
        .collect();
    assert!(!across.is_empty(), "{}", comparison["matched_quality"]);
    for m in across {
        assert_eq!(
            m["baseline"],
            "training.adversarial.rollouts=2 / mle (pooled over its seeds)"
        );
        assert_eq!(
            m["runs"].as_u64().unwrap() + m["outside"].as_u64().unwrap(),
            1,
            "{m}"
        );
    }
    // The evaluations' tables: each evaluated model's metric pooled over
    // seeds, and final − mle paired within the runs.
    let evaluated = |cell: &str, model: &str| -> f64 {
        let file = dir.join("runs").join(cell).join("eval/eval.json");
        let eval: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        eval["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["label"] == format!("{cell}/{model}"))
            .unwrap()["metrics"]["nll_oracle"]
            .as_f64()
            .unwrap()
    };
    let cells = ["000_rollouts-2_seed-1", "001_rollouts-2_seed-2"];
    let evaluations = &comparison["evaluations"];
    let final_model = evaluations["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["group"] == "training.adversarial.rollouts=2" && m["model"] == "final")
        .unwrap_or_else(|| panic!("{evaluations}"));
    let pooled = (evaluated(cells[0], "final") + evaluated(cells[1], "final")) / 2.0;
    assert_eq!(final_model["metrics"]["nll_oracle"]["n"], 2);
    assert!(
        (final_model["metrics"]["nll_oracle"]["mean"]
            .as_f64()
            .unwrap()
            - pooled)
            .abs()
            < 1e-12
    );
    let change = evaluations["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["metric"] == "nll_oracle")
        .unwrap_or_else(|| panic!("{evaluations}"));
    let expected_change = cells
        .iter()
        .map(|c| evaluated(c, "final") - evaluated(c, "mle"))
        .sum::<f64>()
        / 2.0;
    assert_eq!(change["group"], "training.adversarial.rollouts=2");
    assert!((change["difference"].as_f64().unwrap() - expected_change).abs() < 1e-12);
    // The second group has one evaluated run: nothing to test it with.
    assert!(evaluations["against_baseline"]
        .as_array()
        .unwrap()
        .is_empty());

    // Per-sample paired test: seed 1's 64 samples of each group, the mean
    // of the per-sample differences of the two per_sample.json files.
    let per_sample = |cell: &str| -> Vec<f64> {
        let file = dir.join("runs").join(cell).join("eval/per_sample.json");
        let scores: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        scores["models"][format!("{cell}/final")]["nll_oracle"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let (base, other) = (
        per_sample("000_rollouts-2_seed-1"),
        per_sample("002_rollouts-4_seed-1"),
    );
    assert_eq!((base.len(), other.len()), (64, 64));
    let expected = other.iter().zip(&base).map(|(o, b)| o - b).sum::<f64>() / 64.0;
    let tests = comparison["per_sample"].as_array().unwrap();
    let test = tests
        .iter()
        .find(|t| t["metric"] == "nll_oracle")
        .unwrap_or_else(|| panic!("{tests:?}"));
    assert_eq!(test["seeds"], serde_json::json!([1]));
    assert_eq!(test["test"]["pairs"], 64);
    assert!((test["test"]["mean_difference"].as_f64().unwrap() - expected).abs() < 1e-9);
    let notes = comparison["per_sample_notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("003_rollouts-4_seed-2 has not been evaluated (`agon eval")),
        "{notes:?}"
    );
    // Training time: the MLE epochs that would take as long as each run,
    // at its own MLE pace, from the runs' metrics.
    let matched = ["000_rollouts-2_seed-1", "001_rollouts-2_seed-2"]
        .iter()
        .map(|cell| {
            let metrics = dir.join("runs").join(cell).join("metrics.jsonl");
            let rows: Vec<serde_json::Value> = std::fs::read_to_string(metrics)
                .unwrap()
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect();
            let mle_end = rows.iter().rev().find(|r| r["phase"] == "mle").unwrap();
            let elapsed = |r: &serde_json::Value| r["elapsed_seconds"].as_f64().unwrap();
            mle_end["epoch"].as_f64().unwrap() * elapsed(rows.last().unwrap()) / elapsed(mle_end)
        })
        .sum::<f64>()
        / 2.0;
    assert_eq!(
        comparison["groups"][0]["training_time"]["matched_mle_epochs"],
        matched.round() as u64
    );
    for file in [
        "compare.md",
        "compare.html",
        "learning_curves.svg",
        "learning_curves.png",
        "quality_diversity.svg",
    ] {
        assert!(dir.join("compare").join(file).is_file(), "{file}");
    }
    // The plot draws each group mean's 95% intervals (over the two seeds
    // of the second group; one run has none) as bars, and says so.
    let plot = std::fs::read_to_string(dir.join("compare/quality_diversity.svg")).unwrap();
    let has_interval = |e: &serde_json::Value| matches!((e["low"].as_f64(), e["high"].as_f64()), (Some(l), Some(h)) if l < h);
    let intervals: usize = comparison["quality_diversity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| has_interval(&p["quality"]) as usize + has_interval(&p["diversity"]) as usize)
        .sum();
    assert_eq!(intervals, 8, "mle and final at two temperatures, both axes");
    assert_eq!(plot.matches("opacity=\"0.55\"").count(), intervals);
    assert!(plot.contains("bars: 95% intervals over seeds"));
    let markdown = std::fs::read_to_string(dir.join("compare/compare.md")).unwrap();
    assert!(
        markdown.contains("Quality against diversity across temperatures")
            && markdown.contains("nll_oracle against nll_test")
            && markdown.contains("| training.adversarial.rollouts=2 | final | 0.8 |")
            && markdown.contains("Per-sample paired tests")
            && markdown.contains("Evaluations (`agon eval`)")
            && markdown.contains("| training.adversarial.rollouts=4 | nll_oracle | 64 (1) |")
            // The phases' g_loss columns hold different losses: said so.
            && markdown.contains("`g_loss` is the loss each phase's generator steps minimised"),
        "{markdown}"
    );
    let html = std::fs::read_to_string(dir.join("compare/compare.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("training.adversarial.rollouts=4"));

    // Groups named on the command line; a wrong count lists the groups.
    let named = sandbox
        .run(
            &[
                "compare",
                dir.to_str().unwrap(),
                "--names",
                "two rollouts,four rollouts",
                "--out",
                sandbox.path().join("named").to_str().unwrap(),
                "--json",
            ],
            &[],
        )
        .success();
    let named: serde_json::Value = serde_json::from_str(&named).unwrap();
    assert_eq!(named["groups"][1]["label"], "four rollouts");
    assert_eq!(named["differences"][0]["baseline"], "two rollouts");
    let refused = sandbox
        .run(&["compare", dir.to_str().unwrap(), "--names", "one"], &[])
        .clean_failure();
    assert!(
        refused.contains("--names gives 1 name for 2 groups")
            && refused.contains("2. training.adversarial.rollouts=4 (2 runs)"),
        "{refused}"
    );
}

#[test]
fn bad_sweeps_are_refused_before_anything_is_written() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().join("never");
    // The message of a sweep file refused with nothing written.
    let refused = |sweep: &str| {
        let file = sandbox.write("bad.yaml", sweep);
        let message = sandbox
            .run(
                &[
                    "sweep",
                    file.to_str().unwrap(),
                    "--out",
                    dir.to_str().unwrap(),
                ],
                &[],
            )
            .clean_failure();
        assert!(!dir.exists());
        message
    };
    for (grid, needle) in [
        (
            "training.adversarial.rolouts: [2]",
            "did you mean `rollouts`?",
        ),
        ("training.batch_size: [many]", "expected a whole number"),
        // Checked by the plugin, as `agon train` checks it.
        (
            "discriminator.config.embeding_dim: [8]",
            "unknown field `embeding_dim`",
        ),
        // The data are read, as `agon train` reads them.
        (
            "task.train_data: [/nonexistent/train.txt]",
            "cannot read data file /nonexistent/train.txt",
        ),
        // A grid's mapping value is shown on one line.
        (
            "reward: [{plugin: agon/rewards@^0.1, component: nosuch}]",
            "reward={plugin: agon/rewards@^0.1, component: nosuch}",
        ),
    ] {
        let message = refused(&format!(
            "base: {}\ngrid:\n  {grid}\nseeds: [1]\n",
            config("smoke.yaml")
        ));
        assert!(
            message.contains(needle) && message.contains("bad.yaml"),
            "{message}"
        );
        // At the line of the grid key that fails, with the key.
        let key = grid.split(':').next().unwrap();
        assert!(
            message.contains(&format!("bad.yaml:3 (grid.{key}): cell 000_")),
            "{message}"
        );
    }
    // A fixed setting's line, under `set:`, when it alone fails so.
    let message = refused(&format!(
        "base: {}\nseeds: [1]\nset:\n  training.mle.epoch: 2\ngrid:\n  training.adversarial.rollouts: [2]\n",
        config("smoke.yaml")
    ));
    assert!(
        message.contains("bad.yaml:4 (set.training.mle.epoch): cell 000_rollouts-2_seed-1"),
        "{message}"
    );
    // A key below a labelled value: its line under the cell's label, in a
    // block or a key of the block's mapping.
    for (grid, place) in [
        (
            "  discriminator.config:\n    big:\n      embedding_dim: 16\n    small:\n      embeding_dim: 8\n",
            "bad.yaml:8 (grid.discriminator.config: small.embeding_dim): cell 001_",
        ),
        (
            "  discriminator:\n    cnn:\n      plugin: seqgan-lab/cnn-discriminator@^0.1\n      config:\n        embeding_dim: 8\n",
            "bad.yaml:8 (grid.discriminator: cnn.config.embeding_dim): cell 000_",
        ),
    ] {
        let message = refused(&format!(
            "base: {}\nseeds: [1]\ngrid:\n{grid}",
            config("smoke.yaml")
        ));
        assert!(message.contains(place), "{message}");
    }
}

/// A warning from the check of a sweep's settings names the setting it is
/// about.
#[test]
fn a_sweep_checks_warnings_name_their_setting() {
    let sandbox = Sandbox::new();
    let file = sandbox.write(
        "unused.yaml",
        &format!(
            "base: {}\nseeds: [1]\nset: {{training.mle.epochs: 1, training.adversarial.epochs: 1}}\ngrid:\n  training.adversarial.rollouts: [4, 8]\n",
            config("smoke-gumbel.yaml")
        ),
    );
    let dir = sandbox.path().join("sweep");
    let out = sandbox.run(
        &[
            "sweep",
            file.to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    out.success();
    for (cell, rollouts) in [("000_rollouts-4_seed-1", 4), ("001_rollouts-8_seed-1", 8)] {
        assert!(
            out.stderr().contains(&format!(
                "warning: {cell} (training.adversarial.rollouts={rollouts}): training.adversarial.rollouts is not used"
            )),
            "{}",
            out.stderr()
        );
    }
}

/// `--jobs` and `--threads` replace the sweep file's local executor
/// settings for one invocation; a Slurm sweep and a count of 0 are refused
/// before anything is written.
#[test]
fn a_local_sweeps_jobs_and_threads_are_set_on_the_command_line() {
    let sandbox = Sandbox::new();
    let file = sandbox.write(
        "one-job.yaml",
        &format!(
            "base: {}\nseeds: [1, 2]\nexecutor: {{kind: local, jobs: 1, threads: 2}}\n",
            config("smoke.yaml")
        ),
    );
    let dir = sandbox.path().join("sweep");
    let sweep = |extra: &[&str]| {
        let mut args = vec![
            "sweep",
            file.to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        sandbox.run(&args, &[])
    };
    for (extra, needle) in [
        (&["--jobs", "0"][..], "must be at least 1"),
        (&["--threads", "0"][..], "must be at least 1"),
        (&["--jobs", "two"][..], "give a whole number of at least 1"),
        (
            &["--set", "training.mle.epochs=2"][..],
            "put `KEY: VALUE` under `set:`",
        ),
    ] {
        let out = sweep(extra);
        assert!(!out.0.status.success(), "{extra:?} was taken");
        assert!(out.stderr().contains(needle), "{}", out.stderr());
        assert!(!dir.exists());
    }
    let out = sweep(&["--jobs", "2", "--threads", "1"]).success_all();
    assert!(
        out.contains("running 2 with 2 at a time, 1 thread(s) each"),
        "{out}"
    );
    assert!(out.contains("2 cells finished"), "{out}");
    // The sweep file itself is unchanged.
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("jobs: 1, threads: 2"));

    let slurm = sandbox.write(
        "slurm.yaml",
        &format!(
            "base: {}\nseeds: [1]\nexecutor: {{kind: slurm}}\n",
            config("smoke.yaml")
        ),
    );
    let never = sandbox.path().join("never");
    let message = sandbox
        .run(
            &[
                "sweep",
                slurm.to_str().unwrap(),
                "--out",
                never.to_str().unwrap(),
                "--jobs",
                "2",
            ],
            &[],
        )
        .clean_failure();
    assert!(
        message.contains("slurm.yaml") && message.contains("executor.max_running"),
        "{message}"
    );
    assert!(!never.exists());
}

/// `--progress-every N`: while its cells run, a sweep says every N seconds
/// where each running cell is; 0 silences it.
#[test]
fn a_sweep_reports_its_running_cells_progress_as_it_goes() {
    let sandbox = Sandbox::new();
    // Long enough (40 MLE epochs, several seconds) to be running at
    // several reports.
    let file = sandbox.write(
        "progress.yaml",
        &format!(
            "base: {}\nset: {{training.mle.epochs: 40, training.eval_every: 10}}\nseeds: [1]\nexecutor: {{kind: local, jobs: 1, threads: 1}}\n",
            config("smoke.yaml")
        ),
    );
    let sweep = |file: &std::path::Path, out: &str, every: &str| {
        let dir = sandbox.path().join(out);
        let args = [
            "sweep",
            file.to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
            "--progress-every",
            every,
        ];
        sandbox.run(&args, &[]).success_all()
    };
    let out = sweep(&file, "reported", "1");
    let reports: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("[0/1] running: 000_seed-1 "))
        .collect();
    assert!(!reports.is_empty(), "{out}");
    for report in &reports {
        // `mle 7/40`, `discriminator-pretraining 1/2`, `adversarial 2/4`,
        // with an estimate of the phase's remaining time once it has a pace.
        let progress = report.trim_start_matches("[0/1] running: 000_seed-1 ");
        if progress == "starting" {
            continue;
        }
        let (phase, rest) = progress.split_once(' ').unwrap();
        assert!(
            ["mle", "discriminator-pretraining", "adversarial"].contains(&phase),
            "{report}"
        );
        let (step, total) = rest.split(' ').next().unwrap().split_once('/').unwrap();
        assert!(
            step.parse::<usize>().unwrap() <= total.parse().unwrap(),
            "{report}"
        );
    }
    assert!(
        reports.iter().any(|r| !r.ends_with(" starting")),
        "a report from inside a phase: {out}"
    );
    // One a second at most: the cell's seconds, and one for the rounding.
    let seconds: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("[1/1] finished 000_seed-1 ("))
        .and_then(|rest| rest.strip_suffix(" s)"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(reports.len() <= seconds + 1, "{out}");
    // Silenced: the plain smoke config (a few seconds) is enough to see a
    // report that ignored the 0.
    let quiet = sandbox.write(
        "quiet.yaml",
        &format!(
            "base: {}\nseeds: [1]\nexecutor: {{kind: local, jobs: 1, threads: 1}}\n",
            config("smoke.yaml")
        ),
    );
    assert!(!sweep(&quiet, "silent", "0").contains("running: "));
}

/// A sweep directory none of whose cells started (its first attempt was
/// stopped at once) takes a changed sweep file: it starts again, once the
/// new cells pass the check. One with a started cell is refused.
#[test]
fn a_sweep_none_of_whose_cells_started_starts_again_with_new_cells() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().join("sweep");
    let sweep = |name: &str, grid: &str| {
        let file = sandbox.write(
            name,
            &format!(
                "base: {}\ngrid:\n  {grid}\nseeds: [1]\n",
                config("smoke.yaml")
            ),
        );
        sandbox.run(
            &[
                "sweep",
                file.to_str().unwrap(),
                "--out",
                dir.to_str().unwrap(),
            ],
            &[],
        )
    };
    sweep("first.yaml", "training.adversarial.rollouts: [2]").success();
    // `sweep status` given the sweep file, not the directory it ran in.
    let first = sandbox.path().join("first.yaml");
    let refused = sandbox
        .run(&["sweep", "status", first.to_str().unwrap()], &[])
        .clean_failure();
    assert!(
        refused.contains("first.yaml is a file, not a sweep directory"),
        "{refused}"
    );
    // As if stopped before its cell made a run directory.
    std::fs::remove_dir_all(dir.join("runs/000_rollouts-2_seed-1")).unwrap();
    std::fs::remove_dir_all(dir.join("status")).unwrap();
    // A bad new sweep file is refused and the old directory kept.
    let refused = sweep("bad.yaml", "training.adversarial.rolouts: [4]");
    assert!(refused.clean_failure().contains("did you mean `rollouts`?"));
    assert!(dir.join("manifest.json").exists());
    let again = sweep("second.yaml", "training.adversarial.rollouts: [4]");
    let out = again.success();
    assert!(
        again.stderr().contains("none of whose cells had started"),
        "{}",
        again.stderr()
    );
    assert!(out.contains("done: 1 cells finished"), "{out}");
    assert!(dir.join("runs/000_rollouts-4_seed-1").is_dir());
    // Now a cell has started: another sweep file is refused.
    let refused = sweep("third.yaml", "training.adversarial.rollouts: [8]").clean_failure();
    assert!(
        refused.contains("holds another sweep") && refused.contains("rm -r")
            && refused.contains("its cell 000_rollouts-4_seed-1 (training.adversarial.rollouts=4 seed=1) is not one that"),
        "{refused}"
    );
}

/// `agon compare` names a sweep's groups by the labels its sweep file
/// gives (`{mle-only: 0, seqgan: 1}`), as the cells are named, and says
/// that groups of one seed are not tested across seeds.
#[test]
fn compare_names_groups_by_the_sweep_files_labels() {
    let sandbox = Sandbox::new();
    let file = sandbox.write(
        "labelled.yaml",
        &format!(
            "base: {}\nset:\n  training.mle.epochs: 1\ngrid:\n  training.adversarial.epochs: {{mle-only: 0, seqgan: 1}}\n  discriminator: {{cnn: {{plugin: seqgan-lab/cnn-discriminator@^0.1}}, gru: {{plugin: rnn-lab/gru-discriminator@^0.1}}}}\n  training.adversarial.rollouts: [2]\nseeds: [1]\n",
            config("smoke.yaml")
        ),
    );
    let dir = sandbox.path().join("sweep");
    sandbox
        .run(
            &[
                "sweep",
                file.to_str().unwrap(),
                "--out",
                dir.to_str().unwrap(),
            ],
            &[],
        )
        .success();
    let seqgan_gru = dir.join("runs/003_epochs-seqgan_discriminator-gru_rollouts-2_seed-1");
    assert!(seqgan_gru.is_dir());
    // Commands that take a run directory say what to do with a sweep's.
    for (args, advice) in [
        (vec!["eval"], "for run in"),
        (vec!["sample"], "sample from one of its runs"),
        (
            vec!["train", "--resume"],
            "resume the sweep with `agon sweep SWEEP_FILE --out",
        ),
    ] {
        let mut args = args;
        args.push(dir.to_str().unwrap());
        let refused = sandbox.run(&args, &[]).clean_failure();
        assert!(
            refused.contains("is a sweep directory, not a run directory")
                && refused.contains(advice),
            "{args:?}: {refused}"
        );
    }
    let compared = sandbox.compare_json(&[&dir], "compare");
    let labels: Vec<&str> = compared["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["label"].as_str().unwrap())
        .collect();
    // Each labelled key by its label, a whole block (the discriminator's
    // plugin and the config keys its default sets) by one; `rollouts`
    // takes one value, so it does not tell the groups apart and is left
    // out.
    assert_eq!(
        labels,
        ["cnn mle-only", "gru mle-only", "cnn seqgan", "gru seqgan"],
        "{compared}"
    );
    assert_eq!(compared["one_seed_groups"].as_array().unwrap().len(), 4);
    // Runs given by their directories, outside the sweep, have no labels:
    // their values name them.
    let cnn_seqgan = dir.join("runs/002_epochs-seqgan_discriminator-cnn_rollouts-2_seed-1");
    let by_value = sandbox.compare_json(&[&cnn_seqgan, &seqgan_gru], "compare-runs");
    assert_eq!(
        by_value["groups"][1]["label"], "discriminator.plugin=rnn-lab/gru-discriminator@^0.1",
        "{by_value}"
    );
}

#[test]
fn eval_scores_oracle_runs_with_paired_tests() {
    let sandbox = Sandbox::new();
    let run = sandbox.train(&config("smoke.yaml"), "oracle", &[]);
    let out = sandbox
        .run(
            &[
                "eval",
                run.to_str().unwrap(),
                "--samples",
                "200",
                "--temperatures",
                "0.8,1",
                "--json",
            ],
            &[],
        )
        .success();
    let evaluation: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(evaluation["task"], "synthetic-oracle");
    let models = evaluation["models"].as_array().unwrap();
    assert_eq!(models.len(), 2, "the end of MLE and the final generator");
    for model in models {
        let metrics = &model["metrics"];
        for key in ["nll_oracle", "nll_test", "nll_oracle_t0.8", "nll_test_t0.8"] {
            let value = metrics[key].as_f64().unwrap();
            assert!(value > 5.0 && value < 12.0, "{key} = {value}");
        }
        // NLL-test at a temperature: the tempered likelihood (ABI 1.1) at
        // T = 1 is the plain one, and at 0.8 it differs.
        let plain = metrics["nll_test"].as_f64().unwrap();
        assert_eq!(metrics["nll_test_t1"].as_f64().unwrap(), plain, "{metrics}");
        let colder = metrics["nll_test_t0.8"].as_f64().unwrap();
        assert!((colder - plain).abs() > 1e-3, "{colder} vs {plain}");
    }
    assert!(
        evaluation["warnings"].as_array().unwrap().is_empty(),
        "{evaluation}"
    );
    // NLL-test of the final model is the training-time value (same
    // held-out set, deterministic).
    let rows = trajectory(&run);
    let trained = rows.last().unwrap()["nll_test"].as_f64().unwrap();
    let evaluated = models[1]["metrics"]["nll_test"].as_f64().unwrap();
    assert!(
        (trained - evaluated).abs() < 1e-9,
        "{trained} vs {evaluated}"
    );
    assert_eq!(evaluation["comparisons"][0]["metric"], "nll_oracle");
    // Across temperatures, the quality–coverage plot: NLL-oracle against
    // NLL-test of each model.
    let plot = std::fs::read_to_string(run.join("eval/quality_diversity.svg")).unwrap();
    assert!(
        plot.contains("NLL-oracle") && plot.contains("oracle/final"),
        "{plot}"
    );
    // The fields of the paired test that scripts/results-tables.py reads
    // (its own tests build eval.json of this shape by hand).
    let test = &evaluation["comparisons"][0]["test"];
    for key in ["mean_difference", "ci_low", "ci_high", "p_value"] {
        assert!(test[key].is_f64(), "{key}: {test}");
    }
    for key in ["pairs", "resamples"] {
        assert!(test[key].is_u64(), "{key}: {test}");
    }
    assert!(test["method"].is_string(), "{test}");

    // Two runs: each model against the first run's MLE model, and the second
    // run's final model against its own MLE model too.
    let other = sandbox.train(&config("smoke.yaml"), "other", &["--set", "seed=2"]);
    let out = sandbox
        .run(
            &[
                "eval",
                run.to_str().unwrap(),
                other.to_str().unwrap(),
                "--samples",
                "200",
                "--json",
            ],
            &[],
        )
        .success();
    let evaluation: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pairs: Vec<(&str, &str)> = evaluation["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["model"].as_str().unwrap(),
                c["baseline"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("oracle/final", "oracle/mle"),
            ("other/mle", "oracle/mle"),
            ("other/final", "oracle/mle"),
            ("other/final", "oracle/final"),
            ("other/final", "other/mle"),
        ]
    );
    let nll_oracle = |i: usize| {
        evaluation["models"][i]["metrics"]["nll_oracle"]
            .as_f64()
            .unwrap()
    };
    let finals = evaluation["comparisons"][3]["test"]["mean_difference"]
        .as_f64()
        .unwrap();
    assert!(
        (finals - (nll_oracle(3) - nll_oracle(1))).abs() < 1e-9,
        "other/final − oracle/final: {finals} against {} − {}",
        nll_oracle(3),
        nll_oracle(1)
    );
    let own = evaluation["comparisons"][4]["test"]["mean_difference"]
        .as_f64()
        .unwrap();
    assert!(
        (own - (nll_oracle(3) - nll_oracle(2))).abs() < 1e-9,
        "other/final − other/mle: {own} against {} − {}",
        nll_oracle(3),
        nll_oracle(2)
    );
}

/// The sweep files `scripts/regenerate-results.sh` runs, from its dry run.
fn sweeps_the_results_script_runs() -> std::collections::BTreeSet<String> {
    let root = agon_integration_tests::workspace_root();
    let out = std::process::Command::new("bash")
        .arg(root.join("scripts/regenerate-results.sh"))
        .args(["--dry-run", "all"])
        .output()
        .expect("bash runs the script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("agon sweep "))
        .map(|rest| rest.split_whitespace().next().unwrap().to_string())
        .collect()
}

/// `scripts/regenerate-results.sh` re-runs what docs/results.md quotes:
/// every sweep file a command block of the doc names is among the script's
/// sweeps, and each of those loads as a sweep file.
#[test]
fn the_results_script_runs_every_sweep_results_md_quotes() {
    let root = agon_integration_tests::workspace_root();
    let script = sweeps_the_results_script_runs();
    for file in &script {
        agon::sweep::SweepSpec::load(&root.join(file))
            .unwrap_or_else(|e| panic!("the results script's {file}: {e:#}"));
    }
    let doc = std::fs::read_to_string(root.join("docs/results.md")).unwrap();
    let mut in_block = false;
    let mut quoted = std::collections::BTreeSet::new();
    for line in doc.lines() {
        if line.starts_with("```") {
            in_block = line == "```sh";
            continue;
        }
        if !in_block || line.contains("git checkout") {
            continue;
        }
        for word in line.split_whitespace() {
            if word.starts_with("configs/sweeps/") && word.ends_with(".yaml") {
                quoted.insert(word.to_string());
            }
        }
    }
    assert!(quoted.len() >= 20, "{quoted:?}");
    let missing: Vec<_> = quoted.difference(&script).collect();
    assert!(
        missing.is_empty(),
        "docs/results.md quotes sweeps scripts/regenerate-results.sh does not run: {missing:?}"
    );
}

#[test]
fn the_results_script_names_its_sections_when_given_another() {
    let root = agon_integration_tests::workspace_root();
    let out = std::process::Command::new("bash")
        .arg(root.join("scripts/regenerate-results.sh"))
        .args(["--dry-run", "coco", "cocoa"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no section 'cocoa'") && stderr.contains("relgan-coco"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing runs before the check");
}

/// `--reports-only` runs a section's comparisons and nothing else: no
/// sweep, no evaluation, no commit recorded (`agon` here is a stand-in
/// that logs its arguments).
#[test]
fn the_results_script_remakes_only_the_reports_when_asked() {
    let root = agon_integration_tests::workspace_root();
    let sandbox = Sandbox::new();
    let log = sandbox.path().join("calls.log");
    let fake = sandbox.write(
        "fake-agon",
        &format!(
            "#!/bin/sh\necho \"$@\" >> {}\n[ \"$1\" = --version ] && echo 'machine: test'\nexit 0\n",
            log.display()
        ),
    );
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let results = sandbox.path().join("results");
    let script = |args: &[&str]| {
        let out = std::process::Command::new("bash")
            .arg(root.join("scripts/regenerate-results.sh"))
            .args(args)
            .env("AGON", &fake)
            .env("RESULTS_DIR", &results)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // A section run twice into one directory on one machine (the second
    // run resumes it): both go through.
    script(&["table1-rows"]);
    script(&["table1-rows"]);
    assert_eq!(
        std::fs::read_to_string(results.join("MACHINE")).unwrap(),
        "test\n"
    );
    let commits = std::fs::read_to_string(results.join("COMMIT")).unwrap();
    assert_eq!(commits.lines().count(), 2, "{commits}");
    std::fs::remove_file(&log).unwrap();
    std::fs::remove_file(results.join("MACHINE")).unwrap();
    std::fs::remove_file(results.join("COMMIT")).unwrap();
    script(&["--reports-only", "table1-rows", "coco"]);
    let calls = std::fs::read_to_string(&log).unwrap();
    let commands: Vec<&str> = calls
        .lines()
        .filter(|l| !l.starts_with("--version"))
        .collect();
    assert_eq!(commands.len(), 2, "{calls}");
    assert!(
        commands.iter().all(|c| c.starts_with("compare ")),
        "{calls}"
    );
    let reports = results.join("reports");
    assert!(commands[0].ends_with(&format!("--out {}", reports.join("table1-rows").display())));
    assert!(
        commands[1].contains("--names MLE only (104 epochs),SeqGAN"),
        "{calls}"
    );
    assert!(commands[1].ends_with(&format!("--out {}", reports.join("coco").display())));
    assert!(!results.join("COMMIT").exists() && !results.join("MACHINE").exists());
}

/// A run's config.yaml names the machine it ran on (the one `agon
/// --version` names), since runs are bit-identical only on one kind of
/// machine; a run resumed on another records it and says so once, and
/// `agon compare` lists the machines its runs came from.
#[test]
fn runs_record_their_machine_and_a_resume_on_another_is_noted() {
    let sandbox = Sandbox::new();
    let version = sandbox.run(&["--version"], &[]).success();
    let here = version
        .lines()
        .find_map(|line| line.strip_prefix("machine: "))
        .unwrap_or_else(|| panic!("{version}"))
        .to_string();
    let run = sandbox.train(&config("smoke.yaml"), "run", &["--stop-after", "1"]);
    let config_path = run.join("config.yaml");
    let saved = std::fs::read_to_string(&config_path).unwrap();
    let recorded: serde_json::Value = agon_sdk::yaml::from_str(&saved).unwrap();
    let machine = &recorded["written_by"]["machine"];
    assert_eq!(
        format!(
            "{} ({})",
            machine["cpu"].as_str().unwrap(),
            machine["instruction_set"].as_str().unwrap()
        ),
        here,
        "{saved}"
    );
    assert!(!saved.contains("resumed_on"), "{saved}");

    // Resumed on the same machine: nothing to say.
    let resume = |stop_after: &str| {
        sandbox.run(
            &[
                "train",
                "--resume",
                run.to_str().unwrap(),
                "--stop-after",
                stop_after,
            ],
            &[],
        )
    };
    let same = resume("1");
    same.success();
    assert!(!same.stderr().contains("resumes on"), "{}", same.stderr());
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), saved);

    // As if it had started on another machine.
    let cpu_line = format!("    cpu: {}", machine["cpu"].as_str().unwrap());
    assert!(saved.contains(&cpu_line), "{saved}");
    std::fs::write(
        &config_path,
        saved.replace(&cpu_line, "    cpu: Test CPU 9000"),
    )
    .unwrap();
    let moved = resume("1");
    moved.success();
    let started = format!(
        "was started on Test CPU 9000 ({}) and resumes on {here}",
        machine["instruction_set"].as_str().unwrap()
    );
    assert!(moved.stderr().contains(&started), "{}", moved.stderr());
    let updated: serde_json::Value =
        agon_sdk::yaml::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    assert_eq!(
        updated["written_by"]["resumed_on"],
        serde_json::json!([machine])
    );
    // Said once: a second resume here adds nothing.
    let again = resume("100");
    again.success();
    assert!(!again.stderr().contains("resumes on"), "{}", again.stderr());
    let finished: serde_json::Value =
        agon_sdk::yaml::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    assert_eq!(
        finished["written_by"]["resumed_on"],
        updated["written_by"]["resumed_on"]
    );

    // compare pools it with a run made here (the machine is not a setting)
    // and names both machines.
    let other = sandbox.train(&config("smoke.yaml"), "other", &["--set", "seed=8"]);
    let comparison = sandbox.compare_json(&[&run, &other], "compared");
    assert_eq!(
        comparison["groups"].as_array().unwrap().len(),
        1,
        "{comparison}"
    );
    let mut machines = vec![
        format!(
            "Test CPU 9000 ({})",
            machine["instruction_set"].as_str().unwrap()
        ),
        here.clone(),
    ];
    machines.sort();
    assert_eq!(comparison["machines"], serde_json::json!(machines));
    let markdown = std::fs::read_to_string(sandbox.path().join("compared/compare.md")).unwrap();
    assert!(
        markdown.contains(&format!("on: {}", machines.join("; ")))
            && markdown.contains("more than one kind of machine"),
        "{markdown}"
    );
}

/// `scripts/regenerate-results.sh` keeps one machine's runs in one
/// directory: it refuses a directory another kind of machine filled,
/// before running anything.
#[test]
fn the_results_script_refuses_a_directory_of_another_machine() {
    let root = agon_integration_tests::workspace_root();
    let sandbox = Sandbox::new();
    let out = sandbox.path().join("results");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("MACHINE"), "Test CPU 9000 (avx512f)\n").unwrap();
    let agon = agon_integration_tests::build_dir().join("agon");
    let run = std::process::Command::new("bash")
        .arg(root.join("scripts/regenerate-results.sh"))
        .arg("coco")
        .env("RESULTS_DIR", &out)
        .env("AGON", &agon)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("holds runs made on Test CPU 9000 (avx512f)")
            && stderr.contains("ALLOW_MIXED_MACHINES=1"),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["MACHINE"], "nothing runs after the refusal");

    // A dry run writes nothing, MACHINE included.
    let fresh = sandbox.path().join("fresh");
    let dry = std::process::Command::new("bash")
        .arg(root.join("scripts/regenerate-results.sh"))
        .args(["--dry-run", "coco"])
        .env("RESULTS_DIR", &fresh)
        .env("AGON", &agon)
        .output()
        .unwrap();
    assert!(dry.status.success());
    assert!(!fresh.exists(), "a dry run writes nothing");
}

/// A run resumed with another build of a plugin library says so, records
/// it in plugins.json (`resumed_at`) once, and `agon compare` names the run.
#[test]
fn a_resume_with_a_rebuilt_plugin_is_recorded_and_compare_names_it() {
    let sandbox = Sandbox::new();
    let run = sandbox.train(&config("smoke.yaml"), "run", &["--stop-after", "1"]);
    let plugins_path = run.join("plugins.json");
    let recorded: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&plugins_path).unwrap()).unwrap();
    let started = recorded.len();
    // As if the run had started with another build of its discriminator.
    let edited: Vec<serde_json::Value> = recorded
        .into_iter()
        .map(|mut p| {
            if p["place"] == "discriminator" {
                p["sha256"] = "0".repeat(64).into();
            }
            p
        })
        .collect();
    std::fs::write(&plugins_path, serde_json::to_string(&edited).unwrap()).unwrap();
    let resume = || {
        sandbox.run(
            &[
                "train",
                "--resume",
                run.to_str().unwrap(),
                "--stop-after",
                "1",
            ],
            &[],
        )
    };
    let resumed = resume();
    resumed.success();
    assert!(
        resumed
            .stderr()
            .contains("is not the library this run started with")
            && resumed.stderr().contains("cnn-discriminator"),
        "{}",
        resumed.stderr()
    );
    let now: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&plugins_path).unwrap()).unwrap();
    assert_eq!(now.len(), started + 1, "{now:?}");
    let change = &now[started];
    assert_eq!(change["place"], "discriminator");
    assert_eq!(change["resumed_at"], "mle 1", "{change}");
    // Recorded once: the next resume runs the build recorded last.
    let again = resume();
    again.success();
    assert!(
        !again.stderr().contains("is not the library"),
        "{}",
        again.stderr()
    );
    let compared = sandbox.run(&["compare", run.to_str().unwrap()], &[]);
    compared.success();
    assert!(
        compared
            .stderr()
            .contains("was resumed at mle 1 with another build of"),
        "{}",
        compared.stderr()
    );
    // The report says so too, with why a one-run group has no tests: who
    // reads compare.md later never saw the terminal.
    let report = std::fs::read_to_string(run.join("compare/compare.md")).unwrap();
    let caveats = &report[report.find("## Caveats\n").expect(&report) + 11..];
    let caveats = &caveats[..caveats.find("\n## ").expect(&report)];
    assert!(
        caveats.contains("was resumed at mle 1 with another build of"),
        "{report}"
    );
    assert!(
        caveats.contains("Not tested across seeds") && caveats.contains("(one seed)"),
        "{report}"
    );
    assert!(
        compared.stderr().contains("Not tested across seeds"),
        "{}",
        compared.stderr()
    );
}

/// Ctrl-C reaches a terminal's whole process group. A sweep's cell hears of
/// it once, from the sweep: it stops after its current epoch with a
/// checkpoint there, and the sweep run again resumes it from that epoch
/// (and says so). A sweep killed outright (`kill -9`) leaves no cell
/// training on: the cell sees its sweep gone and stops the same way.
#[test]
fn a_sweep_stopped_by_ctrl_c_or_killed_stops_its_cell_at_a_checkpoint() {
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    let sandbox = Sandbox::new();
    let file = sandbox.write(
        "long.yaml",
        &format!(
            "base: {}\ngrid:\n  training.adversarial.epochs: [400]\n  training.eval_every: [100]\nseeds: [1]\n",
            config("smoke.yaml")
        ),
    );
    let dir = sandbox.path().join("sweep");
    let name = "000_epochs-400_eval_every-100_seed-1";
    let run = dir.join("runs").join(name);
    let log = dir.join("logs").join(format!("{name}.log"));
    // In a process group of its own, as a shell starts a command.
    let start = || -> Child {
        let mut command = sandbox.agon();
        command
            .args(["sweep", file.to_str().unwrap(), "--out"])
            .arg(&dir)
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.spawn().unwrap()
    };
    let position = |file: &str| -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(run.join(file)).ok()?;
        serde_json::from_str(&text).ok()
    };
    // The adversarial epoch the running cell last finished.
    let live_step = || {
        position("progress.json")
            .filter(|p| p["phase"] == "adversarial")
            .and_then(|p| p["step"].as_u64())
    };
    let wait_for_step = |sweep: &mut Child, beyond: u64| -> u64 {
        let started = Instant::now();
        loop {
            assert!(sweep.try_wait().unwrap().is_none(), "the sweep ended early");
            assert!(started.elapsed() < Duration::from_secs(300), "no progress");
            match live_step() {
                Some(step) if step > beyond => return step,
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    };
    let checkpoint_step = || {
        position("checkpoints/latest/state.json").unwrap()["position"]["step"]
            .as_u64()
            .unwrap()
    };
    let kill = |signal: &str, target: String| {
        assert!(Command::new("kill")
            .args([signal, "--", &target])
            .status()
            .unwrap()
            .success());
    };

    // Ctrl-C: the signal to the sweep's whole group.
    let mut sweep = start();
    let seen = wait_for_step(&mut sweep, 1);
    kill("-INT", format!("-{}", sweep.id()));
    let output = sweep.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    let cell_log = std::fs::read_to_string(&log).unwrap();
    assert!(
        cell_log.contains("interrupt: stopping after the current epoch"),
        "{cell_log}"
    );
    assert!(!cell_log.contains("second interrupt"), "{cell_log}");
    // Checkpointed where it stopped, not at its last evaluation (epoch 0).
    let stopped_at = checkpoint_step();
    assert!(
        stopped_at >= seen,
        "checkpoint at {stopped_at}, ran to {seen}"
    );
    assert_eq!(sandbox.sweep_status(&dir)[0]["state"], "interrupted");

    // A cell whose sweep is gone before it starts (here: a pid that is not
    // its parent) does not start, and its checkpoint stays as it was.
    let orphan = sandbox
        .agon()
        .args(["sweep", "run-cell"])
        .arg(&dir)
        .args(["--index", "0"])
        .env("AGON_SWEEP_PID", "1")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&orphan.stderr);
    assert_eq!(orphan.status.code(), Some(130), "{said}");
    assert!(
        said.contains("the sweep that started it is gone; not started"),
        "{said}"
    );
    assert_eq!(checkpoint_step(), stopped_at);
    assert_eq!(sandbox.sweep_status(&dir)[0]["state"], "interrupted");

    // Run again, it resumes there; then the sweep is killed outright.
    let mut sweep = start();
    wait_for_step(&mut sweep, stopped_at + 1);
    let status: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("status/{name}.json"))).unwrap(),
    )
    .unwrap();
    let cell = status["pid"].as_u64().unwrap();
    kill("-KILL", sweep.id().to_string());
    let output = sweep.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!(
            "resumed  {name} (from its checkpoint at adversarial {stopped_at}/400)"
        )),
        "{stdout}"
    );
    // Gone, or a zombie no one has reaped yet.
    let alive = |pid: u64| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            !stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    };
    let started = Instant::now();
    while alive(cell) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the cell trains on after its sweep was killed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let cell_log = std::fs::read_to_string(&log).unwrap();
    assert!(
        cell_log.contains("the sweep that started this cell") && cell_log.contains("is gone"),
        "{cell_log}"
    );
    assert!(checkpoint_step() > stopped_at);
    assert_eq!(sandbox.sweep_status(&dir)[0]["state"], "interrupted");
}

/// A sweep file given another seed runs in the same directory: the earlier
/// cells keep their runs (not trained again), the new one is numbered on.
#[test]
fn a_sweep_given_more_seeds_adds_cells_and_keeps_its_runs() {
    let sandbox = Sandbox::new();
    let write = |seeds: &str| {
        sandbox.write(
            "seeds.yaml",
            &format!(
                "base: {}\ngrid:\n  training.mle.epochs: [2]\n  training.adversarial.epochs: [1]\nseeds: {seeds}\n",
                config("smoke.yaml")
            ),
        )
    };
    let dir = sandbox.path().join("sweep");
    let sweep = |file: &std::path::Path| {
        sandbox
            .run(
                &[
                    "sweep",
                    file.to_str().unwrap(),
                    "--out",
                    dir.to_str().unwrap(),
                ],
                &[],
            )
            .success_all()
    };
    sweep(&write("[1]"));
    let first = dir.join("runs/000_mle.epochs-2_adversarial.epochs-1_seed-1");
    let before = std::fs::read_to_string(first.join("metrics.jsonl")).unwrap();

    // Another sweep grows the directory (to seed 3) while this one checks
    // its new cell (seed 2): this one is refused, and does not write its
    // manifest over the other's. The test holds the manifest's lock (as the
    // other sweep would while it writes), and writes the other's manifest
    // once this one says it is waiting for the lock.
    let manifest = dir.join("manifest.json");
    let original = std::fs::read_to_string(&manifest).unwrap();
    let mut other: serde_json::Value = serde_json::from_str(&original).unwrap();
    let mut added = other["cells"][0].clone();
    added["index"] = 1.into();
    added["seed"] = 3.into();
    added["name"] = "001_mle.epochs-2_adversarial.epochs-1_seed-3".into();
    other["cells"].as_array_mut().unwrap().push(added);
    let other = serde_json::to_string_pretty(&other).unwrap();
    let lock = dir.join("manifest.lock");
    // Holds the lock until a line arrives on its standard input.
    let mut holder = std::process::Command::new("flock")
        .arg(&lock)
        .args(["-c", "read line"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let held = std::time::Instant::now();
    while std::process::Command::new("flock")
        .arg("-n")
        .arg(&lock)
        .arg("true")
        .status()
        .unwrap()
        .success()
    {
        assert!(held.elapsed() < std::time::Duration::from_secs(10));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut waiting = sandbox
        .agon()
        .args(["sweep", write("[1, 2]").to_str().unwrap(), "--out"])
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = std::io::BufReader::new(waiting.stderr.take().unwrap());
    let mut lines = String::new();
    while !lines.contains("waiting for") {
        use std::io::BufRead;
        assert!(said.read_line(&mut lines).unwrap() > 0, "{lines}");
    }
    assert!(
        lines.contains("another agon sweep is changing this sweep's manifest"),
        "{lines}"
    );
    std::fs::write(&manifest, &other).unwrap();
    {
        use std::io::Write;
        writeln!(holder.stdin.take().unwrap()).unwrap();
    }
    assert!(holder.wait().unwrap().success());
    std::io::Read::read_to_string(&mut said, &mut lines).unwrap();
    assert_eq!(waiting.wait().unwrap().code(), Some(1), "{lines}");
    assert!(
        lines.contains("another agon sweep changed") && lines.contains("run this one again"),
        "{lines}"
    );
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), other);
    assert!(!dir
        .join("runs/001_mle.epochs-2_adversarial.epochs-1_seed-2")
        .exists());
    std::fs::write(&manifest, &original).unwrap();
    let grown = sweep(&write("[1, 2]"));
    assert!(
        grown.contains("1 cell added to the 1 of the sweep started there (001_mle.epochs-2_adversarial.epochs-1_seed-2)"),
        "{grown}"
    );
    assert!(grown.contains("1 finished earlier; running 1"), "{grown}");
    assert_eq!(
        std::fs::read_to_string(first.join("metrics.jsonl")).unwrap(),
        before
    );
    let cells = sandbox.sweep_status(&dir);
    assert_eq!(cells.len(), 2);
    assert!(cells.iter().all(|c| c["state"] == "finished"), "{cells:?}");
    // Its own file again: nothing to add, nothing to run.
    let again = sweep(&write("[1, 2]"));
    assert!(again.contains("none left to run here"), "{again}");

    // compare into an --out that holds an earlier comparison replaces all
    // of its files: a figure this one does not draw is not left behind.
    let out = sandbox.path().join("comparison");
    let compare = || {
        sandbox
            .run(
                &[
                    "compare",
                    dir.to_str().unwrap(),
                    "--out",
                    out.to_str().unwrap(),
                ],
                &[],
            )
            .success_all()
    };
    assert!(!compare().contains("holds an earlier comparison"));
    std::fs::write(out.join("quality_diversity.svg"), "<svg/>").unwrap();
    let second = compare();
    assert!(
        second.contains("holds an earlier comparison; its files are replaced"),
        "{second}"
    );
    assert!(out.join("compare.md").exists());
    assert!(!out.join("quality_diversity.svg").exists());
}
