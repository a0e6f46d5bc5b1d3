//! `agon eval`: a run's (or several runs') generators scored on the task's
//! metrics, with paired significance tests and a quality–diversity sweep.
//!
//! A run with adversarial epochs keeps its generator at the end of MLE
//! pretraining (`checkpoints/mle`), so one SeqGAN run yields both models of
//! the paper's comparison, `<run>/mle` and `<run>/final`. Every model draws
//! its samples with the same seed (sample `i` of each shares its random
//! numbers). The paired tests ([`comparison_pairs`]) put every model
//! against the first one, and each later run's final model against its own
//! end-of-MLE snapshot.

pub mod conditional;
pub mod language_model;
pub mod oracle;
pub mod plot_layout;
pub mod quality_diversity;
pub mod report;
pub mod significance;
pub mod within_sample;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use anyhow::bail;
use serde::Serialize;

use crate::{
    assemble::{load_run_generator, run_shape},
    components::Generator,
    config::{ExperimentConfig, TaskKind},
    task::{
        sampling::{per_token_nll, sample_many},
        TextData, TextTask,
    },
};
use significance::{paired_bootstrap, PairedTest};

/// One generator to evaluate.
pub struct Model {
    /// `<run name>/<snapshot>`: `…/mle`, `…/final`, `…/best-nll-test`.
    pub label: String,
    pub run_dir: PathBuf,
    /// The snapshot's name; `None`: the latest checkpoint (`final`).
    pub snapshot: Option<String>,
}

/// The latest checkpoint, as `--snapshots` and the labels name it.
pub const FINAL: &str = "final";

/// The end-of-MLE snapshot: the baseline of a run's adversarial phase.
pub const MLE: &str = "mle";

/// What `agon eval` scores unless `--snapshots` says otherwise.
pub const DEFAULT_SNAPSHOTS: [&str; 2] = [MLE, FINAL];

impl Model {
    fn is(&self, snapshot: &str) -> bool {
        self.snapshot.as_deref().unwrap_or(FINAL) == snapshot
    }
}

/// The models of `run_dirs`: for each run, each of `snapshots` in turn
/// (`final`: the latest checkpoint). A run without an end-of-MLE snapshot
/// (no adversarial epochs) is scored without it; any other snapshot a run
/// lacks is an error, as a typo would be.
pub fn models(run_dirs: &[PathBuf], snapshots: &[String]) -> anyhow::Result<Vec<Model>> {
    let base_name = |run_dir: &PathBuf| {
        run_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| run_dir.display().to_string())
    };
    let mut names: Vec<String> = run_dirs.iter().map(base_name).collect();
    let unique: std::collections::BTreeSet<&String> = names.iter().collect();
    if unique.len() < names.len() {
        // Two runs of one name (from different directories): label by path.
        names = run_dirs.iter().map(|d| d.display().to_string()).collect();
    }
    let mut models = Vec::new();
    for (run_dir, name) in run_dirs.iter().zip(names) {
        let before = models.len();
        for snapshot in snapshots {
            let label = format!("{name}/{snapshot}");
            let kept = if snapshot == FINAL {
                true
            } else if snapshot == MLE {
                // As before --snapshots: a broken `mle` is reported by the
                // load, not skipped.
                crate::train::checkpoint::snapshot_dir(run_dir, MLE).exists()
            } else {
                crate::train::checkpoint::snapshots(run_dir).contains(snapshot)
            };
            if kept {
                models.push(Model {
                    label,
                    run_dir: run_dir.clone(),
                    snapshot: (snapshot != FINAL).then(|| snapshot.clone()),
                });
            } else if snapshot != MLE {
                bail!(
                    "{}",
                    missing_snapshot(run_dir, snapshot, run_dirs.len() > 1)
                );
            }
        }
        if models.len() == before {
            bail!(
                "{} has no `mle` snapshot (a run without adversarial epochs), and --snapshots names only `mle`: add `final` (the latest checkpoint), e.g. --snapshots mle,final",
                run_dir.display()
            );
        }
    }
    Ok(models)
}

/// Why `run_dir` cannot be scored at `snapshot`, with what it has.
fn missing_snapshot(run_dir: &Path, snapshot: &str, several_runs: bool) -> String {
    let have = crate::train::checkpoint::snapshots(run_dir);
    let have = if have.is_empty() {
        "it has only `final` (the latest checkpoint)".to_string()
    } else {
        let names: Vec<String> = have.iter().map(|s| format!("`{s}`")).collect();
        format!(
            "its snapshots: {}, and `final` (the latest checkpoint)",
            names.join(", ")
        )
    };
    let why = if snapshot == crate::train::checkpoint::BEST_NLL_TEST {
        " (a run whose headline metric is NLL-test keeps that model as `best`; a run started by an agon older than the snapshot gets it only when a later evaluation sets a new lowest)"
    } else {
        ""
    };
    let or_the_run = if several_runs {
        ", or this run out of the evaluation"
    } else {
        ""
    };
    format!(
        "{} has no `{snapshot}` snapshot{why}; {have}. Leave `{snapshot}` out of --snapshots{or_the_run}",
        run_dir.display()
    )
}

/// The paired tests of an evaluation of `models`, as (baseline, model)
/// indices: every model against the first (the runs against each other,
/// e.g. a SeqGAN run against an MLE-only one); when the first run has more
/// than one model, each later run's models but its end-of-MLE one against
/// the first run's model of the same snapshot too (the finished runs
/// against each other); then each model of a run with an end-of-MLE
/// snapshot against that snapshot: what the run's adversarial phase did,
/// which the first test does not give when the first run is another
/// seed's.
pub fn comparison_pairs(models: &[Model]) -> Vec<(usize, usize)> {
    let Some(first) = models.first() else {
        return Vec::new();
    };
    let mut pairs = Vec::new();
    for (index, model) in models.iter().enumerate().skip(1) {
        pairs.push((0, index));
        if model.is(MLE) {
            continue;
        }
        // Index 0's pairs are the first kind already.
        if model.run_dir != first.run_dir {
            let same = models
                .iter()
                .position(|m| m.run_dir == first.run_dir && m.snapshot == model.snapshot)
                .filter(|&i| i > 0);
            if let Some(same) = same {
                pairs.push((same, index));
            }
        }
        // The nearest before it: a run given twice meets its own copy's.
        let own_mle = models[..index]
            .iter()
            .rposition(|m| m.run_dir == model.run_dir && m.is(MLE))
            .filter(|&i| i > 0);
        if let Some(own_mle) = own_mle {
            pairs.push((own_mle, index));
        }
    }
    pairs
}

/// What `agon eval` is asked for.
pub struct EvalSettings {
    /// Samples per model (default: the first run's `task.eval_samples`).
    pub samples: Option<usize>,
    /// Text tasks (default 1).
    pub temperature: Option<f32>,
    /// The quality–diversity sweep (empty: none).
    pub temperatures: Vec<f32>,
    pub seed: Option<u64>,
    pub resamples: usize,
    /// Conditional tasks: beams instead of the task's `evaluation.beam_size`.
    pub beam_size: Option<u32>,
    /// Text tasks: the LM and reverse LM scores against this language model.
    pub lm: Option<language_model::LmSettings>,
}

/// One model's scores.
#[derive(Clone, Debug, Serialize)]
pub struct ModelScores {
    pub label: String,
    pub metrics: BTreeMap<String, f64>,
    /// Per-sample scores (not serialised; the tests use them).
    #[serde(skip)]
    pub per_sample: BTreeMap<String, Vec<f64>>,
    /// Per-item sufficient statistics of corpus metrics (a conditional
    /// task's `bleu`), which `agon compare` pools over seeds.
    #[serde(skip)]
    pub corpus_statistics: CorpusStatistics,
}

/// A corpus metric (`bleu`) → each item's sufficient statistics
/// ([`crate::task::conditional::bleu_statistics_row`]).
pub type CorpusStatistics = BTreeMap<String, Vec<Vec<u64>>>;

/// A paired test of one metric, model vs the baseline.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub metric: String,
    pub baseline: String,
    pub model: String,
    pub test: PairedTest,
}

/// One point of the quality–diversity sweep.
#[derive(Clone, Debug, Serialize)]
pub struct SweepPoint {
    pub model: String,
    pub temperature: f32,
    pub bleu: f64,
    pub self_bleu: f64,
    /// With `--lm`: the LM score of these samples.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lm_nll: Option<f64>,
    /// With `--lm` (and reverse epochs): the reverse LM score at this
    /// temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverse_lm_nll: Option<f64>,
}

/// Everything `agon eval` reports.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    pub task: String,
    pub samples: usize,
    pub temperature: f32,
    pub seed: u64,
    /// What makes item i of this evaluation's per-sample scores the same
    /// item in another evaluation with the same `pairing` (the test source
    /// of a conditional task; the sample drawn with the same seed and
    /// temperature otherwise): `agon compare` pairs runs' per-sample scores
    /// only when their evaluations agree on it.
    pub pairing: String,
    /// Metric notes (what `bleu2_fast` means…).
    pub notes: Vec<String>,
    /// What makes a model's scores suspect (every output the same…).
    pub warnings: Vec<String>,
    pub models: Vec<ModelScores>,
    pub comparisons: Vec<Comparison>,
    /// BLEU-n / Self-BLEU-n order of the sweep.
    pub sweep_order: Option<usize>,
    pub sweep: Vec<SweepPoint>,
    /// Conditional tasks: each model's decoded outputs (written as
    /// `<model>.txt`, one per test source).
    #[serde(skip)]
    pub outputs: BTreeMap<String, Vec<String>>,
}

struct Loaded {
    config: ExperimentConfig,
    generator: Generator,
    text: Option<TextTask>,
}

fn load(model: &Model) -> anyhow::Result<Loaded> {
    // The data first: if they no longer give the run's vocabulary, that is
    // the cause to report, not the checkpoint that no longer fits.
    let config = crate::assemble::open_config(&model.run_dir)?;
    crate::assemble::check_data_files_exist(&config)?;
    let vocabulary = crate::assemble::saved_vocabulary(&config, &model.run_dir)?;
    let text = match config.task.kind {
        TaskKind::Text => {
            let vocab_file = model.run_dir.join(crate::assemble::VOCAB_FILE);
            let data = TextData::load(
                &config.task,
                vocabulary.as_ref().map(|v| (v, vocab_file.as_path())),
            )?;
            Some(TextTask::new(
                data,
                config.task.bleu.clone().unwrap_or_default(),
                config
                    .task
                    .eval_samples
                    .unwrap_or(crate::task::text::DEFAULT_EVAL_SAMPLES),
            ))
        }
        TaskKind::SyntheticOracle | TaskKind::Conditional => None,
    };
    let (config, _, generator) = load_run_generator(&model.run_dir, model.snapshot.as_deref())?;
    Ok(Loaded {
        config,
        generator,
        text,
    })
}

/// Evaluates `models` (all of one task kind).
pub fn evaluate(models: &[Model], settings: &EvalSettings) -> anyhow::Result<Evaluation> {
    let Some(first) = models.first() else {
        bail!("no run to evaluate");
    };
    let first_config = crate::assemble::open_config(&first.run_dir)?;
    // Every run's task before any model is scored (minutes each).
    for model in &models[1..] {
        let config = crate::assemble::open_config(&model.run_dir)?;
        if config.task.kind != first_config.task.kind {
            bail!(
                "{} is a {} run but {} is a {} run; agon eval compares runs of one task",
                model.run_dir.display(),
                config.task.kind.name(),
                first.run_dir.display(),
                first_config.task.kind.name()
            );
        }
    }
    if first_config.task.kind == TaskKind::Conditional {
        if settings.temperature.is_some() || !settings.temperatures.is_empty() {
            bail!("--temperature and --temperatures apply to text tasks; a conditional task's outputs are decoded, not sampled (choose the decoding with --beam-size)");
        }
        if settings.lm.is_some() {
            bail!("--lm applies to text tasks (the LM scores of unconditional samples); a conditional task's outputs answer sources");
        }
        return conditional::evaluate(models, settings, &first_config);
    }
    let temperature = settings.temperature.unwrap_or(1.0);
    if settings.beam_size.is_some() {
        bail!("--beam-size applies to conditional tasks (translation, summarization, dialogue); text tasks are evaluated on samples");
    }
    if first_config.task.kind == TaskKind::SyntheticOracle {
        if settings.lm.is_some() {
            bail!("--lm applies to text tasks; the oracle task's NLL-oracle already scores samples under the true language model");
        }
        return oracle::evaluate(models, settings, &first_config);
    }
    // Opened before any model is scored: a wrong --lm fails in seconds.
    let mut lm = settings
        .lm
        .as_ref()
        .map(|lm| language_model::LanguageModel::open(lm, &first.run_dir))
        .transpose()?;
    let mut warnings = Vec::new();
    if let Some(lm) = &lm {
        let same = |a: &Path, b: &Path| {
            std::fs::canonicalize(a)
                .ok()
                .is_some_and(|a| std::fs::canonicalize(b).ok() == Some(a))
        };
        if let Some(model) = models.iter().find(|m| same(&m.run_dir, &lm.run_dir)) {
            let warning = format!(
                "--lm {} is also evaluated ({}): its own samples score best under it; use a language model trained apart from the runs compared (another seed)",
                lm.run_dir.display(),
                model.label
            );
            // Said now, before the models are scored, and kept for eval.json.
            crate::notes::warn(&warning);
            warnings.push(warning);
        }
    }
    let seed = settings.seed.unwrap_or(first_config.seed);
    let samples = settings.samples.unwrap_or(
        first_config
            .task
            .eval_samples
            .unwrap_or(crate::task::text::DEFAULT_EVAL_SAMPLES),
    );
    let bleu = first_config.task.bleu.clone().unwrap_or_default();
    let mut scored = Vec::new();
    let mut sweep = Vec::new();
    let sweep_order = bleu.headline.first().copied();
    for model in models {
        let mut loaded = load(model)?;
        eprintln!("agon eval: {} ({samples} samples)…", model.label);
        let task_config = &loaded.config.task;
        if task_config.kind != TaskKind::Text
            || task_config.test_data != first_config.task.test_data
            || task_config.tokenizer != first_config.task.tokenizer
        {
            bail!(
                "{} is not a run on the test set and tokenizer of {}; agon eval compares runs of one task",
                model.run_dir.display(),
                first.run_dir.display()
            );
        }
        let task = loaded.text.as_mut().expect("text task");
        let max_len = run_shape(&loaded.config, Some(&task.data.vocabulary))?.max_len;
        let drawn = sample_many(&mut loaded.generator, samples, max_len, temperature, seed)?;
        let texts: Vec<String> = drawn
            .iter()
            .map(|s| {
                crate::task::text::hypothesis(s)
                    .iter()
                    .map(|&id| task.data.vocabulary.token(id))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        // Samples at a temperature: a model that knows only token
        // frequencies still varies them, so the conditional task's
        // diagnosis does not apply.
        warnings.extend(crate::notes::warn_if_all_same(&model.label, &texts, ""));
        let mut per_sample = task.score_samples(&drawn).per_sample;
        let own = |measure: fn(&[u32]) -> f64| -> Vec<f64> {
            drawn
                .iter()
                .map(|s| measure(crate::task::text::hypothesis(s)))
                .collect()
        };
        per_sample.insert("length".into(), own(within_sample::length));
        per_sample.insert(
            "repeated_bigrams".into(),
            own(within_sample::repeated_bigrams),
        );
        let mut metrics: BTreeMap<String, f64> = per_sample
            .iter()
            .map(|(k, v)| (k.clone(), v.iter().sum::<f64>() / v.len().max(1) as f64))
            .collect();
        metrics.insert(
            "nll_test".into(),
            per_token_nll(&mut loaded.generator, &task.data.test, None)?,
        );
        // The reverse LM score at each temperature, computed once.
        let mut reverse_at: Vec<(f32, f64)> = Vec::new();
        if let Some(lm) = lm.as_mut() {
            let scores = lm.lm_scores(&drawn)?;
            metrics.insert("lm_nll".into(), mean(&scores));
            per_sample.insert("lm_nll".into(), scores);
            let reverse = lm.reverse_score(
                &mut loaded.generator,
                &task.data,
                temperature,
                seed,
                &model.label,
            )?;
            if let Some(reverse) = reverse {
                metrics.insert("reverse_lm_nll".into(), reverse);
                reverse_at.push((temperature, reverse));
            }
        }
        if let Some(n) = sweep_order {
            for &temperature in &settings.temperatures {
                let drawn =
                    sample_many(&mut loaded.generator, samples, max_len, temperature, seed)?;
                let means = task.score_samples(&drawn).means();
                let (lm_nll, reverse_lm_nll) = match lm.as_mut() {
                    None => (None, None),
                    Some(lm) => {
                        let known = reverse_at.iter().find(|(t, _)| *t == temperature);
                        let reverse = match known {
                            Some(&(_, reverse)) => Some(reverse),
                            None => lm.reverse_score(
                                &mut loaded.generator,
                                &task.data,
                                temperature,
                                seed,
                                &model.label,
                            )?,
                        };
                        (Some(mean(&lm.lm_scores(&drawn)?)), reverse)
                    }
                };
                sweep.push(SweepPoint {
                    model: model.label.clone(),
                    temperature,
                    bleu: means[&format!("bleu{n}")],
                    self_bleu: means
                        .get(&format!("self_bleu{n}"))
                        .copied()
                        .unwrap_or(f64::NAN),
                    lm_nll,
                    reverse_lm_nll,
                });
            }
        }
        scored.push(ModelScores {
            label: model.label.clone(),
            metrics,
            per_sample,
            corpus_statistics: BTreeMap::new(),
        });
    }
    let mut comparisons = Vec::new();
    for (baseline, other) in comparison_pairs(models) {
        let (baseline, other) = (&scored[baseline], &scored[other]);
        let headline = bleu
            .headline
            .iter()
            .flat_map(|n| [format!("bleu{n}"), format!("self_bleu{n}")]);
        // lm_nll is there only with --lm.
        for metric in headline.chain(["lm_nll".to_string()]) {
            let (Some(a), Some(b)) = (
                baseline.per_sample.get(&metric),
                other.per_sample.get(&metric),
            ) else {
                continue;
            };
            if a.len() != b.len() || a.is_empty() {
                continue;
            }
            comparisons.push(Comparison {
                metric: metric.clone(),
                baseline: baseline.label.clone(),
                model: other.label.clone(),
                test: paired_bootstrap(a, b, settings.resamples, seed),
            });
        }
    }
    let fast = bleu.fast_references;
    Ok(Evaluation {
        task: "text".into(),
        samples,
        temperature,
        seed,
        pairing: format!(
            "text: sample i of {samples} drawn at temperature {temperature} with seed {seed}, scored against {}",
            first_config
                .task
                .test_data
                .as_ref()
                .map_or("the test set".into(), |p| p.display().to_string())
        ),
        notes: [vec![
            "bleuN: NLTK sentence BLEU-N (uniform weights, smoothing method1) of each sample against the whole test set, averaged (Texygen)".into(),
            format!("bleuN_fast: the same against the first {fast} test lines (Texygen's fast mode)"),
            "self_bleuN: each sample against all the other samples (never itself); higher = less diverse".into(),
            format!("self_bleuN_fast: among the first {fast} samples only (Texygen's)"),
            "nll_test: the generator's per-token NLL of the test set (nats, EOS included)".into(),
            "length: tokens per sample (end-of-sequence not counted); repeated_bigrams: the share of a sample's bigrams that repeat an earlier bigram of the same sample (0 without repeats)".into(),
            "paired tests: bootstrap of per-sample differences, same seed for every model".into(),
            "BLEU and Self-BLEU are on a 0–1 scale, length in tokens; these samples are agon eval's own draws (--seed), not the training-time samples behind metrics.jsonl's BLEU, so the two differ by sampling noise".into(),
        ], lm.as_ref().map(language_model::LanguageModel::notes).unwrap_or_default()].concat(),
        warnings,
        models: scored,
        comparisons,
        sweep_order: (!settings.temperatures.is_empty()).then_some(sweep_order).flatten(),
        sweep,
        outputs: BTreeMap::new(),
    })
}

/// The mean of `values` (0 for none).
pub(crate) fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// The per-sample scores of an evaluation, as `per_sample.json` holds them
/// (read back by `agon compare`'s per-sample paired tests).
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct PerSampleScores {
    /// [`Evaluation::pairing`].
    pub pairing: String,
    /// Model label → metric → one score per item.
    pub models: BTreeMap<String, BTreeMap<String, Vec<f64>>>,
    /// Model label → corpus metric (`bleu`) → each item's sufficient
    /// statistics ([`crate::task::conditional::bleu_statistics_row`]).
    /// Always written (empty for other tasks); `None`: a file of an agon
    /// eval before they were kept.
    #[serde(default)]
    pub corpus_statistics: Option<BTreeMap<String, CorpusStatistics>>,
}

/// The file beside eval.json that holds [`PerSampleScores`].
pub const PER_SAMPLE_FILE: &str = "per_sample.json";

/// Writes `eval.json`, `per_sample.json` and (with a sweep) the
/// quality–diversity plot into `dir`.
pub fn write_outputs(dir: &Path, evaluation: &Evaluation) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let json = dir.join("eval.json");
    crate::run_dir::write_atomic(&json, serde_json::to_string_pretty(evaluation)?.as_bytes())?;
    let per_sample = PerSampleScores {
        pairing: evaluation.pairing.clone(),
        models: evaluation
            .models
            .iter()
            .map(|m| (m.label.clone(), m.per_sample.clone()))
            .collect(),
        corpus_statistics: Some(
            evaluation
                .models
                .iter()
                .filter(|m| !m.corpus_statistics.is_empty())
                .map(|m| (m.label.clone(), m.corpus_statistics.clone()))
                .collect(),
        ),
    };
    let per_sample_path = dir.join(PER_SAMPLE_FILE);
    crate::run_dir::write_atomic(
        &per_sample_path,
        serde_json::to_string(&per_sample)?.as_bytes(),
    )?;
    let mut written = vec![json, per_sample_path];
    for (label, lines) in &evaluation.outputs {
        let path = dir.join(format!("{}.txt", label.replace('/', "-")));
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        crate::run_dir::write_atomic(&path, text.as_bytes())?;
        written.push(path);
    }
    if let Some(order) = evaluation.sweep_order {
        written.extend(quality_diversity::write(dir, &evaluation.sweep, order)?);
    }
    let oracle_curve = oracle::curve(evaluation);
    if !oracle_curve.is_empty() {
        written.extend(quality_diversity::write_oracle(dir, &oracle_curve)?);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(run: &str, snapshot: Option<&str>) -> Model {
        Model {
            label: format!("{run}/{}", snapshot.unwrap_or("final")),
            run_dir: PathBuf::from(run),
            snapshot: snapshot.map(str::to_string),
        }
    }

    fn labelled(models: &[Model]) -> Vec<(String, String)> {
        comparison_pairs(models)
            .into_iter()
            .map(|(b, m)| (models[m].label.clone(), models[b].label.clone()))
            .collect()
    }

    #[test]
    fn every_model_meets_the_first_and_each_later_run_its_own_mle_model() {
        let models = [
            model("a", Some("mle")),
            model("a", None),
            model("b", Some("mle")),
            model("b", None),
            // An MLE-only run has no snapshot: the first model only.
            model("c", None),
        ];
        let pair = |m: &str, b: &str| (m.to_string(), b.to_string());
        assert_eq!(
            labelled(&models),
            [
                pair("a/final", "a/mle"),
                pair("b/mle", "a/mle"),
                pair("b/final", "a/mle"),
                pair("b/final", "a/final"),
                pair("b/final", "b/mle"),
                pair("c/final", "a/mle"),
                pair("c/final", "a/final"),
            ]
        );
        // An MLE-only baseline run first: its final model is the baseline,
        // and the SeqGAN run still meets its own MLE model.
        let models = [model("c", None), model("a", Some("mle")), model("a", None)];
        assert_eq!(
            labelled(&models),
            [
                pair("a/mle", "c/final"),
                pair("a/final", "c/final"),
                pair("a/final", "a/mle"),
            ]
        );
        assert!(labelled(&models[..1]).is_empty());
    }

    #[test]
    fn another_snapshot_meets_the_first_model_the_first_runs_same_snapshot_and_its_own_mle() {
        let best = Some(crate::train::checkpoint::BEST_NLL_TEST);
        let models = [
            model("a", Some("mle")),
            model("a", best),
            model("a", None),
            model("b", Some("mle")),
            model("b", best),
            model("b", None),
        ];
        let pair = |m: &str, b: &str| (m.to_string(), b.to_string());
        assert_eq!(
            labelled(&models),
            [
                pair("a/best-nll-test", "a/mle"),
                pair("a/final", "a/mle"),
                pair("b/mle", "a/mle"),
                pair("b/best-nll-test", "a/mle"),
                pair("b/best-nll-test", "a/best-nll-test"),
                pair("b/best-nll-test", "b/mle"),
                pair("b/final", "a/mle"),
                pair("b/final", "a/final"),
                pair("b/final", "b/mle"),
            ]
        );
    }

    #[test]
    fn a_snapshot_a_run_lacks_is_an_error_but_the_end_of_mle_one() {
        let run = std::env::temp_dir().join(format!("agon-eval-models-{}", std::process::id()));
        std::fs::create_dir_all(run.join("checkpoints/best/generator")).unwrap();
        // No `mle` (an MLE-only run): its final model only.
        let default = models_of(&run, &DEFAULT_SNAPSHOTS);
        assert_eq!(default.len(), 1);
        assert!(default[0].label.ends_with("/final") && default[0].snapshot.is_none());
        let both = models_of(&run, &["best", "final"]);
        assert_eq!(both.len(), 2);
        assert_eq!(both[0].snapshot.as_deref(), Some("best"));
        let error = models(
            std::slice::from_ref(&run),
            &[crate::train::checkpoint::BEST_NLL_TEST.to_string()],
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            error.contains("has no `best-nll-test` snapshot")
                && error.contains("its snapshots: `best`, and `final`")
                && error.ends_with("Leave `best-nll-test` out of --snapshots"),
            "{error}"
        );
        // A directory without a generator is no snapshot.
        std::fs::create_dir_all(run.join("checkpoints/stray")).unwrap();
        let stray = models(&[run.clone(), run.clone()], &["stray".to_string()])
            .err()
            .unwrap()
            .to_string();
        assert!(
            stray.contains("has no `stray` snapshot")
                && stray.contains("or this run out of the evaluation"),
            "{stray}"
        );
        // Only `mle`, of a run without one: nothing to score.
        let nothing = models(std::slice::from_ref(&run), &["mle".to_string()])
            .err()
            .unwrap()
            .to_string();
        std::fs::remove_dir_all(&run).unwrap();
        assert!(nothing.contains("add `final`"), "{nothing}");
    }

    #[test]
    fn a_run_given_twice_meets_its_own_copys_mle_model() {
        let models = [
            model("a", Some("mle")),
            model("a", None),
            model("a", Some("mle")),
            model("a", None),
        ];
        let pair = |m: &str, b: &str| (m.to_string(), b.to_string());
        assert_eq!(
            labelled(&models),
            [
                pair("a/final", "a/mle"),
                pair("a/mle", "a/mle"),
                pair("a/final", "a/mle"),
                pair("a/final", "a/mle"),
            ]
        );
        assert_eq!(comparison_pairs(&models), [(0, 1), (0, 2), (0, 3), (2, 3)]);
    }

    fn models_of(run: &std::path::Path, snapshots: &[&str]) -> Vec<Model> {
        let snapshots: Vec<String> = snapshots.iter().map(|s| s.to_string()).collect();
        models(&[run.to_path_buf()], &snapshots).unwrap()
    }
}
