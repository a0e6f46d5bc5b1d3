//! The one place agon touches a YAML library.
//!
//! `serde_yaml` is deprecated upstream; every YAML read or write in agon (host
//! and SDK) goes through this module so that a maintained fork such as
//! `serde_yaml_ng` can replace it here alone.

use serde::{de::DeserializeOwned, Serialize};

use crate::error::PluginError;

/// A parsed YAML document.
pub type Value = serde_yaml::Value;
/// A YAML mapping.
pub type Mapping = serde_yaml::Mapping;
/// A YAML parse or type error, with its location.
pub type Error = serde_yaml::Error;

/// Parses a YAML document into a [`Value`].
pub fn parse(text: &str) -> Result<Value, Error> {
    serde_yaml::from_str(text)
}

/// Parses a YAML document straight into `T`.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    serde_yaml::from_str(text)
}

/// Converts a [`Value`] into `T`.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, Error> {
    serde_yaml::from_value(value)
}

/// Serialises `value` as a YAML document.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, Error> {
    serde_yaml::to_string(value)
}

/// Converts `value` into a [`Value`].
pub fn to_value<T: Serialize>(value: &T) -> Result<Value, Error> {
    serde_yaml::to_value(value)
}

/// `value` on one line, in YAML's flow style (`{plugin: x, config: {n: 2}}`,
/// `[1, 2]`), that [`parse`] reads back as the same value: how messages and
/// `agon sweep`'s `--set`s show a value that block style would spread over
/// several lines.
pub fn to_flow_string(value: &Value) -> String {
    match value {
        Value::Mapping(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", to_flow_string(k), to_flow_string(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        Value::Sequence(items) => {
            let items: Vec<String> = items.iter().map(to_flow_string).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Tagged(tagged) => format!("{} {}", tagged.tag, to_flow_string(&tagged.value)),
        Value::String(text) => {
            // Block style's own choice (quoted when a plain scalar would
            // read as something else), unless flow style needs quotes too:
            // its indicators, or a break.
            let block = serde_yaml::to_string(value).unwrap_or_default();
            let block = block.trim_end_matches('\n');
            let flow_unsafe = |c: char| matches!(c, ',' | '[' | ']' | '{' | '}') || c.is_control();
            if block.contains('\n') || text.chars().any(flow_unsafe) {
                double_quoted(text)
            } else {
                block.to_string()
            }
        }
        scalar => serde_yaml::to_string(scalar)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// `text` as a YAML double-quoted scalar, every character it needs escaped.
fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `(line, column)`, 1-based, of where an error was found, when known.
pub fn error_location(error: &Error) -> Option<(usize, usize)> {
    error.location().map(|l| (l.line(), l.column()))
}

/// Deep-merges `overlay` into `base`: mappings merge key by key, anything else
/// in `overlay` replaces what `base` had.
pub fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Mapping(base), Value::Mapping(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}

/// A component's config from its YAML string; the empty string is `T::default()`.
pub fn component_config<T: DeserializeOwned + Default>(text: &str) -> Result<T, PluginError> {
    if text.trim().is_empty() {
        return Ok(T::default());
    }
    from_str(text).map_err(|e| PluginError::config(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_is_deep_and_overlay_wins() {
        let mut base = parse("a: {x: 1, y: 2}\nb: [1, 2]").unwrap();
        merge(&mut base, parse("a: {y: 3, z: 4}\nb: [5]").unwrap());
        assert_eq!(base, parse("a: {x: 1, y: 3, z: 4}\nb: [5]").unwrap());
    }

    #[test]
    fn flow_style_is_one_line_and_reads_back_the_same() {
        for text in [
            "plugin: lab/reward@^0.1\nconfig:\n  weight: 1.0\n  n: 2\n  tags: [a, 'b c']\n",
            "[1, {x: null}, 'yes']",
            "note: \"two\\nlines \\\"quoted\\\"\"",
            "7",
            // Flow indicators inside strings, and what else needs quotes.
            "['a, b', 'x]', 'f{1}', '{y}', 'a: b', '# c', '- d', '', 'null', \"r\\rs\"]",
            "{'a, b': 'c, d', 1: x, true: [], 'k': {}}",
        ] {
            let value = parse(text).unwrap();
            let flow = to_flow_string(&value);
            assert!(!flow.contains('\n'), "{flow}");
            assert_eq!(parse(&flow).unwrap(), value, "{flow}");
        }
        assert_eq!(
            to_flow_string(&parse("plugin: x\nconfig:\n  n: 2\n").unwrap()),
            "{plugin: x, config: {n: 2}}"
        );
    }
}
