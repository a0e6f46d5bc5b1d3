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
        significance::{paired_bootstrap, paired_bootstrap_of, PairedTest},
        PerSampleScores, PER_SAMPLE_FILE,
    },
    task::conditional::{bleu_statistics_of, corpus_bleu_of},
};
use agon_sdk::metrics::BleuStats;

/// Bootstrap resamples of the per-sample tests.
const RESAMPLES: usize = 10_000;

/// A metric's paired scores so far: the baseline's, the group's, and the
/// seeds they came from.
#[derive(Default)]
struct Pairs<T> {
    baseline: Vec<T>,
    group: Vec<T>,
    seeds: Vec<u64>,
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
        self.seeds.push(seed);
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
    /// A corpus statistic (`bleu` of a conditional task), recomputed on
    /// each resample from the items' sufficient statistics, the seeds'
    /// outputs taken as one corpus; otherwise a mean over items.
    pub corpus: bool,
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
}

/// The final model's per-sample scores from a run's newest evaluation, with
/// the evaluation's pairing; `Err` says why there are none.
fn final_scores(run: &RunData) -> Result<FinalScores, String> {
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
    let mut corpus = BTreeMap::new();
    for (metric, rows) in scores.corpus_statistics.remove(label).unwrap_or_default() {
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
    if per_item.is_empty() && corpus.is_empty() {
        // An evaluation by an agon that did not keep corpus BLEU's
        // per-item statistics: nothing to pool.
        return Err(format!(
            "{} holds no per-item scores of `{name}/final`: it was written by an agon eval that kept no per-item statistics of corpus BLEU; `agon eval {}` again to pool its BLEU over seeds here",
            file.display(),
            run.path.display()
        ));
    }
    Ok(FinalScores {
        pairing: scores.pairing,
        per_item,
        corpus,
    })
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
    let difference = |metric: String, seeds: Vec<u64>, corpus, test| PerSampleDifference {
        group: group.label.clone(),
        baseline: baseline.label.clone(),
        metric,
        seeds,
        corpus,
        test,
    };
    let mut tests: Vec<PerSampleDifference> = pooled_corpus
        .into_iter()
        .filter(|(_, pairs)| !pairs.group.is_empty())
        .map(|(metric, pairs)| {
            let test = paired_bootstrap_of(pairs.group.len(), RESAMPLES, 0, |items| {
                corpus_bleu_of(&pairs.group, items.iter().copied())
                    - corpus_bleu_of(&pairs.baseline, items.iter().copied())
            });
            difference(metric, pairs.seeds, true, test)
        })
        .collect();
    tests.extend(
        pooled
            .into_iter()
            .filter(|(_, pairs)| !pairs.group.is_empty())
            .map(|(metric, pairs)| {
                let test = paired_bootstrap(&pairs.baseline, &pairs.group, RESAMPLES, 0);
                difference(metric, pairs.seeds, false, test)
            }),
    );
    notes.sort();
    notes.dedup();
    (tests, notes)
}
