//! The text task end to end on `configs/smoke-text.yaml` (400 COCO
//! captions): training with variable-length sequences through every plugin
//! and the scheduler, the vocabulary, text samples, `agon eval` with its
//! paired tests and quality–diversity sweep, and refusals of bad text input.

use std::path::{Path, PathBuf};

use agon_integration_tests::{assert_matches_pin, config, trajectory, workspace_root, Sandbox};
use serde_json::Value;

fn smoke_text() -> String {
    config("smoke-text.yaml")
}

fn train(sandbox: &Sandbox, name: &str, extra: &[&str]) -> PathBuf {
    sandbox.train(&smoke_text(), name, extra)
}

fn rows(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn a_text_run_trains_evaluates_and_samples_text() {
    let sandbox = Sandbox::new();
    let run = train(&sandbox, "text", &[]);

    // The vocabulary: specials first, then the training words.
    let vocab = std::fs::read_to_string(run.join("vocab.txt")).unwrap();
    let tokens: Vec<&str> = vocab.lines().collect();
    assert_eq!(&tokens[..4], ["<pad>", "<bos>", "<eos>", "<unk>"]);
    assert!(tokens.contains(&"bicycle") && tokens.contains(&"."));
    // The resolved config records max_len.
    let config = std::fs::read_to_string(run.join("config.yaml")).unwrap();
    assert!(config.contains("max_len: 16"), "{config}");

    // Metrics: every BLEU/Self-BLEU order, fast and full; MLE raises BLEU-2.
    let rows = rows(&run);
    let phases: Vec<(&str, u64)> = rows
        .iter()
        .map(|r| (r["phase"].as_str().unwrap(), r["epoch"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        phases,
        [
            ("mle", 0),
            ("mle", 4),
            ("mle", 8),
            ("discriminator-pretraining", 1),
            ("adversarial", 4)
        ]
    );
    for n in 2..=5 {
        for key in [
            format!("bleu{n}"),
            format!("bleu{n}_fast"),
            format!("self_bleu{n}"),
            format!("self_bleu{n}_fast"),
        ] {
            let value = rows[2][&key].as_f64().unwrap_or(f64::NAN);
            assert!((0.0..=1.0).contains(&value), "{key} = {value}");
        }
    }
    let (before, after) = (
        rows[0]["bleu2"].as_f64().unwrap(),
        rows[2]["bleu2"].as_f64().unwrap(),
    );
    assert!(
        after > before + 0.1,
        "MLE raises BLEU-2: {before} → {after}"
    );
    let (nll_before, nll_after) = (
        rows[0]["nll_test"].as_f64().unwrap(),
        rows[2]["nll_test"].as_f64().unwrap(),
    );
    assert!(nll_after < nll_before - 1.0, "{nll_before} → {nll_after}");
    assert!(rows[4]["d_accuracy"].as_f64().is_some());
    let svg = std::fs::read_to_string(run.join("learning_curve.svg")).unwrap();
    assert!(svg.contains("BLEU-2"));
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains(",bleu2,bleu2_fast,"));
    assert!(run.join("checkpoints/mle/generator").is_dir());

    // Same config + seed ⇒ same run: pinned trajectory.
    assert_matches_pin(&trajectory(&run), "smoke_text_trajectory.json");

    // Samples as text: words of the vocabulary, at most max_len − 1 of them.
    let text = sandbox
        .run(&["sample", run.to_str().unwrap(), "-n", "6"], &[])
        .success();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6);
    for line in &lines {
        let words: Vec<&str> = line.split(' ').filter(|w| !w.is_empty()).collect();
        assert!(words.len() <= 15, "{line}");
        assert!(words.iter().all(|w| tokens.contains(w)), "{line}");
    }
    // As ids: a row ends at its first EOS (id 2) or at max_len.
    let ids = sandbox
        .run(&["sample", run.to_str().unwrap(), "-n", "6", "--ids"], &[])
        .success();
    for line in ids.lines() {
        let ids: Vec<u32> = line.split(' ').map(|t| t.parse().unwrap()).collect();
        let eos = ids.iter().position(|&id| id == 2);
        assert!(
            eos.map_or(ids.len() == 16, |p| p == ids.len() - 1),
            "{line}"
        );
    }

    // agon eval: the end-of-MLE and final generators, paired tests, sweep.
    let out = sandbox.path().join("eval");
    let json = sandbox
        .run(
            &[
                "eval",
                run.to_str().unwrap(),
                "--temperatures",
                "0.5,1.5",
                "--resamples",
                "500",
                "--out",
                out.to_str().unwrap(),
                "--json",
            ],
            &[],
        )
        .success();
    let evaluation: Value = serde_json::from_str(&json).unwrap();
    let models = evaluation["models"].as_array().unwrap();
    let labels: Vec<&str> = models
        .iter()
        .map(|m| m["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["text/mle", "text/final"]);
    for model in models {
        let bleu2 = model["metrics"]["bleu2"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&bleu2));
        assert!(model["metrics"]["nll_test"].as_f64().unwrap() > 0.0);
        // Within each sample: tokens (EOS not counted; at most max_len,
        // 16) and the share of bigrams it repeats.
        let length = model["metrics"]["length"].as_f64().unwrap();
        assert!(length > 0.0 && length <= 16.0, "{length}");
        let repeated = model["metrics"]["repeated_bigrams"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&repeated), "{repeated}");
    }
    let comparisons = evaluation["comparisons"].as_array().unwrap();
    assert_eq!(comparisons.len(), 2, "BLEU-2 and Self-BLEU-2");
    for c in comparisons {
        let test = &c["test"];
        let p = test["p_value"].as_f64().unwrap();
        assert!(p > 0.0 && p <= 1.0);
        assert!(test["ci_low"].as_f64() <= test["ci_high"].as_f64());
        assert_eq!(test["pairs"], 64);
    }
    // Lower temperature: less diverse samples (higher Self-BLEU).
    let sweep = evaluation["sweep"].as_array().unwrap();
    assert_eq!(sweep.len(), 4);
    for model in ["text/mle", "text/final"] {
        let at = |t: f64| {
            sweep
                .iter()
                .find(|p| {
                    p["model"] == model && (p["temperature"].as_f64().unwrap() - t).abs() < 1e-6
                })
                .unwrap()["self_bleu"]
                .as_f64()
                .unwrap()
        };
        assert!(at(0.5) > at(1.5), "{model}: {} vs {}", at(0.5), at(1.5));
    }
    for file in [
        "eval.json",
        "quality_diversity.svg",
        "quality_diversity.png",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }

    // The table form names the paired test.
    let table = sandbox
        .run(
            &[
                "eval",
                run.to_str().unwrap(),
                "--samples",
                "32",
                "--out",
                out.to_str().unwrap(),
            ],
            &[],
        )
        .success();
    assert!(
        table.contains("paired bootstrap") && table.contains("bleu2_fast"),
        "{table}"
    );
}

#[test]
fn a_run_summarises_its_data_and_eval_places_a_missing_data_file() {
    let sandbox = Sandbox::new();
    let out = sandbox.path().join("run");
    let run = sandbox.run(
        &[
            "train",
            &smoke_text(),
            "--out",
            out.to_str().unwrap(),
            "--stop-after",
            "1",
        ],
        &[],
    );
    let stdout = run.success();
    let line = stdout
        .lines()
        .find(|l| l.starts_with("data: "))
        .unwrap_or_else(|| panic!("no data line in:\n{stdout}"));
    let number_before = |text: &str, words: &str| -> usize {
        let head = &text[..text
            .find(words)
            .unwrap_or_else(|| panic!("{words:?} not in {text}"))];
        head.rsplit([' ', '(']).next().unwrap().parse().unwrap()
    };
    let fixture = |name: &str| {
        std::fs::read_to_string(workspace_root().join("tests/fixtures/text").join(name)).unwrap()
    };
    // Training lines: the file's, less those the note says were skipped.
    let skipped = number_before(&run.stderr(), " of the lines of");
    let train_lines = fixture("train.txt").lines().count();
    assert_eq!(
        number_before(line, " training lines"),
        train_lines - skipped,
        "{line}"
    );
    assert_eq!(
        number_before(line, " test lines"),
        fixture("test.txt").lines().count()
    );
    // At least the test lines with more than 15 words are too long for
    // max_len 16 (splitting punctuation only adds tokens).
    let long = fixture("test.txt")
        .lines()
        .filter(|l| l.split_whitespace().count() > 15)
        .count();
    assert!(long > 0);
    assert!(
        number_before(line, " longer than max_len") >= long,
        "{line}"
    );
    let vocab = std::fs::read_to_string(out.join("vocab.txt")).unwrap();
    assert_eq!(
        number_before(line, " ids in the vocabulary"),
        vocab.lines().count()
    );
    assert!(line.ends_with("max_len 16"), "{line}");
    // `agon eval` from another directory, where the run's relative data
    // paths lead nowhere: refused at the run's config line, before any
    // progress.
    let mut elsewhere = sandbox.agon();
    elsewhere
        .current_dir(sandbox.path())
        .args(["eval", out.to_str().unwrap()]);
    let refused = agon_integration_tests::Run(elsewhere.output().unwrap()).clean_failure();
    let place = format!("{} line ", out.join("config.yaml").display());
    assert!(
        refused.contains(&place) && refused.contains(": task.train_data: cannot read data file"),
        "{refused}"
    );
    assert!(!refused.contains("agon eval: "), "{refused}");
    // `agon sample` reads the data again, but the notes on it were said
    // when the run trained.
    let sampled = sandbox.run(&["sample", out.to_str().unwrap(), "-n", "2"], &[]);
    sampled.success();
    assert!(
        !sampled.stderr().contains("task.long_lines"),
        "{}",
        sampled.stderr()
    );
    // `task.train_limit`: the first 50 lines, less the long ones among
    // them; the data line gives the file's count.
    let limited_out = sandbox.path().join("limited");
    let limited = sandbox.run(
        &[
            "train",
            &smoke_text(),
            "--out",
            limited_out.to_str().unwrap(),
            "--stop-after",
            "1",
            "--set",
            "task.train_limit=50",
        ],
        &[],
    );
    let limited_stdout = limited.success();
    let limited_line = limited_stdout
        .lines()
        .find(|l| l.starts_with("data: "))
        .unwrap_or_else(|| panic!("no data line in:\n{limited_stdout}"));
    let long_in_first_50 = if limited.stderr().contains(" of the lines of") {
        number_before(&limited.stderr(), " of the lines of")
    } else {
        0
    };
    assert_eq!(
        number_before(limited_line, " training lines"),
        50 - long_in_first_50,
        "{limited_line}"
    );
    assert!(
        limited_line.contains(&format!("(of {train_lines} in the file)")),
        "{limited_line}"
    );
    let limited_vocab = std::fs::read_to_string(limited_out.join("vocab.txt")).unwrap();
    assert!(limited_vocab.lines().count() < vocab.lines().count());
    // A resume says it again.
    let resumed = sandbox.run(
        &[
            "train",
            "--resume",
            out.to_str().unwrap(),
            "--stop-after",
            "1",
        ],
        &[],
    );
    assert!(resumed.success().contains(line), "{}", resumed.stdout());
}

#[test]
fn resuming_with_a_changed_training_file_is_refused() {
    let sandbox = Sandbox::new();
    let train_file = sandbox.write(
        "data/train.txt",
        &std::fs::read_to_string(workspace_root().join("tests/fixtures/text/train.txt")).unwrap(),
    );
    let test_file = workspace_root().join("tests/fixtures/text/test.txt");
    let run = train(
        &sandbox,
        "run",
        &[
            "--set",
            &format!("task.train_data={}", train_file.display()),
            "--set",
            &format!("task.test_data={}", test_file.display()),
            "--stop-after",
            "1",
        ],
    );
    std::fs::write(
        &train_file,
        "a completely different vocabulary .\n".repeat(40),
    )
    .unwrap();
    let message = sandbox
        .run(&["train", "--resume", run.to_str().unwrap()], &[])
        .clean_failure();
    assert!(
        message.contains("vocab.txt") && message.contains("changed since the run started"),
        "{message}"
    );
}

#[test]
fn bad_text_configs_are_refused_with_the_place_and_the_fix() {
    let sandbox = Sandbox::new();
    let config = smoke_text();
    let long_line = sandbox.write(
        "long.txt",
        "a b c d e f g h i j k l m n o p q r s t\nshort line\n",
    );
    let empty = sandbox.write("empty.txt", "");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["task.test_data=null".into()],
            "task.test_data is missing",
        ),
        (
            vec!["task.oracle={plugin: agon/lstm-generator}".into()],
            "task.oracle does not apply to a task of kind text",
        ),
        (
            vec![
                format!("task.train_data={}", long_line.display()),
                "task.long_lines=error".into(),
            ],
            "long.txt:1: 20 tokens",
        ),
        (
            vec![format!("task.test_data={}", empty.display())],
            "empty.txt is empty",
        ),
        (
            vec!["task.tokenizer.level=byte".into()],
            "unknown variant `byte`",
        ),
        (vec!["task.max_len=1".into()], "at least 2"),
        (
            vec!["task.bleu={orders: [2, 3], headline: [4]}".into()],
            "task.bleu.headline names BLEU-4 but task.bleu.orders computes only [2, 3]",
        ),
    ];
    for (overrides, expected) in cases {
        let out = sandbox.path().join("never");
        let mut args = vec![
            "train".to_string(),
            config.clone(),
            "--out".into(),
            out.display().to_string(),
        ];
        for o in &overrides {
            args.push("--set".into());
            args.push(o.clone());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let message = sandbox.run(&args, &[]).clean_failure();
        assert!(message.contains(expected), "{overrides:?}: {message}");
        assert!(!out.exists(), "{overrides:?} left a run directory");
    }
    // An oracle task with a text-only key.
    let oracle = workspace_root().join("configs/smoke.yaml");
    let message = sandbox
        .run(
            &[
                "train",
                oracle.to_str().unwrap(),
                "--set",
                "task.min_count=2",
            ],
            &[],
        )
        .clean_failure();
    assert!(
        message.contains("task.min_count does not apply to a task of kind synthetic-oracle"),
        "{message}"
    );
    // agon eval on something that is not a run, and bad temperatures.
    let message = sandbox
        .run(&["eval", sandbox.path().to_str().unwrap()], &[])
        .clean_failure();
    assert!(message.contains("not a run directory"), "{message}");
    let message = sandbox
        .run(
            &[
                "eval",
                sandbox.path().to_str().unwrap(),
                "--temperatures",
                "0.5,hot",
            ],
            &[],
        )
        .clean_failure();
    assert!(message.contains("`hot` is not a number"), "{message}");
}

#[test]
fn the_gru_discriminator_and_the_bleu_reward_train_on_variable_length_text() {
    let sandbox = Sandbox::new();
    for (name, overrides) in [
        (
            "gru",
            vec![
                "discriminator={plugin: rnn-lab/gru-discriminator@^0.1, config: {embedding_dim: 8, hidden_dim: 16}}",
            ],
        ),
        ("pg-bleu", vec!["reward={plugin: agon/rewards@^0.1, component: bleu}"]),
    ] {
        let mut args = vec![
            "--set",
            "training.mle.epochs=2",
            "--set",
            "training.adversarial.epochs=2",
            "--set",
            "training.eval_every=2",
        ];
        for o in &overrides {
            args.push("--set");
            args.push(o);
        }
        let run = train(&sandbox, name, &args);
        let rows = rows(&run);
        let last = rows.last().unwrap();
        assert_eq!(last["phase"], "adversarial", "{name}");
        let reward = last["mean_reward"].as_f64().unwrap();
        assert!(reward > 0.0 && reward < 1.0, "{name}: mean reward {reward}");
        assert!(last["bleu2"].as_f64().unwrap() > 0.0, "{name}");
    }
}

/// `agon eval --lm`: Caccia et al.'s LM score (samples under a language model
/// of the real data) and reverse LM score (the test set under a generator
/// trained on the samples) rank a trained generator above one that has seen
/// the data once, and a language model of another task is refused.
#[test]
fn lm_and_reverse_lm_scores_rank_a_trained_generator_above_a_barely_trained_one() {
    let sandbox = Sandbox::new();
    // No more samples than fast references: the runs' `self_bleuN_fast`
    // are copies of `self_bleuN`, which agon compare leaves out.
    let mle_only = [
        "--set",
        "training.discriminator_pretraining.rounds=0",
        "--set",
        "training.adversarial.epochs=0",
        "--set",
        "task.bleu.fast_references=64",
    ];
    let with = |extra: &[&'static str]| [&mle_only[..], extra].concat();
    let lm = train(&sandbox, "lm", &with(&["--set", "seed=6"]));
    let trained = train(&sandbox, "trained", &with(&[]));
    let barely = train(
        &sandbox,
        "barely",
        &with(&["--set", "training.mle.epochs=1"]),
    );

    // `agon eval RUNS --lm LM ARGS --json`, parsed.
    let eval_with_lm = |runs: &[&PathBuf], args: &[&str]| -> Value {
        let mut all = vec!["eval"];
        all.extend(runs.iter().map(|r| r.to_str().unwrap()));
        all.extend(["--lm", lm.to_str().unwrap()]);
        all.extend(args);
        all.push("--json");
        serde_json::from_str(&sandbox.run(&all, &[]).success()).unwrap()
    };
    let out = sandbox.path().join("eval-lm");
    let evaluation = eval_with_lm(
        &[&barely, &trained],
        &[
            "--reverse-lm-epochs",
            "8",
            "--temperatures",
            "0.5,1",
            "--resamples",
            "200",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let metric = |label: &str, key: &str| {
        evaluation["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["label"] == label)
            .unwrap_or_else(|| panic!("no model {label}: {evaluation}"))["metrics"][key]
            .as_f64()
            .unwrap_or_else(|| panic!("{label} has no {key}: {evaluation}"))
    };
    let (barely_lm, trained_lm) = (
        metric("barely/final", "lm_nll"),
        metric("trained/final", "lm_nll"),
    );
    assert!(
        trained_lm < barely_lm - 0.5,
        "LM score: trained {trained_lm} should be well below barely trained {barely_lm}"
    );
    let (barely_reverse, trained_reverse) = (
        metric("barely/final", "reverse_lm_nll"),
        metric("trained/final", "reverse_lm_nll"),
    );
    assert!(
        trained_reverse < barely_reverse - 0.5,
        "reverse LM score: trained {trained_reverse} should be well below barely trained {barely_reverse}"
    );
    // A generator trained on good samples scores the test set about as the
    // real-data LM's own NLL-test does, never absurdly better.
    let lm_nll_test = rows(&lm).last().unwrap()["nll_test"].as_f64().unwrap();
    assert!(
        trained_reverse > lm_nll_test - 0.5,
        "reverse LM {trained_reverse} against the LM's own NLL-test {lm_nll_test}"
    );
    // Across temperatures: colder samples are likelier under the LM; at
    // the evaluation's own temperature the sweep repeats the table's scores.
    let point = |label: &str, t: f64, key: &str| {
        evaluation["sweep"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["model"] == label && (p["temperature"].as_f64().unwrap() - t).abs() < 1e-6)
            .unwrap_or_else(|| panic!("no sweep point {label} T={t}: {evaluation}"))[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{label} T={t} has no {key}: {evaluation}"))
    };
    assert!(
        point("trained/final", 0.5, "lm_nll") < point("trained/final", 1.0, "lm_nll"),
        "{evaluation}"
    );
    assert_eq!(
        point("trained/final", 1.0, "reverse_lm_nll"),
        trained_reverse
    );
    assert!(point("barely/final", 0.5, "reverse_lm_nll").is_finite());
    // The LM score is tested per sample, like BLEU.
    let lm_test = evaluation["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["metric"] == "lm_nll")
        .unwrap_or_else(|| panic!("no paired test of lm_nll: {evaluation}"));
    assert!(
        lm_test["test"]["ci_high"].as_f64().unwrap() < 0.0,
        "{lm_test}"
    );
    // Per-sample LM scores, for agon compare's paired tests.
    let per_sample: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("per_sample.json")).unwrap())
            .unwrap();
    assert_eq!(
        per_sample["models"]["trained/final"]["lm_nll"]
            .as_array()
            .unwrap()
            .len(),
        64
    );
    let notes = evaluation["notes"].to_string();
    assert!(
        notes.contains("reverse_lm_nll") && notes.contains("8 epochs"),
        "{notes}"
    );

    // agon compare pools the LM scores of each run's own evaluation.
    let mut at_half = Vec::new();
    for run in [&barely, &trained] {
        let evaluation = eval_with_lm(
            &[run],
            &["--reverse-lm-epochs", "2", "--temperatures", "0.5"],
        );
        at_half.push(evaluation["sweep"][0]["lm_nll"].as_f64().unwrap());
    }
    let compared = sandbox.compare_json(&[&barely, &trained], "compare-lm");
    let points = compared["quality_diversity"].as_array().unwrap();
    assert_eq!(points.len(), 2, "{compared}");
    for (point, expected) in points.iter().zip(&at_half) {
        assert_eq!(point["lm_nll"]["mean"].as_f64().unwrap(), *expected);
        assert!(point["reverse_lm_nll"]["mean"]
            .as_f64()
            .unwrap()
            .is_finite());
    }
    let evaluated = compared["evaluations"]["models"].to_string();
    assert!(evaluated.contains("reverse_lm_nll"), "{evaluated}");
    // The copies are left out and said to be; BLEU against the first 64 of
    // the 200 test lines is another measurement, and stays.
    assert_eq!(
        compared["fast_copies_left_out"],
        serde_json::json!([
            "self_bleu2_fast",
            "self_bleu3_fast",
            "self_bleu4_fast",
            "self_bleu5_fast"
        ])
    );
    let ends = compared["groups"][0]["phase_ends"].to_string();
    assert!(
        ends.contains("\"bleu2_fast\"")
            && ends.contains("\"self_bleu2\"")
            && !ends.contains("self_bleu2_fast"),
        "{ends}"
    );
    let report =
        std::fs::read_to_string(sandbox.path().join("compare-lm").join("compare.md")).unwrap();
    assert!(
        report.contains("Left out of the training-time tables: `self_bleu2_fast`"),
        "{report}"
    );

    // The LM among the evaluated runs is flagged; --reverse-lm-epochs 0
    // leaves the reverse score out.
    let out = sandbox.path().join("eval-self-lm");
    let evaluation = eval_with_lm(
        &[&lm],
        &["--reverse-lm-epochs", "0", "--out", out.to_str().unwrap()],
    );
    assert!(
        evaluation["warnings"]
            .to_string()
            .contains("also evaluated"),
        "{evaluation}"
    );
    assert!(evaluation["models"][0]["metrics"]["reverse_lm_nll"].is_null());
    // On the terminal the warning is said once, on standard error, not
    // again in the table on standard output.
    let terminal = sandbox.run(
        &[
            "eval",
            lm.to_str().unwrap(),
            "--lm",
            lm.to_str().unwrap(),
            "--reverse-lm-epochs",
            "0",
            "--out",
            sandbox
                .path()
                .join("eval-self-lm-terminal")
                .to_str()
                .unwrap(),
        ],
        &[],
    );
    let table = terminal.success();
    assert!(!table.contains("also evaluated"), "{table}");
    assert_eq!(
        terminal.stderr().matches("also evaluated").count(),
        1,
        "{}",
        terminal.stderr()
    );

    // A language model whose vocabulary differs is refused, naming the file.
    let other = train(
        &sandbox,
        "other-vocab",
        &with(&["--set", "task.min_count=2"]),
    );
    let refused = sandbox
        .run(
            &[
                "eval",
                trained.to_str().unwrap(),
                "--lm",
                other.to_str().unwrap(),
            ],
            &[],
        )
        .clean_failure();
    assert!(refused.contains("vocab.txt differs"), "{refused}");
    // A sweep directory is not one language model: the refusal names its runs.
    let sweep = sandbox.path().join("lm-sweep");
    let sweep_run = sweep.join("runs").join("000_seed-1");
    std::fs::create_dir_all(&sweep_run).unwrap();
    std::fs::write(sweep.join("manifest.json"), "{}").unwrap();
    let refused = sandbox
        .run(
            &[
                "eval",
                trained.to_str().unwrap(),
                "--lm",
                sweep.to_str().unwrap(),
            ],
            &[],
        )
        .clean_failure();
    for needle in [
        "a sweep directory",
        "pass one of its runs",
        sweep_run.to_str().unwrap(),
    ] {
        assert!(
            refused.contains(needle),
            "{needle:?} missing from:\n{refused}"
        );
    }
    // --reverse-lm-epochs means nothing without --lm.
    let refused = sandbox
        .run(
            &[
                "eval",
                trained.to_str().unwrap(),
                "--reverse-lm-epochs",
                "3",
            ],
            &[],
        )
        .stderr();
    assert!(refused.contains("--lm"), "{refused}");
}
