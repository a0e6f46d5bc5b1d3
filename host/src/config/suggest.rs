//! Friendlier config errors: "did you mean" for misspelt keys and names,
//! and plain words instead of the Rust type names serde puts in messages.

/// The candidate closest to `word` by edit distance, when it is close enough
/// to be a likely typo (at most a third of the word's length, at least 1,
/// at most 3 edits).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Rust's type names as a config author would say them.
const TYPE_WORDS: [(&str, &str); 12] = [
    ("usize", "a whole number ≥ 0"),
    ("u64", "a whole number ≥ 0"),
    ("u32", "a whole number from 0 to 4294967295"),
    ("u16", "a whole number from 0 to 65535"),
    ("u8", "a whole number from 0 to 255"),
    ("isize", "a whole number"),
    ("i64", "a whole number"),
    ("i32", "a whole number"),
    ("f64", "a number"),
    ("f32", "a number"),
    ("a boolean", "true or false"),
    ("a string", "text"),
];

/// serde's message made readable: Rust type names become words, `struct X`
/// and `enum X` become "a mapping" / "one of the listed names", `PathBuf`
/// a path, and an unknown field or variant gets "did you mean" when one of
/// the expected names is close.
pub fn explain(message: &str) -> String {
    let mut text = message.to_string();
    for (rust, words) in TYPE_WORDS {
        for prefix in ["expected ", "expected one of "] {
            let from = format!("{prefix}{rust}");
            if let Some(at) = text.find(&from) {
                let end = at + from.len();
                // Only whole words (`u32`, not `u32x`).
                if text[end..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric() && c != '_')
                {
                    text.replace_range(at..end, &format!("{prefix}{words}"));
                }
            }
        }
    }
    text = replace_named(&text, "expected struct ", "expected a mapping");
    text = replace_named(&text, "expected enum ", "expected one of the listed names");
    text = text.replace("expected a sequence", "expected a list");
    text = text.replace("expected a map", "expected a mapping");
    if let Some(suggestion) = suggestion(&text) {
        text.push_str(&format!("; did you mean `{suggestion}`?"));
    }
    text
}

/// `expected struct TypeName` → `replacement`.
fn replace_named(text: &str, marker: &str, replacement: &str) -> String {
    let Some(at) = text.find(marker) else {
        return text.to_string();
    };
    let rest = &text[at + marker.len()..];
    let name_len = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    format!("{}{replacement}{}", &text[..at], &rest[name_len..])
}

/// For "unknown field `x`, expected one of `a`, `b`" (or variant): the
/// expected name closest to `x`.
fn suggestion(message: &str) -> Option<String> {
    let at = message
        .find("unknown field `")
        .map(|i| i + "unknown field `".len())
        .or_else(|| {
            message
                .find("unknown variant `")
                .map(|i| i + "unknown variant `".len())
        })?;
    let rest = &message[at..];
    let end = rest.find('`')?;
    let word = &rest[..end];
    let expected = &rest[end + 1..];
    let names: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    closest(word, names).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_key_is_suggested_and_a_far_one_is_not() {
        let names = ["name", "seed", "device", "training"];
        assert_eq!(closest("trainig", names), Some("training"));
        assert_eq!(closest("sede", names), Some("seed"));
        assert_eq!(closest("colour", names), None);
    }

    #[test]
    fn serde_messages_lose_rust_type_names_and_gain_suggestions() {
        let text = explain("invalid type: string \"seven\", expected u32");
        assert_eq!(
            text,
            "invalid type: string \"seven\", expected a whole number from 0 to 4294967295"
        );
        let text = explain("invalid type: string \"x\", expected usize at line 3 column 5");
        assert!(
            text.contains("expected a whole number ≥ 0 at line 3"),
            "{text}"
        );
        let text = explain("unknown field `trainig`, expected one of `name`, `seed`, `training`");
        assert!(text.ends_with("did you mean `training`?"), "{text}");
        let text = explain(
            "unknown variant `synthetic-orcale`, expected one of `synthetic-oracle`, `text`",
        );
        assert!(text.ends_with("did you mean `synthetic-oracle`?"), "{text}");
        let text = explain("invalid type: map, expected struct TaskConfig");
        assert_eq!(text, "invalid type: map, expected a mapping");
    }
}
