//! Quality against diversity across temperatures, per group: the
//! temperature sweeps of each run's newest `agon eval` (eval.json), pooled
//! over seeds. Text tasks: BLEU-n against Self-BLEU-n; oracle tasks:
//! NLL-oracle at each temperature.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::Serialize;

use super::{
    stats::{estimate, Estimate},
    Group,
};

/// One group's model (`mle` or `final`) at one temperature.
#[derive(Clone, Debug, Serialize)]
pub struct QualityDiversityPoint {
    pub group: String,
    /// `mle` (end of MLE pretraining) or `final`.
    pub model: String,
    pub temperature: f32,
    /// Text: BLEU-n; oracle: NLL-oracle.
    pub quality: Estimate,
    /// Text: Self-BLEU-n; oracle: none (needs a tempered likelihood).
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

/// The newest eval.json of a run (`eval`, `eval-2`, …).
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
    found.pop().map(|(_, p)| p)
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

/// The quality–diversity points of every group whose runs have evaluation
/// sweeps; `(quality name, diversity name)` says what they are.
pub fn collect(groups: &[Group]) -> (Vec<QualityDiversityPoint>, Option<(String, Option<String>)>) {
    type Key = (usize, String, String); // group, model, temperature text
    let mut pooled: BTreeMap<Key, Pooled> = BTreeMap::new();
    let mut names = None;
    for (g, group) in groups.iter().enumerate() {
        for run in &group.runs {
            let Some(path) = newest_eval(&run.path) else {
                continue;
            };
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(eval) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            let model_of = |label: &str| label.rsplit('/').next().unwrap_or(label).to_string();
            let own = |label: &str| owns_label(&run.path, label);
            if let Some(order) = eval["sweep_order"].as_u64() {
                names = Some((format!("bleu{order}"), Some(format!("self_bleu{order}"))));
                for p in eval["sweep"].as_array().into_iter().flatten() {
                    let (Some(t), Some(b), Some(s)) = (
                        p["temperature"].as_f64(),
                        p["bleu"].as_f64(),
                        p["self_bleu"].as_f64(),
                    ) else {
                        continue;
                    };
                    let label = p["model"].as_str().unwrap_or_default();
                    if !own(label) {
                        continue;
                    }
                    let model = model_of(label);
                    let entry =
                        pooled
                            .entry((g, model, format!("{t}")))
                            .or_insert_with(|| Pooled {
                                temperature: t as f32,
                                ..Pooled::default()
                            });
                    entry.quality.push(b);
                    entry.diversity.push(s);
                    if let Some(v) = p["lm_nll"].as_f64() {
                        entry.lm_nll.push(v);
                    }
                    if let Some(v) = p["reverse_lm_nll"].as_f64() {
                        entry.reverse_lm_nll.push(v);
                    }
                }
            } else if eval["task"] == "synthetic-oracle" {
                for m in eval["models"].as_array().into_iter().flatten() {
                    let label = m["label"].as_str().unwrap_or_default();
                    if !own(label) {
                        continue;
                    }
                    let model = model_of(label);
                    for (key, value) in m["metrics"].as_object().into_iter().flatten() {
                        let Some(t) = key
                            .strip_prefix("nll_oracle_t")
                            .and_then(|t| t.parse::<f32>().ok())
                        else {
                            continue;
                        };
                        let Some(v) = value.as_f64() else { continue };
                        names = Some(("nll_oracle".to_string(), None));
                        pooled
                            .entry((g, model.clone(), format!("{t}")))
                            .or_insert_with(|| Pooled {
                                temperature: t,
                                ..Pooled::default()
                            })
                            .quality
                            .push(v);
                    }
                }
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
