//! Dense per-token credit end to end (`credit: dense`, ScratchGAN's
//! algorithm): a run trains from scratch with a per-token discriminator and
//! pins its trajectory, a stopped-and-resumed run continues the
//! moving-average baseline exactly, an entropy bonus moves the generator
//! towards coverage, and a discriminator that scores whole sequences only
//! (or a bad dense option) is refused before anything is written.

use agon_integration_tests::{assert_matches_pin, config, trajectory, Sandbox};

const PIN: &str = "smoke_dense_trajectory.json";
/// The largest mean return of rewards in [−1, 1] discounted by γ = 0.23.
const RETURN_BOUND: f64 = 1.0 / (1.0 - 0.23);

#[test]
fn a_dense_run_trains_from_scratch_and_matches_its_pinned_trajectory() {
    let sandbox = Sandbox::new();
    let run = sandbox.train(&config("smoke-dense.yaml"), "dense", &[]);
    let rows = trajectory(&run);
    let phases: Vec<(&str, u64)> = rows
        .iter()
        .map(|r| (r["phase"].as_str().unwrap(), r["epoch"].as_u64().unwrap()))
        .collect();
    // No MLE epochs, no discriminator pretraining: the untrained generator,
    // then adversarial epochs.
    assert_eq!(
        phases,
        vec![
            ("mle", 0),
            ("adversarial", 2),
            ("adversarial", 4),
            ("adversarial", 6)
        ]
    );
    for row in &rows[1..] {
        // Rewards 2·D − 1 are in [−1, 1], so returns with γ = 0.23 within
        // ±1/(1 − γ); D is trained on every token.
        let reward = row["mean_reward"].as_f64().unwrap();
        assert!(reward.abs() <= RETURN_BOUND, "{row}");
        assert!(row["d_accuracy"].as_f64().is_some(), "{row}");
        assert!(row["nll_oracle"].as_f64().unwrap().is_finite(), "{row}");
    }
    assert_matches_pin(&rows, PIN);
}

#[test]
fn a_stopped_and_resumed_dense_run_equals_an_uninterrupted_one() {
    let sandbox = Sandbox::new();
    let dense = config("smoke-dense.yaml");
    let whole = sandbox.train(&dense, "whole", &[]);
    let split = sandbox.train(&dense, "split", &["--stop-after", "3"]);
    let state = std::fs::read_to_string(split.join("checkpoints/latest/state.json")).unwrap();
    // The moving-average baseline is part of the checkpoint.
    assert!(state.contains("reward_baseline"), "{state}");
    sandbox
        .run(&["train", "--resume", split.to_str().unwrap()], &[])
        .success();
    assert_eq!(trajectory(&split), trajectory(&whole));
}

/// `agon train CONFIG --set …`, which must be refused without leaving a
/// run directory; its message.
fn refused(sandbox: &Sandbox, config_file: &str, sets: &[&str]) -> String {
    sandbox.refused_train(&config(config_file), sets, "refused")
}

#[test]
fn dense_credit_without_per_token_scores_is_refused_before_anything_is_written() {
    let sandbox = Sandbox::new();
    let message = refused(
        &sandbox,
        "smoke.yaml",
        &["training.adversarial.credit=dense"],
    );
    assert!(
        message.contains(
            "discriminator (seqgan-lab/cnn-discriminator@0.1.0:cnn-highway) does not provide per-token scores"
        ),
        "{message}"
    );
    assert!(
        message.contains("scratchgan-lab/lstm-discriminator")
            && message.contains("agon plugins new discriminator --per-token"),
        "{message}"
    );

    let cases: [(&str, &[&str], &str); 5] = [
        (
            "smoke-dense.yaml",
            &["training.adversarial.dense.gamma=1.5"],
            "training.adversarial.dense.gamma must be in [0, 1], got 1.5",
        ),
        (
            "smoke-dense.yaml",
            &["training.adversarial.baseline_decay=1"],
            "training.adversarial.baseline_decay must be in [0, 1), got 1",
        ),
        (
            "smoke-dense.yaml",
            &["training.adversarial.dense.entropy_bonus=-0.5"],
            "training.adversarial.dense.entropy_bonus must be a number ≥ 0, got -0.5",
        ),
        (
            "smoke.yaml",
            &["training.adversarial.dense.entropy_bonus=0.1"],
            "entropy_bonus applies to `credit: dense` only",
        ),
        (
            "smoke-dense.yaml",
            &[
                "training.adversarial.dense.entropy_bonus=0.1",
                "training.adversarial.temperature=0.8",
            ],
            "entropy_bonus needs training.adversarial.temperature 1 (got 0.8)",
        ),
    ];
    for (config_file, sets, expected) in cases {
        let message = refused(&sandbox, config_file, sets);
        assert!(message.contains(expected), "{sets:?}: {message}");
    }
}

/// The last metrics row of a run.
fn last_row(run: &std::path::Path) -> serde_json::Value {
    trajectory(run).pop().unwrap()
}

#[test]
fn an_entropy_bonus_trades_sample_quality_for_coverage() {
    // After 4 MLE epochs, 6 dense epochs with and without the bonus. Without
    // it the policy gradient seeks modes: samples score better under the
    // oracle, held-out oracle data worse under the generator. A bonus of 1
    // nat per nat of surprisal pushes the other way, towards a generator
    // of higher entropy: its samples are worse under the oracle and it
    // covers held-out data better.
    let sandbox = Sandbox::new();
    let dense = config("smoke-dense.yaml");
    let plain = sandbox.train(&dense, "plain", &["--set", "training.mle.epochs=4"]);
    let bonus = sandbox.train(
        &dense,
        "bonus",
        &[
            "--set",
            "training.mle.epochs=4",
            "--set",
            "training.adversarial.dense.entropy_bonus=1",
        ],
    );
    let (plain, bonus) = (last_row(&plain), last_row(&bonus));
    let value = |row: &serde_json::Value, key: &str| row[key].as_f64().unwrap();
    assert!(
        value(&bonus, "nll_oracle") > value(&plain, "nll_oracle") + 0.2,
        "{plain}\n{bonus}"
    );
    assert!(
        value(&bonus, "nll_test") < value(&plain, "nll_test") - 0.1,
        "{plain}\n{bonus}"
    );
    // `mean_reward` stays the discriminator's part (returns of 2·D − 1),
    // without the bonus of about 1 nat per token.
    assert!(
        value(&bonus, "mean_reward").abs() <= RETURN_BOUND,
        "{bonus}"
    );
}

#[test]
fn dense_credit_trains_a_text_task_and_says_the_reward_section_is_unused() {
    let sandbox = Sandbox::new();
    let out = sandbox.path().join("text-dense");
    let run = sandbox.run(
        &[
            "train",
            &config("smoke-text.yaml"),
            "--out",
            out.to_str().unwrap(),
            "--set",
            "discriminator.plugin=scratchgan-lab/lstm-discriminator@^0.1",
            "--set",
            "training.adversarial.credit=dense",
        ],
        &[],
    );
    run.success();
    assert!(
        run.stderr().contains("the `reward:` section is not used"),
        "{}",
        run.stderr()
    );
    let rows = trajectory(&out);
    let last = rows.last().unwrap();
    assert_eq!(last["phase"], "adversarial", "{last}");
    assert!(last["bleu2"].as_f64().unwrap().is_finite(), "{last}");
    assert!(last["mean_reward"].as_f64().is_some(), "{last}");
}
