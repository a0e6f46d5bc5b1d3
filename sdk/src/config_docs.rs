//! One line of documentation above every key of a component's default config.
//!
//! [`ComponentInfo::documented`](crate::ComponentInfo::documented) serialises
//! the default config to YAML (block style, through [`crate::yaml`]) and
//! writes each key's doc as a `# …` comment line above the key, at the key's
//! indentation:
//!
//! ```text
//! # Token embedding size (paper: 64).
//! embedding_dim: 64
//! # Adam, the optimiser of every training step.
//! optimizer:
//!   # Learning rate.
//!   lr: 0.0001
//! ```
//!
//! Docs are addressed by dotted key path (`embedding_dim`, `optimizer.lr`).
//! A list is a value: its key is documented, its items are not (keys inside
//! list items are part of the list's value). YAML parsers ignore comments,
//! so the host reads exactly the config it read before; `agon plugins show`
//! prints the text as written.
//!
//! Mistakes are caught by tests, never at run time: [`undocumented_keys`]
//! lists every key without a comment, and a doc for a key the config does
//! not have (a typo) is recorded in the text as a marker comment that
//! [`unknown_doc_paths`] reads back. [`check`] reports both; a plugin's test
//! calls it for every component
//! ([`ComponentInfo::check_config_docs`](crate::ComponentInfo::check_config_docs)).

use crate::yaml::{self, Value};

/// Starts the comment line that records a doc for a key the config lacks.
pub const UNKNOWN_DOC_MARKER: &str = "# config docs: no key ";

/// `yaml` with a `# doc` comment line above each documented key, and the doc
/// paths that name no key of `yaml` (also recorded in the text as
/// [`UNKNOWN_DOC_MARKER`] lines at the top, so a check of the text alone
/// finds them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Documented {
    /// The commented YAML.
    pub text: String,
    /// Doc paths that match no key, in the order given.
    pub unknown_paths: Vec<String>,
}

/// Writes `docs` (dotted key path → one line) into `yaml`, a block-style
/// document as [`crate::yaml::to_string`] writes it.
pub fn document(yaml: &str, docs: &[(&str, &str)]) -> Documented {
    let keys = scan(yaml);
    let mut unknown_paths = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (path, _) in docs {
        if seen.contains(path) {
            unknown_paths.push(format!("{path} (documented twice)"));
        } else if !keys.iter().any(|k| k.path == *path) {
            unknown_paths.push((*path).to_string());
        }
        seen.push(path);
    }
    let mut text = String::with_capacity(yaml.len() * 2);
    for path in &unknown_paths {
        text.push_str(UNKNOWN_DOC_MARKER);
        text.push_str(path);
        text.push('\n');
    }
    let mut keys = keys.iter().peekable();
    for (index, line) in yaml.lines().enumerate() {
        while let Some(key) = keys.next_if(|k| k.line == index) {
            if let Some((_, doc)) = docs.iter().find(|(path, _)| *path == key.path) {
                for doc_line in doc.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    text.push_str(&line[..key.indent]);
                    text.push_str("# ");
                    text.push_str(doc_line);
                    text.push('\n');
                }
            }
        }
        text.push_str(line);
        text.push('\n');
    }
    Documented {
        text,
        unknown_paths,
    }
}

/// Every key path of the YAML document `yaml`, in document order (lists are
/// values: keys inside list items are not listed).
pub fn key_paths(yaml: &str) -> Vec<String> {
    scan(yaml).into_iter().map(|k| k.path).collect()
}

/// The key paths of `yaml` without a `# …` comment line directly above
/// them. A key the line scan cannot place (a YAML layout it does not know)
/// is listed too, so nothing is passed over silently.
pub fn undocumented_keys(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let keys = scan(yaml);
    let mut missing: Vec<String> = keys
        .iter()
        .filter(|key| {
            let above = key.line.checked_sub(1).map(|i| lines[i].trim_start());
            !matches!(above, Some(c) if c.starts_with('#')
                && !c.starts_with(UNKNOWN_DOC_MARKER)
                && !c[1..].trim().is_empty())
        })
        .map(|key| key.path.clone())
        .collect();
    for path in parsed_key_paths(yaml) {
        if !keys.iter().any(|k| k.path == path) && !missing.contains(&path) {
            missing.push(path);
        }
    }
    missing
}

/// The doc paths [`document`] recorded as naming no key of the config.
pub fn unknown_doc_paths(yaml: &str) -> Vec<String> {
    yaml.lines()
        .filter_map(|line| line.strip_prefix(UNKNOWN_DOC_MARKER))
        .map(|path| path.trim().to_string())
        .collect()
}

/// `Ok` when every key of `yaml` is documented and every doc names a key;
/// otherwise one message listing the problems.
pub fn check(yaml: &str) -> Result<(), String> {
    let undocumented = undocumented_keys(yaml);
    let unknown = unknown_doc_paths(yaml);
    let mut problems = Vec::new();
    if !undocumented.is_empty() {
        problems.push(format!(
            "keys without a doc line: {}",
            undocumented.join(", ")
        ));
    }
    if !unknown.is_empty() {
        problems.push(format!(
            "docs for keys the config does not have: {}",
            unknown.join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// One mapping key found by the line scan.
#[derive(Debug)]
struct KeyLine {
    /// 0-based line number.
    line: usize,
    /// Leading spaces.
    indent: usize,
    /// Dotted path from the root.
    path: String,
}

/// Finds the mapping keys of a block-style YAML document line by line: a
/// key's parent is the nearest key above it with less indentation whose
/// value opened a block. List items (and everything inside them), block
/// scalars and continuation lines of long values are skipped.
fn scan(yaml: &str) -> Vec<KeyLine> {
    let mut keys = Vec::new();
    // Keys whose value is a block of lines below them: (indent, path).
    let mut parents: Vec<(usize, String)> = Vec::new();
    // Lines indented deeper than this belong to the value above.
    let mut skip_deeper_than: Option<usize> = None;
    for (index, line) in yaml.lines().enumerate() {
        let content = line.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = line.len() - content.len();
        if let Some(limit) = skip_deeper_than {
            if indent > limit {
                continue;
            }
            skip_deeper_than = None;
        }
        if content == "---" || content == "..." {
            continue;
        }
        if content == "-" || content.starts_with("- ") {
            // A list item: its parent is the key at this indentation or less.
            parents.retain(|(i, _)| *i <= indent);
            skip_deeper_than = Some(indent);
            continue;
        }
        let Some((key, value)) = split_key(content) else {
            // A bare scalar (a document that is not a mapping) or something
            // this scan does not know: whatever follows deeper is its.
            skip_deeper_than = Some(indent);
            continue;
        };
        parents.retain(|(i, _)| *i < indent);
        let path = match parents.last() {
            Some((_, parent)) => format!("{parent}.{key}"),
            None => key,
        };
        keys.push(KeyLine {
            line: index,
            indent,
            path: path.clone(),
        });
        if opens_block(value) {
            parents.push((indent, path));
        } else {
            skip_deeper_than = Some(indent);
        }
    }
    keys
}

/// `key: value` → `(key, value)` with the key unquoted; `None` when the line
/// is not a simple mapping entry.
fn split_key(content: &str) -> Option<(String, &str)> {
    let (key, rest) = match content.chars().next()? {
        '"' => {
            let end = closing_double_quote(content)?;
            (unescape_double(&content[1..end]), &content[end + 1..])
        }
        '\'' => {
            let end = closing_single_quote(content)?;
            (content[1..end].replace("''", "'"), &content[end + 1..])
        }
        '{' | '[' | '?' | '!' | '&' | '*' | '|' | '>' | '%' | '@' | '`' => return None,
        _ => {
            let colon = content
                .match_indices(':')
                .map(|(i, _)| i)
                .find(|&i| content[i + 1..].is_empty() || content[i + 1..].starts_with(' '))?;
            (content[..colon].trim_end().to_string(), &content[colon..])
        }
    };
    let value = rest.strip_prefix(':')?;
    if !(value.is_empty() || value.starts_with(' ')) {
        return None;
    }
    Some((key, value.trim()))
}

/// Whether a key's inline value leaves its value to the lines below: nothing,
/// or only a tag / anchor (`key: !Variant`, `key: &a`).
fn opens_block(value: &str) -> bool {
    value.is_empty()
        || value.starts_with('#')
        || (value
            .split_whitespace()
            .all(|w| w.starts_with('!') || w.starts_with('&')))
}

fn closing_double_quote(content: &str) -> Option<usize> {
    let bytes = content.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn closing_single_quote(content: &str) -> Option<usize> {
    let bytes = content.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            if bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The string a double-quoted key stands for, through the YAML parser.
fn unescape_double(inner: &str) -> String {
    match yaml::parse(&format!("\"{inner}\"")) {
        Ok(Value::String(s)) => s,
        _ => inner.to_string(),
    }
}

/// Every key path of `yaml` as the parser sees it (mappings only; lists are
/// values). Empty when `yaml` does not parse.
fn parsed_key_paths(yaml: &str) -> Vec<String> {
    fn walk(value: &Value, prefix: &str, out: &mut Vec<String>) {
        match value {
            Value::Mapping(mapping) => {
                for (key, child) in mapping {
                    let key = match key {
                        Value::String(s) => s.clone(),
                        other => yaml::to_string(other)
                            .map(|s| s.trim().to_string())
                            .unwrap_or_default(),
                    };
                    let path = if prefix.is_empty() {
                        key
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(child, &path, out);
                    out.push(path);
                }
            }
            Value::Tagged(tagged) => walk(&tagged.value, prefix, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(value) = yaml::parse(yaml) {
        walk(&value, "", &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Optimizer {
        lr: f64,
        beta1: f64,
    }

    #[derive(Serialize)]
    struct Layer {
        width: u32,
        name: String,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "kebab-case")]
    enum Choice {
        First,
    }

    #[derive(Serialize)]
    struct Config {
        hidden_dim: usize,
        filter_sizes: Vec<usize>,
        optimizer: Optimizer,
        weights: Option<String>,
        layers: Vec<Layer>,
        empty: Vec<u32>,
        choice: Choice,
        notes: String,
        long: String,
        extra: BTreeMap<String, u32>,
        after: bool,
    }

    fn config() -> Config {
        Config {
            hidden_dim: 32,
            filter_sizes: vec![1, 2, 3],
            optimizer: Optimizer {
                lr: 1e-3,
                beta1: 0.9,
            },
            weights: None,
            layers: vec![
                Layer {
                    width: 4,
                    name: "a: b".into(),
                },
                Layer {
                    width: 5,
                    name: "c".into(),
                },
            ],
            empty: vec![],
            choice: Choice::First,
            notes: "two\nlines: here\n  indented: too".into(),
            long: "word ".repeat(40),
            extra: [("yes".to_string(), 1), ("1".to_string(), 2)].into(),
            after: true,
        }
    }

    const DOCS: &[(&str, &str)] = &[
        ("hidden_dim", "Hidden size."),
        ("filter_sizes", "Convolution widths, in tokens."),
        ("optimizer", "Adam."),
        ("optimizer.lr", "Learning rate."),
        ("optimizer.beta1", "First-moment decay."),
        ("weights", "A weights file, or null for none."),
        ("layers", "The layers, each a width and a name."),
        ("empty", "Nothing yet."),
        ("choice", "Which one."),
        ("notes", "Free text."),
        ("long", "A long text."),
        ("extra", "Anything else."),
        ("extra.yes", "A quoted key."),
        ("extra.1", "A numeric-looking key."),
        ("after", "The last key."),
    ];

    fn yaml_of(config: &Config) -> String {
        yaml::to_string(config).unwrap()
    }

    #[test]
    fn key_paths_follow_nesting_and_treat_lists_as_values() {
        assert_eq!(
            key_paths(&yaml_of(&config())),
            [
                "hidden_dim",
                "filter_sizes",
                "optimizer",
                "optimizer.lr",
                "optimizer.beta1",
                "weights",
                "layers",
                "empty",
                "choice",
                "notes",
                "long",
                "extra",
                "extra.1",
                "extra.yes",
                "after",
            ]
        );
    }

    #[test]
    fn every_documented_key_gets_its_comment_at_its_indentation() {
        let plain = yaml_of(&config());
        let documented = document(&plain, DOCS);
        assert!(documented.unknown_paths.is_empty(), "{documented:?}");
        let text = &documented.text;
        assert!(
            text.starts_with("# Hidden size.\nhidden_dim: 32\n"),
            "{text}"
        );
        assert!(
            text.contains("# Adam.\noptimizer:\n  # Learning rate.\n  lr: 0.001\n  # First-moment decay.\n  beta1: 0.9\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "# Convolution widths, in tokens.\nfilter_sizes:\n- 1\n- 2\n- 3\n# Adam."
            ),
            "{text}"
        );
        assert_eq!(undocumented_keys(text), Vec::<String>::new(), "{text}");
        assert_eq!(check(text), Ok(()));
        // Comments change nothing for a parser.
        assert_eq!(yaml::parse(text).unwrap(), yaml::parse(&plain).unwrap());
    }

    #[test]
    fn a_missing_doc_is_reported_by_its_path() {
        let docs: Vec<(&str, &str)> = DOCS
            .iter()
            .copied()
            .filter(|(path, _)| *path != "optimizer.beta1" && *path != "layers")
            .collect();
        let text = document(&yaml_of(&config()), &docs).text;
        assert_eq!(undocumented_keys(&text), ["optimizer.beta1", "layers"]);
        let message = check(&text).unwrap_err();
        assert!(message.contains("optimizer.beta1, layers"), "{message}");
        // Undocumented YAML: every key.
        assert_eq!(
            undocumented_keys(&yaml_of(&config())),
            key_paths(&yaml_of(&config()))
        );
    }

    #[test]
    fn a_doc_for_a_key_that_does_not_exist_is_reported() {
        let mut docs = DOCS.to_vec();
        docs.push(("optimizer.lrr", "A typo."));
        docs.push(("layers.width", "Inside list items: not a key path."));
        docs.push(("hidden_dim", "Twice."));
        let documented = document(&yaml_of(&config()), &docs);
        assert_eq!(
            documented.unknown_paths,
            [
                "optimizer.lrr",
                "layers.width",
                "hidden_dim (documented twice)"
            ]
        );
        // The text alone tells: the marker lines, which parsers ignore.
        assert_eq!(
            unknown_doc_paths(&documented.text),
            documented.unknown_paths
        );
        assert!(undocumented_keys(&documented.text).is_empty());
        let message = check(&documented.text).unwrap_err();
        assert!(message.contains("optimizer.lrr"), "{message}");
        assert_eq!(
            yaml::parse(&documented.text).unwrap(),
            yaml::parse(&yaml_of(&config())).unwrap()
        );
    }

    #[test]
    fn no_config_has_no_keys_and_multi_line_docs_become_several_comments() {
        let unit = yaml::to_string(&()).unwrap();
        assert!(key_paths(&unit).is_empty());
        assert_eq!(check(&document(&unit, &[]).text), Ok(()));
        let text = document("a:\n  b: 1\n", &[("a", "One."), ("a.b", "Two\nlines.")]).text;
        assert_eq!(text, "# One.\na:\n  # Two\n  # lines.\n  b: 1\n");
        assert_eq!(check(&text), Ok(()));
    }

    #[test]
    fn component_info_documented_carries_the_comments_and_checks_them() {
        use crate::{ComponentInfo, ComponentKind};
        let info = ComponentInfo::documented(
            ComponentKind::Discriminator,
            "toy",
            "a toy",
            &config(),
            DOCS,
        );
        assert!(info
            .default_config_yaml
            .contains("  # Learning rate.\n  lr: 0.001\n"));
        assert_eq!(info.check_config_docs(), Ok(()));
        let plain = ComponentInfo::new(ComponentKind::Discriminator, "toy", "a toy", &config());
        assert_eq!(
            yaml::parse(&info.default_config_yaml).unwrap(),
            yaml::parse(&plain.default_config_yaml).unwrap()
        );
        let message = plain.check_config_docs().unwrap_err();
        assert!(
            message.starts_with("discriminator `toy`: keys without a doc line: hidden_dim, "),
            "{message}"
        );
        let typo = ComponentInfo::documented(
            ComponentKind::Reward,
            "none",
            "no config",
            &(),
            &[("power", "A key of another config.")],
        );
        assert_eq!(
            typo.check_config_docs().unwrap_err(),
            "reward `none`: docs for keys the config does not have: power"
        );
    }

    #[test]
    fn a_key_the_scan_cannot_place_still_counts_as_undocumented() {
        // A flow mapping written by hand: the parser sees `a.b`, the scan
        // sees only `a`.
        let text = "# A.\na: {b: 1}\n";
        assert_eq!(undocumented_keys(text), ["a.b"]);
    }
}
