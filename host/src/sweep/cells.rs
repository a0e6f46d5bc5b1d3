//! A sweep's cells: every combination of the grid's values, times every
//! seed, each a run directory with a name that says what it is.

use agon_sdk::yaml;
use serde::{Deserialize, Serialize};

use super::spec::SweepSpec;

/// One run of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Position in the sweep (the Slurm array index).
    pub index: usize,
    /// Directory name under `runs/`, e.g. `003_rollouts-4_seed-2`.
    pub name: String,
    /// The `--set` assignments of its grid point (without the seed).
    pub overrides: Vec<String>,
    pub seed: u64,
}

impl Cell {
    /// Every `--set` of the cell, the seed last.
    pub fn all_overrides(&self) -> Vec<String> {
        let mut all = self.overrides.clone();
        all.push(format!("seed={}", self.seed));
        all
    }

    /// The cell's `--set`s without the seed (the sweep's fixed `set`, then
    /// its grid point), e.g. `training.adversarial.rollouts=4` (`base` for
    /// a sweep without either).
    pub fn setting(&self) -> String {
        if self.overrides.is_empty() {
            "base".to_string()
        } else {
            self.overrides.join(" ")
        }
    }
}

/// A YAML value as `--set` would take it back, on one line: a mapping or a
/// list in flow style (`{plugin: x, config: {n: 2}}`).
fn inline(value: &yaml::Value) -> String {
    match value {
        yaml::Value::String(s) => s.clone(),
        other => yaml::to_flow_string(other),
    }
}

/// A grid label's part of a cell's name.
pub fn name_part(label: &yaml::Value) -> String {
    safe(&inline(label))
}

/// Characters safe in a directory name; each run of the others becomes one
/// `-`, none at either end.
fn safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Whether two cells run the same setting with the same seed, whatever
/// their names and however their values were written (a sweep directory
/// made by an earlier agon has block-style mapping values, other names).
fn same_cell(a: &Cell, b: &Cell) -> bool {
    // In key order: a cell's keys are distinct (grid keys, and `set` keys
    // that are none of them), so their order says nothing; a key moved
    // from a one-value grid into `set` is the same cell.
    let assignments = |cell: &Cell| {
        let mut all: Vec<_> = cell
            .overrides
            .iter()
            .map(|assignment| {
                assignment
                    .split_once('=')
                    .map(|(key, value)| (key.to_string(), yaml::parse(value).ok()))
            })
            .collect();
        all.sort_by(|x, y| {
            let key = |a: &Option<(String, _)>| a.as_ref().map(|(k, _)| k.clone());
            key(x).cmp(&key(y))
        });
        all
    };
    a.seed == b.seed && assignments(a) == assignments(b)
}

/// The first of `existing` that `wanted` does not hold (by settings and
/// seed): why `wanted` is not an extension of `existing`.
pub fn first_missing<'a>(existing: &'a [Cell], wanted: &[Cell]) -> Option<&'a Cell> {
    existing
        .iter()
        .find(|cell| !wanted.iter().any(|w| same_cell(cell, w)))
}

/// `existing` followed by the cells of `wanted` it lacks, numbered on from
/// its last (`existing`'s keep their names and run directories), when
/// `wanted` holds every cell of `existing`, in any order: the same sweep,
/// or one given more seeds or more values of a swept key. `None` otherwise.
pub fn extended(existing: &[Cell], wanted: &[Cell]) -> Option<Vec<Cell>> {
    let kept = existing
        .iter()
        .all(|cell| wanted.iter().any(|w| same_cell(cell, w)));
    let added: Vec<&Cell> = wanted
        .iter()
        .filter(|w| !existing.iter().any(|cell| same_cell(cell, w)))
        .collect();
    if !kept {
        return None;
    }
    let mut cells = existing.to_vec();
    for cell in added {
        let index = cells.len();
        let rest = cell
            .name
            .split_once('_')
            .map_or(cell.name.as_str(), |(_, rest)| rest);
        cells.push(Cell {
            index,
            name: format!("{index:03}_{rest}"),
            ..cell.clone()
        });
    }
    Some(cells)
}

/// A grid key's values (`inline`, as `--set` takes them), each with its
/// label when the grid gives a mapping of labels to values (`{cnn:
/// {plugin: …}, gru: …}`).
fn labelled_values(values: &yaml::Value) -> Vec<(String, Option<String>)> {
    match values {
        yaml::Value::Mapping(labelled) => labelled
            .iter()
            .map(|(label, value)| (inline(value), Some(inline(label))))
            .collect(),
        other => other
            .as_sequence()
            .map(|list| list.iter().map(|v| (inline(v), None)).collect())
            .unwrap_or_default(),
    }
}

/// The shortest tail of `key`, in whole dotted segments, that no other of
/// the grid's `keys` ends with: `rollouts` for
/// `training.adversarial.rollouts`, but `mle.epochs` and `adversarial.epochs`
/// when both epochs are swept, so that the names tell the cells apart.
pub fn short_key<'k>(key: &'k str, keys: &[&str]) -> &'k str {
    let ends_with = |other: &str, tail: &str| other == tail || other.ends_with(&format!(".{tail}"));
    key.rmatch_indices('.')
        .map(|(dot, _)| &key[dot + 1..])
        .chain(std::iter::once(key))
        .find(|tail| {
            !keys
                .iter()
                .any(|&other| other != key && ends_with(other, tail))
        })
        .unwrap_or(key)
}

/// One grid key's value in a grid point.
#[derive(Clone)]
struct Choice {
    key: String,
    /// As `--set` takes it.
    value: String,
    /// The sweep file's label for it, if the grid key takes a mapping of
    /// labels to values.
    label: Option<String>,
}

impl Choice {
    /// Its part of the cell's name: its label, or the value.
    fn name_part(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.value)
    }
}

/// The grid points of `spec`, in order (the first key varies slowest).
fn points(spec: &SweepSpec) -> Vec<Vec<Choice>> {
    let mut points: Vec<Vec<Choice>> = vec![Vec::new()];
    for (key, values) in &spec.grid {
        let key = key.as_str().unwrap_or_default().to_string();
        let values = labelled_values(values);
        points = points
            .into_iter()
            .flat_map(|point| {
                let key = key.clone();
                values.iter().map(move |(value, label)| {
                    let mut point = point.clone();
                    point.push(Choice {
                        key: key.clone(),
                        value: value.clone(),
                        label: label.clone(),
                    });
                    point
                })
            })
            .collect();
    }
    points
}

/// A cell's grid labels: (grid key, label) for each key the sweep file
/// gives a mapping of labels to values. `agon compare` names groups by
/// them.
pub type GridLabels = Vec<(String, String)>;

/// The cells of `spec`, grid points in order (the first key varies
/// slowest), each with every seed.
pub fn cells(spec: &SweepSpec) -> Vec<Cell> {
    labelled_cells(spec)
        .into_iter()
        .map(|(cell, _)| cell)
        .collect()
}

/// [`cells`], each with its grid labels.
pub fn labelled_cells(spec: &SweepSpec) -> Vec<(Cell, GridLabels)> {
    let points = points(spec);
    // `seed` too: the name's last part, which a swept `task.oracle.seed`
    // would otherwise repeat.
    let keys: Vec<&str> = spec
        .grid
        .keys()
        .map(|key| key.as_str().unwrap_or_default())
        .chain(["seed"])
        .collect();
    // The fixed settings first, so the grid's (later `--set`s) apply on
    // top of them.
    let fixed: Vec<String> = spec
        .set
        .iter()
        .map(|(key, value)| format!("{}={}", key.as_str().unwrap_or_default(), inline(value)))
        .collect();
    let mut cells = Vec::new();
    for point in &points {
        let labels: GridLabels = point
            .iter()
            .filter_map(|c| Some((c.key.clone(), c.label.clone()?)))
            .collect();
        for &seed in &spec.seeds {
            let index = cells.len();
            let mut parts: Vec<String> = point
                .iter()
                .map(|c| format!("{}-{}", safe(short_key(&c.key, &keys)), safe(c.name_part())))
                .collect();
            parts.push(format!("seed-{seed}"));
            let cell = Cell {
                index,
                name: format!("{index:03}_{}", parts.join("_")),
                overrides: fixed
                    .iter()
                    .cloned()
                    .chain(point.iter().map(|c| format!("{}={}", c.key, c.value)))
                    .collect(),
                seed,
            };
            cells.push((cell, labels.clone()));
        }
    }
    cells
}

/// `cell`'s grid labels among `labelled` (a sweep file's
/// [`labelled_cells`]): those of the same cell (name, settings and seed),
/// or else of the same settings and seed (an extended sweep renumbers
/// its names); none when the sweep file no longer makes it.
pub fn labels_of(labelled: &[(Cell, GridLabels)], cell: &Cell) -> GridLabels {
    labelled
        .iter()
        .find(|(wanted, _)| wanted == cell)
        .or_else(|| labelled.iter().find(|(wanted, _)| same_cell(wanted, cell)))
        .map(|(_, labels)| labels.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_combination_runs_with_every_seed() {
        let spec: SweepSpec = yaml::from_str(
            "base: b.yaml\nseeds: [1, 2]\ngrid:\n  training.adversarial.rollouts: [2, 4]\n  discriminator.plugin: [rnn-lab/gru-discriminator]\n",
        )
        .unwrap();
        let cells = cells(&spec);
        assert_eq!(cells.len(), 4);
        assert_eq!(
            cells[3].name,
            "003_rollouts-4_plugin-rnn-lab-gru-discriminator_seed-2"
        );
        assert_eq!(
            cells[3].all_overrides(),
            [
                "training.adversarial.rollouts=4",
                "discriminator.plugin=rnn-lab/gru-discriminator",
                "seed=2"
            ]
        );
        assert_eq!(
            cells[0].setting(),
            "training.adversarial.rollouts=2 discriminator.plugin=rnn-lab/gru-discriminator"
        );
        // A mapping value: on one line, and a readable name.
        let mapping: SweepSpec = yaml::from_str(
            "base: b.yaml\nseeds: [1]\ngrid:\n  reward:\n    - {plugin: lab/rep@^0.1, config: {weight: 1.0}}\n",
        )
        .unwrap();
        let cells = super::cells(&mapping);
        assert_eq!(
            cells[0].overrides,
            ["reward={plugin: lab/rep@^0.1, config: {weight: 1.0}}"]
        );
        assert_eq!(
            cells[0].name,
            "000_reward-plugin-lab-rep-0.1-config-weight-1.0_seed-1"
        );
        // The same sweep as an earlier agon wrote it: block style, other name.
        let mut earlier = cells.clone();
        earlier[0].overrides =
            vec!["reward=plugin: lab/rep@^0.1\nconfig:\n  weight: 1.0".to_string()];
        earlier[0].name = "000_reward-plugin--lab-rep--0.1-config----weight--1.0_seed-1".into();
        assert_eq!(extended(&earlier, &cells), Some(earlier.clone()));
        let mut other = cells.clone();
        other[0].overrides = vec!["reward={plugin: lab/rep@^0.1, config: {weight: 2.0}}".into()];
        assert_eq!(extended(&other, &cells), None);
        // More seeds and a new value: the earlier cells keep their places
        // and names, the new ones follow them, numbered on.
        let spec = |text: &str| -> Vec<Cell> { super::cells(&yaml::from_str(text).unwrap()) };
        let first =
            spec("base: b.yaml\nseeds: [1, 2]\ngrid: {training.adversarial.rollouts: [2, 4]}\n");
        let more = spec(
            "base: b.yaml\nseeds: [1, 2, 3]\ngrid: {training.adversarial.rollouts: [2, 4, 8]}\n",
        );
        let grown = extended(&first, &more).unwrap();
        assert_eq!(&grown[..4], &first[..]);
        let names: Vec<&str> = grown[4..].iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "004_rollouts-2_seed-3",
                "005_rollouts-4_seed-3",
                "006_rollouts-8_seed-1",
                "007_rollouts-8_seed-2",
                "008_rollouts-8_seed-3"
            ]
        );
        assert!(grown.iter().enumerate().all(|(i, c)| c.index == i));
        // The grown sweep's own file again: nothing more to add.
        assert_eq!(extended(&grown, &more), Some(grown.clone()));
        // A seed left out is not an extension.
        assert_eq!(extended(&more, &first), None);
        // Keys in another order (two grid keys swapped, a one-value grid
        // key moved into `set`): the same cells.
        let swapped = spec("base: b.yaml\nseeds: [1]\ngrid: {training.mle.epochs: [2], training.adversarial.rollouts: [4]}\n");
        let moved = spec("base: b.yaml\nseeds: [1]\nset: {training.mle.epochs: 2}\ngrid: {training.adversarial.rollouts: [4]}\n");
        assert_eq!(extended(&swapped, &moved), Some(swapped.clone()));
        // Labelled values: the label names the cell, the value is set.
        let labelled = spec(
            "base: b.yaml\nseeds: [1]\ngrid:\n  discriminator:\n    cnn: {plugin: seqgan-lab/cnn-discriminator, config: {embedding_dim: 16}}\n    gru: {plugin: rnn-lab/gru-discriminator}\n",
        );
        let names: Vec<&str> = labelled.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "000_discriminator-cnn_seed-1",
                "001_discriminator-gru_seed-1"
            ]
        );
        assert_eq!(
            labelled[0].overrides,
            ["discriminator={plugin: seqgan-lab/cnn-discriminator, config: {embedding_dim: 16}}"]
        );
        // Fixed settings: in every cell's overrides, before the grid's, and
        // not in the names.
        let fixed = spec(
            "base: b.yaml\nseeds: [1]\nset: {training.mle.epochs: 10, training.eval_every: 5}\ngrid: {training.adversarial.rollouts: [2]}\n",
        );
        assert_eq!(fixed[0].name, "000_rollouts-2_seed-1");
        assert_eq!(
            fixed[0].overrides,
            [
                "training.mle.epochs=10",
                "training.eval_every=5",
                "training.adversarial.rollouts=2"
            ]
        );
        let seeds_only: SweepSpec = yaml::from_str("base: b.yaml\nseeds: [5, 6, 7]\n").unwrap();
        let cells = super::cells(&seeds_only);
        assert_eq!(cells.len(), 3);
        assert_eq!(cells[2].name, "002_seed-7");
        assert_eq!(cells[2].setting(), "base");
        // Two keys ending alike: as many segments as tell them apart.
        let both_epochs: SweepSpec = yaml::from_str(
            "base: b.yaml\nseeds: [1]\ngrid:\n  training.mle.epochs: [2]\n  training.adversarial.epochs: [20]\n  training.adversarial.rollouts: [4]\n",
        )
        .unwrap();
        assert_eq!(
            super::cells(&both_epochs)[0].name,
            "000_mle.epochs-2_adversarial.epochs-20_rollouts-4_seed-1"
        );
        // Only whole segments count: `xepochs` does not end like `epochs`;
        // a key that is the other's tail keeps its one segment.
        let parts = |grid: &str| {
            let spec: SweepSpec =
                yaml::from_str(&format!("base: b.yaml\nseeds: [1]\ngrid:\n{grid}")).unwrap();
            super::cells(&spec)[0].name.clone()
        };
        assert_eq!(
            parts("  a.xepochs: [1]\n  b.epochs: [2]\n"),
            "000_xepochs-1_epochs-2_seed-1"
        );
        assert_eq!(
            parts("  epochs: [1]\n  training.mle.epochs: [2]\n"),
            "000_epochs-1_mle.epochs-2_seed-1"
        );
        assert_eq!(
            parts("  task.oracle.seed: [7]\n"),
            "000_oracle.seed-7_seed-1"
        );
    }

    #[test]
    fn grid_labels_are_found_by_a_cells_settings_and_seed() {
        let spec: SweepSpec = yaml::from_str(
            "base: b.yaml\nseeds: [1, 2]\ngrid:\n  training.adversarial.epochs: {mle-only: 0, seqgan: 4}\n  training.adversarial.rollouts: [2]\n",
        )
        .unwrap();
        let labelled = labelled_cells(&spec);
        let all: Vec<Cell> = labelled.iter().map(|(cell, _)| cell.clone()).collect();
        assert_eq!(all, cells(&spec));
        let labels: Vec<GridLabels> = all.iter().map(|cell| labels_of(&labelled, cell)).collect();
        let by = |label: &str| vec![("training.adversarial.epochs".to_string(), label.to_string())];
        // Only the labelled key; the listed one names cells by its value.
        assert_eq!(
            labels,
            [by("mle-only"), by("mle-only"), by("seqgan"), by("seqgan")]
        );
        assert_eq!(all[2].name, "002_epochs-seqgan_rollouts-2_seed-1");
        // An extended sweep's renumbered cell is found by what it sets.
        let renumbered = Cell {
            index: 7,
            name: "007_epochs-seqgan_rollouts-2_seed-2".into(),
            ..all[3].clone()
        };
        assert_eq!(labels_of(&labelled, &renumbered), by("seqgan"));
        // A cell the sweep file no longer makes has none.
        let other = Cell {
            seed: 9,
            ..all[3].clone()
        };
        assert!(labels_of(&labelled, &other).is_empty());
    }
}
