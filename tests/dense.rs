//! Dense per-token credit end to end (`credit: dense`, ScratchGAN's
//! algorithm): a run trains from scratch with a per-token discriminator and
//! pins its trajectory, a stopped-and-resumed run continues the
//! moving-average baseline exactly, and a discriminator that scores whole
//! sequences only is refused before anything is written.

use agon_integration_tests::{assert_matches_pin, config, trajectory, Sandbox};

const PIN: &str = "smoke_dense_trajectory.json";

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
        // Rewards 2·D − 1 are in [−1, 1]; D is trained on every token.
        let reward = row["mean_reward"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&reward), "{row}");
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

#[test]
fn dense_credit_without_per_token_scores_is_refused_before_anything_is_written() {
    let sandbox = Sandbox::new();
    let out = sandbox.path().join("refused");
    let message = sandbox
        .run(
            &[
                "train",
                &config("smoke.yaml"),
                "--out",
                out.to_str().unwrap(),
                "--set",
                "training.adversarial.credit=dense",
            ],
            &[],
        )
        .clean_failure();
    assert!(
        message.contains(
            "discriminator (seqgan-lab/cnn-discriminator@0.1.0:cnn-highway) does not provide per-token scores"
        ),
        "{message}"
    );
    assert!(
        message.contains("scratchgan-lab/lstm-discriminator"),
        "{message}"
    );
    assert!(!out.exists(), "no run directory for a refused config");

    let message = sandbox
        .run(
            &[
                "train",
                &config("smoke-dense.yaml"),
                "--out",
                out.to_str().unwrap(),
                "--set",
                "training.adversarial.dense.gamma=1.5",
            ],
            &[],
        )
        .clean_failure();
    assert!(
        message.contains("training.adversarial.dense.gamma must be in [0, 1], got 1.5"),
        "{message}"
    );
    assert!(!out.exists());

    let message = sandbox
        .run(
            &[
                "train",
                &config("smoke-dense.yaml"),
                "--out",
                out.to_str().unwrap(),
                "--set",
                "training.adversarial.baseline_decay=1",
            ],
            &[],
        )
        .clean_failure();
    assert!(
        message.contains("training.adversarial.baseline_decay must be in [0, 1), got 1"),
        "{message}"
    );
    assert!(!out.exists());
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
