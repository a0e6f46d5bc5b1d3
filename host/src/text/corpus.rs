//! Reading a text data file: one example per line, UTF-8, with errors that
//! name the file, the line and the fix; and the policy for long lines.

use std::path::Path;

use anyhow::bail;
use serde::{Deserialize, Serialize};

use super::TokenizerConfig;

/// What to do with a line that has more tokens than fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LongLines {
    /// Refuse the file (the default: no data is dropped silently).
    #[default]
    Error,
    /// Leave the line out (the count is printed).
    Skip,
    /// Keep the first tokens.
    Truncate,
}

/// The tokenised lines of `path`, in order (line `i + 1` of the file is
/// element `i`: empty lines are refused, not dropped).
pub fn read_lines(path: &Path, tokenizer: &TokenizerConfig) -> anyhow::Result<Vec<Vec<String>>> {
    read_aligned_lines(path, None, tokenizer)
}

/// [`read_lines`] of one of two line-aligned files (a conditional task's
/// sources and targets): an empty line's fix names the other file too.
pub fn read_aligned_lines(
    path: &Path,
    aligned_with: Option<&Path>,
    tokenizer: &TokenizerConfig,
) -> anyhow::Result<Vec<Vec<String>>> {
    let bytes = crate::data::read_data_file(path)?;
    parse_aligned_lines(&bytes, path, aligned_with, tokenizer)
}

/// [`read_lines`] of a file's bytes (`path` names it in errors).
pub fn parse_lines(
    bytes: &[u8],
    path: &Path,
    tokenizer: &TokenizerConfig,
) -> anyhow::Result<Vec<Vec<String>>> {
    parse_aligned_lines(bytes, path, None, tokenizer)
}

/// Empty lines an error lists before it says "and N more".
const EMPTY_LINES_LISTED: usize = 10;

fn parse_aligned_lines(
    bytes: &[u8],
    path: &Path,
    aligned_with: Option<&Path>,
    tokenizer: &TokenizerConfig,
) -> anyhow::Result<Vec<Vec<String>>> {
    let text = crate::data::utf8_text(bytes, path)?;
    // One pass: each line's tokens, and what to tell the user about it.
    let mut lines = Vec::new();
    let mut empty = Vec::new();
    let mut tabbed: Vec<usize> = Vec::new();
    let mut invisible: Option<Invisible> = None;
    for (i, line) in text.lines().enumerate() {
        if line.contains('\t') {
            tabbed.push(i + 1);
        }
        Invisible::see(&mut invisible, i + 1, line);
        let tokens = tokenizer.tokenize(line);
        if tokens.is_empty() {
            empty.push(i + 1);
        }
        lines.push(tokens);
    }
    if let Some(first) = tabbed.first() {
        // A TSV export read as text: its columns (ids, the other side of a
        // pair) become words, and its header an example.
        crate::notes::data_note(&format!(
            "data file {}: {} line(s) hold a tab (first at line {first}); agon reads one example per line and a tab as a space, so tab-separated columns become words of the example: for a TSV, put the column you mean in a file of its own (e.g. `tail -n +2 FILE | cut -f2`, which also drops a header)",
            path.display(),
            tabbed.len()
        ));
    }
    if let Some(found) = invisible {
        crate::notes::data_note(&format!(
            "data file {}: {} line(s) hold a character that prints as nothing ({}, first at line {}); the tokenizer keeps it, so it becomes a token of its own or part of a word that looks like another: remove it unless it is meant as text",
            path.display(),
            found.lines,
            found.name,
            found.first_line
        ));
    }
    if let Some(&first) = empty.first() {
        let mut listed: Vec<String> = empty
            .iter()
            .take(EMPTY_LINES_LISTED)
            .map(usize::to_string)
            .collect();
        if empty.len() > EMPTY_LINES_LISTED {
            listed.push(format!("and {} more", empty.len() - EMPTY_LINES_LISTED));
        }
        let fix = match aligned_with {
            Some(other) => format!(
                "remove the line(s) from both it and {}, which is line-aligned with it",
                other.display()
            ),
            None => "remove the line(s)".to_string(),
        };
        bail!(
            "data file {}:{first}: empty line; every line must hold one example ({fix}). Empty: line{} {}",
            path.display(),
            if empty.len() == 1 { "" } else { "s" },
            listed.join(", ")
        );
    }
    if lines.is_empty() {
        bail!(
            "data file {} is empty; it needs one example per line",
            path.display()
        );
    }
    Ok(lines)
}

/// `task.train_limit`: keeps the first `limit` examples of `lines`, read
/// from `path` (and, for a conditional task, the same lines of the file
/// aligned with it). Returns how many lines the file has; when the limit is
/// above that, a note says every line is used.
pub fn keep_first<T>(lines: &mut Vec<T>, limit: Option<usize>, path: &Path) -> usize {
    let in_file = lines.len();
    match limit {
        Some(limit) if limit < in_file => lines.truncate(limit),
        Some(limit) if limit > in_file => crate::notes::data_note(&format!(
            "task.train_limit is {limit}, but {} has {in_file} lines: every line is used",
            path.display()
        )),
        _ => {}
    }
    in_file
}

/// Characters that print as nothing and that corpora carry by accident:
/// soft hyphens from web text, zero-width spaces and joiners, direction
/// marks, a byte-order mark. Not whitespace (to Python either), so a
/// tokenizer keeps them.
const INVISIBLE: [(char, &str); 9] = [
    ('\u{00AD}', "U+00AD SOFT HYPHEN"),
    ('\u{200B}', "U+200B ZERO WIDTH SPACE"),
    ('\u{200C}', "U+200C ZERO WIDTH NON-JOINER"),
    ('\u{200D}', "U+200D ZERO WIDTH JOINER"),
    ('\u{200E}', "U+200E LEFT-TO-RIGHT MARK"),
    ('\u{200F}', "U+200F RIGHT-TO-LEFT MARK"),
    ('\u{2060}', "U+2060 WORD JOINER"),
    ('\u{2061}', "U+2061 FUNCTION APPLICATION"),
    ('\u{FEFF}', "U+FEFF BYTE ORDER MARK"),
];

/// The lines of a text that hold an [`INVISIBLE`] character.
#[derive(Debug, PartialEq)]
struct Invisible {
    lines: usize,
    /// 1-based, and the name of the first such character on it.
    first_line: usize,
    name: &'static str,
}

impl Invisible {
    /// Counts `line` (1-based `number`) into `found` if it holds one.
    fn see(found: &mut Option<Invisible>, number: usize, line: &str) {
        let named = |c: char| {
            INVISIBLE
                .iter()
                .find(|(i, _)| *i == c)
                .map(|(_, name)| *name)
        };
        let Some(name) = line.chars().find_map(named) else {
            return;
        };
        match found {
            Some(found) => found.lines += 1,
            None => {
                *found = Some(Invisible {
                    lines: 1,
                    first_line: number,
                    name,
                })
            }
        }
    }

    #[cfg(test)]
    fn find(text: &str) -> Option<Invisible> {
        let mut found = None;
        for (i, line) in text.lines().enumerate() {
            Invisible::see(&mut found, i + 1, line);
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &[u8]) -> anyhow::Result<Vec<Vec<String>>> {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        read_lines(file.path(), &TokenizerConfig::default())
    }

    #[test]
    fn characters_that_print_as_nothing_are_found_by_line() {
        assert_eq!(Invisible::find("plain text\nand more\n"), None);
        let text = "a line\nco\u{00AD}operate\nfine\n\u{200B}x \u{00AD}\n";
        assert_eq!(
            Invisible::find(text),
            Some(Invisible {
                lines: 2,
                first_line: 2,
                name: "U+00AD SOFT HYPHEN"
            })
        );
        // A byte-order mark at the start of the file is on line 1.
        assert_eq!(
            Invisible::find("\u{FEFF}a\n").unwrap().name,
            "U+FEFF BYTE ORDER MARK"
        );
        // The tokenizer keeps them: the reason for the note.
        let tokens = TokenizerConfig::default().tokenize("co\u{00AD}operate \u{00AD}");
        assert_eq!(tokens, ["co\u{00AD}operate", "\u{00AD}"]);
    }

    #[test]
    fn a_train_limit_keeps_the_first_lines() {
        let mut lines = vec![1, 2, 3, 4];
        assert_eq!(keep_first(&mut lines, Some(2), Path::new("t")), 4);
        assert_eq!(lines, [1, 2]);
        let mut lines = vec![1, 2, 3];
        assert_eq!(keep_first(&mut lines, Some(5), Path::new("t")), 3);
        assert_eq!(lines, [1, 2, 3]);
        assert_eq!(keep_first(&mut lines, None, Path::new("t")), 3);
        assert_eq!(lines, [1, 2, 3]);
    }

    #[test]
    fn bad_files_name_the_line() {
        assert_eq!(read(b"a b.\n").unwrap(), [["a", "b", "."]]);
        let err = read(b"a\n\nb\n").unwrap_err().to_string();
        assert!(err.contains(":2: empty line"), "{err}");
        assert!(
            err.ends_with("(remove the line(s)). Empty: line 2"),
            "{err}"
        );
        // Every empty line is listed (the first ten), and a file aligned
        // with another is told to lose them from both.
        let gaps = "a\n".to_string() + &"\nb\n".repeat(12);
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &gaps).unwrap();
        let err = read_aligned_lines(
            file.path(),
            Some(Path::new("train.src")),
            &TokenizerConfig::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(":2: empty line"), "{err}");
        assert!(err.contains("from both it and train.src"), "{err}");
        assert!(
            err.ends_with("Empty: lines 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, and 2 more"),
            "{err}"
        );
        let err = read(b"a\n\xff\n").unwrap_err().to_string();
        assert!(err.contains(":2: not UTF-8"), "{err}");
        let err = read(b"").unwrap_err().to_string();
        assert!(err.contains("is empty"), "{err}");
    }
}
