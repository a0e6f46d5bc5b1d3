//! Conditional tasks end to end on `configs/smoke-conditional.yaml` (300
//! Multi30k pairs, de→en): the seq2seq generator, the pair discriminators
//! and the reference rewards through every phase and the scheduler,
//! REINFORCE vs Monte-Carlo credit, `agon eval` (decoded outputs, sacreBLEU,
//! ROUGE, distinct-n, paired tests), `agon sample`, and refusals.

use std::path::{Path, PathBuf};

use agon_integration_tests::{assert_matches_pin, config, trajectory, workspace_root, Sandbox};
use serde_json::Value;

fn smoke() -> String {
    config("smoke-conditional.yaml")
}

fn rows(run: &Path) -> Vec<Value> {
    trajectory(run)
}

fn train(sandbox: &Sandbox, name: &str, extra: &[&str]) -> PathBuf {
    sandbox.train(&smoke(), name, extra)
}

/// Trains `config` with one `--set` override, which must be refused before
/// a run directory exists; returns the message.
fn refused_with_set(sandbox: &Sandbox, config: &str, set: &str, name: &str) -> String {
    sandbox.refused_train(config, &[set], name)
}

#[test]
fn a_translation_run_trains_evaluates_and_samples() {
    let sandbox = Sandbox::new();
    let run = train(&sandbox, "nmt", &[]);

    // One vocabulary for both languages; the resolved config records the
    // lengths.
    let vocab = std::fs::read_to_string(run.join("vocab.txt")).unwrap();
    let tokens: Vec<&str> = vocab.lines().collect();
    assert_eq!(&tokens[..4], ["<pad>", "<bos>", "<eos>", "<unk>"]);
    assert!(
        tokens.contains(&"mann") && tokens.contains(&"man"),
        "German and English words"
    );
    let resolved = std::fs::read_to_string(run.join("config.yaml")).unwrap();
    assert!(
        resolved.contains("max_len: 16") && resolved.contains("max_source_len: 20"),
        "{resolved}"
    );

    // Every metric at every evaluation; MLE learns (BLEU up, NLL down).
    let rows = rows(&run);
    let phases: Vec<(&str, u64)> = rows
        .iter()
        .map(|r| (r["phase"].as_str().unwrap(), r["epoch"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        phases,
        [
            ("mle", 0),
            ("mle", 5),
            ("mle", 10),
            ("discriminator-pretraining", 1),
            ("adversarial", 5)
        ]
    );
    for row in rows
        .iter()
        .filter(|r| r["phase"] != "discriminator-pretraining")
    {
        // Every score on one 0–1 scale, BLEU included (sacreBLEU's / 100).
        for key in [
            "bleu",
            "rouge1",
            "rouge2",
            "rouge_l",
            "distinct1",
            "distinct2",
        ] {
            let value = row[key].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&value), "{key} in {row}");
        }
    }
    let (first, last_mle) = (&rows[0], &rows[2]);
    assert!(
        last_mle["nll_test"].as_f64().unwrap() < first["nll_test"].as_f64().unwrap() - 1.0,
        "{first} → {last_mle}"
    );
    assert!(
        last_mle["rouge1"].as_f64().unwrap() > first["rouge1"].as_f64().unwrap() + 0.05,
        "{first} → {last_mle}"
    );
    // The adversarial epochs used the discriminator and the mixture reward.
    assert!(rows[4]["d_accuracy"].as_f64().is_some());
    assert!(rows[4]["mean_reward"].as_f64().unwrap() > 0.0);
    assert!(run.join("checkpoints/mle/generator").is_dir());
    let svg = std::fs::read_to_string(run.join("learning_curve.svg")).unwrap();
    assert!(svg.contains("BLEU"));

    // Same config + seed ⇒ same run: pinned trajectory.
    assert_matches_pin(&rows, "smoke_conditional_trajectory.json");

    // Samples: one per test source, after the source and a tab.
    let text = sandbox
        .run(&["sample", run.to_str().unwrap(), "-n", "5"], &[])
        .success();
    let test_sources: Vec<String> =
        std::fs::read_to_string(workspace_root().join("tests/fixtures/conditional/test.de"))
            .unwrap()
            .lines()
            .map(str::to_lowercase)
            .collect();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5);
    for (i, line) in lines.iter().enumerate() {
        let (source, output) = line.split_once('\t').expect("source<TAB>output");
        let first_word = test_sources[i].split(' ').next().unwrap();
        assert!(
            source.starts_with(first_word),
            "{source} vs {}",
            test_sources[i]
        );
        assert!(output.split(' ').count() <= 16, "{output}");
    }

    // agon eval: decoded outputs of the end-of-MLE and final generators.
    let out = sandbox.path().join("eval");
    let json = sandbox
        .run(
            &[
                "eval",
                run.to_str().unwrap(),
                "--resamples",
                "300",
                "--out",
                out.to_str().unwrap(),
                "--json",
            ],
            &[],
        )
        .success();
    let evaluation: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(evaluation["task"], "conditional");
    assert_eq!(evaluation["samples"], 60);
    let models = evaluation["models"].as_array().unwrap();
    let labels: Vec<&str> = models
        .iter()
        .map(|m| m["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["nmt/mle", "nmt/final"]);
    let notes = evaluation["notes"].to_string();
    assert!(
        notes.contains("nrefs:1|case:lc|eff:no|tok:13a|smooth:exp|version:2.6.0"),
        "{notes}"
    );
    let metrics: Vec<&str> = evaluation["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["metric"].as_str().unwrap())
        .collect();
    assert_eq!(
        metrics,
        [
            "bleu",
            "rouge1",
            "rouge2",
            "rouge_l",
            "distinct1",
            "distinct2"
        ]
    );
    for c in evaluation["comparisons"].as_array().unwrap() {
        let test = &c["test"];
        let p = test["p_value"].as_f64().unwrap();
        assert!(p > 0.0 && p <= 1.0, "{c}");
        assert!(test["ci_low"].as_f64() <= test["ci_high"].as_f64(), "{c}");
        assert_eq!(test["pairs"], 60);
    }
    // The decoded outputs are written, one line per test source, and the
    // metric in eval.json is the BLEU of those lines (checked by rescoring
    // the final model's greedy outputs against the training-time row).
    for (label, model) in ["nmt-mle", "nmt-final"].iter().zip(models) {
        let outputs = std::fs::read_to_string(out.join(format!("{label}.txt"))).unwrap();
        assert_eq!(outputs.lines().count(), 60, "{label}");
        // Their sameness is reported whatever the task's metrics.
        let distinct: std::collections::BTreeSet<&str> = outputs.lines().collect();
        assert_eq!(
            model["metrics"]["unique_outputs"].as_f64(),
            Some(distinct.len() as f64 / 60.0),
            "{label}"
        );
        assert!(
            model["metrics"]["length"].as_f64().unwrap() > 0.0,
            "{label}"
        );
    }
    let final_bleu = models[1]["metrics"]["bleu"].as_f64().unwrap();
    let trained_bleu = rows[4]["bleu"].as_f64().unwrap();
    assert!(
        (final_bleu - trained_bleu).abs() < 1e-9,
        "greedy decoding is deterministic: {final_bleu} vs {trained_bleu}"
    );

    // The table names the decoding and the tests.
    let table = sandbox
        .run(
            &[
                "eval",
                run.to_str().unwrap(),
                "--samples",
                "20",
                "--resamples",
                "100",
                "--out",
                out.to_str().unwrap(),
            ],
            &[],
        )
        .success();
    assert!(
        table.contains("greedy decoding of the first 20 test sources")
            && table.contains("paired bootstrap"),
        "{table}"
    );
    // Beam search instead of the configured greedy decoding.
    let beam = sandbox
        .run(
            &[
                "eval",
                run.to_str().unwrap(),
                "--samples",
                "20",
                "--resamples",
                "100",
                "--beam-size",
                "3",
                "--out",
                out.to_str().unwrap(),
                "--json",
            ],
            &[],
        )
        .success();
    let beam: Value = serde_json::from_str(&beam).unwrap();
    assert!(
        beam["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("outputs: beam search, 3 beams"),
        "{beam}"
    );
    let mle_nll = |e: &Value| e["models"][0]["metrics"]["nll_test"].as_f64().unwrap();
    assert_eq!(
        mle_nll(&beam),
        mle_nll(&evaluation),
        "decoding does not change NLL-test"
    );
}

#[test]
fn a_stopped_and_resumed_run_equals_an_uninterrupted_one() {
    let sandbox = Sandbox::new();
    let whole = train(&sandbox, "whole", &[]);
    let part = train(&sandbox, "part", &["--stop-after", "7"]);
    sandbox
        .run(&["train", "--resume", part.to_str().unwrap()], &[])
        .success();
    assert_eq!(rows(&part), rows(&whole));
    // Sampling options do not apply to decoded outputs.
    let message = sandbox
        .run(
            &["eval", whole.to_str().unwrap(), "--temperature", "0.7"],
            &[],
        )
        .clean_failure();
    assert!(message.contains("--beam-size"), "{message}");

    // agon compare pools per-item scores over seeds, and corpus BLEU from
    // each item's sufficient statistics: with one seed, the pooled
    // difference is the two runs' own corpus BLEU difference.
    let bleu_only = train(
        &sandbox,
        "bleu-only",
        &["--set", "task.evaluation={metrics: [bleu], beam_size: 1}"],
    );
    for run in [&whole, &bleu_only] {
        sandbox.run(&["eval", run.to_str().unwrap()], &[]).success();
    }
    let final_bleu = |run: &std::path::Path| {
        let eval: Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("eval/eval.json")).unwrap())
                .unwrap();
        let name = run.file_name().unwrap().to_str().unwrap();
        eval["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["label"] == format!("{name}/final"))
            .unwrap()["metrics"]["bleu"]
            .as_f64()
            .unwrap()
    };
    let compared = sandbox.compare_json(&[&whole, &bleu_only], "compare");
    let pooled = compared["per_sample"].as_array().unwrap();
    // ROUGE is not in bleu-only's evaluation, so BLEU is the only test.
    assert_eq!(pooled.len(), 1, "{compared}");
    assert_eq!(pooled[0]["metric"], "bleu");
    assert_eq!(pooled[0]["corpus_statistic"], true);
    assert_eq!(pooled[0]["by_source"], true);
    let expected = final_bleu(&bleu_only) - final_bleu(&whole);
    let observed = pooled[0]["test"]["mean_difference"].as_f64().unwrap();
    assert!(
        (observed - expected).abs() < 1e-12,
        "{observed} against {expected}"
    );
    let sources =
        std::fs::read_to_string(workspace_root().join("tests/fixtures/conditional/test.de"))
            .unwrap();
    assert_eq!(pooled[0]["test"]["pairs"], sources.lines().count());
    assert_eq!(pooled[0]["items"], sources.lines().count());

    // A damaged row is named, not read as a score.
    let per_sample = bleu_only.join("eval/per_sample.json");
    let intact = std::fs::read_to_string(&per_sample).unwrap();
    let mut damaged: Value = serde_json::from_str(&intact).unwrap();
    damaged["corpus_statistics"]["bleu-only/final"]["bleu"][0]
        .as_array_mut()
        .unwrap()
        .pop();
    std::fs::write(&per_sample, damaged.to_string()).unwrap();
    let compared = sandbox.compare_json(&[&whole, &bleu_only], "compare-damaged");
    let notes = compared["per_sample_notes"].to_string();
    assert!(
        notes.contains("holds a row that is not BLEU statistics"),
        "{notes}"
    );
    std::fs::write(&per_sample, intact).unwrap();
    // distinct-n is not pooled, and compare says where its test is.
    let distinct_only = train(
        &sandbox,
        "distinct-only",
        &[
            "--set",
            "task.evaluation={metrics: [distinct], beam_size: 1}",
        ],
    );
    sandbox
        .run(&["eval", distinct_only.to_str().unwrap()], &[])
        .success();
    let compared = sandbox.compare_json(&[&whole, &distinct_only], "compare-distinct");
    let notes = compared["per_sample_notes"].to_string();
    assert!(
        notes.contains("holds no per-item scores of `distinct-only/final`")
            && notes.contains("agon eval BASELINE_RUN"),
        "{notes}"
    );

    // An evaluation without the statistics (an older agon's) is named,
    // with the command that adds them, also when it pools other scores
    // (whole's ROUGE).
    for run in [&whole, &bleu_only] {
        let per_sample = run.join("eval/per_sample.json");
        let mut scores: Value =
            serde_json::from_str(&std::fs::read_to_string(&per_sample).unwrap()).unwrap();
        scores.as_object_mut().unwrap().remove("corpus_statistics");
        std::fs::write(&per_sample, scores.to_string()).unwrap();
    }
    let compared = sandbox.compare_json(&[&whole, &bleu_only], "compare-old");
    assert_eq!(compared["per_sample"], serde_json::json!([]), "{compared}");
    let notes = compared["per_sample_notes"].to_string();
    for name in ["whole", "bleu-only"] {
        assert!(
            notes.contains(&format!(
                "holds no per-item BLEU statistics of `{name}/final`"
            )) && notes.contains("again to pool it"),
            "{notes}"
        );
    }
}

/// A generator trained for a few MLE epochs on 232 pairs gives one output
/// for every test source. The warning names the evaluation it comes from
/// and sets the NLL-test of that evaluation beside the unigram baseline.
#[test]
fn a_collapsed_generator_is_diagnosed_against_the_unigram_baseline() {
    let sandbox = Sandbox::new();
    let out = sandbox.path().join("collapsed");
    let run = sandbox.run(
        &[
            "train",
            &smoke(),
            "--out",
            out.to_str().unwrap(),
            "--set",
            "training.mle.epochs=3",
            "--set",
            "training.eval_every=1",
            "--set",
            "training.discriminator_pretraining.rounds=0",
            "--set",
            "training.adversarial.epochs=0",
        ],
        &[],
    );
    let stdout = run.success();
    let stderr = run.stderr();
    let warning = stderr
        .lines()
        .find(|l| l.contains("outputs of the generator at mle epoch"))
        .unwrap_or_else(|| panic!("no collapse warning in:\n{stderr}"));
    let epoch: usize = warning
        .split("at mle epoch ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{warning}"));
    // The NLL-test the warning quotes is that evaluation's.
    let quoted = warning
        .split("its NLL-test (")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{warning}"));
    let row = rows(&out)
        .into_iter()
        .find(|r| r["phase"] == "mle" && r["epoch"].as_u64() == Some(epoch as u64))
        .unwrap_or_else(|| panic!("no metrics row for mle epoch {epoch}"));
    let nll_test = row["nll_test"].as_f64().unwrap();
    assert_eq!(quoted, format!("{nll_test:.3}"), "{warning}");
    assert!(
        warning.contains("of a model that knows only how often each token is"),
        "{warning}"
    );
    // The progress line of that evaluation shows the same NLL-test.
    let progress = stdout
        .lines()
        .find(|l| l.starts_with("mle") && l.split_whitespace().nth(2) == Some(&epoch.to_string()))
        .unwrap_or_else(|| panic!("no progress line for epoch {epoch}:\n{stdout}"));
    assert!(
        progress.contains(&format!("NLL-test {nll_test:.4}")),
        "{progress}"
    );
}

#[test]
fn reinforce_credit_and_metric_rewards_need_no_rollouts_or_discriminator() {
    let sandbox = Sandbox::new();
    let run = train(
        &sandbox,
        "rouge",
        &[
            "--set",
            "discriminator=null",
            "--set",
            "reward={plugin: agon/rewards@^0.1, component: rouge-l}",
            "--set",
            "training.adversarial.credit=sequence",
            "--set",
            "training.mle.epochs=3",
            "--set",
            "training.eval_every=0",
        ],
    );
    let rows = rows(&run);
    let last = rows.last().unwrap();
    assert_eq!(last["phase"], "adversarial");
    let reward = last["mean_reward"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&reward), "ROUGE-L rewards: {last}");
    assert!(last["d_loss"].is_null(), "no discriminator: {last}");
}

#[test]
fn every_pair_discriminator_trains_in_the_loop() {
    let sandbox = Sandbox::new();
    for component in ["hierarchical-rnn", "pair-rnn"] {
        let run = train(
            &sandbox,
            component,
            &[
                "--set",
                &format!("discriminator.component={component}"),
                "--set",
                "discriminator.config={}",
                "--set",
                "training.mle.epochs=2",
                "--set",
                "training.adversarial.epochs=1",
                "--set",
                "training.eval_every=0",
            ],
        );
        let last = rows(&run).pop().unwrap();
        let accuracy = last["d_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&accuracy), "{component}: {last}");
    }
}

#[test]
fn bad_conditional_inputs_are_refused_with_the_place_and_the_fix() {
    let sandbox = Sandbox::new();
    let fixtures = workspace_root().join("tests/fixtures/conditional");
    let short = sandbox.write("short.de", "ein hund\n");
    // A TSV export (id, source, target) read as a file of sources: the tab
    // gets a note before the refusal.
    let tsv = sandbox.write("pairs.tsv", "1\tein hund\ta dog\n");
    // Two empty lines, in a file line-aligned with train.en.
    let gaps = sandbox.write("gaps.de", "ein hund\n\nzwei\n\n");
    let train_en = fixtures.join("train.en");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![format!("task.train_source={}", short.display())],
            "must be line-aligned",
        ),
        (
            vec![format!("task.train_source={}", tsv.display())],
            "pairs.tsv: 1 line(s) hold a tab (first at line 1); agon reads one example per line",
        ),
        (
            // One file of pairs as both sides.
            vec![
                format!("task.train_source={}", tsv.display()),
                format!("task.train_data={}", tsv.display()),
            ],
            "task.train_source and task.train_data are the same file",
        ),
        (
            // The same file under another name.
            vec![format!("task.train_source={}", train_en.display())],
            "task.train_source and task.train_data are the same file",
        ),
        (
            vec![format!("task.train_source={}", gaps.display())],
            "train.en, which is line-aligned with it). Empty: lines 2, 4",
        ),
        (
            vec!["task.test_source=null".into()],
            "task.test_source is missing",
        ),
        (
            vec!["task.bleu={orders: [2]}".into()],
            "task.bleu does not apply to a task of kind conditional",
        ),
        (
            vec!["task.evaluation={metrics: [meteor]}".into()],
            "unknown variant `meteor`",
        ),
        (
            // An unconditional generator on a conditional task.
            vec!["generator={plugin: agon/lstm-generator@^0.1}".into()],
            "(agon/lstm-generator@0.1.0:lstm) cannot generate for this task: it declares `sources-never`",
        ),
    ];
    let smoke = smoke();
    for (i, (sets, expected)) in cases.iter().enumerate() {
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        let message = sandbox.refused_train(&smoke, &sets, &format!("bad{i}"));
        assert!(message.contains(expected), "case {i}: {message}");
    }
    // Components that cannot handle the task are refused before training
    // starts, from what their libraries declare (no probe): a pair
    // discriminator or a reference reward on an unconditional task, a
    // sequence discriminator on a conditional one.
    let text = config("smoke-text.yaml");
    let mismatches = [
        (
            &text,
            "discriminator={plugin: pair-lab/pair-discriminators@^0.1, component: pair-cnn}",
            "declares `sources-required` (it reads each row's source), so it needs a conditional task",
        ),
        (
            &text,
            "reward={plugin: agon/rewards@^0.1, component: rouge-l}",
            "declares `references-required` (it scores each sequence against its own reference), and a text task has none; use it on a conditional task",
        ),
        (
            &smoke,
            "discriminator={plugin: seqgan-lab/cnn-discriminator@^0.1}",
            "declares `sources-never` (it reads targets alone, so it would not see what each target answers); conditional tasks need a discriminator that declares `sources-required` (on the SDK's kit: `SourceUse::Required`), e.g. pair-lab/pair-discriminators",
        ),
    ];
    for (i, (config, set, expected)) in mismatches.into_iter().enumerate() {
        let message = refused_with_set(&sandbox, config, set, &format!("mismatch{i}"));
        assert!(message.contains(expected), "case {i}: {message}");
    }
    // Bad evaluation settings and reference files name the key or the line.
    // 60 lines, like the test set, the first one empty.
    let gap = sandbox.write("refs.txt", &format!("\n{}", "a reference\n".repeat(59)));
    for (set, expected) in [
        (
            "task.evaluation={metrics: []}".to_string(),
            "task.evaluation.metrics is empty".to_string(),
        ),
        (
            "task.evaluation={beam_size: 0}".to_string(),
            "task.evaluation.beam_size must be at least 1".to_string(),
        ),
        (
            "task.evaluation={length_penalty: -1}".to_string(),
            "task.evaluation.length_penalty must be a number ≥ 0".to_string(),
        ),
        (
            format!("task.extra_references=[{}]", gap.display()),
            "refs.txt:1: empty line".to_string(),
        ),
    ] {
        let message = refused_with_set(&sandbox, &smoke, &set, "bad-eval");
        assert!(message.contains(&expected), "{set}: {message}");
    }
    assert!(
        fixtures.join("NOTICE.md").is_file(),
        "the licence notice travels with the data"
    );
}
