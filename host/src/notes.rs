//! Notes and warnings on standard error, each said once per process: data
//! are read again for every model `agon eval` scores, and the user should
//! not read the same note twice.

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, Ordering},
        Mutex,
    },
};

static SAID: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Set by commands that read again the data of runs already trained.
static QUIET_DATA_NOTES: AtomicBool = AtomicBool::new(false);

/// What the warnings said now are about, when one process checks several
/// things (a sweep's settings): said before each.
static CONTEXT: Mutex<Option<String>> = Mutex::new(None);

/// Runs `f` with every warning it says prefixed by `context`
/// (`001_rollouts-8_seed-1 (training.adversarial.rollouts=8): `). Notes
/// (on data files, on plugins found) are about no one setting, and are
/// said once as before.
pub fn within<T>(context: &str, f: impl FnOnce() -> T) -> T {
    /// Puts the previous context back however `f` ends.
    struct Restore(Option<String>);
    impl Drop for Restore {
        fn drop(&mut self) {
            *CONTEXT.lock().unwrap_or_else(|p| p.into_inner()) = self.0.take();
        }
    }
    let previous = CONTEXT
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .replace(context.to_string());
    let _restore = Restore(previous);
    f()
}

/// `text` after the context set by [`within`], if any.
fn in_context(text: &str) -> String {
    match CONTEXT.lock().unwrap_or_else(|p| p.into_inner()).as_deref() {
        Some(context) => format!("{context}: {text}"),
        None => text.to_string(),
    }
}

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

/// For `agon sample` and `agon eval`, which read each run's data files
/// again: the notes on those files (long lines skipped, tabs, characters
/// that print as nothing, `task.train_limit`) were said when the run
/// trained, and said again on every later command they are noise.
pub fn quiet_data_notes() {
    QUIET_DATA_NOTES.store(true, Ordering::Relaxed);
}

/// A note on a data file: [`note`], unless [`quiet_data_notes`] was called.
pub fn data_note(text: &str) {
    if !QUIET_DATA_NOTES.load(Ordering::Relaxed) {
        note(text);
    }
}

/// Prints `warning: TEXT` unless this process already did.
pub fn warn(text: &str) {
    let text = in_context(text);
    if first_time(&format!("warning: {text}")) {
        eprintln!("warning: {text}");
    }
}

/// Warns (once per model and output) when every one of `outputs` is the
/// same: a generator that says "a a a a" to every source has collapsed or is
/// undertrained, and its scores mean little. `diagnosis` (which of the two
/// its NLL-test suggests; may be empty) ends the warning. Returns the
/// warning.
pub fn warn_if_all_same(model: &str, outputs: &[String], diagnosis: &str) -> Option<String> {
    let (first, rest) = outputs.split_first()?;
    if rest.is_empty() || rest.iter().any(|o| o != first) {
        return None;
    }
    let text = format!(
        "every one of the {} outputs of {model} is the same (\"{}\"): the generator has collapsed to one output or is undertrained, and its scores say little{}{diagnosis}",
        outputs.len(),
        excerpt(first),
        if diagnosis.is_empty() { "" } else { "; " }
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
    fn a_context_prefixes_what_is_said_within_it_and_is_put_back() {
        assert_eq!(in_context("x"), "x");
        within("outer", || {
            within("inner", || assert_eq!(in_context("x"), "inner: x"));
            assert_eq!(in_context("x"), "outer: x");
            // Put back however the inner call ends.
            let _ = std::panic::catch_unwind(|| within("panics", || panic!("in f")));
            assert_eq!(in_context("x"), "outer: x");
        });
        assert_eq!(in_context("x"), "x");
    }

    #[test]
    fn a_text_is_new_once() {
        assert!(first_time("notes test: a"));
        assert!(!first_time("notes test: a"));
        assert!(first_time("notes test: b"));
    }

    #[test]
    fn identical_outputs_are_reported() {
        let same = vec!["a a a".to_string(); 3];
        let warning = warn_if_all_same("m", &same, "why").unwrap();
        assert!(
            warning.contains("every one of the 3 outputs of m") && warning.contains("\"a a a\"")
        );
        assert!(warning.ends_with("say little; why"), "{warning}");
        let plain = warn_if_all_same("n", &same, "").unwrap();
        assert!(plain.ends_with("say little"), "{plain}");
        let varied = vec!["a".to_string(), "b".to_string()];
        assert_eq!(warn_if_all_same("m", &varied, "why"), None);
        assert_eq!(warn_if_all_same("m", &same[..1], "why"), None);
    }
}
