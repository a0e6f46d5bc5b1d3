//! Per-sample paired tests between groups: where the runs' evaluations
//! share their items (`agon eval`'s `pairing`: the same test sources, or
//! samples drawn with the same seed and temperature), item i of a group's
//! run is paired with item i of the baseline's run of the same seed, and
//! the differences of every seed are pooled into one paired bootstrap.
//! Corpus BLEU, not a mean over items, is recomputed on each resample from
//! the items' sufficient statistics.
//!
//! This test is conditional on the trained models: it says whether these
//! models differ on these items, not whether the training procedure
//! would on other seeds; that is the test across seeds
//! ([`super::analysis`]). Both are reported.

use std::{collections::BTreeMap, path::Path};

use serde::Serialize;

use super::{quality_diversity::newest_eval, Group, RunData};
use crate::{
    eval::{
        significance::{paired_bootstrap_of, PairedTest},
        PerSampleScores, PER_SAMPLE_FILE,
    },
    task::conditional::{bleu_statistics_of, corpus_bleu_of},
};
use agon_sdk::metrics::BleuStats;

/// Bootstrap resamples of the per-sample tests.
const RESAMPLES: usize = 10_000;

/// A metric's paired items so far: the baseline's and the group's, seed
/// after seed, and each seed with its number of items.
struct Pairs<T> {
    baseline: Vec<T>,
    group: Vec<T>,
    blocks: Vec<(u64, usize)>,
}

impl<T> Default for Pairs<T> {
    fn default() -> Self {
        Pairs {
            baseline: Vec::new(),
            group: Vec::new(),
            blocks: Vec::new(),
        }
    }
}

impl<T: Clone> Pairs<T> {
    /// Item i of `group` with item i of `baseline`, when both have the
    /// same items.
    fn add(&mut self, seed: u64, baseline: &[T], group: &[T]) {
        if group.len() != baseline.len() || group.is_empty() {
            return;
        }
        self.baseline.extend_from_slice(baseline);
        self.group.extend_from_slice(group);
        self.blocks.push((seed, group.len()));
    }

    fn seeds(&self) -> Vec<u64> {
        self.blocks.iter().map(|(seed, _)| *seed).collect()
    }

    /// What a bootstrap resamples, as indices into the items: each item
    /// alone, or (`by_source`) item j of every seed together. A
    /// conditional task's item j is the same test source in every seed, so
    /// its seeds' scores are not independent draws; samples of a text or
    /// oracle task, drawn from each seed's own random stream, are.
    fn units(&self, by_source: bool) -> Vec<Vec<usize>> {
        if !by_source {
            return (0..self.group.len()).map(|i| vec![i]).collect();
        }
        let mut starts = Vec::new();
        let mut at = 0;
        for &(_, len) in &self.blocks {
            starts.push((at, len));
            at += len;
        }
        let longest = self.blocks.iter().map(|(_, len)| *len).max().unwrap_or(0);
        (0..longest)
            .map(|j| {
                starts
                    .iter()
                    .filter(|(_, len)| j < *len)
                    .map(|(start, _)| start + j)
                    .collect()
            })
            .collect()
    }
}

/// One group against the baseline on one metric, over every shared item.
#[derive(Clone, Debug, Serialize)]
pub struct PerSampleDifference {
    pub group: String,
    pub baseline: String,
    pub metric: String,
    /// Seeds whose runs were paired.
    pub seeds: Vec<u64>,
    /// Pairs over all those seeds.
    pub items: usize,
    /// A conditional task's: each resample draws test sources, each with
    /// its items of every seed (`test.pairs` counts the sources).
    pub by_source: bool,
    /// A corpus statistic (`bleu` of a conditional task), recomputed on
    /// each resample from the items' sufficient statistics, the seeds'
    /// outputs taken as one corpus; otherwise a mean over items.
    pub corpus_statistic: bool,
    /// group − baseline over all pairs.
    pub test: PairedTest,
}

/// A final model's items from a run's newest evaluation.
struct FinalScores {
    /// [`crate::eval::Evaluation::pairing`].
    pairing: String,
    /// Metric → one score per item.
    per_item: BTreeMap<String, Vec<f64>>,
    /// Corpus metric → each item's BLEU statistics.
    corpus: BTreeMap<String, Vec<BleuStats>>,
    /// Why a metric of the evaluation is not among them, if one is not.
    note: Option<String>,
}

/// What `agon eval` writes as the pairing of a conditional task's items.
const CONDITIONAL_PAIRING: &str = "conditional:";

/// The final model's per-sample scores from a run's newest evaluation, with
/// the evaluation's pairing; `Err` says why there are none.
fn final_scores(run: &RunData) -> Result<FinalScores, String> {
    let name = run
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let eval = newest_eval(&run.path).ok_or_else(|| {
        // Never evaluated, or evaluated only in ways that leave it out.
        let evaluated = std::fs::read_dir(&run.path).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("eval") && e.path().is_dir())
        });
        if evaluated {
            format!(
                "{} has no `agon eval` output of its own that scores its final model (an evaluation of several runs is written into the first run's directory only; `agon eval RUN` each run)",
                run.path.display()
            )
        } else {
            format!(
                "{} has not been evaluated (`agon eval {}`)",
                run.path.display(),
                run.path.display()
            )
        }
    })?;
    let file = eval.with_file_name(PER_SAMPLE_FILE);
    let text = std::fs::read_to_string(&file).map_err(|_| {
        format!(
            "{} has no {PER_SAMPLE_FILE} (written by agon eval from this version on)",
            eval.parent().unwrap_or(Path::new(".")).display()
        )
    })?;
    let mut scores: PerSampleScores = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not per-sample scores ({e})", file.display()))?;
    let own = [
        format!("{name}/final"),
        format!("{}/final", run.path.display()),
    ];
    let Some(label) = own.iter().find(|l| scores.models.contains_key(*l)) else {
        return Err(format!("{} scores no `{name}/final` model", file.display()));
    };
    let per_item = scores.models.remove(label).unwrap_or_default();
    let conditional = scores.pairing.starts_with(CONDITIONAL_PAIRING);
    let mut corpus = BTreeMap::new();
    let mut note = None;
    match scores.corpus_statistics.as_mut() {
        Some(statistics) => {
            for (metric, rows) in statistics.remove(label).unwrap_or_default() {
                let stats: Option<Vec<BleuStats>> =
                    rows.iter().map(|row| bleu_statistics_of(row)).collect();
                let stats = stats.ok_or_else(|| {
                    format!(
                        "{}: `{metric}` of `{label}` holds a row that is not BLEU statistics (10 counts)",
                        file.display()
                    )
                })?;
                corpus.insert(metric, stats);
            }
        }
        None if conditional && evaluated_bleu(&eval, label) => {
            note = Some(format!(
                "{} holds no per-item BLEU statistics of `{name}/final` (an agon eval before they were kept wrote it), so its BLEU is not pooled; run `agon eval {}` again to pool it",
                file.display(),
                run.path.display()
            ));
        }
        None => {}
    }
    if per_item.is_empty() && corpus.is_empty() {
        return Err(note.unwrap_or_else(|| {
            format!(
                "{} holds no per-item scores of `{name}/final`: its metrics (distinct-n) count each n-gram once however many outputs hold it, so they are not pooled over seeds; `agon eval BASELINE_RUN {}` tests them seed by seed, paired over the test items",
                file.display(),
                run.path.display()
            )
        }));
    }
    Ok(FinalScores {
        pairing: scores.pairing,
        per_item,
        corpus,
        note,
    })
}

/// Whether the evaluation in `eval` (an eval.json) has a `bleu` score for
/// the model `label`.
fn evaluated_bleu(eval: &Path, label: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(eval) else {
        return false;
    };
    let Ok(eval) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    eval["models"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m["label"] == label && m["metrics"]["bleu"].is_number())
}

/// `group` against `baseline`: per metric, one paired bootstrap over the
/// items of every seed both ran. Returns the tests and, when some pairs
/// could not be made, why.
pub fn against_baseline(
    baseline: &Group,
    group: &Group,
) -> (Vec<PerSampleDifference>, Vec<String>) {
    let mut pooled: BTreeMap<String, Pairs<f64>> = BTreeMap::new();
    let mut pooled_corpus: BTreeMap<String, Pairs<BleuStats>> = BTreeMap::new();
    let mut notes = Vec::new();
    let mut by_source = false;
    for run in &group.runs {
        let seed = run.config.seed;
        let Some(base_run) = baseline.runs.iter().find(|r| r.config.seed == seed) else {
            notes.push(format!(
                "{}: seed {seed} has no run in {}, so its items are not paired",
                group.label, baseline.label
            ));
            continue;
        };
        let (ours, theirs) = (final_scores(run), final_scores(base_run));
        for side in [&ours, &theirs] {
            match side {
                Ok(scores) => notes.extend(scores.note.clone()),
                Err(why) => notes.push(why.clone()),
            }
        }
        let (Ok(ours), Ok(theirs)) = (ours, theirs) else {
            continue;
        };
        if ours.pairing != theirs.pairing {
            notes.push(format!(
                "seed {seed}: the evaluations of {} and {} do not share their items ({} / {}); evaluate both with the same --seed, --samples and temperature",
                run.path.display(),
                base_run.path.display(),
                ours.pairing,
                theirs.pairing
            ));
            continue;
        }
        by_source |= ours.pairing.starts_with(CONDITIONAL_PAIRING);
        for (metric, values) in ours.per_item {
            if let Some(base_values) = theirs.per_item.get(&metric) {
                pooled
                    .entry(metric)
                    .or_default()
                    .add(seed, base_values, &values);
            }
        }
        for (metric, stats) in ours.corpus {
            if let Some(base_stats) = theirs.corpus.get(&metric) {
                pooled_corpus
                    .entry(metric)
                    .or_default()
                    .add(seed, base_stats, &stats);
            }
        }
    }
    let difference = |metric, seeds, items, corpus_statistic, test| PerSampleDifference {
        group: group.label.clone(),
        baseline: baseline.label.clone(),
        metric,
        seeds,
        items,
        by_source,
        corpus_statistic,
        test,
    };
    let mut tests = Vec::new();
    for (metric, pairs) in pooled_corpus {
        if let Some(test) = corpus_bleu_test(&pairs, by_source) {
            tests.push(difference(
                metric,
                pairs.seeds(),
                pairs.group.len(),
                true,
                test,
            ));
        }
    }
    for (metric, pairs) in pooled {
        if let Some(test) = mean_test(&pairs, by_source) {
            tests.push(difference(
                metric,
                pairs.seeds(),
                pairs.group.len(),
                false,
                test,
            ));
        }
    }
    notes.sort();
    notes.dedup();
    (tests, notes)
}

/// The pooled corpus BLEU of the group's items − the baseline's, by a
/// paired bootstrap of [`Pairs::units`]; `None` without items.
fn corpus_bleu_test(pairs: &Pairs<BleuStats>, by_source: bool) -> Option<PairedTest> {
    let units = pairs.units(by_source);
    if units.is_empty() {
        return None;
    }
    Some(paired_bootstrap_of(units.len(), RESAMPLES, 0, |picked| {
        let items = || picked.iter().flat_map(|&u| units[u].iter().copied());
        corpus_bleu_of(&pairs.group, items()) - corpus_bleu_of(&pairs.baseline, items())
    }))
}

/// The mean of the group's items − the baseline's, by a paired bootstrap
/// of [`Pairs::units`]; `None` without items.
fn mean_test(pairs: &Pairs<f64>, by_source: bool) -> Option<PairedTest> {
    let units = pairs.units(by_source);
    if units.is_empty() {
        return None;
    }
    Some(paired_bootstrap_of(units.len(), RESAMPLES, 0, |picked| {
        let (mut sum, mut count) = (0.0, 0usize);
        for &i in picked.iter().flat_map(|&u| &units[u]) {
            sum += pairs.group[i] - pairs.baseline[i];
            count += 1;
        }
        sum / count as f64
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conditional_tasks_seeds_are_resampled_together_by_source() {
        let mut pairs = Pairs::default();
        pairs.add(1, &[0.0, 0.0, 0.0], &[1.0, 2.0, 3.0]);
        pairs.add(2, &[0.0, 0.0], &[5.0, 7.0]);
        // A block whose sides differ in length is no pair.
        pairs.add(3, &[0.0], &[1.0, 2.0]);
        assert_eq!(pairs.seeds(), [1, 2]);
        assert_eq!(
            pairs.units(false),
            [vec![0], vec![1], vec![2], vec![3], vec![4]]
        );
        assert_eq!(pairs.units(true), [vec![0, 3], vec![1, 4], vec![2]]);
        // Either way, the observed difference is the mean of every item's.
        for by_source in [false, true] {
            let test = mean_test(&pairs, by_source).unwrap();
            assert_eq!(test.mean_difference, 18.0 / 5.0);
            assert_eq!(test.pairs, if by_source { 3 } else { 5 });
        }
        assert!(mean_test(&Pairs::default(), true).is_none());
    }

    #[test]
    fn pooled_corpus_bleu_sums_every_seeds_statistics() {
        let sentence = |hypothesis: &[u32], reference: &[u32]| {
            BleuStats::sentence(hypothesis, &[reference.to_vec()])
        };
        let reference: [&[u32]; 2] = [&[1, 2, 3, 4, 5, 6], &[7, 8, 9, 10, 11]];
        let mut pairs = Pairs::default();
        // Seed 1: the group matches the references, the baseline half of them.
        let seed_1_base = [
            sentence(&[1, 2, 3, 9, 9, 9], reference[0]),
            sentence(&[7, 8, 9, 1, 1], reference[1]),
        ];
        let seed_1_group = [
            sentence(reference[0], reference[0]),
            sentence(reference[1], reference[1]),
        ];
        // Seed 2: the group is shorter, the baseline matches.
        let seed_2_base = [
            sentence(reference[0], reference[0]),
            sentence(reference[1], reference[1]),
        ];
        let seed_2_group = [
            sentence(&[1, 2, 3, 4], reference[0]),
            sentence(&[7, 8, 9], reference[1]),
        ];
        pairs.add(1, &seed_1_base, &seed_1_group);
        pairs.add(2, &seed_2_base, &seed_2_group);
        let all = |side: &[&[BleuStats]]| {
            let stats: Vec<BleuStats> = side.iter().flat_map(|s| s.iter().copied()).collect();
            corpus_bleu_of(&stats, 0..stats.len())
        };
        let pooled = all(&[&seed_1_group, &seed_2_group]) - all(&[&seed_1_base, &seed_2_base]);
        let per_seed_mean = ((all(&[&seed_1_group]) - all(&[&seed_1_base]))
            + (all(&[&seed_2_group]) - all(&[&seed_2_base])))
            / 2.0;
        assert!(
            (pooled - per_seed_mean).abs() > 1e-3,
            "{pooled} {per_seed_mean}"
        );
        let test = corpus_bleu_test(&pairs, true).unwrap();
        assert_eq!(test.mean_difference, pooled);
        assert_eq!(test.pairs, 2);
    }
}
