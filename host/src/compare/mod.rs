//! `agon compare RUN_OR_SWEEP…`: runs grouped by config (seeds pooled),
//! every metric's mean and 95% interval at each evaluation and at the end
//! of each phase, the change over the adversarial phase within each run,
//! differences between groups with a test across seeds (and per-sample
//! paired tests where the runs' evaluations share their items), learning curves
//! with interval bands, and a Markdown and a self-contained HTML report.

pub mod analysis;
pub mod evaluations;
pub mod matched_quality;
pub mod per_sample;
pub mod plot;
pub mod quality_diversity;
pub mod report;
pub mod stats;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use agon_sdk::yaml;
use anyhow::{anyhow, bail};

use crate::{
    config::{ExperimentConfig, TaskKind},
    sweep::{self, Manifest},
    train::metrics::MetricsRow,
};

/// One run's config and metrics.
pub struct RunData {
    pub path: PathBuf,
    pub config: ExperimentConfig,
    pub rows: Vec<MetricsRow>,
    /// Whether the run has finished its schedule.
    pub finished: bool,
    /// (grid key, label) for the keys its sweep's file labels (see
    /// [`sweep::cells::labelled_cells`]); empty for a run not given as
    /// part of a sweep.
    pub grid_labels: sweep::cells::GridLabels,
}

/// Runs of one config, seeds pooled.
pub struct Group {
    /// What sets it apart from the other groups, e.g.
    /// `training.adversarial.rollouts=4` (its name when alone).
    pub label: String,
    pub runs: Vec<RunData>,
}

impl Group {
    pub fn seeds(&self) -> Vec<u64> {
        self.runs.iter().map(|r| r.config.seed).collect()
    }
}

fn read_run(path: &Path) -> anyhow::Result<RunData> {
    let config = crate::assemble::open_config(path)?;
    let jsonl = path.join("metrics.jsonl");
    let text = std::fs::read_to_string(&jsonl)
        .map_err(|e| anyhow!("cannot read {}: {e}", jsonl.display()))?;
    let rows = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .map_err(|e| anyhow!("{}:{}: not a metrics row ({e})", jsonl.display(), i + 1))
        })
        .collect::<anyhow::Result<Vec<MetricsRow>>>()?;
    let finished = crate::train::checkpoint::find(path)
        .ok()
        .flatten()
        .is_some_and(|(_, s)| s.position.phase == crate::train::schedule::Phase::Done);
    Ok(RunData {
        path: path.to_path_buf(),
        config,
        rows,
        finished,
        grid_labels: Vec::new(),
    })
}

/// The runs named by `paths`: run directories, and sweep directories
/// (their cells' runs), with the caveats found on the way (each also said
/// on stderr as it is found): the report repeats them, since whoever reads
/// compare.md later never saw the terminal.
pub fn collect(paths: &[PathBuf]) -> anyhow::Result<(Vec<RunData>, Vec<String>)> {
    let mut runs = Vec::new();
    let mut caveats = Vec::new();
    for path in paths {
        if !path.exists() {
            bail!(
                "{}: no such run or sweep directory; agon compare takes run directories (runs/NAME) and sweep directories (sweeps/NAME)",
                path.display()
            );
        }
        if Manifest::path(path).exists() {
            let manifest = Manifest::read(path)?;
            // The labels of its grid, from its copy of the sweep file
            // (they only name groups: without them, values do).
            let labelled = match std::fs::read_to_string(path.join("sweep.yaml"))
                .map_err(|e| e.to_string())
                .and_then(|text| {
                    yaml::from_str::<sweep::SweepSpec>(&text).map_err(|e| e.to_string())
                }) {
                Ok(spec) => sweep::cells::labelled_cells(&spec),
                Err(e) => {
                    crate::notes::note(&format!(
                        "{}: its sweep.yaml does not read ({e}); its groups are named by their values, not its grid's labels",
                        path.display()
                    ));
                    Vec::new()
                }
            };
            for cell in &manifest.cells {
                let run = sweep::run_dir(path, cell);
                if run.join("metrics.jsonl").exists() {
                    let mut data = read_run(&run)?;
                    data.grid_labels = sweep::cells::labels_of(&labelled, cell);
                    runs.push(data);
                } else {
                    let caveat = format!(
                        "{}: cell {} has no metrics yet; left out",
                        path.display(),
                        cell.name
                    );
                    crate::notes::note(&caveat);
                    caveats.push(caveat);
                }
            }
        } else if path.join("config.yaml").exists() {
            runs.push(read_run(path)?);
        } else {
            bail!(
                "{} is neither a run directory (config.yaml) nor a sweep directory (manifest.json)",
                path.display()
            );
        }
    }
    let runs = without_repeats(runs)?;
    for run in &runs {
        if !run.finished {
            let caveat = format!(
                "{} has not finished its schedule; its last evaluation counts as its end",
                run.path.display()
            );
            crate::notes::warn(&caveat);
            caveats.push(caveat);
        }
    }
    if runs.is_empty() {
        bail!("no runs to compare");
    }
    let kind = runs[0].config.task.kind;
    if let Some(other) = runs.iter().find(|r| r.config.task.kind != kind) {
        bail!(
            "{} is a {} run but {} is a {} run; agon compare compares runs of one task",
            other.path.display(),
            other.config.task.kind.name(),
            runs[0].path.display(),
            kind.name()
        );
    }
    for run in &runs {
        for change in crate::assemble::recorded_plugins(&run.path)
            .iter()
            .filter(|p| p.get("resumed_at").is_some())
        {
            let caveat = format!(
                "{} was resumed at {} with another build of {} (its plugins.json): its results mix two builds of that library",
                run.path.display(),
                change["resumed_at"].as_str().unwrap_or("?"),
                change["component"].as_str().unwrap_or("?")
            );
            crate::notes::warn(&caveat);
            caveats.push(caveat);
        }
    }
    // Another training set is a setting to compare; another test set or
    // tokenizer makes the runs' scores incomparable (other references,
    // other tokens), so the differences would mean nothing.
    let first = &runs[0];
    for other in &runs[1..] {
        let (a, b) = (&first.config.task, &other.config.task);
        if a.test_data != b.test_data || a.tokenizer != b.tokenizer {
            let caveat = format!(
                "{} and {} differ in task.test_data or task.tokenizer: scored against other references or other tokens, their BLEU and NLL-test, and the differences between them, are not comparable",
                first.path.display(),
                other.path.display(),
            );
            crate::notes::warn(&caveat);
            caveats.push(caveat);
        }
    }
    Ok((runs, caveats))
}

/// `runs` with a run named twice (a directory passed twice, or inside a
/// sweep also passed) kept once, with a note; two runs of one config and
/// seed are refused: runs are deterministic, so pooled as seeds they would
/// count one experiment twice and narrow every interval.
fn without_repeats(runs: Vec<RunData>) -> anyhow::Result<Vec<RunData>> {
    let mut kept: Vec<(PathBuf, RunData)> = Vec::new();
    for run in runs {
        let canonical = std::fs::canonicalize(&run.path).unwrap_or_else(|_| run.path.clone());
        if let Some((_, first)) = kept.iter_mut().find(|(path, _)| *path == canonical) {
            crate::notes::note(&format!(
                "{} is named twice (also as {}); counted once",
                run.path.display(),
                first.path.display()
            ));
            // Named by itself and within its sweep: the sweep's grid
            // labels still name it.
            if first.grid_labels.is_empty() {
                first.grid_labels = run.grid_labels;
            }
            continue;
        }
        kept.push((canonical, run));
    }
    let runs: Vec<RunData> = kept.into_iter().map(|(_, run)| run).collect();
    let settings: Vec<_> = runs.iter().map(|r| flatten(&r.config)).collect();
    for (i, run) in runs.iter().enumerate() {
        if let Some(j) =
            (0..i).find(|&j| runs[j].config.seed == run.config.seed && settings[j] == settings[i])
        {
            let made_by = |r: &RunData| {
                r.config
                    .written_by
                    .as_ref()
                    .map_or("an unknown agon".to_string(), |w| match &w.machine {
                        Some(machine) => format!("commit {} on {machine}", w.git_commit),
                        None => format!("commit {}", w.git_commit),
                    })
            };
            let (first, second) = (made_by(&runs[j]), made_by(run));
            let what = if first == second {
                "the same experiment twice".to_string()
            } else {
                format!(
                    "made by {first} and by {second}, which agon compare does not tell apart (it pools runs by config)"
                )
            };
            bail!(
                "{} and {} are runs of the same config with the same seed ({}): {what}; pooled as two seeds they would narrow every interval. Leave one of them out (pass run directories one by one instead of their sweep), or compare them in separate calls",
                runs[j].path.display(),
                run.path.display(),
                run.config.seed
            );
        }
    }
    Ok(runs)
}

/// A config as key path → value, without what differs between seeds of
/// one setting (name, seed, who wrote it).
fn flatten(config: &ExperimentConfig) -> BTreeMap<String, String> {
    fn walk(prefix: &str, value: &yaml::Value, out: &mut BTreeMap<String, String>) {
        match value {
            yaml::Value::Mapping(map) => {
                for (key, value) in map {
                    let key = key.as_str().map(str::to_string).unwrap_or_else(|| {
                        yaml::to_string(key).unwrap_or_default().trim().to_string()
                    });
                    let path = if prefix.is_empty() {
                        key
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(&path, value, out);
                }
            }
            other => {
                let text = match other {
                    yaml::Value::String(s) => s.clone(),
                    _ => yaml::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .replace('\n', " "),
                };
                out.insert(prefix.to_string(), text);
            }
        }
    }
    let mut out = BTreeMap::new();
    if let Ok(value) = yaml::to_value(config) {
        walk("", &value, &mut out);
    }
    // Which agon made a run, and on what machine, says how it was made,
    // not what was run: runs that differ only in these pool.
    out.retain(|key, _| key != "name" && key != "seed" && !key.starts_with("written_by."));
    out
}

/// Groups `runs` by config (seeds pooled), in the order first seen; each
/// group labelled by the keys whose values set it apart.
pub fn group(runs: Vec<RunData>) -> Vec<Group> {
    let mut groups: Vec<(BTreeMap<String, String>, Vec<RunData>)> = Vec::new();
    for run in runs {
        let key = flatten(&run.config);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(run),
            None => groups.push((key, vec![run])),
        }
    }
    let differing: Vec<String> = match groups.first() {
        Some((first, _)) => {
            let mut keys: Vec<String> = groups
                .iter()
                .flat_map(|(k, _)| k.keys().cloned())
                .chain(first.keys().cloned())
                .collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .filter(|key| groups.iter().any(|(k, _)| k.get(key) != first.get(key)))
                .collect()
        }
        None => Vec::new(),
    };
    let keys: Vec<&BTreeMap<String, String>> = groups.iter().map(|(k, _)| k).collect();
    let shown = without_plugin_defaults(collapse(&differing, &keys), &keys);
    let by_value: Vec<String> = keys
        .iter()
        .map(|key| {
            shown
                .iter()
                .map(|path| format!("{path}={}", value_under(key, path)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    // A key the sweep file labels (`{mle-only: 0, seqgan: 4}`, or a whole
    // block: `discriminator: {cnn: {plugin: …}, gru: …}`) is named by its
    // label, as its cells are, when every run of the group has that label:
    // once for all the shown keys in it. Where one label names values of
    // two keys (`two` rollouts, `two` epochs), each label says its key, as
    // the cells' names do (`rollouts=two`).
    let grid_keys: BTreeMap<&str, BTreeSet<&str>> = groups
        .iter()
        .flat_map(|(_, runs)| runs)
        .flat_map(|run| &run.grid_labels)
        .fold(BTreeMap::new(), |mut keys, (key, label)| {
            keys.entry(label.as_str()).or_default().insert(key.as_str());
            keys
        });
    let shared = grid_keys.values().any(|keys| keys.len() > 1);
    let all_grid_keys: Vec<&str> = grid_keys.values().flatten().copied().collect();
    let group_labels: Vec<sweep::cells::GridLabels> =
        groups.iter().map(|(_, runs)| common_labels(runs)).collect();
    let by_label: Vec<String> = group_labels
        .iter()
        .zip(&keys)
        .map(|(labels, key)| {
            let mut parts: Vec<String> = Vec::new();
            let mut named: Vec<&str> = Vec::new();
            for path in &shown {
                match labels.iter().find(|(grid_key, _)| under(path, grid_key)) {
                    Some((grid_key, label)) => {
                        if !named.contains(&grid_key.as_str()) {
                            named.push(grid_key);
                            parts.push(if shared {
                                format!(
                                    "{}={label}",
                                    sweep::cells::short_key(grid_key, &all_grid_keys)
                                )
                            } else {
                                label.clone()
                            });
                        }
                    }
                    None => parts.push(format!("{path}={}", value_under(key, path))),
                }
            }
            parts.join(" ")
        })
        .collect();
    let distinct = by_label.iter().collect::<BTreeSet<_>>().len() == by_label.len();
    if !distinct && group_labels.iter().any(|labels| !labels.is_empty()) {
        crate::notes::note(
            "the sweeps' grid labels do not tell the groups apart (one label names other values in two sweeps); the groups are named by their values instead (or name them with --names)",
        );
    }
    let labels = if distinct { by_label } else { by_value };
    groups
        .into_iter()
        .zip(labels)
        .zip(group_labels)
        .map(|(((_, runs), label), grid_labels)| {
            // One group: its labels, or else its config's name.
            let label = if !differing.is_empty() {
                label
            } else if !grid_labels.is_empty() {
                grid_labels
                    .iter()
                    .map(|(_, label)| label.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                runs[0].config.name.clone()
            };
            Group { label, runs }
        })
        .collect()
}

/// The grid labels every one of `runs` has.
fn common_labels(runs: &[RunData]) -> sweep::cells::GridLabels {
    let Some((first, rest)) = runs.split_first() else {
        return Vec::new();
    };
    first
        .grid_labels
        .iter()
        .filter(|label| rest.iter().all(|run| run.grid_labels.contains(label)))
        .cloned()
        .collect()
}

/// Whether `key` is `path` or lies under it.
fn under(key: &str, path: &str) -> bool {
    key == path
        || key
            .strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// The differing keys to show in labels: a whole block (e.g. a plugin's
/// `adversarial_optimizer`) in place of its keys when every key under it
/// differs and each group has all of them or none — one config lacks the
/// block that another has.
fn collapse(differing: &[String], groups: &[&BTreeMap<String, String>]) -> Vec<String> {
    let all_keys: std::collections::BTreeSet<&String> =
        groups.iter().flat_map(|g| g.keys()).collect();
    let mut shown: Vec<String> = Vec::new();
    for key in differing {
        let mut best = key.clone();
        let mut parts: Vec<&str> = key.split('.').collect();
        while parts.len() > 1 {
            parts.pop();
            let path = parts.join(".");
            let inside: Vec<&&String> = all_keys.iter().filter(|k| under(k, &path)).collect();
            let whole_block_differs = inside.iter().all(|k| differing.contains(k));
            // The block's keys, not the path itself: a group where the path
            // is a plain value (`config: null` against another's `config:
            // {weight: 1.0}`) has none of them.
            let children: Vec<&&String> = inside.iter().copied().filter(|k| **k != &path).collect();
            let all_or_none = groups.iter().all(|g| {
                let present = children
                    .iter()
                    .filter(|k| g.contains_key(k.as_str()))
                    .count();
                present == 0 || present == children.len()
            });
            let some_lack_it = groups
                .iter()
                .any(|g| !children.iter().any(|k| g.contains_key(k.as_str())));
            if whole_block_differs && all_or_none && some_lack_it {
                best = path;
            } else {
                break;
            }
        }
        if !shown.contains(&best) {
            shown.push(best);
        }
    }
    shown
}

/// `shown` without the keys under a component's `config` when that
/// component's `plugin` (or `component`) is shown and the labels still tell
/// the groups apart: another plugin's config differs in every key, and
/// listing them all would bury the one that matters.
fn without_plugin_defaults(
    shown: Vec<String>,
    groups: &[&BTreeMap<String, String>],
) -> Vec<String> {
    let implied = |path: &str| {
        shown.iter().any(|s| {
            [".plugin", ".component"].iter().any(|suffix| {
                s.strip_suffix(suffix)
                    .is_some_and(|component| under(path, &format!("{component}.config")))
            })
        })
    };
    let kept: Vec<String> = shown.iter().filter(|p| !implied(p)).cloned().collect();
    let mut labels: Vec<String> = groups
        .iter()
        .map(|g| {
            kept.iter()
                .map(|p| format!("{p}={}", value_under(g, p)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    labels.sort();
    labels.dedup();
    if kept.len() < shown.len() && !kept.is_empty() && labels.len() == groups.len() {
        kept
    } else {
        shown
    }
}

/// A group's value at `path`: the key's value, `{k: v, …}` for a block, or
/// `(unset)`.
fn value_under(group: &BTreeMap<String, String>, path: &str) -> String {
    if let Some(value) = group.get(path) {
        return value.clone();
    }
    let inside: Vec<String> = group
        .iter()
        .filter(|(k, _)| under(k, path))
        .map(|(k, v)| format!("{}: {v}", &k[path.len() + 1..]))
        .collect();
    if inside.is_empty() {
        "(unset)".to_string()
    } else {
        format!("{{{}}}", inside.join(", "))
    }
}

/// The metric a task is judged by and whether higher is better.
pub fn headline(config: &ExperimentConfig) -> (String, bool) {
    match config.task.kind {
        TaskKind::SyntheticOracle => ("nll_oracle".into(), false),
        TaskKind::Text => {
            let n = config
                .task
                .bleu
                .as_ref()
                .and_then(|b| b.headline.first().copied())
                .unwrap_or(2);
            (format!("bleu{n}"), true)
        }
        TaskKind::Conditional => {
            use crate::config::ConditionalMetric;
            match config
                .task
                .evaluation
                .as_ref()
                .and_then(|e| e.metrics.first().copied())
            {
                Some(ConditionalMetric::Rouge) => ("rouge_l".into(), true),
                Some(ConditionalMetric::Distinct) => ("distinct2".into(), true),
                _ => ("bleu".into(), true),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of `configs/smoke.yaml` with `overrides`, as a sweep's cell
    /// with `labels` would be read.
    fn labelled_run(overrides: &[&str], labels: &[(&str, &str)]) -> RunData {
        let smoke = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/smoke.yaml");
        let overrides: Vec<String> = overrides.iter().map(|o| o.to_string()).collect();
        RunData {
            path: PathBuf::from(overrides.join(" ")),
            config: crate::config::load_experiment(&smoke, &overrides).unwrap(),
            rows: Vec::new(),
            finished: true,
            grid_labels: labels
                .iter()
                .map(|(key, label)| (key.to_string(), label.to_string()))
                .collect(),
        }
    }

    fn labels(groups: &[Group]) -> Vec<&str> {
        groups.iter().map(|g| g.label.as_str()).collect()
    }

    #[test]
    fn groups_are_named_by_grid_labels_that_tell_them_apart() {
        const R: &str = "training.adversarial.rollouts";
        const E: &str = "training.mle.epochs";
        let cell = |rollouts: &str, epochs: &str, seed: u64| {
            let (r, e) = (
                format!("{R}={}", rollouts.len() * 2 - 4),
                format!("{E}={}", epochs.len() * 2 - 4),
            );
            let s = format!("seed={seed}");
            labelled_run(&[&r, &e, &s], &[(R, rollouts), (E, epochs)])
        };
        // Distinct labels: the labels alone.
        let apart = group(vec![cell("four", "eleven", 1), cell("three", "eleven", 1)]);
        assert_eq!(labels(&apart), ["four", "three"]);
        // One label naming values of two keys: each label with its key.
        let shared = group(vec![
            cell("four", "three", 1),
            cell("three", "four", 1),
            cell("four", "four", 1),
        ]);
        assert_eq!(
            labels(&shared),
            [
                "rollouts=four epochs=three",
                "rollouts=three epochs=four",
                "rollouts=four epochs=four"
            ]
        );
        // One group: its labels, not the config's name.
        let alone = group(vec![cell("four", "three", 1), cell("four", "three", 2)]);
        assert_eq!(labels(&alone), ["four three"]);
        // Labels that name other values in two sweeps: the values instead.
        let clash = group(vec![
            labelled_run(&[&format!("{R}=2")], &[(R, "few")]),
            labelled_run(&[&format!("{R}=3")], &[(R, "few")]),
        ]);
        assert_eq!(labels(&clash), [format!("{R}=2"), format!("{R}=3")]);
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_block_one_config_lacks_is_shown_as_one_key() {
        let old = map(&[("g.optimizer.lr", "0.01"), ("seed_like", "1")]);
        let new = map(&[
            ("g.optimizer.lr", "0.01"),
            ("g.adversarial.lr", "0.01"),
            ("g.adversarial.eps", "1e-8"),
            ("seed_like", "1"),
        ]);
        let differing = vec![
            "g.adversarial.eps".to_string(),
            "g.adversarial.lr".to_string(),
        ];
        let shown = collapse(&differing, &[&old, &new]);
        assert_eq!(shown, ["g.adversarial"]);
        assert_eq!(value_under(&old, "g.adversarial"), "(unset)");
        assert_eq!(value_under(&new, "g.adversarial"), "{eps: 1e-8, lr: 0.01}");
    }

    #[test]
    fn a_block_against_a_plain_value_is_labelled_as_one_key() {
        // The default reward's `config: null` against a lab reward's config.
        let plain = map(&[
            ("reward.config", "null"),
            ("reward.plugin", "agon/rewards@^0.1"),
        ]);
        let block = map(&[
            ("reward.config.n", "2"),
            ("reward.config.weight", "1.0"),
            ("reward.plugin", "lab/reward@^0.1"),
        ]);
        let differing = [
            "reward.config".to_string(),
            "reward.config.n".to_string(),
            "reward.config.weight".to_string(),
            "reward.plugin".to_string(),
        ];
        let shown = collapse(&differing, &[&plain, &block]);
        assert_eq!(shown, ["reward.config", "reward.plugin"]);
        assert_eq!(value_under(&plain, "reward.config"), "null");
        assert_eq!(value_under(&block, "reward.config"), "{n: 2, weight: 1.0}");
    }

    #[test]
    fn another_plugins_config_is_left_out_of_labels_the_plugin_tells_apart() {
        let cnn = map(&[
            ("d.plugin", "lab/cnn"),
            ("d.config.filters", "100"),
            ("d.config.embedding_dim", "16"),
        ]);
        let gru = map(&[
            ("d.plugin", "lab/gru"),
            ("d.config.hidden_dim", "64"),
            ("d.config.embedding_dim", "16"),
        ]);
        let shown = vec![
            "d.config.filters".to_string(),
            "d.config.hidden_dim".to_string(),
            "d.plugin".to_string(),
        ];
        assert_eq!(
            without_plugin_defaults(shown.clone(), &[&cnn, &gru]),
            ["d.plugin"]
        );
        // Two groups of one plugin: its config is what tells them apart.
        let wider = map(&[
            ("d.plugin", "lab/cnn"),
            ("d.config.filters", "200"),
            ("d.config.embedding_dim", "16"),
        ]);
        assert_eq!(
            without_plugin_defaults(shown.clone(), &[&cnn, &gru, &wider]),
            shown
        );
    }

    #[test]
    fn keys_that_differ_in_value_stay_keys() {
        let a = map(&[("t.rollouts", "2"), ("t.epochs", "4")]);
        let b = map(&[("t.rollouts", "4"), ("t.epochs", "4")]);
        let shown = collapse(&["t.rollouts".to_string()], &[&a, &b]);
        assert_eq!(shown, ["t.rollouts"]);
        assert_eq!(value_under(&b, "t.rollouts"), "4");
    }
}
