//! The SeqGAN oracle, loaded into the lstm generator, reproduces the float64
//! reference values of `data/seqgan_oracle/oracle_reference.json` (computed
//! by `data/seqgan_oracle/verify_oracle.py` with numpy).

use agon_lstm_generator::LstmGenerator;
use agon_sdk::{Batch, GeneratorImpl, PluginContext, TokenBatch};

fn data(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/seqgan_oracle")
        .join(file)
}

/// A 5000-word, length-20 context whose config loads the oracle's weights
/// plus `extra` YAML lines.
fn oracle_context(extra: &str) -> PluginContext {
    let mut context = PluginContext::for_tests(5000, 20);
    context.config_yaml = format!(
        "oracle_weights: {}\n{extra}",
        data("oracle.safetensors").display()
    )
    .into();
    context
}

#[test]
fn oracle_matches_the_reference_nll_to_1e_4() {
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("oracle_reference.json")).unwrap())
            .unwrap();
    let context = oracle_context(
        "frozen: true
",
    );
    let mut oracle = LstmGenerator::new(&context).unwrap();
    let sequences: Vec<Vec<u32>> = serde_json::from_value(reference["sequences"].clone()).unwrap();
    let expected_mean: Vec<f64> = serde_json::from_value(reference["mean_nll"].clone()).unwrap();
    let expected_tokens: Vec<Vec<f64>> =
        serde_json::from_value(reference["per_token_nll"].clone()).unwrap();
    let batch = Batch::unconditional(TokenBatch::from_rows(&sequences, 0));
    let log_likelihood = oracle.log_likelihood(&batch).unwrap();
    for (i, (ll, expected)) in log_likelihood.iter().zip(&expected_mean).enumerate() {
        let mean_nll = -f64::from(*ll) / 20.0;
        assert!(
            (mean_nll - expected).abs() < 1e-4,
            "sequence {i}: {mean_nll} vs {expected}"
        );
    }
    let per_token = oracle.per_token_nll(&batch).unwrap();
    for (i, (row, expected)) in per_token.iter().zip(&expected_tokens).enumerate() {
        for (t, (got, want)) in row.iter().zip(expected).enumerate() {
            assert!(
                (f64::from(*got) - want).abs() < 1e-4,
                "sequence {i} token {t}: {got} vs {want}"
            );
        }
    }
    let first = &reference["first_step_from_start_token"];
    let (h1, c1, log_probs) = oracle.first_step().unwrap();
    for (name, got, key) in [
        ("h1", &h1, "h1"),
        ("c1", &c1, "c1"),
        ("log p", &log_probs, "logprob_tokens0to4"),
    ] {
        let want: Vec<f64> = serde_json::from_value(first[key].clone()).unwrap();
        for (k, w) in want.iter().enumerate() {
            assert!(
                (f64::from(got[k]) - w).abs() < 1e-4,
                "{name}[{k}]: {} vs {w}",
                got[k]
            );
        }
    }
}

#[test]
fn a_frozen_oracle_refuses_training() {
    let context = oracle_context(
        "frozen: true
",
    );
    let mut oracle = LstmGenerator::new(&context).unwrap();
    let batch = Batch::unconditional(TokenBatch::from_rows(&[vec![1u32, 2, 3]], 0));
    let err = oracle
        .mle_step(
            &batch,
            &agon_sdk::MleOptions {
                seed: 0,
                scheduled_sampling: 0.0,
            },
        )
        .unwrap_err();
    assert!(err.message().contains("frozen"), "{err}");
}

#[test]
fn oracle_file_with_other_dimensions_is_refused() {
    let context = oracle_context(
        "hidden_dim: 16
",
    );
    let err = LstmGenerator::new(&context).err().expect("shape mismatch");
    assert!(
        err.message().contains("set embedding_dim / hidden_dim"),
        "{err}"
    );
}
