//! Gumbel-softmax training end to end (`algorithm: gumbel`, RelGAN's
//! algorithm): a run trains RelGAN's generator and discriminator through
//! the boundary's relaxed methods and pins its trajectory; a stopped and
//! resumed run equals an uninterrupted one; each GAN loss trains; and a
//! generator or discriminator without the relaxed capabilities, or a bad
//! gumbel option, is refused before anything is written.

use agon_integration_tests::{assert_matches_pin, config, trajectory, Sandbox};

const PIN: &str = "smoke_gumbel_trajectory.json";

#[test]
fn a_gumbel_run_trains_relgan_and_matches_its_pinned_trajectory() {
    let sandbox = Sandbox::new();
    let run = sandbox.train(&config("smoke-gumbel.yaml"), "gumbel", &[]);
    let rows = trajectory(&run);
    let phases: Vec<(&str, u64)> = rows
        .iter()
        .map(|r| (r["phase"].as_str().unwrap(), r["epoch"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        phases,
        vec![
            ("mle", 0),
            ("mle", 2),
            ("adversarial", 2),
            ("adversarial", 4),
            ("adversarial", 6)
        ]
    );
    for row in &rows[2..] {
        // The generator's RSGAN loss softplus(−(f − r)) is positive; D's
        // pairwise accuracy is a fraction; no reward is involved.
        assert!(row["g_loss"].as_f64().unwrap() > 0.0, "{row}");
        let accuracy = row["d_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&accuracy), "{row}");
        assert!(row["mean_reward"].is_null(), "{row}");
        assert!(row["nll_oracle"].as_f64().unwrap().is_finite(), "{row}");
    }
    assert_matches_pin(&rows, PIN);
}

#[test]
fn a_stopped_and_resumed_gumbel_run_equals_an_uninterrupted_one() {
    let sandbox = Sandbox::new();
    let gumbel = config("smoke-gumbel.yaml");
    // Four adversarial epochs keep it short; the stop falls in the middle
    // of the adversarial phase, where β depends on the epoch.
    let short = ["--set", "training.adversarial.epochs=4"];
    let whole = sandbox.train(&gumbel, "whole", &short);
    let split = sandbox.train(
        &gumbel,
        "split",
        &[&short[..], &["--stop-after", "4"]].concat(),
    );
    sandbox
        .run(&["train", "--resume", split.to_str().unwrap()], &[])
        .success();
    assert_eq!(trajectory(&split), trajectory(&whole));

    // Extended to 6 epochs, β's exponential schedule (max 10) is stretched
    // from the epoch reached, and a note says where it jumps:
    // 10^(3/4) at epoch 4 of 4, 10^(4/6) at epoch 5 of 6.
    let extended = sandbox.run(
        &[
            "train",
            "--resume",
            split.to_str().unwrap(),
            "--set",
            "training.adversarial.epochs=6",
        ],
        &[],
    );
    extended.success();
    let said = extended.stderr();
    assert!(
        said.contains("now anneals over 6 adversarial epochs, not 4: it was 5.6234 at epoch 4, and is 4.6416 at epoch 5"),
        "{said}"
    );
}

#[test]
fn every_gan_loss_trains_the_discriminator_through_the_host() {
    let sandbox = Sandbox::new();
    for loss in ["standard", "hinge"] {
        let set = format!("training.adversarial.gumbel.loss={loss}");
        let run = sandbox.train(
            &config("smoke-gumbel.yaml"),
            loss,
            &[
                "--set",
                &set,
                "--set",
                "training.adversarial.epochs=2",
                "--set",
                "training.mle.epochs=0",
            ],
        );
        let last = trajectory(&run).pop().unwrap();
        assert_eq!(last["phase"], "adversarial", "{loss}: {last}");
        let d_loss = last["d_loss"].as_f64().unwrap();
        // Standard: BCE of both sides, ≥ 0; hinge: relu terms, ≥ 0.
        assert!(d_loss.is_finite() && d_loss >= 0.0, "{loss}: {last}");
    }
}

/// Policy-gradient keys set under `gumbel` are named as unread (a config
/// that sets them expects an effect), and the run goes on.
#[test]
fn policy_gradient_keys_set_under_gumbel_are_named_as_unread() {
    let sandbox = Sandbox::new();
    let gumbel = config("smoke-gumbel.yaml");
    let run = sandbox.run(
        &[
            "train",
            &gumbel,
            "--out",
            sandbox.path().join("unread").to_str().unwrap(),
            "--set",
            "training.adversarial.rollouts=8",
            "--set",
            "training.adversarial.d_epochs=1",
            "--stop-after",
            "1",
        ],
        &[],
    );
    run.success();
    let said = run.stderr();
    assert!(
        said.contains("training.adversarial.{rollouts, d_epochs} are not used: training.adversarial.algorithm is `gumbel`"),
        "{said}"
    );
}

#[test]
fn gumbel_without_relaxed_components_or_with_bad_options_is_refused_before_anything_is_written() {
    let sandbox = Sandbox::new();
    let gumbel = config("smoke-gumbel.yaml");
    let cases: [(&[&str], &str); 8] = [
        // Placed where the config asks for gumbel, with a discriminator
        // that would do.
        (
            &["discriminator=null"],
            "smoke-gumbel.yaml line 43: training.adversarial.algorithm is `gumbel`",
        ),
        (
            &["discriminator={plugin: scratchgan-lab/lstm-discriminator@^0.1, config: {embedding_dim: 16, hidden_dim: 16}}"],
            "but discriminator (scratchgan-lab/lstm-discriminator@0.1.0:lstm-per-token) does not score relaxed rows (the `relaxed-rows` capability of plugin ABI 1.2, declared by a plugin that implements it, which one built against an older agon-sdk cannot; on the SDK's kit with `const RELAXED: bool = true`",
        ),
        (
            &["generator={plugin: agon/lstm-generator@^0.1, config: {embedding_dim: 16, hidden_dim: 16}}"],
            "--set generator={plugin: agon/lstm-generator@^0.1, config: {embedding_dim: 16, hidden_dim: 16}}: training.adversarial.algorithm is `gumbel`, but generator (agon/lstm-generator@0.1.0:lstm) does not draw relaxed samples (the `relaxed-samples` capability of plugin ABI 1.2",
        ),
        (
            &["training.adversarial.gumbel.inverse_temperature.max=0.5"],
            "training.adversarial.gumbel.inverse_temperature.max must be a number ≥ 1",
        ),
        (
            &["training.adversarial.g_steps=0", "training.adversarial.d_steps=0"],
            "`algorithm: gumbel` would train nothing",
        ),
        (
            &["training.adversarial.gumbel.loss=wasserstein"],
            "wasserstein",
        ),
        (
            &["training.adversarial.teacher_forcing=true"],
            "training.adversarial.teacher_forcing is a policy-gradient setting, but training.adversarial.algorithm is `gumbel`",
        ),
        (
            &["training.adversarial.credit=dense"],
            "training.adversarial.credit is a policy-gradient setting",
        ),
    ];
    for (sets, expected) in cases {
        let message = sandbox.refused_train(&gumbel, sets, "refused");
        assert!(message.contains(expected), "{sets:?}: {message}");
        if sets == ["discriminator=null"] {
            assert!(
                message.contains(": training.adversarial.algorithm is `gumbel`, but the config has no `discriminator:` section")
                    && message.contains("relgan-lab/relgan@^0.1, component: relgan-discriminator"),
                "{message}"
            );
        }
    }
}

/// The bundled RelGAN configs, on their own data, shrunk to seconds: they
/// train through MLE and Gumbel-softmax iterations and `agon eval` reads
/// the run back (end of MLE against final).
#[test]
fn the_bundled_relgan_configs_train_and_evaluate_end_to_end() {
    let sandbox = Sandbox::new();
    let shrink = [
        "--set",
        "training.mle.epochs=1",
        "--set",
        "training.adversarial.epochs=2",
        "--set",
        "training.eval_every=0",
        "--set",
        "generator.config={embedding_dim: 8, mem_slots: 1, num_heads: 2, head_size: 4}",
        "--set",
        "discriminator.config={embedding_dim: 8, representations: 2, filter_sizes: [2, 3], filters_per_size: 4, hidden_dim: 8}",
        "--set",
        "task.eval_samples=128",
    ];
    for (file, headline) in [
        ("relgan-oracle.yaml", "nll_oracle"),
        ("relgan-coco.yaml", "bleu2"),
    ] {
        let run = sandbox.train(&config(file), file, &shrink);
        let rows = trajectory(&run);
        let last = rows.last().unwrap();
        assert_eq!(last["phase"], "adversarial", "{file}: {last}");
        assert!(
            last["d_loss"].as_f64().unwrap().is_finite(),
            "{file}: {last}"
        );
        assert!(
            last[headline].as_f64().unwrap().is_finite(),
            "{file}: {last}"
        );
        sandbox
            .run(&["eval", run.to_str().unwrap(), "--samples", "64"], &[])
            .success();
        let evaluation: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("eval/eval.json")).unwrap())
                .unwrap();
        // The end-of-MLE generator and the final one.
        assert_eq!(
            evaluation["models"].as_array().map(Vec::len),
            Some(2),
            "{file}: {evaluation}"
        );
    }
}

/// Any discriminator with the relaxed methods trains under `gumbel`, not
/// only RelGAN's: the GRU discriminator of another "team", and SeqGAN's
/// CNN discriminator (which implements the methods by hand, outside the
/// kit), each with RelGAN's generator.
#[test]
fn other_teams_discriminators_with_relaxed_rows_train_under_gumbel() {
    let sandbox = Sandbox::new();
    for (name, discriminator) in [
        (
            "gru",
            "discriminator={plugin: rnn-lab/gru-discriminator@^0.1, config: {embedding_dim: 16, hidden_dim: 16}}",
        ),
        (
            "cnn",
            "discriminator={plugin: seqgan-lab/cnn-discriminator@^0.1, config: {embedding_dim: 16, filter_sizes: [2, 3], filter_counts: [8, 8]}}",
        ),
    ] {
        let run = sandbox.train(
            &config("smoke-gumbel.yaml"),
            name,
            &["--set", discriminator, "--set", "training.adversarial.epochs=2"],
        );
        let last = trajectory(&run).pop().unwrap();
        assert_eq!(last["phase"], "adversarial", "{name}: {last}");
        assert!(last["d_loss"].as_f64().unwrap().is_finite(), "{name}: {last}");
        assert!(last["g_loss"].as_f64().unwrap().is_finite(), "{name}: {last}");
    }
}
