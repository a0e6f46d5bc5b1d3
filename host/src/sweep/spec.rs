//! The sweep file: a base config, a grid of `--set` values, seeds and an
//! executor.
//!
//! ```yaml
//! base: ../configs/smoke.yaml          # relative to this file
//! grid:
//!   training.adversarial.rollouts: [2, 4]
//! seeds: [1, 2, 3]
//! executor:
//!   kind: local                        # or slurm
//!   jobs: 2
//! ```

use std::path::{Path, PathBuf};

use agon_sdk::yaml;
use anyhow::{anyhow, bail};
use serde::{Deserialize, Serialize};

/// A whole sweep file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// Name of the sweep (default: the sweep file's name without `.yaml`);
    /// the sweep directory defaults to `sweeps/<name>`.
    #[serde(default)]
    pub name: Option<String>,
    /// The experiment config every cell starts from, relative to the sweep
    /// file.
    pub base: PathBuf,
    /// Key path → the values it takes, as `--set` reads them (YAML). Every
    /// combination is a cell; an empty grid is one cell (seeds only).
    #[serde(default)]
    pub grid: yaml::Mapping,
    /// Key path → one value, as `--set` reads it, for every cell: settings
    /// the sweep holds fixed without a base config of its own. Left out
    /// of the cells' names.
    #[serde(default)]
    pub set: yaml::Mapping,
    /// The seeds every combination runs with.
    pub seeds: Vec<u64>,
    /// Where the runs execute.
    #[serde(default)]
    pub executor: Executor,
}

/// How cells run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Executor {
    /// Child processes on this machine.
    Local {
        /// Runs at once (default 1).
        #[serde(default = "one")]
        jobs: usize,
        /// Worker threads per run (default: the machine's cores divided by
        /// `jobs`, at least 1), so that runs do not oversubscribe the cores.
        #[serde(default)]
        threads: Option<usize>,
    },
    /// One Slurm job array through `sbatch`.
    Slurm(SlurmSettings),
}

impl Default for Executor {
    fn default() -> Self {
        Executor::Local {
            jobs: 1,
            threads: None,
        }
    }
}

fn one() -> usize {
    1
}

/// The resources of each array task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmSettings {
    /// `--partition` (default: the cluster's default partition).
    #[serde(default)]
    pub partition: Option<String>,
    /// `--cpus-per-task`, also the run's worker threads (default 1).
    #[serde(default = "one")]
    pub cpus_per_task: usize,
    /// `--mem`, e.g. `4G` (default: the cluster's default).
    #[serde(default)]
    pub mem: Option<String>,
    /// `--time`, e.g. `02:00:00` (default: the partition's limit).
    #[serde(default)]
    pub time: Option<String>,
    /// Most tasks of the array running at once (`--array=…%N`).
    #[serde(default)]
    pub max_running: Option<usize>,
    /// More `sbatch` options, each one argument, e.g. `--qos=short`.
    #[serde(default)]
    pub extra_args: Vec<String>,
}

impl SweepSpec {
    /// Reads and checks a sweep file; `base` comes back resolved against
    /// the sweep file's directory.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow!("cannot read sweep file {}: {e}", path.display()))?;
        let mut spec: SweepSpec = yaml::from_str(&text).map_err(|e| {
            let mut message = crate::config::suggest::explain(&e.to_string());
            // serde names the field; the fix is the form a list takes.
            if message.starts_with("seeds: ") && message.contains("expected a list") {
                message.push_str(" (write the seeds as a list, e.g. `seeds: [1, 2, 3]`)");
            } else if message.starts_with("missing field `seeds`") {
                message.push_str(": every sweep file lists its seeds, e.g. `seeds: [1, 2, 3]`");
            }
            anyhow!("sweep file {}: {message}", path.display())
        })?;
        let at = |what: String| anyhow!("sweep file {}: {what}", path.display());
        // At the line of a `grid` key, where the text has one.
        let at_grid =
            |key: &str, what: String| match crate::config::locate::line_of(&text, &["grid", key]) {
                Some(line) => anyhow!("sweep file {}:{line}: {what}", path.display()),
                None => at(what),
            };
        let dir = path.parent().unwrap_or(Path::new(""));
        if spec.base.is_relative() {
            spec.base = dir.join(&spec.base);
        }
        if !spec.base.is_file() {
            return Err(at(format!(
                "base config {} does not exist (`base:` is relative to the sweep file)",
                spec.base.display()
            )));
        }
        if spec.seeds.is_empty() {
            return Err(at(
                "`seeds` is empty; give at least one seed, e.g. [1, 2, 3]".into(),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(seed) = spec.seeds.iter().find(|s| !seen.insert(**s)) {
            return Err(at(format!("seed {seed} is listed twice in `seeds`")));
        }
        // A key of `grid` or `set`: a key path, and not the seed.
        let key_path = |section: &str, key: &'_ yaml::Value| -> anyhow::Result<String> {
            match key.as_str() {
                None => Err(at(format!(
                    "every `{section}` key is a key path such as training.mle.epochs"
                ))),
                Some("seed") => Err(at(format!(
                    "`seed` is not a `{section}` key; list the seeds under `seeds:`"
                ))),
                Some(key) => Ok(key.to_string()),
            }
        };
        for key in spec.set.keys() {
            let key = key_path("set", key)?;
            let key = key.as_str();
            // A grid key at or above a fixed one replaces its block, and
            // the fixed value with it.
            let above = |grid: &str| {
                key == grid
                    || key
                        .strip_prefix(grid)
                        .is_some_and(|rest| rest.starts_with('.'))
            };
            if let Some(grid) = spec
                .grid
                .keys()
                .filter_map(|k| k.as_str())
                .find(|g| above(g))
            {
                return Err(at(if grid == key {
                    format!(
                        "{key} is both in `set` (one value for every cell) and in `grid` (values to sweep); keep one"
                    )
                } else {
                    format!(
                        "`set` fixes {key}, but the grid's {grid} replaces the whole block it is in; put the fixed value inside each of the grid's values, or sweep {key} on its own"
                    )
                }));
            }
        }
        for (key, values) in &spec.grid {
            let key = key_path("grid", key)?;
            let key = key.as_str();
            // A list of values, or a mapping of labels (each cell's name
            // part) to values.
            let list: Vec<&yaml::Value> = match values {
                yaml::Value::Sequence(list) => list.iter().collect(),
                yaml::Value::Mapping(labelled) => labelled.values().collect(),
                _ => Vec::new(),
            };
            if list.is_empty() {
                return Err(at_grid(key, format!(
                    "grid.{key} must be a non-empty list of values, e.g. [2, 4], or a mapping of labels to values, e.g. {{small: 2, large: 4}}"
                )));
            }
            if let Some((_, value)) = list
                .iter()
                .enumerate()
                .find(|(i, value)| list[..*i].contains(value))
            {
                let shown = yaml::to_string(value).unwrap_or_default();
                // A mapping's labels of that value, so the user knows which.
                let labels = match values {
                    yaml::Value::Mapping(labelled) => {
                        let labels: Vec<String> = labelled
                            .iter()
                            .filter(|(_, v)| v == value)
                            .map(|(label, _)| {
                                format!("`{}`", crate::sweep::cells::name_part(label))
                            })
                            .collect();
                        format!(" (labels {})", labels.join(" and "))
                    }
                    _ => String::new(),
                };
                return Err(at_grid(key, format!(
                    "grid.{key} lists {} twice{labels}; each value is one setting, and a setting run twice would count its seeds twice",
                    shown.trim().replace('\n', " ")
                )));
            }
            if let yaml::Value::Mapping(labelled) = values {
                let names: Vec<String> = labelled
                    .keys()
                    .map(crate::sweep::cells::name_part)
                    .collect();
                if let Some((i, _)) = names
                    .iter()
                    .enumerate()
                    .find(|(i, name)| name.is_empty() || names[..*i].contains(name))
                {
                    return Err(at_grid(key, format!(
                        "grid.{key}: label {} gives the name part `{}`, empty or another label's; labels name the cells, so use letters, digits, `.` and `_`",
                        yaml::to_string(labelled.keys().nth(i).expect("found above")).unwrap_or_default().trim(),
                        names[i]
                    )));
                }
            }
        }
        match &spec.executor {
            Executor::Local { jobs: 0, .. } => {
                return Err(at("executor.jobs must be at least 1".into()))
            }
            Executor::Local {
                threads: Some(0), ..
            } => return Err(at("executor.threads must be at least 1".into())),
            Executor::Slurm(slurm) if slurm.cpus_per_task == 0 => {
                return Err(at("executor.cpus_per_task must be at least 1".into()))
            }
            _ => {}
        }
        if spec.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            bail!("sweep file {}: `name` is empty", path.display());
        }
        if spec.name.is_none() {
            spec.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        }
        Ok(spec)
    }

    /// The sweep's name.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("sweep")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("grid.yaml");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_sweep_file_resolves_its_base_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("base.yaml"), "name: b\n").unwrap();
        let spec = SweepSpec::load(&write(
            dir.path(),
            "base: base.yaml\ngrid: {training.mle.epochs: [1, 2]}\nseeds: [1, 2]\n",
        ))
        .unwrap();
        assert_eq!(spec.base, dir.path().join("base.yaml"));
        assert_eq!(spec.name(), "grid");
        assert_eq!(
            spec.executor,
            Executor::Local {
                jobs: 1,
                threads: None
            }
        );
    }

    #[test]
    fn bad_sweep_files_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("base.yaml"), "name: b\n").unwrap();
        for (text, needle) in [
            (
                "base: nope.yaml\nseeds: [1]\n",
                "relative to the sweep file",
            ),
            ("base: base.yaml\nseeds: []\n", "`seeds` is empty"),
            ("base: base.yaml\nseeds: 3\n", "e.g. `seeds: [1, 2, 3]`"),
            ("base: base.yaml\nseeds: 1-3\n", "e.g. `seeds: [1, 2, 3]`"),
            ("base: base.yaml\nseeds: [1, 1]\n", "seed 1 is listed twice"),
            (
                "base: base.yaml\ngrid: {training.adversarial.rollouts: [2, 4, 2]}\nseeds: [1]\n",
                "grid.training.adversarial.rollouts lists 2 twice",
            ),
            (
                "base: base.yaml\nset: {training.adversarial.rollouts: 2}\ngrid: {training.adversarial.rollouts: [2, 4]}\nseeds: [1]\n",
                "training.adversarial.rollouts is both in `set`",
            ),
            (
                "base: base.yaml\ngrid: {training.adversarial.rollouts: {few: 2, many: 2}}\nseeds: [1]\n",
                "grid.yaml:2: grid.training.adversarial.rollouts lists 2 twice (labels `few` and `many`)",
            ),
            (
                "base: base.yaml\ngrid:\n  training.mle.epochs: [1]\n  training.adversarial.rollouts: []\nseeds: [1]\n",
                "grid.yaml:4: grid.training.adversarial.rollouts must be a non-empty list",
            ),
            ("base: base.yaml\n", "every sweep file lists its seeds, e.g. `seeds: [1, 2, 3]`"),
            (
                "base: base.yaml\ngrid: {training.adversarial.rollouts: {\"a b\": 2, a-b: 4}}\nseeds: [1]\n",
                "label a-b gives the name part `a-b`, empty or another label's",
            ),
            (
                "base: base.yaml\ngrid: {training.adversarial.rollouts: {}}\nseeds: [1]\n",
                "or a mapping of labels to values",
            ),
            (
                "base: base.yaml\nset: {seed: 3}\nseeds: [1]\n",
                "`seed` is not a `set` key",
            ),
            (
                "base: base.yaml\nset: {reward.config.weight: 2}\ngrid: {reward: [{plugin: a/b}]}\nseeds: [1]\n",
                "`set` fixes reward.config.weight, but the grid's reward replaces the whole block",
            ),
            (
                "base: base.yaml\nseeds: [1]\ngrid: {seed: [1]}\n",
                "not a `grid` key",
            ),
            (
                "base: base.yaml\nseeds: [1]\ngrid: {a.b: 3}\n",
                "non-empty list",
            ),
            (
                "base: base.yaml\nseeds: [1]\nexecutor: {kind: local, jobs: 0}\n",
                "at least 1",
            ),
            (
                "base: base.yaml\nseeds: [1]\nexecutor: {kind: slurrm}\n",
                "did you mean `slurm`?",
            ),
            ("base: base.yaml\nseed: [1]\n", "did you mean `seeds`?"),
        ] {
            let err = SweepSpec::load(&write(dir.path(), text))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
            assert!(err.contains("grid.yaml"), "{err}");
        }
    }
}
