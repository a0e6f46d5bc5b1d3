//! The metric tables of the runs' newest `agon eval` (eval.json), pooled
//! over seeds: every metric of each group's models (`mle`, the end of MLE
//! pretraining, `final`, and any other snapshot `agon eval --snapshots`
//! scored), the change from `mle` to `final` within each
//! run, and each group's final model against the baseline group's. These
//! are the scores training does not log — the LM and reverse LM scores,
//! BLEU at the evaluation's sample count — with the same tests across seeds
//! as the metrics.jsonl tables.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{
    quality_diversity::{newest_eval, owns_label},
    stats::{estimate, matched_differences, paired, seed_difference, Difference, Estimate},
    Group, RunData,
};

/// One group's model on every metric of its runs' evaluations.
#[derive(Clone, Debug, Serialize)]
pub struct EvaluatedModel {
    pub group: String,
    /// `mle`, `final` or another snapshot's name.
    pub model: String,
    pub metrics: BTreeMap<String, Estimate>,
}

/// A difference of an evaluation metric, tested over seeds.
#[derive(Clone, Debug, Serialize)]
pub struct EvaluationDifference {
    pub group: String,
    /// What is subtracted: `<group>/mle` (within each run) or the baseline
    /// group's final model.
    pub against: String,
    pub metric: String,
    #[serde(flatten)]
    pub difference: Difference,
}

/// Everything of this section.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Evaluations {
    pub models: Vec<EvaluatedModel>,
    /// `final − mle` within each run of a group, paired over its seeds.
    pub changes: Vec<EvaluationDifference>,
    /// Each group's final model − the baseline group's final model.
    pub against_baseline: Vec<EvaluationDifference>,
}

/// A run's evaluated models: `mle`, `final`… → metric → value.
type RunScores = BTreeMap<String, BTreeMap<String, f64>>;

fn run_scores(run: &RunData) -> Option<RunScores> {
    let text = std::fs::read_to_string(newest_eval(&run.path)?).ok()?;
    let eval: serde_json::Value = serde_json::from_str(&text).ok()?;
    let mut scores = RunScores::new();
    for model in eval["models"].as_array().into_iter().flatten() {
        let label = model["label"].as_str().unwrap_or_default();
        if !owns_label(&run.path, label) {
            continue;
        }
        let name = label.rsplit('/').next().unwrap_or(label).to_string();
        let metrics = model["metrics"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| v.as_f64().filter(|v| v.is_finite()).map(|v| (k.clone(), v)))
            .collect();
        scores.insert(name, metrics);
    }
    (!scores.is_empty()).then_some(scores)
}

/// Each run's seed and scores, for the runs of `group` that were evaluated.
fn group_scores(group: &Group) -> Vec<(u64, RunScores)> {
    group
        .runs
        .iter()
        .filter_map(|run| run_scores(run).map(|s| (run.config.seed, s)))
        .collect()
}

/// `metric` of `model` in each run that has it, with the run's seed.
fn values(runs: &[(u64, RunScores)], model: &str, metric: &str) -> Vec<(u64, f64)> {
    runs.iter()
        .filter_map(|(seed, s)| s.get(model)?.get(metric).map(|v| (*seed, *v)))
        .collect()
}

/// Whether both sides have the same seeds, each once (a paired test).
fn same_seeds(base: &[(u64, f64)], other: &[(u64, f64)]) -> bool {
    let seeds = |side: &[(u64, f64)]| side.iter().map(|(s, _)| *s).collect::<BTreeSet<_>>();
    seeds(base) == seeds(other) && seeds(base).len() == base.len()
}

/// Every metric of the final models of `runs`.
fn final_metrics(runs: &[(u64, RunScores)]) -> BTreeSet<String> {
    runs.iter()
        .filter_map(|(_, s)| s.get("final"))
        .flat_map(|m| m.keys().cloned())
        .collect()
}

/// The evaluation tables of `groups` (the first is the baseline); empty
/// when no run has been evaluated.
pub fn collect(groups: &[Group]) -> Evaluations {
    let scored: Vec<Vec<(u64, RunScores)>> = groups.iter().map(group_scores).collect();
    let mut out = Evaluations::default();
    for (group, runs) in groups.iter().zip(&scored) {
        let mut models: Vec<&String> = runs
            .iter()
            .flat_map(|(_, s)| s.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        // The end of MLE before the end of the run.
        models.sort_by_key(|m| (m.as_str() != "mle", m.as_str()));
        for model in models {
            let metrics: BTreeSet<&String> = runs
                .iter()
                .filter_map(|(_, s)| s.get(model))
                .flat_map(|m| m.keys())
                .collect();
            out.models.push(EvaluatedModel {
                group: group.label.clone(),
                model: model.clone(),
                metrics: metrics
                    .into_iter()
                    .map(|metric| {
                        let v: Vec<f64> = values(runs, model, metric)
                            .into_iter()
                            .map(|(_, v)| v)
                            .collect();
                        (metric.clone(), estimate(&v))
                    })
                    .collect(),
            });
        }
        // final − mle within each run.
        for metric in &final_metrics(runs) {
            let (before, after) = (values(runs, "mle", metric), values(runs, "final", metric));
            if let Some(difference) = paired(&matched_differences(&before, &after)) {
                out.changes.push(EvaluationDifference {
                    group: group.label.clone(),
                    against: format!("{}/mle", group.label),
                    metric: metric.clone(),
                    difference,
                });
            }
        }
    }
    let (Some(baseline), Some(base_runs)) = (groups.first(), scored.first()) else {
        return out;
    };
    for (group, runs) in groups.iter().zip(&scored).skip(1) {
        for metric in &final_metrics(runs) {
            let (base, other) = (
                values(base_runs, "final", metric),
                values(runs, "final", metric),
            );
            if let Some(difference) = seed_difference(&base, &other, same_seeds(&base, &other)) {
                out.against_baseline.push(EvaluationDifference {
                    group: group.label.clone(),
                    against: format!("{}/final", baseline.label),
                    metric: metric.clone(),
                    difference,
                });
            }
        }
    }
    out
}
