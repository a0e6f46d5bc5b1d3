//! The BLEU core against scores computed by NLTK and sacreBLEU
//! (`fixtures/bleu_fixture.json`; how it was made: `fixtures/make_bleu_fixture.py`).

use agon_metrics::{corpus_bleu, BleuReferences};
use serde_json::Value;

fn fixture() -> Value {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bleu_fixture.json"),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn sequences(value: &Value) -> Vec<Vec<u32>> {
    serde_json::from_value(value.clone()).unwrap()
}

fn scores(value: &Value) -> Vec<Vec<f64>> {
    serde_json::from_value(value.clone()).unwrap()
}

fn assert_close(ours: &[f64], theirs: &[f64], what: &str) {
    for (n, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!(
            (a - b).abs() < 1e-12,
            "{what}, BLEU-{}: ours {a}, reference {b}",
            n + 1
        );
    }
}

#[test]
fn sentence_bleu_matches_nltk() {
    let fixture = fixture();
    let references = BleuReferences::new(&sequences(&fixture["references"]), 5);
    let hypotheses = sequences(&fixture["hypotheses"]);
    let expected = scores(&fixture["sentence_bleu_1_to_5"]);
    assert_eq!(hypotheses.len(), expected.len());
    for (i, (h, e)) in hypotheses.iter().zip(&expected).enumerate() {
        assert_close(&references.sentence_bleu(h), e, &format!("hypothesis {i}"));
    }
}

/// An empty reference in the set (a blank line of a reference file) counts
/// as NLTK counts it: its length can be the closest.
#[test]
fn sentence_bleu_matches_nltk_with_an_empty_reference_in_the_set() {
    let fixture = fixture();
    let case = &fixture["empty_reference"];
    let references = sequences(&case["references"]);
    assert!(references.iter().any(Vec::is_empty));
    let references = BleuReferences::new(&references, 5);
    let expected = scores(&case["sentence_bleu_1_to_5"]);
    for (i, (h, e)) in sequences(&case["hypotheses"])
        .iter()
        .zip(&expected)
        .enumerate()
    {
        assert_close(&references.sentence_bleu(h), e, &format!("hypothesis {i}"));
    }
}

#[test]
fn self_bleu_leaves_each_hypothesis_out_as_nltk_does() {
    let fixture = fixture();
    let hypotheses = sequences(&fixture["hypotheses"]);
    let set = &hypotheses[..40];
    let references = BleuReferences::new(set, 5);
    let expected = scores(&fixture["self_bleu_1_to_5_of_first_40"]);
    for (i, (h, e)) in set.iter().zip(&expected).enumerate() {
        assert_close(
            &references.sentence_bleu_excluding(h, i),
            e,
            &format!("self-BLEU of hypothesis {i}"),
        );
    }
}

#[test]
fn corpus_bleu_matches_sacrebleu() {
    let fixture = fixture();
    let hypotheses = sequences(&fixture["hypotheses"]);
    let corpus = &fixture["corpus"];
    let streams: Vec<Vec<Vec<u32>>> = serde_json::from_value(corpus["references"].clone()).unwrap();
    let ours = corpus_bleu(&hypotheses[..40], &streams);
    assert!((ours.score - corpus["score"].as_f64().unwrap()).abs() < 1e-9);
    assert!((ours.brevity_penalty - corpus["bp"].as_f64().unwrap()).abs() < 1e-12);
    assert_eq!(
        ours.hypothesis_len as u64,
        corpus["sys_len"].as_u64().unwrap()
    );
    assert_eq!(
        ours.reference_len as u64,
        corpus["ref_len"].as_u64().unwrap()
    );
    let precisions: Vec<f64> = serde_json::from_value(corpus["precisions"].clone()).unwrap();
    assert_close(&ours.precisions, &precisions, "corpus precisions");
}
