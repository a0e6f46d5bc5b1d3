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

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &[u8]) -> anyhow::Result<Vec<Vec<String>>> {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        read_lines(file.path(), &TokenizerConfig::default())
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
