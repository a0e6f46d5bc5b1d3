//! Tasks: where the training data comes from and how a generator is scored.

pub mod conditional;
pub mod oracle;
pub mod preview;
pub mod sampling;
pub mod text;
pub mod unigram_baseline;

use std::collections::BTreeMap;

pub use conditional::{ConditionalTask, ParallelData};
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
    Conditional(ConditionalTask),
}

impl Task {
    /// The training sequences (text: ending with EOS; conditional: the
    /// targets).
    pub fn train(&self) -> &[Vec<u32>] {
        match self {
            Task::Oracle(task) => &task.train,
            Task::Text(task) => &task.data.train,
            Task::Conditional(task) => &task.data.train_targets,
        }
    }

    /// The training sources, row-aligned with [`Task::train`] (conditional
    /// tasks only).
    pub fn train_sources(&self) -> Option<&[Vec<u32>]> {
        match self {
            Task::Conditional(task) => Some(&task.data.train_sources),
            _ => None,
        }
    }

    /// The vocabulary of a text task (saved as the run's `vocab.txt`).
    pub fn vocabulary(&self) -> Option<&crate::text::Vocabulary> {
        match self {
            Task::Oracle(_) => None,
            Task::Text(task) => Some(&task.data.vocabulary),
            Task::Conditional(task) => Some(&task.data.vocabulary),
        }
    }

    /// One line on the data the run trains and tests on, said when a run
    /// starts: what a user would otherwise count in vocab.txt and
    /// config.yaml.
    pub fn data_summary(&self) -> String {
        let max_len = self.max_len();
        match self {
            Task::Oracle(task) => format!(
                "data: {} training sequences, {} held-out sequences sampled from the oracle, max_len {max_len}",
                task.train.len(),
                task.heldout.len()
            ),
            Task::Text(task) => {
                let data = &task.data;
                let left_out = data.references.len().saturating_sub(data.test.len());
                format!(
                    "data: {} training lines{}, {} test lines{}, {} ids in the vocabulary, max_len {max_len}",
                    data.train.len(),
                    of_file(data.train.len(), data.train_file_lines),
                    data.references.len(),
                    match left_out {
                        0 => String::new(),
                        n => format!(" ({n} longer than max_len are BLEU references only, left out of NLL-test)"),
                    },
                    data.vocabulary.len()
                )
            }
            Task::Conditional(task) => {
                let data = &task.data;
                let left_out = data.test_sources.len().saturating_sub(data.nll_targets.len());
                format!(
                    "data: {} training pairs{}, {} test sources{}, {} ids in the vocabulary, max_len {max_len}, max_source_len {}",
                    data.train_targets.len(),
                    of_file(data.train_targets.len(), data.train_file_lines),
                    data.test_sources.len(),
                    match left_out {
                        0 => String::new(),
                        n => format!(" ({n} whose target is longer than max_len are left out of NLL-test; BLEU and ROUGE still score them against their whole references, which no output of max_len tokens reaches)"),
                    },
                    data.vocabulary.len(),
                    data.max_source_len
                )
            }
        }
    }

    /// Longest sequence generated.
    pub fn max_len(&self) -> u32 {
        match self {
            Task::Oracle(task) => task.max_len(),
            Task::Text(task) => task.data.max_len,
            Task::Conditional(task) => task.data.max_len,
        }
    }

    /// The metrics of one evaluation, by name. `at` names the evaluation
    /// in warnings (`mle epoch 4`): they are printed before its progress
    /// line.
    pub fn evaluate(
        &mut self,
        generator: &mut Generator,
        seed: u64,
        at: &str,
    ) -> anyhow::Result<BTreeMap<String, f64>> {
        match self {
            Task::Oracle(task) => task.evaluate(generator, seed),
            Task::Text(task) => task.evaluate(generator, seed),
            Task::Conditional(task) => task.evaluate(generator, at),
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
            Task::Conditional(task) => task.headline(),
        }
    }

    /// Whether a larger headline metric is better (BLEU, ROUGE) or a
    /// smaller one (an NLL).
    pub fn headline_higher_is_better(&self) -> bool {
        !self.headline().1.starts_with("nll")
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
                    title: "BLEU of training-time samples against the test set, and Self-BLEU"
                        .into(),
                    y_label: "score (0–1)",
                    series,
                }
            }
            Task::Conditional(task) => {
                let (label, key) = task.headline();
                PlotSpec {
                    title: format!("{label} of outputs decoded from the test sources"),
                    y_label: "score (0–1; BLEU is sacreBLEU's / 100)",
                    series: vec![(key, format!("{label} (test set)"))],
                }
            }
        }
    }
}

/// " (of N in the file)" when the training set is smaller than its file
/// (`task.train_limit`, or `long_lines: skip`).
fn of_file(kept: usize, in_file: usize) -> String {
    if kept < in_file {
        format!(" (of {in_file} in the file)")
    } else {
        String::new()
    }
}
