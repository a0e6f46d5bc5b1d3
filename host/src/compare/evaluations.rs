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
    /// Metrics that some evaluated runs of a group have and others lack:
    /// their rows and tests are over fewer seeds, which the reader must
    /// know.
    pub incomplete: Vec<IncompleteMetrics>,
}

/// The metrics of `model` that the newest evaluation of the runs of
/// `seeds` lacks while another run of `group` has them (an `agon eval`
/// with other options after the one that had them, or a value that is not
/// finite); no metrics when those runs' evaluations lack the model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IncompleteMetrics {
    pub group: String,
    pub model: String,
    pub seeds: Vec<u64>,
    pub metrics: Vec<String>,
}

impl IncompleteMetrics {
    /// One sentence for the report and the warning.
    pub fn sentence(&self) -> String {
        let seeds: Vec<String> = self.seeds.iter().map(u64::to_string).collect();
        let whose = format!(
            "{} / {}: the newest evaluation of seed{} {}",
            self.group,
            self.model,
            if seeds.len() == 1 { "" } else { "s" },
            seeds.join(", ")
        );
        let fewer = "so its rows and tests are over the group's other seeds";
        if self.metrics.is_empty() {
            return format!("{whose} does not score this model, {fewer}");
        }
        format!(
            "{whose} has no finite value of {}, which the group's other runs have, {fewer} (if it ran with other options, evaluate the run again with the others': agon compare reads each run's own newest eval directory)",
            self.metrics.join(", ")
        )
    }
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

/// Whether both groups' evaluated runs have the same seeds, each once:
/// then the test between them is paired, over the seeds where both have
/// the metric. Decided by the runs, not by each metric's values, so that
/// one run's metric missing from its newest evaluation narrows the pairs
/// instead of switching the test to Welch's.
fn same_seeds(base: &[(u64, RunScores)], other: &[(u64, RunScores)]) -> bool {
    let seeds = |side: &[(u64, RunScores)]| side.iter().map(|(s, _)| *s).collect::<BTreeSet<_>>();
    seeds(base) == seeds(other)
        && seeds(base).len() == base.len()
        && seeds(other).len() == other.len()
}

/// For each model of `runs`, the seeds whose newest evaluation lacks some
/// metric another run has, grouped by the metrics they lack.
fn incomplete(group: &str, runs: &[(u64, RunScores)]) -> Vec<IncompleteMetrics> {
    let models: BTreeSet<&String> = runs.iter().flat_map(|(_, s)| s.keys()).collect();
    let mut out: Vec<IncompleteMetrics> = Vec::new();
    for model in models {
        let every: BTreeSet<&String> = runs
            .iter()
            .filter_map(|(_, s)| s.get(model))
            .flat_map(|m| m.keys())
            .collect();
        for (seed, scores) in runs {
            // Without the model at all, the metrics are not the point.
            let missing: Vec<String> = match scores.get(model) {
                None => Vec::new(),
                Some(metrics) => {
                    let missing: Vec<String> = every
                        .iter()
                        .filter(|metric| !metrics.contains_key(**metric))
                        .map(|metric| metric.to_string())
                        .collect();
                    if missing.is_empty() {
                        continue;
                    }
                    missing
                }
            };
            match out
                .iter_mut()
                .find(|entry| entry.model == *model && entry.metrics == missing)
            {
                Some(entry) => entry.seeds.push(*seed),
                None => out.push(IncompleteMetrics {
                    group: group.to_string(),
                    model: model.clone(),
                    seeds: vec![*seed],
                    metrics: missing,
                }),
            }
        }
    }
    out
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
    let labels: Vec<String> = groups.iter().map(|g| g.label.clone()).collect();
    let out = tables(&labels, &scored);
    for entry in &out.incomplete {
        crate::notes::warn(&entry.sentence());
    }
    out
}

/// [`collect`] of the groups labelled `labels`, from their evaluated runs'
/// seeds and scores.
fn tables(labels: &[String], scored: &[Vec<(u64, RunScores)>]) -> Evaluations {
    let mut out = Evaluations::default();
    for (label, runs) in labels.iter().zip(scored) {
        out.incomplete.extend(incomplete(label, runs));
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
                group: label.clone(),
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
                    group: label.clone(),
                    against: format!("{label}/mle"),
                    metric: metric.clone(),
                    difference,
                });
            }
        }
    }
    let (Some(baseline), Some(base_runs)) = (labels.first(), scored.first()) else {
        return out;
    };
    for (label, runs) in labels.iter().zip(scored).skip(1) {
        let paired = same_seeds(base_runs, runs);
        for metric in &final_metrics(runs) {
            let (base, other) = (
                values(base_runs, "final", metric),
                values(runs, "final", metric),
            );
            if let Some(difference) = seed_difference(&base, &other, paired) {
                out.against_baseline.push(EvaluationDifference {
                    group: label.clone(),
                    against: format!("{baseline}/final"),
                    metric: metric.clone(),
                    difference,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run's scores: `final` with `metrics`, `mle` with nll_oracle.
    fn run(seed: u64, metrics: &[(&str, f64)]) -> (u64, RunScores) {
        let mut scores = RunScores::new();
        scores.insert("mle".into(), [("nll_oracle".to_string(), 9.0)].into());
        scores.insert(
            "final".into(),
            metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        );
        (seed, scores)
    }

    fn against<'a>(out: &'a Evaluations, metric: &str) -> &'a Difference {
        &out.against_baseline
            .iter()
            .find(|d| d.metric == metric)
            .unwrap_or_else(|| panic!("no test of {metric}"))
            .difference
    }

    #[test]
    fn a_metric_missing_from_one_run_narrows_the_pairs_and_is_reported() {
        let labels = ["base".to_string(), "adv".to_string()];
        let base = vec![
            run(1, &[("nll", 9.0), ("nll_t1", 9.0)]),
            run(2, &[("nll", 9.4), ("nll_t1", 9.4)]),
            run(3, &[("nll", 8.9), ("nll_t1", 8.9)]),
        ];
        // Seed 2's newest evaluation was run without the temperature sweep.
        let adv = vec![
            run(1, &[("nll", 8.8), ("nll_t1", 8.8)]),
            run(2, &[("nll", 9.35)]),
            run(3, &[("nll", 8.7), ("nll_t1", 8.7)]),
        ];
        let out = tables(&labels, &[base.clone(), adv.clone()]);
        // The same runs' seeds: paired, over the two seeds both have.
        let full = against(&out, "nll");
        let narrowed = against(&out, "nll_t1");
        let paired_over_two = paired(&[8.8 - 9.0, 8.7 - 8.9]).unwrap();
        assert_eq!((full.test.as_str(), full.df), ("paired t", 2.0));
        assert_eq!(narrowed.df, paired_over_two.df);
        assert_eq!(narrowed.difference, paired_over_two.difference);
        assert_eq!(narrowed.test, paired_over_two.test);
        assert_eq!(narrowed.p_value, paired_over_two.p_value);
        // Welch's test over (9.0, 9.4, 8.9) and (8.8, 8.7), which the old
        // choice ran, gives another answer: the test can tell them apart.
        let welch = seed_difference(
            &values(&base, "final", "nll_t1"),
            &values(&adv, "final", "nll_t1"),
            false,
        )
        .unwrap();
        assert_ne!(welch.p_value, narrowed.p_value);
        assert_eq!(
            out.incomplete,
            vec![IncompleteMetrics {
                group: "adv".into(),
                model: "final".into(),
                seeds: vec![2],
                metrics: vec!["nll_t1".into()],
            }]
        );
        let sentence = out.incomplete[0].sentence();
        assert!(
            sentence.starts_with(
                "adv / final: the newest evaluation of seed 2 has no finite value of nll_t1"
            ),
            "{sentence}"
        );

        // A run whose evaluation lacks a model is named for the model.
        let mut no_mle = base.clone();
        no_mle[1].1.remove("mle");
        let out = tables(&labels, &[no_mle, base.clone()]);
        assert_eq!(out.incomplete.len(), 1, "{:?}", out.incomplete);
        assert_eq!(
            out.incomplete[0].sentence(),
            "base / mle: the newest evaluation of seed 2 does not score this model, so its rows and tests are over the group's other seeds"
        );

        // Every run with every metric: nothing to report.
        let complete = tables(&labels, &[base.clone(), base]);
        assert!(complete.incomplete.is_empty());
    }

    #[test]
    fn groups_of_other_seeds_are_compared_by_welchs_test() {
        let labels = ["base".to_string(), "other".to_string()];
        let base = vec![
            run(1, &[("nll", 9.0)]),
            run(2, &[("nll", 9.4)]),
            run(3, &[("nll", 8.9)]),
        ];
        let other = vec![
            run(4, &[("nll", 8.8)]),
            run(5, &[("nll", 9.1)]),
            run(6, &[("nll", 8.7)]),
        ];
        let out = tables(&labels, &[base.clone(), other.clone()]);
        let welch = seed_difference(
            &values(&base, "final", "nll"),
            &values(&other, "final", "nll"),
            false,
        )
        .unwrap();
        assert_eq!(against(&out, "nll").p_value, welch.p_value);
        assert_eq!(against(&out, "nll").test, welch.test);
    }
}
