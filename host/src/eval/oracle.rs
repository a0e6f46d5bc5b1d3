//! `agon eval` of synthetic-oracle runs: each model's NLL-oracle on fresh
//! samples (every model drawn with the same seed, so sample i of each is
//! paired) and NLL-test on the run's held-out oracle samples, paired
//! bootstraps of the per-sample NLL-oracle, and NLL-oracle and NLL-test
//! across temperatures.

use std::collections::BTreeMap;

use agon_registry::Registry;
use agon_sdk::seeds::derive_seed;
use anyhow::bail;

use super::{
    mean, significance::paired_bootstrap, Comparison, EvalSettings, Evaluation, Model, ModelScores,
};
use crate::{
    assemble::{
        build_oracle, load_run_generator, run_shape, shared_context, ORACLE_HELDOUT, ORACLE_SAMPLES,
    },
    components::Generator,
    config::ExperimentConfig,
    task::sampling::{nll_per_sequence, per_token_nll, per_token_nll_at, sample_many},
};

/// The oracle of `config`'s run, as its training built it.
fn oracle_of(config: &ExperimentConfig, run: &std::path::Path) -> anyhow::Result<Generator> {
    let shape = run_shape(config, None)?;
    let shared = shared_context(config, &shape, run);
    Ok(build_oracle(&mut Registry::from_environment(), config, &shared)?.0)
}

/// Evaluates `models` of one synthetic-oracle task.
pub fn evaluate(
    models: &[Model],
    settings: &EvalSettings,
    first: &ExperimentConfig,
) -> anyhow::Result<Evaluation> {
    if settings.beam_size.is_some() {
        bail!("--beam-size applies to conditional tasks; the oracle task is evaluated on samples");
    }
    let seed = settings.seed.unwrap_or(first.seed);
    let temperature = settings.temperature.unwrap_or(1.0);
    let samples = settings
        .samples
        .unwrap_or(first.task.eval_samples.unwrap_or(ORACLE_SAMPLES));
    let max_len = run_shape(first, None)?.max_len;
    // Each run is scored by its own oracle and held-out set, as its
    // training was (the same oracle for every run when its weights come
    // from a file, as in SeqGAN's benchmark).
    let mut oracles: BTreeMap<std::path::PathBuf, (Generator, Vec<Vec<u32>>)> = BTreeMap::new();
    let mut scored = Vec::new();
    let mut untempered = Vec::new();
    for model in models {
        eprintln!("agon eval: {} ({samples} samples)…", model.label);
        let (config, _, mut generator) =
            load_run_generator(&model.run_dir, model.snapshot.as_deref())?;
        if config.task.oracle != first.task.oracle || config.task.max_len != first.task.max_len {
            bail!(
                "{} is not a run on the oracle and length of {}; agon eval compares runs of one task",
                model.run_dir.display(),
                models[0].run_dir.display()
            );
        }
        if !oracles.contains_key(&model.run_dir) {
            let mut oracle = oracle_of(&config, &model.run_dir)?;
            // The held-out set the run's training-time NLL-test used.
            let heldout = sample_many(
                &mut oracle,
                config.task.heldout_samples.unwrap_or(ORACLE_HELDOUT),
                max_len,
                1.0,
                derive_seed(config.seed, "task/heldout"),
            )?;
            oracles.insert(model.run_dir.clone(), (oracle, heldout));
        }
        let (oracle, heldout) = oracles.get_mut(&model.run_dir).expect("inserted above");
        let (oracle, heldout) = (oracle, &*heldout);
        let drawn = sample_many(&mut generator, samples, max_len, temperature, seed)?;
        let per_sample = nll_per_sequence(oracle, &drawn)?;
        let mut metrics = BTreeMap::from([
            ("nll_oracle".to_string(), mean(&per_sample)),
            (
                "nll_test".to_string(),
                per_token_nll(&mut generator, heldout, None)?,
            ),
        ]);
        for &t in &settings.temperatures {
            let drawn = sample_many(&mut generator, samples, max_len, t, seed)?;
            metrics.insert(
                format!("nll_oracle_t{t}"),
                mean(&nll_per_sequence(oracle, &drawn)?),
            );
            if generator.supports_tempered_log_likelihood() {
                metrics.insert(
                    format!("nll_test_t{t}"),
                    per_token_nll_at(&mut generator, heldout, None, t)?,
                );
            }
        }
        if !settings.temperatures.is_empty() && !generator.supports_tempered_log_likelihood() {
            untempered.push(model.label.clone());
        }
        scored.push(ModelScores {
            label: model.label.clone(),
            metrics,
            per_sample: BTreeMap::from([("nll_oracle".to_string(), per_sample)]),
            corpus_statistics: BTreeMap::new(),
        });
    }
    let comparisons = super::comparison_pairs(models)
        .into_iter()
        .map(|(baseline, other)| {
            let (baseline, other) = (&scored[baseline], &scored[other]);
            Comparison {
                metric: "nll_oracle".into(),
                baseline: baseline.label.clone(),
                model: other.label.clone(),
                test: paired_bootstrap(
                    &baseline.per_sample["nll_oracle"],
                    &other.per_sample["nll_oracle"],
                    settings.resamples,
                    seed,
                ),
            }
        })
        .collect();
    let mut notes = vec![
        "nll_oracle: the oracle's per-token NLL of the model's samples (nats; lower = samples the oracle finds likelier); every model sampled with the same seed, so sample i of each is paired".into(),
        "nll_test: the model's per-token NLL of its run's held-out oracle samples, those of its training-time NLL-test (nats; lower = covers the oracle's distribution better)".to_string(),
        "paired tests: bootstrap of per-sample NLL-oracle differences".into(),
    ];
    if !settings.temperatures.is_empty() {
        notes.push("nll_oracle_tT: NLL-oracle of samples drawn at temperature T (sample quality against temperature)".into());
        notes.push("nll_test_tT: per-token NLL of the held-out oracle samples under the model's distribution at temperature T, softmax(logits / T), the one its samples at T come from (coverage against temperature); the same as nll_test at T = 1".into());
    }
    let warnings = if untempered.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "no nll_test_tT for {}: its generator does not declare the `tempered-log-likelihood` capability (plugin ABI 1.1)",
            untempered.join(", ")
        )]
    };
    Ok(Evaluation {
        task: "synthetic-oracle".into(),
        samples,
        temperature,
        seed,
        pairing: format!(
            "synthetic-oracle: sample i of {samples} drawn at temperature {temperature} with seed {seed}, scored by the oracle {}",
            first
                .task
                .oracle
                .as_ref()
                .and_then(|o| o.config.get("oracle_weights"))
                .and_then(|w| w.as_str())
                .unwrap_or("of the first run")
        ),
        notes,
        warnings,
        models: scored,
        comparisons,
        sweep_order: None,
        sweep: Vec::new(),
        outputs: BTreeMap::new(),
    })
}

/// The quality–coverage curve of each model: NLL-oracle against NLL-test
/// at each temperature of `--temperatures` (where the generator gave
/// both), as `agon compare` draws the group means.
pub fn curve(evaluation: &Evaluation) -> Vec<super::quality_diversity::PlotPoint> {
    evaluation
        .models
        .iter()
        .flat_map(|model| {
            model.metrics.iter().filter_map(|(name, &quality)| {
                let t = name.strip_prefix("nll_oracle_t")?;
                Some(super::quality_diversity::PlotPoint {
                    model: model.label.clone(),
                    temperature: t.parse().ok()?,
                    x: *model.metrics.get(&format!("nll_test_t{t}"))?,
                    y: quality,
                    x_interval: None,
                    y_interval: None,
                })
            })
        })
        .collect()
}
