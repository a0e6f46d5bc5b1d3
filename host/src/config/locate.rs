//! Where a key is in a YAML text, and which key a line holds: how errors
//! about a merged or rewritten document are reported at the place the user
//! wrote (serde_yaml's values carry no positions).

/// A `key:` at the start of `line` (after indentation and an optional `- `):
/// its indentation and name.
fn key_on(line: &str) -> Option<(usize, &str)> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') {
        return None;
    }
    let indent = line.len() - trimmed.len();
    let (indent, body) = match trimmed.strip_prefix("- ") {
        Some(rest) => (indent + 2, rest),
        None => (indent, trimmed),
    };
    let colon = body.find(':')?;
    let key = body[..colon].trim().trim_matches(|c| c == '"' || c == '\'');
    let after = &body[colon + 1..];
    let plain = !key.is_empty()
        && !key.contains(['{', '[', ' ', ','])
        && (after.is_empty() || after.starts_with(' '));
    plain.then_some((indent, key))
}

/// The key path of every line of a block-style document (`None` for lines
/// without a key).
fn paths(text: &str) -> Vec<Option<Vec<String>>> {
    let mut stack: Vec<(usize, String)> = Vec::new();
    text.lines()
        .map(|line| {
            let (indent, key) = key_on(line)?;
            while stack.last().is_some_and(|(i, _)| *i >= indent) {
                stack.pop();
            }
            stack.push((indent, key.to_string()));
            Some(stack.iter().map(|(_, k)| k.clone()).collect())
        })
        .collect()
}

/// The key path at 1-based `line` of a block-style document, e.g. the
/// merged component config the host hands a plugin.
pub fn key_path_at(text: &str, line: usize) -> Option<Vec<String>> {
    paths(text).into_iter().nth(line.checked_sub(1)?).flatten()
}

/// The 1-based line of `path` in `text`: the line of its last block-style
/// key, or, for flow mappings (`config: {filter_sizes: [2, 3]}`), the line
/// where the flow mapping holding the rest of the path starts.
pub fn line_of(text: &str, path: &[&str]) -> Option<usize> {
    let mut best = None;
    for (i, found) in paths(text).into_iter().enumerate() {
        let Some(found) = found else { continue };
        let matched = found
            .iter()
            .zip(path)
            .take_while(|(a, b)| a.as_str() == **b)
            .count();
        if matched != found.len() {
            continue;
        }
        if matched == path.len() {
            return Some(i + 1);
        }
        // A prefix of the path: does the rest sit in a flow mapping here?
        let line = text.lines().nth(i).unwrap_or_default();
        let value = line.split_once(':').map_or("", |(_, value)| value);
        if flow_holds(value, &path[matched..]) {
            best = Some(i + 1);
        }
    }
    best
}

/// Whether the flow mapping `flow` (`{a: 1, b: {c: 2}}`) holds the key path
/// `path` at its depths: `["b", "c"]`, not `["c"]`.
fn flow_holds(flow: &str, path: &[&str]) -> bool {
    // The keys from the outermost mapping down to where the scan is.
    let mut keys: Vec<String> = Vec::new();
    let mut depth = 0usize;
    let mut key_start = None;
    for (at, c) in flow.char_indices() {
        match c {
            '{' | '[' => {
                depth += 1;
                key_start = Some(at + 1);
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                key_start = None;
            }
            ',' => key_start = Some(at + 1),
            ':' => {
                if let Some(start) = key_start.take() {
                    let key = flow[start..at]
                        .trim()
                        .trim_matches(|c| c == '"' || c == '\'');
                    keys.truncate(depth.saturating_sub(1));
                    keys.push(key.to_string());
                    if keys.len() == depth && keys == path {
                        return true;
                    }
                }
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name: t
# a comment
discriminator:
  plugin: seqgan-lab/cnn-discriminator
  config:
    filter_sizes: [2, 3]
    optimizer:
      lr: 0.001
generator:
  plugin: agon/lstm-generator
  config: {hidden_dim: 32, emb_dim: 8}
";

    #[test]
    fn block_and_flow_keys_are_found() {
        assert_eq!(
            line_of(TEXT, &["discriminator", "config", "filter_sizes"]),
            Some(6)
        );
        assert_eq!(
            line_of(TEXT, &["discriminator", "config", "optimizer", "lr"]),
            Some(8)
        );
        assert_eq!(line_of(TEXT, &["generator", "config", "emb_dim"]), Some(11));
        assert_eq!(line_of(TEXT, &["generator", "config", "missing"]), None);
    }

    #[test]
    fn a_flow_mappings_keys_are_found_at_their_depth() {
        let text =
            "generator:\n  config: {emb: 32, training: {optimizer: {lr: 0.005}}, sizes: [2, 3]}\n";
        assert_eq!(
            line_of(text, &["generator", "config", "training", "optimizer"]),
            Some(2)
        );
        assert_eq!(line_of(text, &["generator", "config", "sizes"]), Some(2));
        assert_eq!(line_of(text, &["generator", "config", "emb"]), Some(2));
        // Nested deeper than the path says: not this key.
        assert_eq!(line_of(text, &["generator", "config", "optimizer"]), None);
        assert_eq!(line_of(text, &["generator", "config", "lr"]), None);
    }

    #[test]
    fn a_line_names_its_key_path() {
        assert_eq!(
            key_path_at(TEXT, 8).unwrap(),
            ["discriminator", "config", "optimizer", "lr"]
        );
        assert_eq!(key_path_at(TEXT, 2), None);
        assert_eq!(key_path_at(TEXT, 9).unwrap(), ["generator"]);
    }
}
