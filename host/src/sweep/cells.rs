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

    /// The grid point without the seed, e.g. `training.adversarial.rollouts=4`
    /// (`base` for a sweep without a grid): what `agon compare` groups by.
    pub fn setting(&self) -> String {
        if self.overrides.is_empty() {
            "base".to_string()
        } else {
            self.overrides.join(" ")
        }
    }
}

/// A YAML value as `--set` would take it back, on one line.
fn inline(value: &yaml::Value) -> String {
    match value {
        yaml::Value::String(s) => s.clone(),
        other => yaml::to_string(other)
            .map(|t| t.trim().to_string())
            .unwrap_or_default(),
    }
}

/// Characters safe in a directory name; the rest become `-`.
fn safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The cells of `spec`, grid points in order (the first key varies
/// slowest), each with every seed.
pub fn cells(spec: &SweepSpec) -> Vec<Cell> {
    let mut points: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (key, values) in &spec.grid {
        let key = key.as_str().unwrap_or_default().to_string();
        let values = values.as_sequence().cloned().unwrap_or_default();
        points = points
            .into_iter()
            .flat_map(|point| {
                let key = key.clone();
                values.iter().map(move |value| {
                    let mut point = point.clone();
                    point.push((key.clone(), inline(value)));
                    point
                })
            })
            .collect();
    }
    let mut cells = Vec::new();
    for point in &points {
        for &seed in &spec.seeds {
            let index = cells.len();
            let mut parts: Vec<String> = point
                .iter()
                .map(|(key, value)| {
                    let last = key.rsplit('.').next().unwrap_or(key);
                    format!("{}-{}", safe(last), safe(value))
                })
                .collect();
            parts.push(format!("seed-{seed}"));
            cells.push(Cell {
                index,
                name: format!("{index:03}_{}", parts.join("_")),
                overrides: point.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                seed,
            });
        }
    }
    cells
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
        let seeds_only: SweepSpec = yaml::from_str("base: b.yaml\nseeds: [5, 6, 7]\n").unwrap();
        let cells = super::cells(&seeds_only);
        assert_eq!(cells.len(), 3);
        assert_eq!(cells[2].name, "002_seed-7");
        assert_eq!(cells[2].setting(), "base");
    }
}
