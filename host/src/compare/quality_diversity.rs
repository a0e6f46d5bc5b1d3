//! Quality against diversity across temperatures, per group: the
//! temperature sweeps of each run's newest `agon eval` (eval.json), pooled
//! over seeds. Text tasks: BLEU-n against Self-BLEU-n; oracle tasks:
//! NLL-oracle against NLL-test at each temperature.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::Serialize;

use super::{
    stats::{estimate, Estimate},
    Group,
};

/// One group's model (`mle`, `final`…) at one temperature.
#[derive(Clone, Debug, Serialize)]
pub struct QualityDiversityPoint {
    pub group: String,
    /// `mle` (end of MLE pretraining), `final`, or another snapshot's name.
    pub model: String,
    pub temperature: f32,
    /// Text: BLEU-n; oracle: NLL-oracle.
    pub quality: Estimate,
    /// Text: Self-BLEU-n; oracle: NLL-test at the temperature (none when a
    /// generator lacks tempered likelihoods).
    pub diversity: Option<Estimate>,
    /// Text runs evaluated with `--lm`: the LM score at this temperature.
    pub lm_nll: Option<Estimate>,
    /// And the reverse LM score.
    pub reverse_lm_nll: Option<Estimate>,
}

/// What is pooled of one (group, model, temperature).
#[derive(Default)]
struct Pooled {
    temperature: f32,
    quality: Vec<f64>,
    diversity: Vec<f64>,
    lm_nll: Vec<f64>,
    reverse_lm_nll: Vec<f64>,
}

/// The newest eval.json of a run (`eval`, `eval-2`, …) that scores the
/// run's final model: an `agon eval --snapshots` without `final` is passed
/// over, as compare's tables are of final models.
pub(super) fn newest_eval(run: &Path) -> Option<PathBuf> {
    let mut found: Vec<(usize, PathBuf)> = std::fs::read_dir(run)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n = match name.as_str() {
                "eval" => 1,
                other => other.strip_prefix("eval-")?.parse().ok()?,
            };
            let json = e.path().join("eval.json");
            json.is_file().then_some((n, json))
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .rev()
        .find(|(_, json)| scores_final(run, json))
        .map(|(_, p)| p)
}

/// Whether the evaluation in `json` scores `run`'s final model (an
/// unreadable file counts as one: its reader says what is wrong).
fn scores_final(run: &Path, json: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(json) else {
        return true;
    };
    let Ok(eval) = serde_json::from_str::<serde_json::Value>(&text) else {
        return true;
    };
    eval["models"].as_array().into_iter().flatten().any(|m| {
        let label = m["label"].as_str().unwrap_or_default();
        label.ends_with("/final") && owns_label(run, label)
    })
}

/// A run's name in `agon eval`'s model labels: its directory's name.
fn run_label(run: &Path) -> String {
    run.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Whether `label` (`<run name>/mle`, `<run path>/final`…) is a model of
/// the run at `run`: `agon eval A B` writes A's eval.json with B's models
/// too.
pub(super) fn owns_label(run: &Path, label: &str) -> bool {
    let owner = label.rsplit_once('/').map_or("", |(owner, _)| owner);
    owner == run_label(run) || owner == run.display().to_string()
}

/// One model of one run at one temperature, from its newest eval.json.
pub(super) struct RunPoint {
    /// `mle` (end of MLE pretraining) or `final`.
    pub model: String,
    pub temperature: f32,
    pub quality: f64,
    pub diversity: Option<f64>,
    pub lm_nll: Option<f64>,
    pub reverse_lm_nll: Option<f64>,
}

/// What quality and diversity are in a run's points (`bleu2`, `self_bleu2`;
/// `nll_oracle`, `nll_test`).
pub(super) type Names = (String, Option<String>);

/// The quality–diversity points of `run`'s newest `agon eval`, in the
/// order the evaluation listed its models (the first is the baseline: the
/// end of MLE), or nothing without a temperature sweep.
pub(super) fn run_points(run: &Path) -> Option<(Names, Vec<RunPoint>)> {
    let path = newest_eval(run)?;
    let text = std::fs::read_to_string(&path).ok()?;
    let eval = serde_json::from_str::<serde_json::Value>(&text).ok()?;
    let model_of = |label: &str| label.rsplit('/').next().unwrap_or(label).to_string();
    let mut points = Vec::new();
    if let Some(order) = eval["sweep_order"].as_u64() {
        for p in eval["sweep"].as_array().into_iter().flatten() {
            let (Some(t), Some(b), Some(s)) = (
                p["temperature"].as_f64(),
                p["bleu"].as_f64(),
                p["self_bleu"].as_f64(),
            ) else {
                continue;
            };
            let label = p["model"].as_str().unwrap_or_default();
            if owns_label(run, label) {
                points.push(RunPoint {
                    model: model_of(label),
                    temperature: t as f32,
                    quality: b,
                    diversity: Some(s),
                    lm_nll: p["lm_nll"].as_f64(),
                    reverse_lm_nll: p["reverse_lm_nll"].as_f64(),
                });
            }
        }
        return Some((
            (format!("bleu{order}"), Some(format!("self_bleu{order}"))),
            points,
        ));
    }
    if eval["task"] != "synthetic-oracle" {
        return None;
    }
    let mut with_test = true;
    for m in eval["models"].as_array().into_iter().flatten() {
        let label = m["label"].as_str().unwrap_or_default();
        if !owns_label(run, label) {
            continue;
        }
        let metrics = &m["metrics"];
        let mut at = |t: f32, quality: f64, test: Option<f64>| {
            with_test &= test.is_some();
            points.push(RunPoint {
                model: model_of(label),
                temperature: t,
                quality,
                diversity: test,
                lm_nll: None,
                reverse_lm_nll: None,
            });
        };
        let mut swept = false;
        for (key, value) in metrics.as_object().into_iter().flatten() {
            let Some(t) = key
                .strip_prefix("nll_oracle_t")
                .and_then(|t| t.parse::<f32>().ok())
            else {
                continue;
            };
            let Some(v) = value.as_f64() else { continue };
            swept = true;
            // NLL-test at the same temperature, where the generator
            // provides tempered likelihoods.
            at(t, v, metrics[format!("nll_test_t{t}")].as_f64());
        }
        // The evaluation's own temperature, when it is 1 and not swept:
        // NLL-test is then the matching one.
        let own = eval["temperature"].as_f64().unwrap_or(1.0);
        if swept && own == 1.0 && metrics.get("nll_oracle_t1").is_none() {
            if let Some(v) = metrics["nll_oracle"].as_f64() {
                at(1.0, v, metrics["nll_test"].as_f64());
            }
        }
    }
    if points.is_empty() {
        return None;
    }
    let names = (
        "nll_oracle".to_string(),
        with_test.then(|| "nll_test".to_string()),
    );
    Some((names, points))
}

/// The quality–diversity points of every group whose runs have evaluation
/// sweeps; `(quality name, diversity name)` says what they are.
pub fn collect(groups: &[Group]) -> (Vec<QualityDiversityPoint>, Option<(String, Option<String>)>) {
    type Key = (usize, String, String); // group, model, temperature text
    let mut pooled: BTreeMap<Key, Pooled> = BTreeMap::new();
    let mut names: Option<Names> = None;
    let per_run: Vec<Vec<_>> = groups
        .iter()
        .map(|group| group.runs.iter().map(|run| run_points(&run.path)).collect())
        .collect();
    // A run evaluated without a sweep, beside runs with one, drops out of
    // the table's pools: say so, or the n of a row changes unexplained.
    if per_run.iter().flatten().any(Option::is_some) {
        for (group, runs) in groups.iter().zip(&per_run) {
            for (run, points) in group.runs.iter().zip(runs) {
                if let (None, Some(eval)) = (points, newest_eval(&run.path)) {
                    crate::notes::warn(&format!(
                        "{} has no temperature sweep (agon eval --temperatures), so {} is left out of the quality–diversity tables: agon compare reads each run's newest evaluation only",
                        eval.display(),
                        run.path.display()
                    ));
                }
            }
        }
    }
    for (g, (group, runs)) in groups.iter().zip(per_run).enumerate() {
        for (_run, found) in group.runs.iter().zip(runs) {
            let Some((run_names, points)) = found else {
                continue;
            };
            names = Some(match names {
                // A diversity only where every run has it.
                Some((quality, diversity)) => (quality, diversity.and(run_names.1)),
                None => run_names,
            });
            for p in points {
                let entry = pooled
                    .entry((g, p.model, format!("{}", p.temperature)))
                    .or_insert_with(|| Pooled {
                        temperature: p.temperature,
                        ..Pooled::default()
                    });
                entry.quality.push(p.quality);
                entry.diversity.extend(p.diversity);
                entry.lm_nll.extend(p.lm_nll);
                entry.reverse_lm_nll.extend(p.reverse_lm_nll);
            }
        }
    }
    let mut points: Vec<QualityDiversityPoint> = pooled
        .into_iter()
        .map(|((g, model, _), p)| {
            let pooled = |v: &[f64]| (!v.is_empty()).then(|| estimate(v));
            QualityDiversityPoint {
                group: groups[g].label.clone(),
                model,
                temperature: p.temperature,
                quality: estimate(&p.quality),
                diversity: pooled(&p.diversity),
                lm_nll: pooled(&p.lm_nll),
                reverse_lm_nll: pooled(&p.reverse_lm_nll),
            }
        })
        .collect();
    points.sort_by(|a, b| {
        (a.group.as_str(), a.model.as_str())
            .cmp(&(b.group.as_str(), b.model.as_str()))
            .then(a.temperature.total_cmp(&b.temperature))
    });
    (points, names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_evaluation_that_scores_the_final_model_is_read() {
        let root = tempfile::tempdir().unwrap();
        let run = root.path().join("run");
        let write = |dir: &str, labels: &[&str]| {
            let models: Vec<serde_json::Value> = labels
                .iter()
                .map(|l| serde_json::json!({"label": l, "metrics": {}}))
                .collect();
            std::fs::create_dir_all(run.join(dir)).unwrap();
            std::fs::write(
                run.join(dir).join("eval.json"),
                serde_json::json!({ "models": models }).to_string(),
            )
            .unwrap();
        };
        write("eval", &["run/mle", "run/final"]);
        // `--snapshots best-nll-test`, and another run's evaluation beside.
        write("eval-2", &["run/best-nll-test"]);
        write("eval-3", &["other/final"]);
        assert_eq!(newest_eval(&run), Some(run.join("eval/eval.json")));
        write("eval-10", &["run/mle", "run/best-nll-test", "run/final"]);
        assert_eq!(newest_eval(&run), Some(run.join("eval-10/eval.json")));
    }
}
