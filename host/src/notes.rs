//! Notes and warnings on standard error, each said once per process: data
//! are read again for every model `agon eval` scores, and the user should
//! not read the same note twice.

use std::{collections::HashSet, sync::Mutex};

static SAID: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Whether `text` has not been said before (and marks it said).
fn first_time(text: &str) -> bool {
    let mut said = SAID.lock().unwrap_or_else(|p| p.into_inner());
    said.get_or_insert_with(HashSet::new)
        .insert(text.to_string())
}

/// Prints `note: TEXT` unless this process already did.
pub fn note(text: &str) {
    if first_time(&format!("note: {text}")) {
        eprintln!("note: {text}");
    }
}

/// Prints `warning: TEXT` unless this process already did.
pub fn warn(text: &str) {
    if first_time(&format!("warning: {text}")) {
        eprintln!("warning: {text}");
    }
}

/// Warns (once per model and output) when every one of `outputs` is the
/// same: a generator that says "a a a a" to every source has collapsed or is
/// undertrained, and its scores mean little. Returns the warning.
pub fn warn_if_all_same(model: &str, outputs: &[String]) -> Option<String> {
    let (first, rest) = outputs.split_first()?;
    if rest.is_empty() || rest.iter().any(|o| o != first) {
        return None;
    }
    let text = format!(
        "every one of the {} outputs of {model} is the same (\"{}\"): the generator has collapsed to one output or is undertrained, and its scores say little",
        outputs.len(),
        excerpt(first)
    );
    warn(&text);
    Some(text)
}

/// An output as a warning quotes it: its first 60 characters, and `…` if
/// there are more.
pub fn excerpt(output: &str) -> String {
    const SHOWN: usize = 60;
    let mut shown: String = output.chars().take(SHOWN).collect();
    if output.chars().count() > SHOWN {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_new_once() {
        assert!(first_time("notes test: a"));
        assert!(!first_time("notes test: a"));
        assert!(first_time("notes test: b"));
    }

    #[test]
    fn identical_outputs_are_reported() {
        let same = vec!["a a a".to_string(); 3];
        let warning = warn_if_all_same("m", &same).unwrap();
        assert!(
            warning.contains("every one of the 3 outputs of m") && warning.contains("\"a a a\"")
        );
        let varied = vec!["a".to_string(), "b".to_string()];
        assert_eq!(warn_if_all_same("m", &varied), None);
        assert_eq!(warn_if_all_same("m", &same[..1]), None);
    }
}
