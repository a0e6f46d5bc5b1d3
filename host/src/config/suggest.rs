//! Friendlier config errors: "did you mean" for misspelt keys and names,
//! and plain words instead of the Rust type names serde puts in messages.

pub use agon_sdk::suggest::closest;

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
/// and `enum X` become "a mapping" / "one of the listed names", and an
/// unknown field or variant gets "did you mean" when one of the expected
/// names is close, or else, for a kit component's training key met among
/// the host's keys, where it goes.
pub fn explain(message: &str) -> String {
    let mut text = explain_component(message);
    if suggestion(&text).is_none() {
        if let Some(hint) = unknown_field(&text).and_then(component_key_hint) {
            text.push_str(&format!("; {hint}"));
        }
    }
    text
}

/// [`explain`] for a message about a component's own config, where the
/// component's layout says where a key goes, not the host's.
pub fn explain_component(message: &str) -> String {
    let mut text = message.to_string();
    for (rust, words) in TYPE_WORDS {
        for prefix in ["expected ", "expected one of "] {
            text = replace_word(
                &text,
                &format!("{prefix}{rust}"),
                &format!("{prefix}{words}"),
            );
        }
    }
    text = replace_named(&text, "expected struct ", "expected a mapping");
    text = replace_named(&text, "expected enum ", "expected one of the listed names");
    text = replace_word(&text, "expected a sequence", "expected a list");
    text = replace_word(&text, "expected a map", "expected a mapping");
    if let Some(suggestion) = suggestion(&text) {
        text.push_str(&format!("; did you mean `{suggestion}`?"));
    }
    text
}

/// Where a kit component's training key goes, for one met where the host
/// reads its own keys (`training.relaxed_chunk`): under the config of each
/// kind of component whose kit documents it.
fn component_key_hint(word: &str) -> Option<String> {
    use agon_sdk::kit_training_docs::{DISCRIMINATOR_TRAINING_DOCS, GENERATOR_TRAINING_DOCS};
    let key = format!("training.{word}");
    let paths: Vec<String> = [
        ("generator", GENERATOR_TRAINING_DOCS),
        ("discriminator", DISCRIMINATOR_TRAINING_DOCS),
    ]
    .into_iter()
    .filter(|(_, docs)| docs.iter().any(|(name, _)| *name == key))
    .map(|(owner, _)| format!("`{owner}.config.{key}`"))
    .collect();
    if paths.is_empty() {
        return None;
    }
    Some(format!(
        "`{word}` is a key of a kit component's own config: set it as {} (`agon plugins show PLUGIN` lists a component's keys)",
        paths.join(" or ")
    ))
}

/// `x` of "unknown field `x`".
fn unknown_field(message: &str) -> Option<&str> {
    let at = message.find("unknown field `")? + "unknown field `".len();
    let rest = &message[at..];
    Some(&rest[..rest.find('`')?])
}

/// `from` replaced by `to` where it is a whole word (`u32`, not `u32x`;
/// `a map`, not `a mapping`).
fn replace_word(text: &str, from: &str, to: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        let end = at + from.len();
        let whole = rest[end..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric() && c != '_');
        out.push_str(&rest[..at]);
        out.push_str(if whole { to } else { from });
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
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
    fn a_kit_components_key_among_the_hosts_is_sent_to_the_component() {
        let text = explain("unknown field `relaxed_chunk`, expected one of `batch_size`, `mle`");
        assert!(
            text.ends_with("set it as `discriminator.config.training.relaxed_chunk` (`agon plugins show PLUGIN` lists a component's keys)"),
            "{text}"
        );
        let text = explain("unknown field `grad_clip`, expected one of `batch_size`, `mle`");
        assert!(
            text.contains("`generator.config.training.grad_clip` or `discriminator.config.training.grad_clip`"),
            "{text}"
        );
        // A near miss of a host key is a typo first.
        let text = explain("unknown field `epoch`, expected one of `epochs`, `g_steps`");
        assert!(text.ends_with("did you mean `epochs`?"), "{text}");
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
