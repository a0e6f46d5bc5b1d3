//! Reading sequences of token ids from text files.

use std::path::Path;

use anyhow::{anyhow, bail};

/// Reads a file the user named (`what`: "data file", "hypothesis file"…).
/// Relative paths resolve against the current directory
/// (docs/configuration.md), and a failure says so.
pub fn read_named_file(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        let relative = match (path.is_relative(), std::env::current_dir()) {
            (true, Ok(dir)) => format!(
                " (relative paths resolve against the current directory, {}: run agon from the directory the paths are written for, or make them absolute)",
                dir.display()
            ),
            _ => String::new(),
        };
        anyhow!("cannot read {what} {}: {e}{relative}", path.display())
    })
}

/// Reads a data file named in a config.
pub fn read_data_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    read_named_file(path, "data file")
}

/// Reads one sequence per line, ids separated by whitespace, checking each
/// id against `vocab_size` and each line against `max_len`. Errors name the
/// file, the line and the fix.
pub fn read_token_ids(path: &Path, vocab_size: u32, max_len: u32) -> anyhow::Result<Vec<Vec<u32>>> {
    let bytes = read_data_file(path)?;
    parse_token_ids(&bytes, path, vocab_size, max_len)
}

/// A data file's bytes as text; the error names the first line that is not
/// UTF-8.
pub fn utf8_text<'a>(bytes: &'a [u8], path: &Path) -> anyhow::Result<&'a str> {
    utf8_text_of(bytes, path, "data file")
}

/// [`utf8_text`] of a file described as `what` in the error.
pub fn utf8_text_of<'a>(bytes: &'a [u8], path: &Path, what: &str) -> anyhow::Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        anyhow!(
            "{what} {}:{line}: not UTF-8 text; save the file as UTF-8",
            path.display()
        )
    })
}

/// [`read_token_ids`] of a file's bytes (`path` names it in errors).
pub fn parse_token_ids(
    bytes: &[u8],
    path: &Path,
    vocab_size: u32,
    max_len: u32,
) -> anyhow::Result<Vec<Vec<u32>>> {
    let text = utf8_text(bytes, path)?;
    let mut sequences = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = || format!("data file {}:{}", path.display(), i + 1);
        if line.trim().is_empty() {
            bail!(
                "{}: empty line; every line must hold one sequence of token ids",
                at()
            );
        }
        let mut ids = Vec::new();
        for (k, token) in line.split_whitespace().enumerate() {
            let id: u32 = token.parse().map_err(|_| {
                anyhow!(
                    "{}: token {} is `{token}`, not a token id (a non-negative integer)",
                    at(),
                    k + 1
                )
            })?;
            if id >= vocab_size {
                bail!(
                    "{}: token id {id} is outside the vocabulary of {vocab_size} ids (task.vocab_size)",
                    at()
                );
            }
            ids.push(id);
        }
        if ids.len() > max_len as usize {
            bail!(
                "{}: {} tokens, longer than task.max_len = {max_len}; raise max_len or shorten the line",
                at(),
                ids.len()
            );
        }
        sequences.push(ids);
    }
    if sequences.is_empty() {
        bail!(
            "data file {} is empty; it needs one sequence of token ids per line",
            path.display()
        );
    }
    Ok(sequences)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &[u8]) -> anyhow::Result<Vec<Vec<u32>>> {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        read_token_ids(file.path(), 10, 3)
    }

    #[test]
    fn reads_good_lines() {
        assert_eq!(
            read(b"1 2 3\n4 5\n").unwrap(),
            vec![vec![1, 2, 3], vec![4, 5]]
        );
    }

    #[test]
    fn every_bad_line_names_its_place() {
        for (text, needle) in [
            (&b"1 2\n1 x 3\n"[..], ":2: token 2 is `x`"),
            (b"1 2\n\n", ":2: empty line"),
            (b"1 12\n", ":1: token id 12 is outside"),
            (b"1 2 3 4\n", ":1: 4 tokens, longer than task.max_len = 3"),
            (b"1 2\n\xff\xfe\n", ":2: not UTF-8"),
            (b"", "is empty"),
        ] {
            let err = read(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle:?} not in {err}");
        }
    }
}
