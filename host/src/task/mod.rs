//! Tasks: where the training data comes from and how a generator is scored.

pub mod oracle;
pub mod sampling;
pub mod text;

use std::collections::BTreeMap;

pub use oracle::OracleTask;
pub use text::{TextData, TextTask};

use crate::components::Generator;

/// What the learning curve shows: the title, the y axis, and the metrics
/// drawn (key in the metrics row, legend label).
pub struct PlotSpec {
    pub title: String,
    pub y_label: &'static str,
    pub series: Vec<(String, String)>,
}

/// The task of a run (one per run, so the size difference of the variants
/// costs nothing).
#[allow(clippy::large_enum_variant)]
pub enum Task {
    Oracle(OracleTask),
    Text(TextTask),
}

impl Task {
    /// The training sequences (text: ending with EOS).
    pub fn train(&self) -> &[Vec<u32>] {
        match self {
            Task::Oracle(task) => &task.train,
            Task::Text(task) => &task.data.train,
        }
    }

    /// Longest sequence generated.
    pub fn max_len(&self) -> u32 {
        match self {
            Task::Oracle(task) => task.max_len(),
            Task::Text(task) => task.data.max_len,
        }
    }

    /// The metrics of one evaluation, by name.
    pub fn evaluate(
        &mut self,
        generator: &mut Generator,
        seed: u64,
    ) -> anyhow::Result<BTreeMap<String, f64>> {
        match self {
            Task::Oracle(task) => task.evaluate(generator, seed),
            Task::Text(task) => task.evaluate(generator, seed),
        }
    }

    /// The metric shown in the progress line (name, key).
    pub fn headline(&self) -> (String, String) {
        match self {
            Task::Oracle(_) => ("NLL-oracle".into(), "nll_oracle".into()),
            Task::Text(task) => {
                let n = task.bleu.headline.first().copied().unwrap_or(2);
                (format!("BLEU-{n}"), format!("bleu{n}"))
            }
        }
    }

    /// What the learning curve draws.
    pub fn plot(&self) -> PlotSpec {
        match self {
            Task::Oracle(_) => PlotSpec {
                title: "SeqGAN synthetic data: NLL-oracle".into(),
                y_label: "nats per token",
                series: vec![
                    ("nll_oracle".into(), "NLL-oracle".into()),
                    (
                        "nll_test".into(),
                        "NLL-test (generator on held-out oracle data)".into(),
                    ),
                ],
            },
            Task::Text(task) => {
                let mut series = Vec::new();
                for &n in &task.bleu.headline {
                    series.push((format!("bleu{n}"), format!("BLEU-{n} (test set)")));
                    series.push((format!("self_bleu{n}"), format!("Self-BLEU-{n}")));
                }
                PlotSpec {
                    title: "BLEU of samples against the test set, and Self-BLEU".into(),
                    y_label: "score",
                    series,
                }
            }
        }
    }
}
