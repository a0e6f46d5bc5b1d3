//! sacreBLEU's 13a tokenizer and corpus BLEU, and rouge-score's ROUGE, on raw
//! text, against `fixtures/text_metric_fixture.json` (made by sacreBLEU 2.6.0
//! and rouge-score 0.1.2: `fixtures/make_text_metric_fixture.py`).

use agon_metrics::{
    corpus_bleu_13a, sacrebleu, tokenize_13a, BleuStats, Rouge, RougeMetric, SacreBleuSettings,
};
use serde_json::Value;

fn fixture() -> Value {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/text_metric_fixture.json"),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn strings(value: &Value) -> Vec<String> {
    serde_json::from_value(value.clone()).unwrap()
}

#[test]
fn the_13a_tokenizer_matches_sacrebleu() {
    let fixture = fixture();
    for case in fixture["tokenize_13a"].as_array().unwrap() {
        let input = case[0].as_str().unwrap();
        assert_eq!(tokenize_13a(input), strings(&case[1]), "input {input:?}");
    }
}

#[test]
fn corpus_bleu_13a_matches_sacrebleu_with_one_and_two_references() {
    let fixture = fixture();
    let corpus = &fixture["corpus"];
    let hypotheses = strings(&corpus["hypotheses"]);
    let a = strings(&corpus["stream_a"]);
    let b = strings(&corpus["stream_b"]);
    for (streams, expected) in [
        (vec![a.clone()], &corpus["one_reference"]),
        (vec![a, b], &corpus["two_references"]),
    ] {
        let ours = corpus_bleu_13a(&hypotheses, &streams);
        let want = expected["score"].as_f64().unwrap();
        assert!((ours.score - want).abs() < 1e-9, "{} vs {want}", ours.score);
        assert_eq!(
            ours.hypothesis_len as u64,
            expected["sys_len"].as_u64().unwrap()
        );
        assert_eq!(
            ours.reference_len as u64,
            expected["ref_len"].as_u64().unwrap()
        );
        assert_eq!(
            sacrebleu::signature(streams.len()),
            expected["signature"].as_str().unwrap()
        );
    }
}

/// No match of any order (sacreBLEU's early stop: 0, and every precision
/// 0, before smoothing), lines too short for 4-grams, unigram matches only,
/// an empty hypothesis.
#[test]
fn corpus_bleu_13a_matches_sacrebleu_at_the_corners() {
    let fixture = fixture();
    for case in fixture["corner_cases"].as_array().unwrap() {
        let hypotheses = strings(&case["hypotheses"]);
        let streams: Vec<Vec<String>> = case["references"]
            .as_array()
            .unwrap()
            .iter()
            .map(strings)
            .collect();
        let ours = corpus_bleu_13a(&hypotheses, &streams);
        let expected = &case["bleu"];
        let close = |a: f64, b: &Value| (a - b.as_f64().unwrap()).abs() < 1e-9;
        assert!(
            close(ours.score, &expected["score"])
                && close(ours.brevity_penalty, &expected["bp"])
                && (0..4).all(|n| close(ours.precisions[n], &expected["precisions"][n])),
            "{hypotheses:?} against {streams:?}: {ours:?}, sacreBLEU {expected}"
        );
        assert_eq!(
            (ours.hypothesis_len as u64, ours.reference_len as u64),
            (
                expected["sys_len"].as_u64().unwrap(),
                expected["ref_len"].as_u64().unwrap()
            )
        );
    }
}

#[test]
fn lowercase_bleu_and_its_sentence_statistics_match_sacrebleu() {
    let fixture = fixture();
    let corpus = &fixture["corpus"];
    let hypotheses = strings(&corpus["lowercase_hypotheses"]);
    let streams = vec![strings(&corpus["stream_a"])];
    let expected = &corpus["lowercase"];
    let settings = SacreBleuSettings { lowercase: true };
    let ours = settings.corpus_bleu(&hypotheses, &streams);
    let want = expected["score"].as_f64().unwrap();
    assert!((ours.score - want).abs() < 1e-9, "{} vs {want}", ours.score);
    assert_eq!(
        settings.signature(1),
        expected["signature"].as_str().unwrap()
    );
    // Case matters without `lowercase` (the references are true case).
    let mixed = SacreBleuSettings::default().corpus_bleu(&hypotheses, &streams);
    assert!(mixed.score < want - 1.0, "{} vs {want}", mixed.score);
    // Summed sentence statistics are the corpus score (what a bootstrap
    // resamples).
    let mut total = BleuStats::default();
    for stats in settings.sentence_stats(&hypotheses, &streams) {
        total.add(&stats);
    }
    assert_eq!(total.score(), ours);
}

fn assert_rouge(ours: &Rouge, expected: &Value, what: &str) {
    for (name, score) in [
        ("rouge1", ours.rouge1),
        ("rouge2", ours.rouge2),
        ("rougeL", ours.rouge_l),
    ] {
        let want: Vec<f64> = serde_json::from_value(expected[name].clone()).unwrap();
        for (got, want) in [score.precision, score.recall, score.f1].iter().zip(&want) {
            assert!((got - want).abs() < 1e-12, "{what} {name}: {got} vs {want}");
        }
    }
}

#[test]
fn rouge_matches_rouge_score_for_one_and_several_references() {
    let fixture = fixture();
    let metric = RougeMetric::new(false);
    for (i, case) in fixture["rouge"].as_array().unwrap().iter().enumerate() {
        let prediction = case["prediction"].as_str().unwrap();
        let references = strings(&case["references"]);
        assert_rouge(
            &metric.score(&references[0], prediction),
            &case["single"],
            &format!("case {i}"),
        );
        assert_rouge(
            &metric.score_multi(&references, prediction),
            &case["multi"],
            &format!("case {i}, {} references", references.len()),
        );
    }
}

#[test]
fn stemmed_rouge_matches_rouge_score() {
    let fixture = fixture();
    let (plain, stemmed) = (RougeMetric::new(false), RougeMetric::new(true));
    let cases = fixture["rouge_stemmed"].as_array().unwrap();
    for (i, case) in cases.iter().enumerate() {
        let prediction = case["prediction"].as_str().unwrap();
        let references = strings(&case["references"]);
        let score = stemmed.score_multi(&references, prediction);
        assert_rouge(&score, &case["multi"], &format!("stemmed case {i}"));
        // The last three cases pair different forms of the same words: the
        // stemmer, not only the tokenizer, decides them.
        if i + 3 >= cases.len() {
            let unstemmed = plain.score_multi(&references, prediction);
            assert!(score.rouge1.f1 > unstemmed.rouge1.f1, "case {i}");
        }
    }
}
