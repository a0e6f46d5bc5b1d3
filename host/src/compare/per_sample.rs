//! Per-sample paired tests between groups: where the runs' evaluations
//! share their items (`agon eval`'s `pairing`: the same test sources, or
//! samples drawn with the same seed and temperature), item i of a group's
//! run is paired with item i of the baseline's run of the same seed, and
//! the differences of every seed are pooled into one paired bootstrap.
//!
//! This test is conditional on the trained models: it says whether these
//! models differ on these items, not whether the training procedure
//! would on other seeds; that is the test across seeds
//! ([`super::analysis`]). Both are reported.

use std::{collections::BTreeMap, path::Path};

use serde::Serialize;

use super::{quality_diversity::newest_eval, Group, RunData};
use crate::eval::{
    significance::{paired_bootstrap, PairedTest},
    PerSampleScores, PER_SAMPLE_FILE,
};

/// Bootstrap resamples of the per-sample tests.
const RESAMPLES: usize = 10_000;

/// A metric's paired scores so far: the baseline's, the group's, and the
/// seeds they came from.
#[derive(Default)]
struct Pairs {
    baseline: Vec<f64>,
    group: Vec<f64>,
    seeds: Vec<u64>,
}

/// One group against the baseline on one metric, over every shared item.
#[derive(Clone, Debug, Serialize)]
pub struct PerSampleDifference {
    pub group: String,
    pub baseline: String,
    pub metric: String,
    /// Seeds whose runs were paired.
    pub seeds: Vec<u64>,
    /// group − baseline over all pairs.
    pub test: PairedTest,
}

/// The final model's per-sample scores from a run's newest evaluation, with
/// the evaluation's pairing; `Err` says why there are none.
fn final_scores(run: &RunData) -> Result<(String, BTreeMap<String, Vec<f64>>), String> {
    let name = run
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let eval = newest_eval(&run.path)
        .ok_or_else(|| {
            format!(
                "{} has no `agon eval` output of its own (an evaluation of several runs is written into the first run's directory only; `agon eval RUN` each run)",
                run.path.display()
            )
        })?;
    let file = eval.with_file_name(PER_SAMPLE_FILE);
    let text = std::fs::read_to_string(&file).map_err(|_| {
        format!(
            "{} has no {PER_SAMPLE_FILE} (written by agon eval from this version on)",
            eval.parent().unwrap_or(Path::new(".")).display()
        )
    })?;
    let scores: PerSampleScores = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not per-sample scores ({e})", file.display()))?;
    let own = [
        format!("{name}/final"),
        format!("{}/final", run.path.display()),
    ];
    let models = scores
        .models
        .into_iter()
        .find(|(label, _)| own.contains(label))
        .map(|(_, m)| m)
        .ok_or_else(|| format!("{} scores no `{name}/final` model", file.display()))?;
    if models.is_empty() {
        // A conditional task's corpus BLEU and distinct-n are statistics of
        // the whole output, not means over items: nothing to pool here.
        return Err(format!(
            "{} holds no per-item scores of `{name}/final`: its metrics (corpus BLEU, distinct-n) are statistics of the whole output, not means over items, so they are not pooled over seeds here; `agon eval BASELINE_RUN {}` tests them seed by seed, paired over the test items (ROUGE, a mean over items, is pooled when evaluated)",
            file.display(),
            run.path.display()
        ));
    }
    Ok((scores.pairing, models))
}

/// `group` against `baseline`: per metric, one paired bootstrap over the
/// items of every seed both ran. Returns the tests and, when some pairs
/// could not be made, why.
pub fn against_baseline(
    baseline: &Group,
    group: &Group,
) -> (Vec<PerSampleDifference>, Vec<String>) {
    let mut pooled: BTreeMap<String, Pairs> = BTreeMap::new();
    let mut notes = Vec::new();
    for run in &group.runs {
        let seed = run.config.seed;
        let Some(base_run) = baseline.runs.iter().find(|r| r.config.seed == seed) else {
            notes.push(format!(
                "{}: seed {seed} has no run in {}, so its items are not paired",
                group.label, baseline.label
            ));
            continue;
        };
        let (ours, theirs) = match (final_scores(run), final_scores(base_run)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(why), _) | (_, Err(why)) => {
                notes.push(why);
                continue;
            }
        };
        if ours.0 != theirs.0 {
            notes.push(format!(
                "seed {seed}: the evaluations of {} and {} do not share their items ({} / {}); evaluate both with the same --seed, --samples and temperature",
                run.path.display(),
                base_run.path.display(),
                ours.0,
                theirs.0
            ));
            continue;
        }
        for (metric, values) in ours.1 {
            let Some(base_values) = theirs.1.get(&metric) else {
                continue;
            };
            if values.len() != base_values.len() || values.is_empty() {
                continue;
            }
            let pairs = pooled.entry(metric).or_default();
            pairs.baseline.extend(base_values);
            pairs.group.extend(values);
            pairs.seeds.push(seed);
        }
    }
    let tests = pooled
        .into_iter()
        .map(|(metric, pairs)| PerSampleDifference {
            group: group.label.clone(),
            baseline: baseline.label.clone(),
            test: paired_bootstrap(&pairs.baseline, &pairs.group, RESAMPLES, 0),
            metric,
            seeds: pairs.seeds,
        })
        .collect();
    notes.sort();
    notes.dedup();
    (tests, notes)
}
