//! `agon score` end to end: hypothesis and reference files in, the metrics
//! out, checked against the scores NLTK, sacreBLEU and rouge-score recorded
//! in the SDK's fixtures (`sdk/metrics/tests/fixtures/`, made by the scripts beside
//! them); and every bad input a clean `error:` line.

use std::path::PathBuf;

use agon_integration_tests::{workspace_root, Run, Sandbox};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = workspace_root()
        .join("sdk/metrics/tests/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn strings(value: &Value) -> Vec<String> {
    serde_json::from_value(value.clone()).unwrap()
}

fn floats(value: &Value) -> Vec<f64> {
    serde_json::from_value(value.clone()).unwrap()
}

/// Writes `lines` as a file, one per line.
fn write_lines<S: AsRef<str>>(sandbox: &Sandbox, name: &str, lines: &[S]) -> String {
    let mut text = String::new();
    for line in lines {
        text.push_str(line.as_ref());
        text.push('\n');
    }
    path(sandbox.write(name, &text))
}

fn path(path: PathBuf) -> String {
    path.to_str().unwrap().to_string()
}

/// `agon score ARGS… --json`, which must succeed.
fn score_json(sandbox: &Sandbox, args: &[&str]) -> Value {
    let mut all = vec!["score"];
    all.extend_from_slice(args);
    all.push("--json");
    let stdout = sandbox.run(&all, &[]).success();
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
}

fn metric(report: &Value, key: &str) -> f64 {
    report["metrics"][key]
        .as_f64()
        .unwrap_or_else(|| panic!("no metric {key} in {report}"))
}

fn assert_close(got: f64, want: f64, tolerance: f64, what: &str) {
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: agon score {got}, reference {want}"
    );
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let values: Vec<f64> = values.collect();
    values.iter().sum::<f64>() / values.len() as f64
}

#[test]
fn sacrebleu_matches_sacrebleu_with_one_and_two_reference_files() {
    let sandbox = Sandbox::new();
    let corpus = &fixture("text_metric_fixture.json")["corpus"];
    let hyp = write_lines(&sandbox, "hyp.txt", &strings(&corpus["hypotheses"]));
    let a = write_lines(&sandbox, "a.txt", &strings(&corpus["stream_a"]));
    let b = write_lines(&sandbox, "b.txt", &strings(&corpus["stream_b"]));
    for (refs, expected) in [
        (vec![&a], &corpus["one_reference"]),
        (vec![&a, &b], &corpus["two_references"]),
    ] {
        let mut args = vec!["--metric", "sacrebleu", "--hyp", &hyp];
        for r in &refs {
            args.extend(["--ref", r.as_str()]);
        }
        let report = score_json(&sandbox, &args);
        let what = format!("{} reference file(s)", refs.len());
        // agon's 0–1 scale: sacreBLEU's score / 100.
        assert_close(
            metric(&report, "sacrebleu"),
            expected["score"].as_f64().unwrap() / 100.0,
            1e-11,
            &what,
        );
        let details = &report["sacrebleu"];
        assert_eq!(details["signature"], expected["signature"], "{what}");
        assert_eq!(details["hypothesis_length"], expected["sys_len"], "{what}");
        assert_eq!(details["reference_length"], expected["ref_len"], "{what}");
        for (got, want) in floats(&details["precisions"])
            .iter()
            .zip(floats(&expected["precisions"]))
        {
            assert_close(*got, want / 100.0, 1e-12, &format!("{what}, precision"));
        }
        assert_eq!(report["hypotheses"]["lines"], 60);
        assert_eq!(report["references"].as_array().unwrap().len(), refs.len());
    }
}

#[test]
fn lowercase_is_sacrebleus_lc() {
    let sandbox = Sandbox::new();
    let corpus = &fixture("text_metric_fixture.json")["corpus"];
    let hyp = write_lines(
        &sandbox,
        "hyp.txt",
        &strings(&corpus["lowercase_hypotheses"]),
    );
    let a = write_lines(&sandbox, "a.txt", &strings(&corpus["stream_a"]));
    let expected = &corpus["lowercase"];
    let args = ["--metric", "sacrebleu", "--hyp", &hyp, "--ref", &a];
    let mut with_lc = args.to_vec();
    with_lc.push("--lowercase");
    let lc = score_json(&sandbox, &with_lc);
    let want = expected["score"].as_f64().unwrap() / 100.0;
    assert_close(metric(&lc, "sacrebleu"), want, 1e-11, "-lc");
    assert_eq!(lc["sacrebleu"]["signature"], expected["signature"]);
    // Without it, case counts against lower-case output.
    let mixed = score_json(&sandbox, &args);
    assert!(
        metric(&mixed, "sacrebleu") < want - 0.01,
        "{mixed} vs {want}"
    );
}

/// The prediction of a ROUGE fixture case.
fn prediction(case: &Value) -> String {
    case["prediction"].as_str().unwrap().to_string()
}

/// Reference `k` of each case (its last one where it has fewer).
fn reference_column(cases: &[&Value], k: usize) -> Vec<String> {
    cases
        .iter()
        .map(|c| {
            let refs = strings(&c["references"]);
            refs[k.min(refs.len() - 1)].clone()
        })
        .collect()
}

/// rouge-score's mean F1 over `cases` of `kind` ("single" or "multi").
fn mean_rouge(cases: &[&Value], kind: &str, name: &str) -> f64 {
    mean(cases.iter().map(|c| c[kind][name][2].as_f64().unwrap()))
}

fn assert_rouge(report: &Value, cases: &[&Value], kind: &str, what: &str) {
    for (ours, theirs) in [
        ("rouge1", "rouge1"),
        ("rouge2", "rouge2"),
        ("rouge_l", "rougeL"),
    ] {
        assert_close(
            metric(report, ours),
            mean_rouge(cases, kind, theirs),
            1e-12,
            &format!("{what} {ours}"),
        );
    }
}

#[test]
fn rouge_matches_rouge_score_with_one_and_several_references_and_stemming() {
    let sandbox = Sandbox::new();
    let fixture = fixture("text_metric_fixture.json");
    let all = fixture["rouge"].as_array().unwrap();
    // One reference: the 40 three-reference cases against their first, and
    // the edge cases 40 (empty prediction), 42 and 43 (41's reference is
    // empty, which agon refuses).
    let single: Vec<&Value> = all[..40]
        .iter()
        .chain([&all[40], &all[42], &all[43]])
        .collect();
    let predictions: Vec<String> = single.iter().map(|c| prediction(c)).collect();
    let hyp = write_lines(&sandbox, "single.txt", &predictions);
    let reference = write_lines(&sandbox, "single-ref.txt", &reference_column(&single, 0));
    let report = score_json(
        &sandbox,
        &["--metric", "rouge", "--hyp", &hyp, "--ref", &reference],
    );
    assert_rouge(&report, &single, "single", "one reference");

    // Three references, the best (the caption the prediction perturbs)
    // in the last file: score_multi takes the best per line.
    let multi: Vec<&Value> = all[..40].iter().collect();
    let predictions: Vec<String> = multi.iter().map(|c| prediction(c)).collect();
    let hyp = write_lines(&sandbox, "multi.txt", &predictions);
    let refs: Vec<String> = [1, 2, 0]
        .iter()
        .map(|&k| {
            write_lines(
                &sandbox,
                &format!("ref{k}.txt"),
                &reference_column(&multi, k),
            )
        })
        .collect();
    let report = score_json(
        &sandbox,
        &[
            "--metric", "rouge", "--hyp", &hyp, "--ref", &refs[0], "--ref", &refs[1], "--ref",
            &refs[2],
        ],
    );
    assert_rouge(&report, &multi, "multi", "three references");

    // Stemming: the fixture's cases of different forms of the same words
    // (the first has two references; the others' one is given twice).
    let stemmed: Vec<&Value> = fixture["rouge_stemmed"].as_array().unwrap()[44..47]
        .iter()
        .collect();
    let predictions: Vec<String> = stemmed.iter().map(|c| prediction(c)).collect();
    let hyp = write_lines(&sandbox, "stem.txt", &predictions);
    let a = write_lines(&sandbox, "stem-a.txt", &reference_column(&stemmed, 0));
    let b = write_lines(&sandbox, "stem-b.txt", &reference_column(&stemmed, 1));
    let args = ["--metric", "rouge", "--hyp", &hyp, "--ref", &a, "--ref", &b];
    let mut with_stemmer = args.to_vec();
    with_stemmer.push("--rouge-stemmer");
    let report = score_json(&sandbox, &with_stemmer);
    assert_rouge(&report, &stemmed, "multi", "stemmed");
    let unstemmed = score_json(&sandbox, &args);
    assert!(
        metric(&unstemmed, "rouge1") < metric(&report, "rouge1") - 0.1,
        "{unstemmed}"
    );
}

#[test]
fn texygen_bleu_scores_each_hypothesis_against_every_reference_line_as_nltk_does() {
    let sandbox = Sandbox::new();
    let fixture = fixture("bleu_fixture.json");
    let as_text = |value: &Value| -> Vec<String> {
        let sequences: Vec<Vec<u32>> = serde_json::from_value(value.clone()).unwrap();
        sequences
            .iter()
            .map(|s| s.iter().map(u32::to_string).collect::<Vec<_>>().join(" "))
            .collect()
    };
    // 47 hypotheses, one of them empty (scored 0, as NLTK does).
    let hypotheses = as_text(&fixture["hypotheses"]);
    assert!(hypotheses.iter().any(String::is_empty));
    let references = as_text(&fixture["references"]);
    let hyp = write_lines(&sandbox, "hyp.txt", &hypotheses);
    // Two reference files of 30 lines each: together one set of 60, and not
    // line-aligned with the 47 hypotheses (BLEU does not need them to be).
    let first = write_lines(&sandbox, "ref1.txt", &references[..30]);
    let second = write_lines(&sandbox, "ref2.txt", &references[30..]);
    let report = score_json(
        &sandbox,
        &[
            "--metric",
            "bleu",
            "--orders",
            "1,2,3,4,5",
            "--hyp",
            &hyp,
            "--ref",
            &first,
            "--ref",
            &second,
        ],
    );
    let expected: Vec<Vec<f64>> =
        serde_json::from_value(fixture["sentence_bleu_1_to_5"].clone()).unwrap();
    for n in 1..=5 {
        assert_close(
            metric(&report, &format!("bleu{n}")),
            mean(expected.iter().map(|scores| scores[n - 1])),
            1e-12,
            &format!("BLEU-{n}"),
        );
    }
    // Only the orders asked for.
    assert_eq!(report["metrics"].as_object().unwrap().len(), 5, "{report}");
}

#[test]
fn self_bleu_leaves_each_hypothesis_out_as_nltk_does() {
    let sandbox = Sandbox::new();
    let fixture = fixture("bleu_fixture.json");
    let sequences: Vec<Vec<u32>> = serde_json::from_value(fixture["hypotheses"].clone()).unwrap();
    let lines: Vec<String> = sequences[..40]
        .iter()
        .map(|s| s.iter().map(u32::to_string).collect::<Vec<_>>().join(" "))
        .collect();
    let hyp = write_lines(&sandbox, "hyp.txt", &lines);
    // No --ref: Self-BLEU needs none.
    let report = score_json(&sandbox, &["--metric", "self-bleu", "--hyp", &hyp]);
    let expected: Vec<Vec<f64>> =
        serde_json::from_value(fixture["self_bleu_1_to_5_of_first_40"].clone()).unwrap();
    for n in 2..=5 {
        assert_close(
            metric(&report, &format!("self_bleu{n}")),
            mean(expected.iter().map(|scores| scores[n - 1])),
            1e-12,
            &format!("Self-BLEU-{n}"),
        );
    }
}

#[test]
fn distinct_counts_the_tokens_of_the_chosen_tokenizer() {
    let sandbox = Sandbox::new();
    let hyp = write_lines(&sandbox, "hyp.txt", &["A b a b", "a b."]);
    let distinct = |extra: &[&str]| {
        let mut args = vec!["--metric", "distinct", "--hyp", hyp.as_str()];
        args.extend_from_slice(extra);
        let report = score_json(&sandbox, &args);
        (metric(&report, "distinct1"), metric(&report, "distinct2"))
    };
    // Whitespace tokens: A b a b | a b. → 4 distinct of 6; bigrams
    // Ab ba ab | ab. → 4 of 4.
    assert_eq!(distinct(&[]), (4.0 / 6.0, 4.0 / 4.0));
    // Lower-cased: a b a b | a b. → 3 of 6; ab ba ab | ab. → 3 of 4.
    assert_eq!(distinct(&["--lowercase"]), (3.0 / 6.0, 3.0 / 4.0));
    // agon's word tokenizer: a b a b | a b . → 3 of 7; ab ba ab | ab b. → 3 of 5.
    assert_eq!(
        distinct(&["--lowercase", "--tokenizer", "word"]),
        (3.0 / 7.0, 3.0 / 5.0)
    );
}

#[test]
fn the_table_names_the_files_the_scale_and_the_signature() {
    let sandbox = Sandbox::new();
    let hyp = write_lines(&sandbox, "hyp.txt", &["the cat sat on the mat", "a dog"]);
    let reference = write_lines(&sandbox, "ref.txt", &["the cat sat on the mat", "a dog"]);
    let stdout = sandbox
        .run(
            &[
                "score",
                "--metric",
                "sacrebleu",
                "--metric",
                "rouge,distinct",
                "--hyp",
                &hyp,
                "--ref",
                &reference,
            ],
            &[],
        )
        .success();
    for expected in [
        "hyp.txt (2 lines)",
        "ref.txt (2 lines)",
        "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
        "sacreBLEU prints 100.00",
        "0–1 scale",
    ] {
        assert!(stdout.contains(expected), "no `{expected}` in:\n{stdout}");
    }
    let row = |key: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("no {key} row in:\n{stdout}"))
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(row("sacrebleu"), "1.0000");
    assert_eq!(row("rouge_l"), "1.0000");
    assert_eq!(row("distinct1"), "0.8750");
    assert_eq!(row("rouge2"), "1.0000");
}

/// `agon score ARGS…`, which must fail cleanly; returns its output.
fn failure(sandbox: &Sandbox, args: &[&str]) -> String {
    let mut all = vec!["score"];
    all.extend_from_slice(args);
    let run: Run = sandbox.run(&all, &[]);
    run.clean_failure()
}

fn assert_says(output: &str, parts: &[&str]) {
    for part in parts {
        assert!(output.contains(part), "no `{part}` in:\n{output}");
    }
}

#[test]
fn missing_and_empty_files_are_named() {
    let sandbox = Sandbox::new();
    let hyp = write_lines(&sandbox, "hyp.txt", &["a b"]);
    // Relative to the current directory (the tests run agon from the
    // workspace root).
    let out = failure(
        &sandbox,
        &[
            "--metric",
            "sacrebleu",
            "--hyp",
            &hyp,
            "--ref",
            "no/such/ref.txt",
        ],
    );
    assert_says(
        &out,
        &[
            "cannot read reference file no/such/ref.txt",
            "relative paths resolve against the current directory",
        ],
    );
    let empty = path(sandbox.write("empty.txt", ""));
    let out = failure(&sandbox, &["--metric", "distinct", "--hyp", &empty]);
    assert_says(&out, &["hypothesis file", "empty.txt is empty"]);
    let out = failure(
        &sandbox,
        &["--metric", "bleu", "--hyp", &hyp, "--ref", &empty],
    );
    assert_says(&out, &["reference file", "empty.txt is empty"]);
}

/// A blank reference line is scored as sacreBLEU and rouge-score score it
/// (a zero-length reference), with a warning naming the line.
#[test]
fn blank_reference_lines_score_as_the_reference_tools_do_with_a_warning() {
    let sandbox = Sandbox::new();
    let fixture = fixture("text_metric_fixture.json");
    let cases: Vec<&Value> = fixture["corner_cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["references"]
                .as_array()
                .unwrap()
                .iter()
                .any(|stream| strings(stream).iter().any(|l| l.trim().is_empty()))
        })
        .collect();
    assert_eq!(cases.len(), 2, "the fixture's blank-reference cases");
    for (k, case) in cases.into_iter().enumerate() {
        let hyp = write_lines(
            &sandbox,
            &format!("hyp{k}.txt"),
            &strings(&case["hypotheses"]),
        );
        let mut args = vec![
            "score".to_string(),
            "--metric".into(),
            "sacrebleu,rouge".into(),
            "--hyp".into(),
            hyp,
        ];
        let mut first_blank = None;
        for (s, stream) in case["references"].as_array().unwrap().iter().enumerate() {
            let lines = strings(stream);
            let name = format!("ref{k}-{s}.txt");
            if first_blank.is_none() {
                first_blank = lines
                    .iter()
                    .position(|l| l.trim().is_empty())
                    .map(|i| format!("{name}:{}: empty or blank line", i + 1));
            }
            args.extend(["--ref".to_string(), write_lines(&sandbox, &name, &lines)]);
        }
        args.push("--json".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = sandbox.run(&args, &[]);
        let stderr = run.stderr().to_string();
        let report: Value = serde_json::from_str(&run.success()).unwrap();
        let warning = first_blank.unwrap();
        assert!(
            stderr.contains(&warning) && stderr.contains("zero-length reference"),
            "{stderr}"
        );
        assert_close(
            metric(&report, "sacrebleu"),
            case["bleu"]["score"].as_f64().unwrap() / 100.0,
            1e-12,
            "sacreBLEU with blank references",
        );
        for (ours, theirs) in [
            ("rouge1", "rouge1"),
            ("rouge2", "rouge2"),
            ("rouge_l", "rougeL"),
        ] {
            assert_close(
                metric(&report, ours),
                case["rouge_mean_f1"][theirs].as_f64().unwrap(),
                1e-12,
                ours,
            );
        }
    }
}

#[test]
fn line_aligned_metrics_refuse_files_of_different_lengths() {
    let sandbox = Sandbox::new();
    let hyp = write_lines(&sandbox, "hyp.txt", &["a b", "c d", "e f"]);
    let good = write_lines(&sandbox, "good.txt", &["a b", "c d", "e f"]);
    let short = write_lines(&sandbox, "short.txt", &["a b", "c d"]);
    for metric in ["sacrebleu", "rouge"] {
        let out = failure(
            &sandbox,
            &[
                "--metric", metric, "--hyp", &hyp, "--ref", &good, "--ref", &short,
            ],
        );
        assert_says(
            &out,
            &[
                metric,
                "line-aligned",
                "hyp.txt has 3 lines",
                "short.txt has 2 lines",
            ],
        );
    }
    // Texygen BLEU takes the lines as one set: no alignment needed.
    score_json(
        &sandbox,
        &["--metric", "bleu", "--hyp", &hyp, "--ref", &short],
    );
}

#[test]
fn unknown_metrics_and_bad_options_are_refused_with_the_choices() {
    let sandbox = Sandbox::new();
    let hyp = write_lines(&sandbox, "hyp.txt", &["a b", "c d"]);
    let out = failure(&sandbox, &["--metric", "rouge,sacrebelu", "--hyp", &hyp]);
    assert_says(
        &out,
        &[
            "unknown metric `sacrebelu`",
            "did you mean `sacrebleu`",
            "sacrebleu, rouge, bleu, self-bleu, distinct",
        ],
    );
    let out = failure(&sandbox, &["--metric", "sacrebleu", "--hyp", &hyp]);
    assert_says(&out, &["--metric sacrebleu needs references", "--ref FILE"]);
    let out = failure(
        &sandbox,
        &["--metric", "self-bleu", "--orders", "2,0", "--hyp", &hyp],
    );
    assert_says(&out, &["--orders: `0`"]);
    let out = failure(
        &sandbox,
        &["--metric", "distinct", "--tokenizer", "wrd", "--hyp", &hyp],
    );
    assert_says(&out, &["unknown tokenizer `wrd`", "did you mean `word`"]);
    let one = write_lines(&sandbox, "one.txt", &["a b"]);
    let out = failure(&sandbox, &["--metric", "self-bleu", "--hyp", &one]);
    assert_says(&out, &["self-bleu needs at least 2 hypotheses"]);
}

#[test]
fn text_that_is_not_utf8_is_refused_at_its_line() {
    let sandbox = Sandbox::new();
    let hyp = write_lines(&sandbox, "hyp.txt", &["a b", "c d"]);
    let bad = sandbox.path().join("latin1.txt");
    std::fs::write(&bad, b"a b\ncaf\xe9\n").unwrap();
    let bad = path(bad);
    let out = failure(
        &sandbox,
        &["--metric", "rouge", "--hyp", &hyp, "--ref", &bad],
    );
    assert_says(&out, &["reference file", "latin1.txt:2: not UTF-8"]);
    let out = failure(&sandbox, &["--metric", "distinct", "--hyp", &bad]);
    assert_says(&out, &["hypothesis file", "latin1.txt:2: not UTF-8"]);
}
