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
    let bytes = crate::data::read_data_file(path)?;
    parse_lines(&bytes, path, tokenizer)
}

/// [`read_lines`] of a file's bytes (`path` names it in errors).
pub fn parse_lines(
    bytes: &[u8],
    path: &Path,
    tokenizer: &TokenizerConfig,
) -> anyhow::Result<Vec<Vec<String>>> {
    let text = crate::data::utf8_text(bytes, path)?;
    if let Some(found) = Invisible::find(text) {
        crate::notes::note(&format!(
            "data file {}: {} line(s) hold a character that prints as nothing ({}, first at line {}); the tokenizer keeps it, so it becomes a token of its own or part of a word that looks like another: remove it unless it is meant as text",
            path.display(),
            found.lines,
            found.name,
            found.first_line
        ));
    }
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let tokens = tokenizer.tokenize(line);
        if tokens.is_empty() {
            bail!(
                "data file {}:{}: empty line; every line must hold one example (remove the line)",
                path.display(),
                i + 1
            );
        }
        lines.push(tokens);
    }
    if lines.is_empty() {
        bail!(
            "data file {} is empty; it needs one example per line",
            path.display()
        );
    }
    Ok(lines)
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
    fn find(text: &str) -> Option<Invisible> {
        let named = |c: char| {
            INVISIBLE
                .iter()
                .find(|(i, _)| *i == c)
                .map(|(_, name)| *name)
        };
        let mut found: Option<Invisible> = None;
        for (i, line) in text.lines().enumerate() {
            let Some(name) = line.chars().find_map(named) else {
                continue;
            };
            match &mut found {
                Some(found) => found.lines += 1,
                None => {
                    found = Some(Invisible {
                        lines: 1,
                        first_line: i + 1,
                        name,
                    })
                }
            }
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
    fn bad_files_name_the_line() {
        assert_eq!(read(b"a b.\n").unwrap(), [["a", "b", "."]]);
        let err = read(b"a\n\nb\n").unwrap_err().to_string();
        assert!(err.contains(":2: empty line"), "{err}");
        let err = read(b"a\n\xff\n").unwrap_err().to_string();
        assert!(err.contains(":2: not UTF-8"), "{err}");
        let err = read(b"").unwrap_err().to_string();
        assert!(err.contains("is empty"), "{err}");
    }
}
