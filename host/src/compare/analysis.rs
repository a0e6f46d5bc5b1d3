//! The numbers of a comparison: per group, every metric at every
//! evaluation and at the end of each phase (mean and 95% interval over
//! seeds); the change over the adversarial phase within each run; each
//! group against the first at the end.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{
    stats::{estimate, mean, paired, seed_difference, Difference, Estimate},
    Group, RunData,
};
use crate::train::metrics::MetricsRow;

/// Every number of a row by name: the task's scores and the training
/// statistics.
fn values(row: &MetricsRow) -> BTreeMap<String, f64> {
    let mut values = row.scores.clone();
    for (name, value) in [
        ("g_loss", row.g_loss),
        ("mean_reward", row.mean_reward),
        ("d_loss", row.d_loss),
        ("d_accuracy", row.d_accuracy),
    ] {
        if let Some(value) = value {
            values.insert(name.to_string(), value);
        }
    }
    values.retain(|_, v| v.is_finite());
    values
}

/// One evaluation point of a group: (phase, epoch in phase, generator epochs).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Point {
    pub global_epoch: usize,
    pub phase: String,
    pub epoch: usize,
}

/// A group's numbers.
#[derive(Clone, Debug, Serialize)]
pub struct GroupSummary {
    pub label: String,
    pub runs: Vec<String>,
    pub seeds: Vec<u64>,
    /// The seeds of its runs that have not finished their schedule: their
    /// last evaluation counts as their end.
    pub unfinished: Vec<u64>,
    /// Each evaluation point: metric → estimate over the seeds that have it.
    pub curve: Vec<(Point, BTreeMap<String, Estimate>)>,
    /// The last row of each phase (generator phases; discriminator
    /// pretraining has its own): phase → metric → estimate.
    pub phase_ends: Vec<(String, BTreeMap<String, Estimate>)>,
    /// End of the last phase − end of MLE, paired within each run (runs
    /// with an adversarial phase): metric → difference.
    pub adversarial_change: BTreeMap<String, Difference>,
    /// How long the runs trained, when their metrics say.
    pub training_time: Option<TrainingTime>,
}

/// How long a group's runs trained (`elapsed_seconds` of their metrics
/// rows: training time over all of a run's attempts), and how many MLE
/// epochs would take as long: the schedule of a compute-matched MLE-only
/// baseline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrainingTime {
    /// MLE epochs of the runs (the most any of them reached).
    pub mle_epochs: usize,
    /// Seconds to the end of MLE, evaluations included, run by run.
    pub mle_seconds: Vec<f64>,
    /// Seconds to the end of each run.
    pub total_seconds: Vec<f64>,
    /// For runs that trained past MLE: MLE epochs at each run's own MLE
    /// pace in its whole training time, the mean over runs, rounded.
    pub matched_mle_epochs: Option<usize>,
}

/// [`TrainingTime`] of runs given by their metrics rows; `None` when no
/// run has an MLE row past epoch 0.
pub fn training_time<'a>(runs: impl IntoIterator<Item = &'a [MetricsRow]>) -> Option<TrainingTime> {
    let (mut mle, mut total, mut matched, mut mle_epochs) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for rows in runs {
        let Some(mle_end) = rows.iter().rev().find(|r| r.phase == "mle" && r.epoch > 0) else {
            continue;
        };
        let end = rows.last().expect("a run with an MLE row has rows");
        mle_epochs = mle_epochs.max(mle_end.epoch);
        mle.push(mle_end.elapsed_seconds);
        total.push(end.elapsed_seconds);
        if end.phase != "mle" && mle_end.elapsed_seconds > 0.0 {
            matched.push(mle_end.epoch as f64 * end.elapsed_seconds / mle_end.elapsed_seconds);
        }
    }
    if mle.is_empty() {
        return None;
    }
    Some(TrainingTime {
        mle_epochs,
        mle_seconds: mle,
        total_seconds: total,
        matched_mle_epochs: (!matched.is_empty()).then(|| mean(&matched).round() as usize),
    })
}

/// One group against the baseline (the first group) at the end of the runs.
#[derive(Clone, Debug, Serialize)]
pub struct GroupDifference {
    pub group: String,
    pub baseline: String,
    pub metric: String,
    #[serde(flatten)]
    pub difference: Difference,
}

/// Everything `agon compare` reports.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub headline: String,
    pub higher_is_better: bool,
    pub task: String,
    /// The commits the runs were made by (from their config.yaml).
    pub commits: Vec<String>,
    /// The machines the runs were made on (from their config.yaml; a
    /// resumed run's every machine): runs are bit-identical only on one.
    pub machines: Vec<String>,
    /// Whether two or more of `machines` are known and differ.
    pub several_machines: bool,
    pub groups: Vec<GroupSummary>,
    pub differences: Vec<GroupDifference>,
    /// Each group against the first on every per-sample score of the runs'
    /// newest `agon eval`, items paired (empty without evaluations).
    pub per_sample: Vec<super::per_sample::PerSampleDifference>,
    /// Why some runs' items could not be paired.
    pub per_sample_notes: Vec<String>,
    /// Quality against diversity across temperatures, from the runs'
    /// newest `agon eval --temperatures` (empty without one).
    pub quality_diversity: Vec<super::quality_diversity::QualityDiversityPoint>,
    /// What quality and diversity are there (e.g. `bleu2`, `self_bleu2`).
    pub quality_diversity_metrics: Option<(String, Option<String>)>,
    /// Each run's later models against its end-of-MLE temperature curve,
    /// at equal diversity, over seeds (empty without diversity).
    pub matched_quality: Vec<super::matched_quality::MatchedQuality>,
    /// The runs' newest `agon eval` tables pooled over seeds (empty without
    /// evaluations).
    pub evaluations: super::evaluations::Evaluations,
    /// Training-time `X_fast` metrics left out as copies of `X` (see
    /// [`drop_fast_copies`]).
    pub fast_copies_left_out: Vec<String>,
    /// The groups of fewer than two seeds: a test across seeds has nothing
    /// to test for them, so their tables have means and no tests.
    pub one_seed_groups: Vec<String>,
    /// What was found while reading the runs that the numbers depend on
    /// (runs unfinished, cells left out, other test sets: see
    /// [`super::collect`]).
    pub caveats: Vec<String>,
}

impl Comparison {
    /// Why the report's tests across seeds leave out `one_seed_groups`,
    /// and what to do about it; `None` when every group has two seeds.
    pub fn one_seed_sentence(&self) -> Option<String> {
        if self.one_seed_groups.is_empty() {
            return None;
        }
        let baseline = self.groups.first().map_or("", |g| g.label.as_str());
        let listed = self
            .one_seed_groups
            .iter()
            .map(|g| format!("`{g}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let one = self.one_seed_groups.len() == 1;
        let untested = if self.groups.len() < 2 {
            "with no test of the change over the adversarial phase".to_string()
        } else {
            format!(
                "with no test of the change over the adversarial phase or of the difference against the baseline, `{baseline}`{}",
                if self.one_seed_groups.iter().any(|g| g == baseline) {
                    " (with a one-seed baseline, no group's difference against it is tested)"
                } else {
                    ""
                }
            )
        };
        Some(format!(
            "Not tested across seeds: {listed} ({}). A test across seeds needs at least two seeds in a group, so {} tables show one run's numbers (n=1), {untested}. Train more seeds (e.g. `seeds: [1, 2, 3]` in a sweep file, docs/sweeps.md), evaluate them with `agon eval`, and compare again.",
            if one { "one seed" } else { "one seed each" },
            if one { "its" } else { "their" },
        ))
    }
}

/// Removes from every run's metrics rows each `X_fast` score that equals
/// `X` wherever it was recorded, and returns their names. They are copies,
/// not a second measurement: Self-BLEU among the first `fast_references`
/// samples is Self-BLEU among all of them when a run draws no more than
/// that, and the fast BLEU references are the test set when it is no
/// longer than that.
pub fn drop_fast_copies(groups: &mut [Group]) -> Vec<String> {
    let copies = fast_copies(groups.iter().flat_map(|g| &g.runs).flat_map(|r| &r.rows));
    for run in groups.iter_mut().flat_map(|g| &mut g.runs) {
        for row in &mut run.rows {
            row.scores.retain(|name, _| !copies.contains(name));
        }
    }
    copies
}

/// The `X_fast` scores of `rows` that equal `X`, bit for bit, in every row
/// that has them.
fn fast_copies<'a>(rows: impl Iterator<Item = &'a MetricsRow> + Clone) -> Vec<String> {
    let names: BTreeSet<&String> = rows
        .clone()
        .flat_map(|r| r.scores.keys())
        .filter(|name| name.ends_with("_fast"))
        .collect();
    names
        .into_iter()
        .filter(|fast| {
            let full = fast.strip_suffix("_fast").unwrap_or(fast);
            rows.clone().all(|row| match row.scores.get(*fast) {
                Some(value) => row
                    .scores
                    .get(full)
                    .is_some_and(|f| f.to_bits() == value.to_bits()),
                None => true,
            })
        })
        .cloned()
        .collect()
}

/// The last row of `phase` with generator scores (or with anything for a
/// phase without them).
fn phase_end<'a>(run: &'a RunData, phase: &str) -> Option<&'a MetricsRow> {
    run.rows.iter().rev().find(|r| r.phase == phase)
}

/// The last row of the run with the task's scores.
fn run_end(run: &RunData) -> Option<&MetricsRow> {
    run.rows.iter().rev().find(|r| !r.scores.is_empty())
}

fn estimates(rows: &[&MetricsRow]) -> BTreeMap<String, Estimate> {
    let mut by_metric: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for row in rows {
        for (name, value) in values(row) {
            by_metric.entry(name).or_default().push(value);
        }
    }
    by_metric
        .into_iter()
        .map(|(name, values)| (name, estimate(&values)))
        .collect()
}

fn summarise(group: &Group) -> GroupSummary {
    let runs = &group.runs;
    let points: BTreeSet<Point> = runs
        .iter()
        .flat_map(|r| &r.rows)
        .map(|r| Point {
            global_epoch: r.global_epoch,
            phase: r.phase.clone(),
            epoch: r.epoch,
        })
        .collect();
    let curve = points
        .into_iter()
        .map(|point| {
            let rows: Vec<&MetricsRow> = runs
                .iter()
                .filter_map(|run| {
                    run.rows
                        .iter()
                        .find(|r| r.phase == point.phase && r.epoch == point.epoch)
                })
                .collect();
            (point, estimates(&rows))
        })
        .collect();
    let mut phases: Vec<String> = Vec::new();
    for row in runs.iter().flat_map(|r| &r.rows) {
        if !phases.contains(&row.phase) {
            phases.push(row.phase.clone());
        }
    }
    let phase_ends = phases
        .iter()
        .map(|phase| {
            let rows: Vec<&MetricsRow> = runs.iter().filter_map(|r| phase_end(r, phase)).collect();
            (phase.clone(), estimates(&rows))
        })
        .collect();
    let mut changes: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for run in runs {
        let (Some(mle), Some(end)) = (phase_end(run, "mle"), phase_end(run, "adversarial")) else {
            continue;
        };
        let (before, after) = (values(mle), values(end));
        for (name, value) in &after {
            if let Some(start) = before.get(name) {
                if !name.starts_with("d_") && name != "mean_reward" && name != "g_loss" {
                    changes.entry(name.clone()).or_default().push(value - start);
                }
            }
        }
    }
    let adversarial_change = changes
        .into_iter()
        .filter_map(|(name, d)| paired(&d).map(|p| (name, p)))
        .collect();
    GroupSummary {
        label: group.label.clone(),
        runs: runs.iter().map(|r| r.path.display().to_string()).collect(),
        seeds: group.seeds(),
        unfinished: runs
            .iter()
            .filter(|r| !r.finished)
            .map(|r| r.config.seed)
            .collect(),
        curve,
        phase_ends,
        adversarial_change,
        training_time: training_time(runs.iter().map(|r| r.rows.as_slice())),
    }
}

/// Group `g` against the baseline at the end of the runs, for every task
/// metric both have: paired over seeds when both groups ran the same
/// seeds, Welch's test otherwise.
fn against_baseline(baseline: &Group, group: &Group) -> Vec<GroupDifference> {
    let ends = |g: &Group| -> Vec<(u64, BTreeMap<String, f64>)> {
        g.runs
            .iter()
            .filter_map(|r| run_end(r).map(|row| (r.config.seed, row.scores.clone())))
            .collect()
    };
    let (base, other) = (ends(baseline), ends(group));
    let base_seeds: BTreeSet<u64> = base.iter().map(|(s, _)| *s).collect();
    let other_seeds: BTreeSet<u64> = other.iter().map(|(s, _)| *s).collect();
    let same_seeds = base_seeds == other_seeds && base_seeds.len() == base.len();
    let metrics: BTreeSet<&String> = base.iter().flat_map(|(_, m)| m.keys()).collect();
    let mut out = Vec::new();
    for metric in metrics {
        let pick = |side: &[(u64, BTreeMap<String, f64>)]| -> Vec<(u64, f64)> {
            side.iter()
                .filter_map(|(seed, m)| {
                    m.get(metric).filter(|v| v.is_finite()).map(|v| (*seed, *v))
                })
                .collect()
        };
        let difference = seed_difference(&pick(&base), &pick(&other), same_seeds);
        if let Some(difference) = difference {
            out.push(GroupDifference {
                group: group.label.clone(),
                baseline: baseline.label.clone(),
                metric: metric.clone(),
                difference,
            });
        }
    }
    out
}

/// The comparison of `groups` (the first is the baseline).
pub fn compare(groups: &[Group]) -> Comparison {
    let first = &groups[0].runs[0].config;
    let (headline, higher_is_better) = super::headline(first);
    let mut commits: Vec<String> = groups
        .iter()
        .flat_map(|g| &g.runs)
        .map(|r| {
            r.config.written_by.as_ref().map_or(
                "unknown (written before agon recorded it)".to_string(),
                |w| w.git_commit.clone(),
            )
        })
        .collect();
    commits.sort();
    commits.dedup();
    // The machines as recorded (a set: order and repeats do not matter),
    // and whether some run predates the record.
    let runs = groups.iter().flat_map(|g| &g.runs);
    let known: std::collections::BTreeSet<&crate::machine::Machine> = runs
        .clone()
        .filter_map(|r| r.config.written_by.as_ref())
        .flat_map(|w| w.machines())
        .collect();
    let unrecorded = runs
        .map(|r| r.config.written_by.as_ref())
        .any(|w| w.is_none_or(|w| w.machine.is_none()));
    let mut machines: Vec<String> = known.iter().map(|m| m.to_string()).collect();
    if unrecorded {
        machines.push("unknown (written before agon recorded it)".to_string());
    }
    machines.sort();
    let differences = groups
        .iter()
        .skip(1)
        .flat_map(|g| against_baseline(&groups[0], g))
        .collect();
    let (quality_diversity, quality_diversity_metrics) = super::quality_diversity::collect(groups);
    let mut per_sample = Vec::new();
    let mut per_sample_notes = Vec::new();
    for group in groups.iter().skip(1) {
        let (tests, notes) = super::per_sample::against_baseline(&groups[0], group);
        per_sample.extend(tests);
        // A baseline run's note comes with every group: say it once.
        for note in notes {
            if !per_sample_notes.contains(&note) {
                per_sample_notes.push(note);
            }
        }
    }
    Comparison {
        evaluations: super::evaluations::collect(groups),
        per_sample,
        per_sample_notes,
        matched_quality: super::matched_quality::collect(groups),
        quality_diversity,
        quality_diversity_metrics,
        headline,
        higher_is_better,
        task: first.task.kind.name().to_string(),
        commits,
        machines,
        several_machines: known.len() > 1,
        one_seed_groups: groups
            .iter()
            .filter(|g| g.seeds().iter().collect::<BTreeSet<_>>().len() < 2)
            .map(|g| g.label.clone())
            .collect(),
        groups: groups.iter().map(summarise).collect(),
        differences,
        fast_copies_left_out: Vec::new(),
        caveats: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(phase: &str, epoch: usize, elapsed_seconds: f64) -> MetricsRow {
        MetricsRow {
            phase: phase.into(),
            epoch,
            global_epoch: epoch,
            scores: Default::default(),
            g_loss: None,
            mean_reward: None,
            d_loss: None,
            d_accuracy: None,
            elapsed_seconds,
        }
    }

    #[test]
    fn only_fast_scores_that_copy_their_full_ones_in_every_row_are_copies() {
        let scored = |pairs: &[(&str, f64)]| {
            let mut r = row("mle", 2, 1.0);
            r.scores = pairs.iter().map(|&(k, v)| (k.to_string(), v)).collect();
            r
        };
        let rows = [
            // A copy; a score measured apart (fewer references); a fast
            // score without its full one.
            scored(&[
                ("self_bleu2", 0.5),
                ("self_bleu2_fast", 0.5),
                ("bleu2", 0.3),
                ("bleu2_fast", 0.31),
                ("x_fast", 1.0),
            ]),
            // Another run, same copy; one without the fast scores.
            scored(&[("self_bleu2", 0.25), ("self_bleu2_fast", 0.25)]),
            scored(&[("self_bleu2", 0.7)]),
        ];
        assert_eq!(fast_copies(rows.iter()), ["self_bleu2_fast"]);
        // A copy in one run only is not a copy.
        let other = scored(&[("self_bleu2", 0.5), ("self_bleu2_fast", 0.4)]);
        assert!(fast_copies(rows.iter().chain([&other])).is_empty());
        assert!(fast_copies(std::iter::empty()).is_empty());
    }

    #[test]
    fn the_matched_mle_schedule_takes_as_long_as_the_whole_run() {
        // 40 MLE epochs in 90 s, then 270 s more: 160 epochs at that pace;
        // a second seed's MLE took 80 s and its run 320 s: 160 epochs too.
        let a = [
            row("mle", 0, 1.0),
            row("mle", 40, 90.0),
            row("adversarial", 30, 360.0),
        ];
        let b = [
            row("mle", 0, 1.0),
            row("mle", 40, 80.0),
            row("adversarial", 30, 320.0),
        ];
        let time = training_time([&a[..], &b[..]]).unwrap();
        assert_eq!(time.mle_epochs, 40);
        assert_eq!(time.matched_mle_epochs, Some(160));
        assert_eq!(
            (time.mle_seconds, time.total_seconds),
            (vec![90.0, 80.0], vec![360.0, 320.0])
        );
        // MLE-only runs have nothing to match; a run without MLE epochs
        // has no pace.
        let only = [row("mle", 0, 1.0), row("mle", 160, 330.0)];
        assert_eq!(training_time([&only[..]]).unwrap().matched_mle_epochs, None);
        assert_eq!(training_time([&[row("mle", 0, 1.0)][..]]), None);
    }

    /// A baseline run's per-sample note (never evaluated) comes with each
    /// group it is paired with, and is said once.
    #[test]
    fn a_baseline_runs_note_is_said_once_for_all_groups() {
        let smoke = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/smoke.yaml");
        let dir = tempfile::tempdir().unwrap();
        let group = |label: &str| Group {
            label: label.to_string(),
            runs: vec![super::super::RunData {
                path: dir.path().join(label),
                config: crate::config::load_experiment(&smoke, &[]).unwrap(),
                rows: vec![row("mle", 1, 1.0)],
                finished: true,
                grid_labels: Vec::new(),
            }],
        };
        let comparison = compare(&[group("base"), group("one"), group("two")]);
        let about_base: Vec<&String> = comparison
            .per_sample_notes
            .iter()
            .filter(|note| note.contains("base has not been evaluated"))
            .collect();
        assert_eq!(about_base.len(), 1, "{:?}", comparison.per_sample_notes);
        // Each other group's own note stays.
        for label in ["one", "two"] {
            assert!(comparison
                .per_sample_notes
                .iter()
                .any(|note| note.contains(&format!("{label} has not been evaluated"))));
        }
    }
}
