//! The vocabulary: built from the training split, saved in the run
//! directory as `vocab.txt` (one token per line; the line number − 1 is the
//! id) and checked against the data when a run is resumed or evaluated.

use std::{collections::HashMap, path::Path};

use anyhow::{anyhow, bail};

/// Ids of the special tokens (the first four lines of every vocabulary).
pub const PAD: u32 = 0;
pub const BOS: u32 = 1;
pub const EOS: u32 = 2;
pub const UNK: u32 = 3;
const SPECIALS: [&str; 4] = ["<pad>", "<bos>", "<eos>", "<unk>"];

/// Token ↔ id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocabulary {
    tokens: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Vocabulary {
    fn from_tokens(tokens: Vec<String>) -> Self {
        let ids = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        Vocabulary { tokens, ids }
    }

    /// The specials, then every token seen at least `min_count` times, most
    /// frequent first (ties in byte order, so the ids never depend on hash
    /// order), cut to `max_size` ids in all when given.
    pub fn build<'a>(
        sentences: impl IntoIterator<Item = &'a [String]>,
        min_count: usize,
        max_size: Option<usize>,
    ) -> Self {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for sentence in sentences {
            for token in sentence {
                *counts.entry(token.as_str()).or_insert(0) += 1;
            }
        }
        let mut kept: Vec<(&str, usize)> = counts
            .into_iter()
            .filter(|&(t, c)| c >= min_count.max(1) && !SPECIALS.contains(&t))
            .collect();
        kept.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let room = max_size.map_or(usize::MAX, |m| m.saturating_sub(SPECIALS.len()));
        let tokens = SPECIALS
            .iter()
            .map(|s| s.to_string())
            .chain(kept.into_iter().take(room).map(|(t, _)| t.to_string()))
            .collect();
        Self::from_tokens(tokens)
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether only the specials are there.
    pub fn is_empty(&self) -> bool {
        self.tokens.len() <= SPECIALS.len()
    }

    /// The id of `token` (`<unk>` when unknown).
    pub fn id(&self, token: &str) -> u32 {
        self.ids.get(token).copied().unwrap_or(UNK)
    }

    /// The id of `token`, if it is in the vocabulary.
    pub fn get(&self, token: &str) -> Option<u32> {
        self.ids.get(token).copied()
    }

    /// The token of `id`.
    pub fn token(&self, id: u32) -> &str {
        self.tokens.get(id as usize).map_or("<unk>", String::as_str)
    }

    /// `vocab.txt`'s contents.
    pub fn to_text(&self) -> String {
        let mut text = self.tokens.join("\n");
        text.push('\n');
        text
    }

    /// Reads a `vocab.txt`.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow!("cannot read vocabulary {}: {e}", path.display()))?;
        Self::parse(&text, path)
    }

    /// A `vocab.txt`'s text (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Self> {
        let tokens: Vec<String> = text.lines().map(str::to_string).collect();
        if tokens.len() < SPECIALS.len() || tokens[..SPECIALS.len()] != SPECIALS {
            bail!(
                "vocabulary {} does not start with {}; it was not written by agon",
                path.display(),
                SPECIALS.join(", ")
            );
        }
        let vocabulary = Self::from_tokens(tokens);
        if vocabulary.ids.len() != vocabulary.tokens.len() {
            bail!(
                "vocabulary {} lists a token twice; it was not written by agon",
                path.display()
            );
        }
        Ok(vocabulary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentences(text: &[&str]) -> Vec<Vec<String>> {
        text.iter()
            .map(|s| s.split(' ').map(str::to_string).collect())
            .collect()
    }

    #[test]
    fn frequent_tokens_first_rare_ones_dropped_unknown_is_unk() {
        let data = sentences(&["b a a", "c a b", "d"]);
        let v = Vocabulary::build(data.iter().map(Vec::as_slice), 2, None);
        assert_eq!(v.len(), 6);
        assert_eq!((v.id("a"), v.id("b"), v.id("c")), (4, 5, UNK));
        assert_eq!(v.token(EOS), "<eos>");
        let capped = Vocabulary::build(data.iter().map(Vec::as_slice), 1, Some(5));
        assert_eq!(capped.len(), 5);
        assert_eq!(capped.get("b"), None);
    }

    #[test]
    fn saved_vocabulary_loads_back_and_foreign_files_are_refused() {
        let data = sentences(&["x y", "y"]);
        let v = Vocabulary::build(data.iter().map(Vec::as_slice), 1, None);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vocab.txt");
        std::fs::write(&path, v.to_text()).unwrap();
        assert_eq!(Vocabulary::load(&path).unwrap(), v);
        std::fs::write(&path, "a\nb\n").unwrap();
        let err = Vocabulary::load(&path).unwrap_err().to_string();
        assert!(err.contains("vocab.txt") && err.contains("<pad>"), "{err}");
    }
}
