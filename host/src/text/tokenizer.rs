//! Splitting a line of text into tokens, and joining tokens back.
//!
//! * `char`: every non-space character is a token (Chinese poetry; spaces
//!   in the file are ignored, so `床 前 明 月 光` and `床前明月光` agree).
//! * `word`: tokens are separated by whitespace; with `split_punctuation`,
//!   punctuation becomes tokens of its own (`wheel.` → `wheel` `.`), except
//!   an apostrophe or hyphen between two letters or digits (`don't`,
//!   `well-known` stay one token). With `lowercase`, text is lower-cased
//!   first.
//!
//! Whitespace is Python's `str.split()`'s (`agon_metrics::is_python_space`:
//! Unicode whitespace and U+001C..U+001F), as in the reference tools whose
//! BLEU these tokens feed.

use agon_sdk::metrics::is_python_space;
use serde::{Deserialize, Serialize};

/// Character or word tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Char,
    Word,
}

/// How text becomes tokens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenizerConfig {
    /// `word` (English) or `char` (Chinese).
    pub level: Level,
    /// Lower-case the text first.
    pub lowercase: bool,
    /// Word level: punctuation marks are tokens of their own.
    pub split_punctuation: bool,
}

impl Default for TokenizerConfig {
    fn default() -> Self {
        TokenizerConfig {
            level: Level::Word,
            lowercase: false,
            split_punctuation: true,
        }
    }
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(c, '“' | '”' | '‘' | '’' | '…' | '–' | '—' | '«' | '»')
        || ('\u{3000}'..='\u{303f}').contains(&c)
        || ('\u{ff01}'..='\u{ff0f}').contains(&c)
        || ('\u{ff1a}'..='\u{ff20}').contains(&c)
}

/// Splits one whitespace-free word, putting punctuation into tokens of its own.
fn split_word(word: &str, tokens: &mut Vec<String>) {
    let chars: Vec<char> = word.chars().collect();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let joins_word = matches!(c, '\'' | '’' | '-')
            && i > 0
            && i + 1 < chars.len()
            && chars[i - 1].is_alphanumeric()
            && chars[i + 1].is_alphanumeric();
        if is_punctuation(c) && !joins_word {
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
            tokens.push(c.to_string());
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
}

impl TokenizerConfig {
    /// The tokens of `line`.
    pub fn tokenize(&self, line: &str) -> Vec<String> {
        let text = if self.lowercase {
            line.to_lowercase()
        } else {
            line.to_string()
        };
        let mut tokens = Vec::new();
        match self.level {
            Level::Char => tokens.extend(
                text.chars()
                    .filter(|&c| !is_python_space(c))
                    .map(String::from),
            ),
            Level::Word => {
                for word in text.split(is_python_space).filter(|w| !w.is_empty()) {
                    if self.split_punctuation {
                        split_word(word, &mut tokens);
                    } else {
                        tokens.push(word.to_string());
                    }
                }
            }
        }
        tokens
    }

    /// Tokens back to text: concatenated (char) or space-separated (word).
    pub fn detokenize<S: AsRef<str>>(&self, tokens: &[S]) -> String {
        let separator = match self.level {
            Level::Char => "",
            Level::Word => " ",
        };
        tokens
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(separator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(lowercase: bool, split_punctuation: bool) -> TokenizerConfig {
        TokenizerConfig {
            level: Level::Word,
            lowercase,
            split_punctuation,
        }
    }

    #[test]
    fn words_split_off_punctuation_but_keep_contractions_and_hyphens() {
        assert_eq!(
            word(true, true).tokenize("A Bicycle, parked; don't well-known \"wheel.\""),
            [
                "a",
                "bicycle",
                ",",
                "parked",
                ";",
                "don't",
                "well-known",
                "\"",
                "wheel",
                ".",
                "\""
            ]
        );
        assert_eq!(
            word(false, false).tokenize("A Bicycle, parked."),
            ["A", "Bicycle,", "parked."]
        );
    }

    #[test]
    fn characters_ignore_spaces() {
        let chars = TokenizerConfig {
            level: Level::Char,
            ..TokenizerConfig::default()
        };
        assert_eq!(
            chars.tokenize("床 前 明月光 ，"),
            ["床", "前", "明", "月", "光", "，"]
        );
        assert_eq!(chars.detokenize(&["床", "前", "，"]), "床前，");
        assert_eq!(word(false, true).detokenize(&["a", "dog", "."]), "a dog .");
    }

    /// Python's `str.split()` splits on the information separators
    /// U+001C..U+001F too, which `char::is_whitespace` does not.
    #[test]
    fn whitespace_is_pythons() {
        let text = "a\u{1c}b\u{1f}c\u{a0}d\u{3000}e";
        assert_eq!(word(false, false).tokenize(text), ["a", "b", "c", "d", "e"]);
        let chars = TokenizerConfig {
            level: Level::Char,
            ..TokenizerConfig::default()
        };
        assert_eq!(chars.tokenize(text), ["a", "b", "c", "d", "e"]);
    }
}
