//! sacreBLEU's corpus BLEU on raw text: the `13a` tokenizer (mteval-v13a, the
//! WMT standard and sacreBLEU's default) in front of [`super::corpus_bleu`].
//! `tests/text_metrics_reference.rs` (with `tests/bleu_reference.rs`) checks tokenizer and scores against
//! sacreBLEU 2.6.0.

use std::collections::HashMap;

use super::bleu::{sentence_stats, BleuStats, CorpusBleu};

/// The signature sacreBLEU prints for the same settings.
pub fn signature(references: usize) -> String {
    SacreBleuSettings::default().signature(references)
}

/// Characters `13a` puts spaces around: `{|}~`, `[\]^_\``, space to `&`,
/// `(` to `+`, `:` to `@`, and `/`.
fn is_separated(c: char) -> bool {
    matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
}

/// Python's `str.split()` whitespace: Unicode whitespace plus the
/// information separators U+001C..U+001F, which Rust's `char::is_whitespace`
/// leaves out. The reference tools split on it (sacreBLEU's tokenizers, and
/// the `str.split()` of the NLTK-based BLEU fixtures).
pub fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Applies `re.sub(r'(A)(B)', replacement)` for single-character classes A,
/// B, as Python does: left to right, matches never overlapping.
fn substitute_pairs(
    text: &[char],
    first: impl Fn(char) -> bool,
    second: impl Fn(char) -> bool,
    replace: impl Fn(char, char, &mut Vec<char>),
) -> Vec<char> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 4);
    let mut i = 0;
    while i < text.len() {
        if i + 1 < text.len() && first(text[i]) && second(text[i + 1]) {
            replace(text[i], text[i + 1], &mut out);
            i += 2;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

/// The tokens of `line` under sacreBLEU's `13a` tokenizer.
pub fn tokenize_13a(line: &str) -> Vec<String> {
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let padded: Vec<char> = format!(" {line} ").chars().collect();
    let mut text = Vec::with_capacity(padded.len() * 2);
    for c in padded {
        if is_separated(c) {
            text.extend([' ', c, ' ']);
        } else {
            text.push(c);
        }
    }
    let digit = |c: char| c.is_ascii_digit();
    let period_or_comma = |c: char| c == '.' || c == ',';
    // Period and comma split off unless preceded by a digit…
    let text = substitute_pairs(
        &text,
        |c| !digit(c),
        period_or_comma,
        |a, b, out| out.extend([a, ' ', b, ' ']),
    );
    // …or followed by one.
    let text = substitute_pairs(
        &text,
        period_or_comma,
        |c| !digit(c),
        |a, b, out| out.extend([' ', a, ' ', b]),
    );
    // A dash after a digit.
    let text = substitute_pairs(
        &text,
        digit,
        |c| c == '-',
        |a, b, out| out.extend([a, ' ', b, ' ']),
    );
    let text: String = text.into_iter().collect();
    text.split(is_python_space)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// sacreBLEU's settings that agon exposes; the rest are the defaults
/// (13a, exp smoothing, BLEU-4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SacreBleuSettings {
    /// `lowercase=True` (`-lc`): case-insensitive, for systems that only
    /// produce lower case.
    pub lowercase: bool,
}

impl SacreBleuSettings {
    /// The signature sacreBLEU prints for these settings and `references`
    /// reference streams.
    pub fn signature(&self, references: usize) -> String {
        let case = if self.lowercase { "lc" } else { "mixed" };
        format!("nrefs:{references}|case:{case}|eff:no|tok:13a|smooth:exp|version:2.6.0")
    }

    /// Per-sentence BLEU statistics of raw-text `hypotheses` against raw-text
    /// reference streams (`references[k][i]` is reference k of hypothesis
    /// i); their sum scores as sacreBLEU's corpus BLEU.
    ///
    /// # Panics
    /// If a reference stream is not as long as `hypotheses`.
    pub fn sentence_stats<H: AsRef<str>, R: AsRef<str>>(
        &self,
        hypotheses: &[H],
        references: &[Vec<R>],
    ) -> Vec<BleuStats> {
        let mut ids: HashMap<String, u32> = HashMap::new();
        let lowercase = self.lowercase;
        let mut encode = |text: &str| -> Vec<u32> {
            let text = if lowercase {
                text.to_lowercase()
            } else {
                text.to_string()
            };
            tokenize_13a(&text)
                .into_iter()
                .map(|t| {
                    let next = ids.len() as u32;
                    *ids.entry(t).or_insert(next)
                })
                .collect()
        };
        let hypotheses: Vec<Vec<u32>> = hypotheses.iter().map(|h| encode(h.as_ref())).collect();
        let references: Vec<Vec<Vec<u32>>> = references
            .iter()
            .map(|stream| stream.iter().map(|r| encode(r.as_ref())).collect())
            .collect();
        sentence_stats(&hypotheses, &references)
    }

    /// sacreBLEU's `corpus_bleu` with these settings.
    pub fn corpus_bleu<H: AsRef<str>, R: AsRef<str>>(
        &self,
        hypotheses: &[H],
        references: &[Vec<R>],
    ) -> CorpusBleu {
        let mut total = BleuStats::default();
        for stats in self.sentence_stats(hypotheses, references) {
            total.add(&stats);
        }
        total.score()
    }
}

/// sacreBLEU's `corpus_bleu(hypotheses, [references…])` with the default
/// settings (13a, mixed case, exp smoothing): `references[k][i]` is
/// reference k of hypothesis i.
///
/// # Panics
/// If a reference stream is not as long as `hypotheses`.
pub fn corpus_bleu_13a<H: AsRef<str>, R: AsRef<str>>(
    hypotheses: &[H],
    references: &[Vec<R>],
) -> CorpusBleu {
    SacreBleuSettings::default().corpus_bleu(hypotheses, references)
}
