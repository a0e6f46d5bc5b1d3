//! TensorBoard event files of real runs, read back with agon's reader (which
//! checks the framing and both CRCs of every record): every value of every
//! metrics.jsonl row is there at its step, samples as text at every
//! evaluation, and a resumed run's file equals an uninterrupted run's even
//! when the earlier segment left events past its checkpoint. The console
//! and the learning curve show D's accuracy and the mean reward.
//! (scripts/check-tensorboard.py checks the same with TensorBoard itself.)

use std::{collections::BTreeMap, path::Path};

use agon::train::tensorboard::{event_files, read_events};
use agon_integration_tests::{config, Sandbox};
use serde_json::Value;

/// (tag, step) → value, each pair once; step → samples.
type Scalars = BTreeMap<(String, i64), f32>;
type Texts = BTreeMap<i64, Vec<String>>;

/// The run's only event file, read back.
fn events_of(run: &Path) -> (Scalars, Texts) {
    let files = event_files(run).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    let events = read_events(&files[0]).unwrap();
    assert_eq!(events[0].file_version.as_deref(), Some("brain.Event:2"));
    let mut scalars = Scalars::new();
    let mut texts = Texts::new();
    for event in &events[1..] {
        assert!(event.wall_time > 1.6e9, "{event:?}");
        for value in &event.values {
            match value.simple_value {
                Some(v) => {
                    let before = scalars.insert((value.tag.clone(), event.step), v);
                    assert!(before.is_none(), "{} at {} twice", value.tag, event.step);
                }
                None => {
                    assert_eq!(
                        (value.tag.as_str(), value.plugin_name.as_deref()),
                        ("samples", Some("text"))
                    );
                    let before = texts.insert(event.step, value.strings.clone());
                    assert!(before.is_none(), "samples at {} twice", event.step);
                }
            }
        }
    }
    (scalars, texts)
}

/// What metrics.jsonl says the events must hold, with the tags spelled out
/// here rather than taken from agon.
fn expected_from_metrics(run: &Path) -> Scalars {
    let mut expected = Scalars::new();
    for line in std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
    {
        let row: BTreeMap<String, Value> = serde_json::from_str(line).unwrap();
        let pretraining = row["phase"] == "discriminator-pretraining";
        let step = row[if pretraining { "epoch" } else { "global_epoch" }]
            .as_i64()
            .unwrap();
        for (key, value) in &row {
            let Some(value) = value.as_f64() else {
                continue; // phase, and absent (null) values
            };
            let tag = match key.as_str() {
                "epoch" | "global_epoch" => continue,
                _ if pretraining => format!("discriminator_pretraining/{key}"),
                "g_loss" | "mean_reward" | "d_loss" | "d_accuracy" | "elapsed_seconds" => {
                    format!("train/{key}")
                }
                _ => format!("metrics/{key}"),
            };
            expected.insert((tag, step), value as f32);
        }
    }
    expected
}

fn check_against_metrics(run: &Path) -> (Scalars, Texts) {
    let (scalars, texts) = events_of(run);
    let expected = expected_from_metrics(run);
    for (key, value) in &expected {
        assert_eq!(scalars.get(key), Some(value), "{key:?}");
    }
    // The only scalars beyond the rows' values: the learning rate.
    for (tag, step) in scalars.keys().filter(|k| !expected.contains_key(*k)) {
        assert_eq!(tag, "train/learning_rate", "{tag} at {step}");
    }
    (scalars, texts)
}

#[test]
fn a_run_writes_every_metrics_value_and_samples_as_tensorboard_events() {
    let sandbox = Sandbox::new();
    let run = sandbox.path().join("smoke");
    let stdout = sandbox
        .run(
            &[
                "train",
                &config("smoke.yaml"),
                "--out",
                run.to_str().unwrap(),
            ],
            &[],
        )
        .success();
    let (scalars, texts) = check_against_metrics(&run);
    // smoke.yaml: evaluations at generator epochs 0, 2, 4 (MLE), 6, 8
    // (adversarial); pretraining round 2 on its own axis.
    let steps = |tag: &str| -> Vec<i64> {
        scalars
            .keys()
            .filter(|(t, _)| t == tag)
            .map(|(_, s)| *s)
            .collect()
    };
    assert_eq!(steps("metrics/nll_oracle"), [0, 2, 4, 6, 8]);
    assert_eq!(steps("train/mean_reward"), [6, 8]);
    assert_eq!(steps("train/d_accuracy"), [6, 8]);
    assert_eq!(steps("discriminator_pretraining/d_accuracy"), [2]);
    assert_eq!(steps("train/learning_rate"), [0, 2, 4, 6, 8]);
    assert_eq!(scalars[&("train/learning_rate".into(), 0)], 0.01);
    // Four oracle samples of 20 token ids at every evaluation.
    assert_eq!(texts.keys().copied().collect::<Vec<_>>(), [0, 2, 4, 6, 8]);
    for samples in texts.values() {
        assert_eq!(samples.len(), 4);
        for sample in samples {
            let ids: Vec<u32> = sample.split(' ').map(|t| t.parse().unwrap()).collect();
            assert!(
                ids.len() == 20 && ids.iter().all(|&id| id < 5000),
                "{sample}"
            );
        }
    }

    // The console's adversarial lines carry D's accuracy and the reward.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("adversarial  epoch    4"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let reward = scalars[&("train/mean_reward".into(), 8)];
    let accuracy = scalars[&("train/d_accuracy".into(), 8)];
    assert!(
        line.contains("  g-loss ")
            && line.contains(&format!("  D acc {accuracy:.3}"))
            && line.ends_with(&format!("  reward {reward:.3}")),
        "{line}"
    );
    assert!(!stdout
        .lines()
        .any(|l| l.starts_with("mle") && (l.contains("D acc") || l.contains("reward"))));
    let svg = std::fs::read_to_string(run.join("learning_curve.svg")).unwrap();
    assert!(
        svg.contains("NLL-oracle") && svg.contains("D accuracy") && svg.contains("mean reward")
    );
}

/// A run stopped in discriminator pretraining, given the events of a whole
/// run as if its earlier segment had gone on past its checkpoint, then
/// resumed: the orphaned steps are dropped, and the file equals the whole
/// run's (but for the wall-clock column).
#[test]
fn a_resumed_run_has_the_events_of_an_uninterrupted_one() {
    let sandbox = Sandbox::new();
    let whole = sandbox.train(&config("smoke.yaml"), "whole", &[]);
    let split = sandbox.train(&config("smoke.yaml"), "split", &["--stop-after", "5"]);
    let whole_file = &event_files(&whole).unwrap()[0];
    // Sorting after the split run's own file: read second, so only its
    // steps past the checkpoint are new, and those must be dropped.
    std::fs::copy(
        whole_file,
        split.join("events.out.tfevents.9999999999.orphans"),
    )
    .unwrap();
    sandbox
        .run(&["train", "--resume", split.to_str().unwrap()], &[])
        .success();
    let (split_scalars, split_texts) = check_against_metrics(&split);
    let (whole_scalars, whole_texts) = events_of(&whole);
    let without_time = |s: Scalars| -> Scalars {
        s.into_iter()
            .filter(|((tag, _), _)| !tag.ends_with("elapsed_seconds"))
            .collect()
    };
    assert_eq!(without_time(split_scalars), without_time(whole_scalars));
    assert_eq!(split_texts, whole_texts);
}
