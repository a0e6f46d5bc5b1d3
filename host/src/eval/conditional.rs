//! `agon eval` for conditional tasks: every model decodes the same test
//! sources (greedy or beam, as the task's `evaluation` says; no randomness,
//! so output `i` of each model answers source `i` and the pairs are
//! matched), scored with sacreBLEU, ROUGE and distinct-n; paired tests of
//! every metric against the first model. BLEU is a paired bootstrap that
//! recomputes corpus BLEU on each resample from per-sentence sufficient
//! statistics, as sacreBLEU's `--paired-bs` does; ROUGE a paired bootstrap
//! of the mean per-sentence F1; distinct-n, which counts each n-gram once
//! however many outputs hold it (so a resample that repeats outputs biases
//! it), a paired approximate-randomisation test.

use std::collections::{BTreeMap, HashMap};

use anyhow::bail;

use super::{
    significance::{paired_bootstrap, paired_bootstrap_of, paired_randomisation_of},
    Comparison, EvalSettings, Evaluation, Model, ModelScores,
};
use crate::{
    assemble::{load_run_generator, open_config, saved_vocabulary, VOCAB_FILE},
    config::{ConditionalMetric, ExperimentConfig},
    task::{
        conditional::{bleu_statistics_row, corpus_bleu_of, OutputScores},
        ConditionalTask, ParallelData,
    },
};

fn load_task(model: &Model) -> anyhow::Result<(ExperimentConfig, ConditionalTask)> {
    let config = open_config(&model.run_dir)?;
    crate::assemble::check_data_files_exist(&config)?;
    let vocabulary = saved_vocabulary(&config, &model.run_dir)?;
    let vocab_file = model.run_dir.join(VOCAB_FILE);
    let data = ParallelData::load(
        &config.task,
        vocabulary.as_ref().map(|v| (v, vocab_file.as_path())),
    )?;
    let task = ConditionalTask::new(data, config.task.evaluation.clone().unwrap_or_default(), 0);
    Ok((config, task))
}

/// The n-grams of two models' outputs as dense ids, so distinct-n of any
/// mix of the two (a randomisation test swaps outputs pair by pair) costs
/// one pass over ids. Built from the tokens as spelled, not their ids: two
/// runs compared may have different vocabularies, where one id names two
/// words.
struct SwappableNgrams {
    a: Vec<Vec<u32>>,
    b: Vec<Vec<u32>>,
    kinds: usize,
}

impl SwappableNgrams {
    fn new(a: &[Vec<String>], b: &[Vec<String>], n: usize) -> Self {
        let mut ids: HashMap<&[String], u32> = HashMap::new();
        let mut interned = [Vec::new(), Vec::new()];
        for (side, outputs) in interned.iter_mut().zip([a, b]) {
            for output in outputs {
                let grams = output
                    .windows(n)
                    .map(|gram| {
                        let next = ids.len() as u32;
                        *ids.entry(gram).or_insert(next)
                    })
                    .collect();
                side.push(grams);
            }
        }
        let [a, b] = interned;
        SwappableNgrams {
            a,
            b,
            kinds: ids.len(),
        }
    }

    /// distinct-n of model b's side (`b_side`) or a's after the swaps.
    fn distinct(&self, swapped: &[bool], b_side: bool) -> f64 {
        let mut seen = vec![false; self.kinds];
        let (mut unique, mut total) = (0usize, 0usize);
        for (i, &swap) in swapped.iter().enumerate() {
            let grams = if b_side != swap {
                &self.b[i]
            } else {
                &self.a[i]
            };
            total += grams.len();
            for &gram in grams {
                if !seen[gram as usize] {
                    seen[gram as usize] = true;
                    unique += 1;
                }
            }
        }
        if total == 0 {
            0.0
        } else {
            unique as f64 / total as f64
        }
    }
}

/// The paired tests of `model` against `baseline` on every metric.
fn compare(
    metrics: &[ConditionalMetric],
    (baseline, a): (&ModelScores, &OutputScores),
    (model, b): (&ModelScores, &OutputScores),
    settings: &EvalSettings,
    seed: u64,
) -> Vec<Comparison> {
    let n = a.outputs.len();
    let mut tests = Vec::new();
    for metric in metrics {
        match metric {
            ConditionalMetric::Bleu => tests.push((
                "bleu".to_string(),
                paired_bootstrap_of(n, settings.resamples, seed, |indices| {
                    corpus_bleu_of(&b.bleu, indices.iter().copied())
                        - corpus_bleu_of(&a.bleu, indices.iter().copied())
                }),
            )),
            ConditionalMetric::Rouge => {
                for (name, scores) in &a.rouge {
                    tests.push((
                        name.clone(),
                        paired_bootstrap(scores, &b.rouge[name], settings.resamples, seed),
                    ));
                }
            }
            ConditionalMetric::Distinct => {
                for order in [1, 2] {
                    let grams = SwappableNgrams::new(&a.output_tokens, &b.output_tokens, order);
                    tests.push((
                        format!("distinct{order}"),
                        paired_randomisation_of(n, settings.resamples, seed, |swapped| {
                            grams.distinct(swapped, true) - grams.distinct(swapped, false)
                        }),
                    ));
                }
            }
        }
    }
    tests
        .into_iter()
        .map(|(metric, test)| Comparison {
            metric,
            baseline: baseline.label.clone(),
            model: model.label.clone(),
            test,
        })
        .collect()
}

/// Mean tokens of the outputs (EOS not counted).
fn mean_length(ids: &[Vec<u32>]) -> f64 {
    if ids.is_empty() {
        return 0.0;
    }
    ids.iter().map(Vec::len).sum::<usize>() as f64 / ids.len() as f64
}

/// How alike a model's outputs are.
struct Sameness {
    /// Distinct outputs / outputs.
    unique_share: f64,
    /// The most common output and its share of the outputs.
    most_common: String,
    most_common_share: f64,
    outputs: usize,
}

/// A share of one output above which the model answers most sources alike.
const MOSTLY_ONE_OUTPUT: f64 = 0.5;

impl Sameness {
    fn of(outputs: &[String]) -> Self {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for output in outputs {
            *counts.entry(output).or_default() += 1;
        }
        let n = outputs.len().max(1) as f64;
        // Ties: the output that comes first, so the warning is the same
        // every time.
        let first_at = |text: &str| outputs.iter().position(|o| o == text);
        let (most_common, count) = counts
            .iter()
            .max_by_key(|(text, count)| (**count, std::cmp::Reverse(first_at(text))))
            .map(|(text, count)| (text.to_string(), *count))
            .unwrap_or_default();
        Sameness {
            unique_share: counts.len() as f64 / n,
            most_common,
            most_common_share: count as f64 / n,
            outputs: outputs.len(),
        }
    }

    /// A warning when most outputs are one, but not all (that one is
    /// `notes::warn_if_all_same`'s).
    fn warning(&self, model: &str) -> Option<String> {
        if self.most_common_share <= MOSTLY_ONE_OUTPUT || self.most_common_share >= 1.0 {
            return None;
        }
        Some(format!(
            "{:.0}% of the {} outputs of {model} are one output (\"{}\"; {:.1}% of its outputs are distinct): it answers most sources alike, so its scores, and differences in them, say little about how it answers each source",
            100.0 * self.most_common_share,
            self.outputs,
            crate::notes::excerpt(&self.most_common),
            100.0 * self.unique_share
        ))
    }
}

/// Evaluates `models` of one conditional task.
pub fn evaluate(
    models: &[Model],
    settings: &EvalSettings,
    first: &ExperimentConfig,
) -> anyhow::Result<Evaluation> {
    let seed = settings.seed.unwrap_or(first.seed);
    let mut scored = Vec::new();
    let mut outputs = Vec::new();
    let mut collapsed = Vec::new();
    let mut metrics_used = Vec::new();
    let mut notes = Vec::new();
    let mut sources = 0;
    for model in models {
        let (config, mut task) = load_task(model)?;
        let (a, b) = (&config.task, &first.task);
        if a.test_source != b.test_source
            || a.test_data != b.test_data
            || a.extra_references != b.extra_references
            || a.max_source_len != b.max_source_len
            || a.max_len != b.max_len
            || a.tokenizer != b.tokenizer
            || a.evaluation != b.evaluation
        {
            bail!(
                "{} is not a run on the test set, references, lengths, tokenizer and evaluation settings of the first run; agon eval compares runs of one task",
                model.run_dir.display()
            );
        }
        if let Some(beams) = settings.beam_size {
            task.evaluation.beam_size = beams;
        }
        sources = settings
            .samples
            .unwrap_or(usize::MAX)
            .min(task.data.test_sources.len());
        eprintln!("agon eval: {} ({sources} test sources)…", model.label);
        let (_, _, mut generator) = load_run_generator(&model.run_dir, model.snapshot.as_deref())?;
        let decoded = task.decode_test(&mut generator, sources)?;
        let output = task.score_outputs(&decoded);
        let nll_test = task.nll_test(&mut generator)?;
        if let Some(warning) = crate::notes::warn_if_all_same(
            &model.label,
            &output.outputs,
            &task.collapse_diagnosis(nll_test),
        ) {
            collapsed.push(warning);
        }
        let mut metrics = output.metrics(&task.evaluation.metrics);
        metrics.insert("nll_test".into(), nll_test);
        // Whatever the task's metrics: a model that answers most sources
        // alike, or only shorter, can gain ROUGE without summarising better.
        let sameness = Sameness::of(&output.outputs);
        metrics.insert("length".into(), mean_length(&output.output_ids));
        metrics.insert("unique_outputs".into(), sameness.unique_share);
        if let Some(warning) = sameness.warning(&model.label) {
            crate::notes::warn(&warning);
            collapsed.push(warning);
        }
        if notes.is_empty() {
            let decoding = match task.evaluation.beam_size {
                1 => "greedy decoding".to_string(),
                k => format!(
                    "beam search, {k} beams, length penalty {}",
                    task.evaluation.length_penalty
                ),
            };
            notes.push(format!(
                "outputs: {decoding} of the first {sources} test sources"
            ));
            if task.evaluation.metrics.contains(&ConditionalMetric::Bleu) {
                notes.push(format!(
                    "bleu: sacreBLEU corpus BLEU on agon's 0–1 scale (sacreBLEU's score / 100), signature {}",
                    task.data.sacrebleu().signature(task.data.references.len())
                ));
            }
            if task.evaluation.metrics.contains(&ConditionalMetric::Rouge) {
                let stemming = if task.evaluation.rouge_stemmer {
                    "Porter stemming"
                } else {
                    "no stemming"
                };
                notes.push(format!(
                    "rouge1/rouge2/rouge_l: rouge-score F1 ({stemming}), best of {} reference(s), averaged",
                    task.data.references.len()
                ));
            }
            if task
                .evaluation
                .metrics
                .contains(&ConditionalMetric::Distinct)
            {
                notes.push("distinctN: distinct N-grams / all N-grams of the outputs".into());
            }
            notes.push("nll_test: per-token NLL of the test targets given their sources (nats, EOS included)".into());
            notes.push(
                "paired tests over test sources: bootstrap of corpus BLEU (recomputed per resample), bootstrap of mean ROUGE F1, approximate randomisation for distinct-n"
                    .into(),
            );
            metrics_used = task.evaluation.metrics.clone();
        }
        let mut corpus_statistics = BTreeMap::new();
        if !output.bleu.is_empty() {
            corpus_statistics.insert(
                "bleu".to_string(),
                output.bleu.iter().map(bleu_statistics_row).collect(),
            );
        }
        scored.push(ModelScores {
            label: model.label.clone(),
            metrics,
            per_sample: output.rouge.clone(),
            corpus_statistics,
        });
        outputs.push(output);
    }
    let mut comparisons = Vec::new();
    for (baseline, other) in super::comparison_pairs(models) {
        comparisons.extend(compare(
            &metrics_used,
            (&scored[baseline], &outputs[baseline]),
            (&scored[other], &outputs[other]),
            settings,
            seed,
        ));
    }
    let texts: BTreeMap<String, Vec<String>> = scored
        .iter()
        .zip(outputs)
        .map(|(model, output)| (model.label.clone(), output.outputs))
        .collect();
    let file = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map_or("?".to_string(), |p| p.display().to_string())
    };
    Ok(Evaluation {
        task: "conditional".into(),
        samples: sources,
        temperature: 0.0,
        seed,
        pairing: format!(
            "conditional: test source i of the first {sources} of {} (references {})",
            file(&first.task.test_source),
            file(&first.task.test_data)
        ),
        notes,
        warnings: collapsed,
        models: scored,
        comparisons,
        sweep_order: None,
        sweep: Vec::new(),
        outputs: texts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(lines: &[&str]) -> Vec<Vec<String>> {
        lines
            .iter()
            .map(|l| l.split(' ').map(str::to_string).collect())
            .collect()
    }

    #[test]
    fn most_outputs_alike_are_warned_of_and_all_alike_left_to_the_other_warning() {
        let outputs = |texts: &[&str]| texts.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        let mostly = Sameness::of(&outputs(&["a b", "c", "a b", "a b"]));
        assert_eq!(mostly.unique_share, 0.5);
        assert_eq!(mostly.most_common_share, 0.75);
        let warning = mostly.warning("run/final").unwrap();
        assert!(
            warning.starts_with("75% of the 4 outputs of run/final are one output (\"a b\"; 50.0%"),
            "{warning}"
        );
        assert!(Sameness::of(&outputs(&["a", "b", "a", "b"]))
            .warning("m")
            .is_none());
        assert!(Sameness::of(&outputs(&["a", "a"])).warning("m").is_none());
        assert_eq!(mean_length(&[vec![1, 2, 3], vec![4]]), 2.0);
    }

    #[test]
    fn swapped_distinct_n_counts_each_gram_once_across_both_models() {
        let a = tokens(&["a b a b", "c d"]);
        let b = tokens(&["a b c", "a b"]);
        let grams = SwappableNgrams::new(&a, &b, 2);
        // Unswapped: a has {ab, ba, cd} of 4 bigrams, b {ab, bc} of 3.
        assert_eq!(grams.distinct(&[false, false], false), 3.0 / 4.0);
        assert_eq!(grams.distinct(&[false, false], true), 2.0 / 3.0);
        // Swapping the second pair: a side = "a b a b", "a b" → {ab, ba} of 4.
        assert_eq!(grams.distinct(&[false, true], false), 2.0 / 4.0);
        assert_eq!(grams.distinct(&[false, true], true), 3.0 / 3.0);
        // The statistic agrees with the SDK's distinct-n on ids.
        let ids: Vec<Vec<u32>> = vec![vec![0, 1, 0, 1], vec![2, 3]];
        assert_eq!(
            grams.distinct(&[false, false], false),
            agon_sdk::metrics::distinct_n(&ids, 2)
        );
    }
}
