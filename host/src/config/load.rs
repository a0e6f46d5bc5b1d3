//! Reading a config file, applying `--set` overrides, and explaining errors.

use std::path::Path;

use agon_sdk::yaml;
use anyhow::{anyhow, bail, Context};

use super::ExperimentConfig;

/// Reads `path`, applies `overrides` (`key.path=value`) and checks every key.
pub fn load_experiment(path: &Path, overrides: &[String]) -> anyhow::Result<ExperimentConfig> {
    let bytes =
        std::fs::read(path).map_err(|e| anyhow!("cannot read config {}: {e}", path.display()))?;
    parse_experiment(bytes, path, overrides)
}

/// [`load_experiment`] of a file's bytes (`path` names it in errors).
pub fn parse_experiment(
    bytes: Vec<u8>,
    path: &Path,
    overrides: &[String],
) -> anyhow::Result<ExperimentConfig> {
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "config {} is not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    let explain = |e: yaml::Error| anyhow!("config {}: {}", path.display(), describe(&e));
    // Typed parse of the file as written first: its errors carry line numbers.
    let mut value = yaml::parse(&text).map_err(explain)?;
    if value.is_null() {
        bail!(
            "config {} is empty; see configs/ for examples",
            path.display()
        );
    }
    yaml::from_str::<ExperimentConfig>(&text).map_err(explain)?;
    let mut plugin_switch_notes = Vec::new();
    for assignment in in_order_of_effect(overrides) {
        match plugin_parent(assignment) {
            Some(parent) => {
                if let Some(note) = switch_plugin(&mut value, assignment)? {
                    plugin_switch_notes.push((parent, note));
                }
            }
            None => apply_override(&mut value, assignment)?,
        }
    }
    let mut config: ExperimentConfig = yaml::from_value(value).map_err(|e| {
        anyhow!(
            "config {} after --set {}: {}",
            path.display(),
            shown_all(overrides),
            describe(&e)
        )
    })?;
    // Checks across keys, with the file named, and the --set that made
    // the value when one did.
    config
        .training
        .validate()
        .map_err(|e| anyhow!("{}: {e}", checked_place(path, overrides, &e.to_string())))?;
    config
        .task
        .check_keys()
        .map_err(|e| anyhow!("{}: {e}", checked_place(path, overrides, &e.to_string())))?;
    config.origin = super::ConfigOrigin {
        file: path.to_path_buf(),
        text,
        overrides: overrides.to_vec(),
        plugin_switch_notes,
    };
    Ok(config)
}

/// Where a check across keys failed: the config, and the `--set`s whose
/// keys the message names as whole keys (`--set training.x=5` for a
/// complaint about `training.x`, not about `training.x_y`), or every
/// `--set` when it names none of theirs.
fn checked_place(path: &Path, overrides: &[String], message: &str) -> String {
    let names = |key: &str| {
        let part = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
        message.match_indices(key).any(|(at, _)| {
            let before = message[..at].chars().next_back();
            let after = message[at + key.len()..].chars().next();
            !before.is_some_and(part) && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    };
    let named: Vec<&str> = overrides
        .iter()
        .filter(|a| {
            let key = assignment_key(a);
            !key.is_empty() && names(&key)
        })
        .map(String::as_str)
        .collect();
    match (named.is_empty(), overrides.is_empty()) {
        (false, _) => format!("config {}, --set {}", path.display(), shown_all(&named)),
        (true, true) => format!("config {}", path.display()),
        (true, false) => format!(
            "config {} after --set {}",
            path.display(),
            shown_all(overrides)
        ),
    }
}

/// A `--set KEY=VALUE` as messages show it: on one line, a value that
/// spans several (a mapping written in block style, as `agon sweep` passes
/// a grid's mapping values) in YAML's flow style.
pub(crate) fn shown(assignment: &str) -> String {
    match assignment.split_once('=') {
        Some((key, value)) if value.contains('\n') => match yaml::parse(value) {
            Ok(parsed) => format!("{key}={}", yaml::to_flow_string(&parsed)),
            Err(_) => assignment.replace('\n', " "),
        },
        _ => assignment.to_string(),
    }
}

/// Every `--set` as messages show them, joined by ` --set `.
fn shown_all<S: AsRef<str>>(assignments: &[S]) -> String {
    assignments
        .iter()
        .map(|a| shown(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" --set ")
}

/// `KEY` of a `KEY=VALUE` assignment, trimmed.
fn assignment_key(assignment: &str) -> String {
    assignment
        .split_once('=')
        .map_or(assignment, |(key, _)| key)
        .trim()
        .to_string()
}

/// The overrides in the order they are applied: each `X.plugin=…` moves up
/// to just after the last earlier assignment of `X` itself (or of a mapping
/// holding it), so that `--set discriminator.config.k=v` given beside a new
/// plugin configures the new plugin in either order, while a later
/// assignment still has the last word.
fn in_order_of_effect(overrides: &[String]) -> Vec<&String> {
    let mut order: Vec<&String> = Vec::new();
    for assignment in overrides {
        match plugin_parent(assignment) {
            Some(parent) => {
                let after = order
                    .iter()
                    .rposition(|earlier| {
                        let key = assignment_key(earlier);
                        parent == key || parent.starts_with(&format!("{key}."))
                    })
                    .map_or(0, |i| i + 1);
                order.insert(after, assignment);
            }
            None => order.push(assignment),
        }
    }
    order
}

/// The component whose plugin `assignment` sets (`discriminator` for
/// `--set discriminator.plugin=…`), if it sets one.
fn plugin_parent(assignment: &str) -> Option<String> {
    let key = assignment.split_once('=')?.0.trim();
    let parent = key.strip_suffix(".plugin")?;
    ["generator", "discriminator", "reward", "task.oracle"]
        .contains(&parent)
        .then(|| parent.to_string())
}

/// `--set X.plugin=NEW`: when NEW names another plugin than the file's,
/// the file's `X.config` and `X.component` were written for the old one
/// and are dropped rather than handed to the new plugin. Returns the note
/// that says so, for when NEW is found.
fn switch_plugin(value: &mut yaml::Value, assignment: &str) -> anyhow::Result<Option<String>> {
    let Some((key, new)) = assignment.split_once('=') else {
        return apply_override(value, assignment).map(|()| None);
    };
    let parent: Vec<&str> = key.trim().split('.').collect();
    let parent = &parent[..parent.len() - 1];
    let name_of = |text: &str| text.split('@').next().unwrap_or(text).trim().to_string();
    let mut slot = Some(&mut *value);
    for k in parent {
        slot = slot.and_then(|v| v.get_mut(*k));
    }
    let mut note = None;
    if let Some(spec) = slot.and_then(|v| v.as_mapping_mut()) {
        let old = spec
            .get(yaml::Value::String("plugin".into()))
            .and_then(|v| v.as_str())
            .map(name_of);
        if old.as_ref().is_some_and(|old| *old != name_of(new)) {
            let mut dropped = Vec::new();
            for field in ["config", "component"] {
                if spec.remove(yaml::Value::String(field.into())).is_some() {
                    dropped.push(format!("{}.{field}", parent.join(".")));
                }
            }
            if !dropped.is_empty() {
                let are = if dropped.len() == 1 { "is" } else { "are" };
                note = Some(format!(
                    "--set {}: the config file's {} belonged to {} and {are} not passed to {}; set the new plugin's with --set {}.config.KEY=VALUE",
                    shown(assignment),
                    dropped.join(" and "),
                    old.unwrap_or_default(),
                    name_of(new),
                    parent.join(".")
                ));
            }
        }
    }
    apply_override(value, assignment).map(|()| note)
}

/// serde_yaml's message, with "at line L column C" kept (it already names
/// the key path, e.g. `task.max_len: invalid type…`).
fn describe(error: &yaml::Error) -> String {
    let message = super::suggest::explain(&error.to_string());
    match yaml::error_location(error) {
        Some((line, column)) if !message.contains("line") => {
            format!("line {line} column {column}: {message}")
        }
        _ => message,
    }
}

/// Sets `key.path` in `value` to `text` read as YAML, creating mappings on the way.
pub fn apply_override(value: &mut yaml::Value, assignment: &str) -> anyhow::Result<()> {
    let (path, text) = assignment.split_once('=').ok_or_else(|| {
        anyhow!(
            "--set {}: expected KEY.PATH=VALUE, e.g. --set seed=3",
            shown(assignment)
        )
    })?;
    let keys: Vec<&str> = path.split('.').collect();
    if keys.iter().any(|k| k.trim().is_empty()) {
        bail!("--set {}: empty key in `{path}`", shown(assignment));
    }
    let new_value = yaml::parse(text)
        .with_context(|| format!("--set {}: the value is not valid YAML", shown(assignment)))?;
    let mut slot = value;
    for (i, key) in keys.iter().enumerate() {
        if slot.is_null() {
            *slot = yaml::Value::Mapping(yaml::Mapping::new());
        }
        let mapping = slot.as_mapping_mut().ok_or_else(|| {
            anyhow!(
                "--set {}: `{}` is not a mapping, so it has no key `{key}`",
                shown(assignment),
                keys[..i].join(".")
            )
        })?;
        let key_value = yaml::Value::String(key.to_string());
        if !mapping.contains_key(&key_value) {
            mapping.insert(key_value.clone(), yaml::Value::Null);
        }
        slot = mapping.get_mut(&key_value).expect("inserted above");
    }
    *slot = new_value;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    const MINIMAL: &str =
        "name: t\ntask:\n  kind: synthetic-oracle\ngenerator:\n  plugin: agon/lstm-generator\n";

    #[test]
    fn minimal_config_gets_defaults() {
        let config = load_experiment(write(MINIMAL).path(), &[]).unwrap();
        assert_eq!(config.device, "cpu");
        assert_eq!(config.task.vocab_size, None);
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let file = write(&format!("{MINIMAL}  colour: red\n"));
        let err = load_experiment(file.path(), &[]).unwrap_err().to_string();
        assert!(err.contains("unknown field `colour`"), "{err}");
        assert!(err.contains("line 6"), "{err}");
        assert!(err.contains(&file.path().display().to_string()), "{err}");
    }

    /// A check across keys names the `--set` that made the value it
    /// refuses.
    #[test]
    fn a_refused_value_names_the_set_that_made_it() {
        let file = write(MINIMAL);
        let sets = [
            "seed=3".to_string(),
            "training.adversarial.gumbel.inverse_temperature.max=0.5".to_string(),
        ];
        let err = load_experiment(file.path(), &sets).unwrap_err().to_string();
        assert!(
            err.contains(", --set training.adversarial.gumbel.inverse_temperature.max=0.5: training.adversarial.gumbel.inverse_temperature.max must be"),
            "{err}"
        );
        assert!(!err.contains("seed=3"), "{err}");
        // A key inside a longer one is not named.
        let place = checked_place(
            file.path(),
            &["seed=3".into(), "x.y=1".into()],
            "training.rollout_seed must be …; x.y_z too",
        );
        assert!(place.ends_with("after --set seed=3 --set x.y=1"), "{place}");
    }

    #[test]
    fn a_new_plugin_applies_before_its_config_but_not_before_its_replacement() {
        let order = |a: &[&str]| {
            let owned: Vec<String> = a.iter().map(|s| s.to_string()).collect();
            in_order_of_effect(&owned)
                .into_iter()
                .cloned()
                .collect::<Vec<String>>()
        };
        assert_eq!(
            order(&["discriminator.config.k=1", "discriminator.plugin=b/y"]),
            ["discriminator.plugin=b/y", "discriminator.config.k=1"]
        );
        assert_eq!(
            order(&[
                "discriminator={plugin: a/x}",
                "seed=2",
                "discriminator.plugin=b/y"
            ]),
            [
                "discriminator={plugin: a/x}",
                "discriminator.plugin=b/y",
                "seed=2"
            ]
        );
        // A plugin's own config key named `plugin` is not a plugin switch.
        assert_eq!(
            order(&["seed=1", "discriminator.config.plugin=z"]),
            ["seed=1", "discriminator.config.plugin=z"]
        );
    }

    #[test]
    fn overrides_set_nested_values_and_are_type_checked() {
        let file = write(MINIMAL);
        let config =
            load_experiment(file.path(), &["task.max_len=7".into(), "seed=3".into()]).unwrap();
        assert_eq!((config.task.max_len, config.seed), (Some(7), 3));
        let err = load_experiment(file.path(), &["task.max_len=seven".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("max_len") && err.contains("--set task.max_len=seven"),
            "{err}"
        );
        let err = load_experiment(file.path(), &["nokey".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("KEY.PATH=VALUE"), "{err}");
    }
}
