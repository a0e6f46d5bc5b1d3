//! One whole SeqGAN g-step checked against an independent reference: a
//! float64 numpy implementation of the paper's equations on the same
//! weights (`scripts/reference/seqgan_g_step.py`, which wrote
//! `tests/fixtures/g_step/`; its docstring lists every equation).
//!
//! * The host's Monte-Carlo rollout scheduler, with the real LSTM generator
//!   and a reward that is a fixed formula of the tokens
//!   (`tests/fixtures/formula-reward`), gives Q-values within sampling
//!   error of the exact expectation over every completion.
//! * Two MLE steps, then two policy-gradient steps with the reference's
//!   Q-values, give the reference's losses, gradient norms and weights
//!   after every step: one Adam for MLE and a second, fresh one for the
//!   policy gradient, as the paper's code has.
//! * The rollout policy's update mixes its weights with the generator's.

use std::{collections::HashMap, path::Path};

use abi_stable::std_types::ROption;
use agon::{
    components::{Generator, Reward, SharedContext},
    train::rollout::{q_values, RolloutSettings, Scorer},
};
use agon_integration_tests::{build_dir, fixtures_dir, ComponentBuilder};
use agon_sdk::{Batch, MleOptions, StepOptions, TokenBatch, VocabInfo};
use serde_json::Value;

const FIXTURE: &str = "fixtures/g_step";
/// Rollouts per prefix for the Q-value check: a standard error of at most
/// 0.38 / √4000 ≈ 0.006 per Q-value.
const ROLLOUTS: usize = 4000;

fn fixture_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(FIXTURE)
        .join(name)
}

fn reference() -> Value {
    let text = std::fs::read_to_string(fixture_path("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn rows(value: &Value) -> Vec<Vec<u32>> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_u64().unwrap() as u32)
                .collect()
        })
        .collect()
}

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| match v.as_array() {
            Some(inner) => inner.iter().map(|x| x.as_f64().unwrap()).collect(),
            None => vec![v.as_f64().unwrap()],
        })
        .collect()
}

struct Parts {
    generator: Generator,
    reward: Reward,
    max_len: u32,
    _components: ComponentBuilder,
}

fn parts(reference: &Value) -> Parts {
    let number = |key: &str| reference[key].as_u64().unwrap();
    let max_len = number("max_len") as u32;
    let shared = SharedContext {
        device: "cpu".into(),
        seed: 1,
        vocab: VocabInfo {
            size: number("vocab_size") as u32,
            bos: number("bos") as u32,
            eos: ROption::RNone,
            pad: ROption::RNone,
            unk: ROption::RNone,
        },
        max_len,
        run_dir: String::new(),
        origin: Default::default(),
    };
    let adam = &reference["adam"];
    let adam = format!(
        "{{lr: {}, beta1: {}, beta2: {}, eps: {}}}",
        adam["lr"], adam["beta1"], adam["beta2"], adam["eps"]
    );
    let generator_config = format!(
        "{{embedding_dim: {}, hidden_dim: {}, grad_clip: {}, oracle_weights: '{}', \
         optimizer: {adam}, adversarial_optimizer: {adam}}}",
        number("embedding_dim"),
        number("hidden_dim"),
        reference["grad_clip"],
        fixture_path("weights.safetensors").display(),
    );
    let mut build = ComponentBuilder::new(&[build_dir(), fixtures_dir()], shared);
    Parts {
        generator: build.generator(&ComponentBuilder::spec(
            "agon/lstm-generator",
            None,
            &generator_config,
        )),
        reward: build.reward(&ComponentBuilder::spec(
            "agon-testing/formula-reward",
            Some("token-formula"),
            "",
        )),
        max_len,
        _components: build,
    }
}

/// The F32 tensors of a safetensors file, flattened, by name.
fn read_safetensors(file: &Path) -> HashMap<String, Vec<f32>> {
    let bytes = std::fs::read(file).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let data = &bytes[8 + header_len..];
    let mut tensors = HashMap::new();
    for (name, info) in header.as_object().unwrap() {
        if name == "__metadata__" || info["dtype"] != "F32" {
            continue;
        }
        let offsets = floats(&info["data_offsets"]);
        let raw = &data[offsets[0] as usize..offsets[1] as usize];
        let values = raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        tensors.insert(name.clone(), values);
    }
    tensors
}

/// The generator's weights and rollout weights, saved and read back.
fn saved_weights(generator: &Generator) -> HashMap<String, Vec<f32>> {
    let dir = tempfile::tempdir().unwrap();
    generator.save(dir.path()).unwrap();
    read_safetensors(&dir.path().join("lstm-generator.safetensors"))
}

fn assert_close(what: &str, actual: &[f32], expected: &[f64], tolerance: f64) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (f64::from(a) - e).abs() <= tolerance,
            "{what}[{i}]: agon {a}, reference {e} (tolerance {tolerance})"
        );
    }
}

/// The names of agon's six generator tensors in the reference's layout.
const TENSORS: [&str; 6] = [
    "embedding",
    "lstm.w_ih",
    "lstm.w_hh",
    "lstm.bias",
    "output.weight",
    "output.bias",
];

#[test]
fn rollout_q_values_match_the_exact_expectation_over_completions() {
    let reference = reference();
    let Parts {
        mut generator,
        mut reward,
        max_len,
        ..
    } = parts(&reference);
    let samples = TokenBatch::from_rows(&rows(&reference["samples"]), 0);
    let mut scorer = Scorer {
        discriminator: None,
        reward: &mut reward,
    };
    let settings = RolloutSettings {
        rollouts: ROLLOUTS,
        token_budget: 1 << 20,
        max_len,
        temperature: 1.0,
    };
    let (q, _) = q_values(&mut generator, &mut scorer, &samples, &settings, 41).unwrap();
    let expected = floats(&reference["q"]);
    let spread = floats(&reference["q_std"]);
    assert_eq!(q.len(), expected.len());
    let mut largest_z = 0.0f64;
    for (i, ((&got, &want), &std)) in q.iter().zip(&expected).zip(&spread).enumerate() {
        let standard_error = std / (ROLLOUTS as f64).sqrt();
        let error = (f64::from(got) - want).abs();
        // Five standard errors: a false alarm about once in 3 million
        // values; a wrong prefix, policy or reward is off by 0.05 or more.
        assert!(
            error <= 5.0 * standard_error + 1e-6,
            "Q[{i}]: agon {got}, exact {want} (standard error {standard_error:.4})"
        );
        if standard_error > 0.0 {
            largest_z = largest_z.max(error / standard_error);
        }
    }
    // The check has teeth: the exact values differ from each other by far
    // more than the tolerance.
    let spread_of_q = expected.iter().cloned().fold(f64::MIN, f64::max)
        - expected.iter().cloned().fold(f64::MAX, f64::min);
    assert!(spread_of_q > 0.5, "Q-values {expected:?}");
    eprintln!("largest deviation: {largest_z:.2} standard errors");
}

#[test]
fn mle_and_policy_gradient_steps_give_the_reference_losses_and_weights() {
    let reference = reference();
    let Parts { mut generator, .. } = parts(&reference);
    let initial = saved_weights(&generator);
    for (n, step) in reference["steps"].as_array().unwrap().iter().enumerate() {
        let kind = step["kind"].as_str().unwrap();
        let batch = Batch::unconditional(TokenBatch::from_rows(&rows(&step["batch"]), 0));
        let stats = match kind {
            "mle" => generator
                .mle_step(
                    &batch,
                    &MleOptions {
                        seed: 1,
                        scheduled_sampling: 0.0,
                    },
                )
                .unwrap(),
            "policy_gradient" => {
                let q: Vec<f32> = floats(&step["q"]).iter().map(|&v| v as f32).collect();
                generator
                    .policy_gradient_step(&batch, &q, &StepOptions { seed: 1 })
                    .unwrap()
            }
            other => panic!("unknown step kind {other}"),
        };
        let what = format!("step {n} ({kind})");
        let loss = step["loss"].as_f64().unwrap();
        assert!(
            (f64::from(stats.loss) - loss).abs() <= 1e-5 * loss.abs(),
            "{what}: loss {} vs reference {loss}",
            stats.loss
        );
        let norm = step["grad_norm"].as_f64().unwrap();
        let agon_norm = f64::from(stats.get("grad_norm").unwrap());
        assert!(
            (agon_norm - norm).abs() <= 1e-4 * norm,
            "{what}: gradient norm {agon_norm} vs reference {norm}"
        );
        let weights = saved_weights(&generator);
        for name in TENSORS {
            assert_close(
                &format!("{what}: {name}"),
                &weights[&format!("model.{name}")],
                &floats(&step["params"][name]),
                2e-5,
            );
        }
    }
    // The steps moved the weights by far more than the tolerance.
    let moved = saved_weights(&generator)["model.lstm.w_ih"]
        .iter()
        .zip(&initial["model.lstm.w_ih"])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(moved > 0.01, "largest change {moved}");

    let rate = reference["rollout_update_rate"].as_f64().unwrap() as f32;
    generator.update_rollout_policy(rate).unwrap();
    let weights = saved_weights(&generator);
    for (i, name) in TENSORS.iter().enumerate() {
        assert_close(
            &format!("rollout policy: {name}"),
            &weights[&format!("rollout.{i}")],
            &floats(&reference["rollout_after_update"][*name]),
            2e-5,
        );
    }
}
