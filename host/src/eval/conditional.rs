//! `agon eval` for conditional tasks: every model decodes the same test
//! sources (greedy or beam, as the task's `evaluation` says; no randomness,
//! so output `i` of each model answers source `i` and the pairs are
//! matched), scored with sacreBLEU, ROUGE and distinct-n; paired bootstrap
//! tests of every metric against the first model. Corpus-level metrics
//! (BLEU, distinct-n) are recomputed on each resample from per-sentence
//! statistics, as sacreBLEU's `--paired-bs` does; ROUGE is a mean of
//! per-sentence F1.

use std::collections::BTreeMap;

use anyhow::bail;

use super::{
    significance::{paired_bootstrap, paired_bootstrap_of},
    Comparison, EvalSettings, Evaluation, Model, ModelScores,
};
use crate::{
    assemble::{load_run_generator, open_config, saved_vocabulary, VOCAB_FILE},
    config::{ConditionalMetric, ExperimentConfig},
    task::{
        conditional::{corpus_bleu_of, distinct_of, OutputScores},
        ConditionalTask, ParallelData,
    },
};

fn load_task(model: &Model) -> anyhow::Result<(ExperimentConfig, ConditionalTask)> {
    let config = open_config(&model.run_dir)?;
    let vocabulary = saved_vocabulary(&config, &model.run_dir)?;
    let vocab_file = model.run_dir.join(VOCAB_FILE);
    let data = ParallelData::load(
        &config.task,
        vocabulary.as_ref().map(|v| (v, vocab_file.as_path())),
    )?;
    let task = ConditionalTask::new(data, config.task.evaluation.clone().unwrap_or_default(), 0);
    Ok((config, task))
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
                    tests.push((
                        format!("distinct{order}"),
                        paired_bootstrap_of(n, settings.resamples, seed, |indices| {
                            distinct_of(&b.output_ids, indices.iter().copied(), order)
                                - distinct_of(&a.output_ids, indices.iter().copied(), order)
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

/// Evaluates `models` of one conditional task.
pub fn evaluate(
    models: &[Model],
    settings: &EvalSettings,
    first: &ExperimentConfig,
) -> anyhow::Result<Evaluation> {
    let seed = settings.seed.unwrap_or(first.seed);
    let mut scored = Vec::new();
    let mut outputs = Vec::new();
    let mut metrics_used = Vec::new();
    let mut notes = Vec::new();
    let mut sources = 0;
    for model in models {
        let (config, mut task) = load_task(model)?;
        if config.task.test_source != first.task.test_source
            || config.task.test_data != first.task.test_data
            || config.task.tokenizer != first.task.tokenizer
            || config.task.evaluation != first.task.evaluation
        {
            bail!(
                "{} is not a run on the test set, tokenizer and evaluation settings of the first run; agon eval compares runs of one task",
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
        let (_, _, mut generator) = load_run_generator(&model.run_dir, model.snapshot)?;
        let decoded = task.decode_test(&mut generator, sources)?;
        let output = task.score_outputs(&decoded);
        let mut metrics = output.metrics(&task.evaluation.metrics);
        metrics.insert("nll_test".into(), task.nll_test(&mut generator)?);
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
                    "bleu: sacreBLEU corpus BLEU, signature {}",
                    task.data.sacrebleu().signature(task.data.references.len())
                ));
            }
            if task.evaluation.metrics.contains(&ConditionalMetric::Rouge) {
                notes.push(format!("rouge1/rouge2/rouge_l: rouge-score F1 (no stemming), best of {} reference(s), averaged", task.data.references.len()));
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
                "paired tests: bootstrap over test sources; corpus metrics recomputed per resample"
                    .into(),
            );
            metrics_used = task.evaluation.metrics.clone();
        }
        scored.push(ModelScores {
            label: model.label.clone(),
            metrics,
            per_sample: output.rouge.clone(),
        });
        outputs.push(output);
    }
    let mut comparisons = Vec::new();
    for i in 1..scored.len() {
        comparisons.extend(compare(
            &metrics_used,
            (&scored[0], &outputs[0]),
            (&scored[i], &outputs[i]),
            settings,
            seed,
        ));
    }
    let texts: BTreeMap<String, Vec<String>> = scored
        .iter()
        .zip(outputs)
        .map(|(model, output)| (model.label.clone(), output.outputs))
        .collect();
    Ok(Evaluation {
        task: "conditional".into(),
        samples: sources,
        temperature: 0.0,
        seed,
        notes,
        models: scored,
        comparisons,
        sweep_order: None,
        sweep: Vec::new(),
        outputs: texts,
    })
}
