//! `agon score`: the task metrics of a file of hypotheses against reference
//! files, without a run — the metric cores of `agon_sdk::metrics`, the ones
//! training and `agon eval` use, on text files.
//!
//! * `sacrebleu`: sacreBLEU's corpus BLEU on the raw lines (13a tokenizer,
//!   `exp` smoothing, `--lowercase` for `-lc`), every reference file a
//!   stream line-aligned with the hypotheses; with its signature.
//! * `rouge`: rouge-score's ROUGE-1/2/L F1 on the raw lines (its own
//!   tokenizer; `--rouge-stemmer` for `use_stemmer=True`), best over the
//!   line's references (`score_multi`), averaged over the lines.
//! * `bleu`: NLTK sentence BLEU-n (Texygen's protocol, as the text task):
//!   each hypothesis against **every** line of every reference file as one
//!   reference set, averaged.
//! * `self-bleu`: the same of each hypothesis against all the other
//!   hypotheses.
//! * `distinct`: distinct-1 and distinct-2 of the hypotheses.
//!
//! `bleu`, `self-bleu` and `distinct` see tokens of `--tokenizer`
//! (whitespace by default). Every score is on agon's 0–1 scale: sacreBLEU's
//! score is divided by 100.

use std::{
    collections::HashMap,
    fmt::Write as _,
    path::{Path, PathBuf},
};

use agon_sdk::metrics::{distinct_n, BleuReferences, CorpusBleu, RougeMetric, SacreBleuSettings};
use anyhow::bail;
use serde_json::{json, Value};

use crate::{
    cli::ScoreArgs,
    text::{Level, TokenizerConfig},
};

/// A metric family of `agon score`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Metric {
    SacreBleu,
    Rouge,
    Bleu,
    SelfBleu,
    Distinct,
}

/// Every metric by its command-line name.
const METRICS: [(&str, Metric); 5] = [
    ("sacrebleu", Metric::SacreBleu),
    ("rouge", Metric::Rouge),
    ("bleu", Metric::Bleu),
    ("self-bleu", Metric::SelfBleu),
    ("distinct", Metric::Distinct),
];

/// `--tokenizer` choices for `bleu`, `self-bleu` and `distinct`.
const TOKENIZERS: [&str; 3] = ["whitespace", "word", "char"];

impl Metric {
    fn name(self) -> &'static str {
        METRICS
            .iter()
            .find(|(_, m)| *m == self)
            .map(|(name, _)| *name)
            .expect("every metric is listed")
    }

    /// Scored line by line against the line's references.
    fn line_aligned(self) -> bool {
        matches!(self, Metric::SacreBleu | Metric::Rouge)
    }

    fn needs_references(self) -> bool {
        matches!(self, Metric::SacreBleu | Metric::Rouge | Metric::Bleu)
    }
}

fn known_metrics() -> String {
    METRICS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The metrics named by `--metric` (repeated or comma-separated), each once,
/// in the order given.
fn parse_metrics(names: &[String]) -> anyhow::Result<Vec<Metric>> {
    let mut metrics = Vec::new();
    for raw in names {
        let name = raw.trim().to_lowercase().replace('_', "-");
        if name.is_empty() {
            continue;
        }
        let Some(&(_, metric)) = METRICS.iter().find(|(known, _)| *known == name) else {
            let hint = agon_sdk::suggest::closest(&name, METRICS.iter().map(|(n, _)| *n))
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            bail!(
                "unknown metric `{raw}`{hint}; the metrics are {}",
                known_metrics()
            );
        };
        if !metrics.contains(&metric) {
            metrics.push(metric);
        }
    }
    if metrics.is_empty() {
        bail!("--metric names no metric; choose from {}", known_metrics());
    }
    Ok(metrics)
}

/// `--orders 2,3,4,5`: BLEU orders, each ≥ 1, each once.
fn parse_orders(text: &str) -> anyhow::Result<Vec<usize>> {
    let mut orders = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<usize>() {
            Ok(n) if n >= 1 => {
                if !orders.contains(&n) {
                    orders.push(n);
                }
            }
            _ => bail!(
                "--orders: `{part}` is not a BLEU order (a whole number, 1 or more); write e.g. --orders 2,3,4,5"
            ),
        }
    }
    if orders.is_empty() {
        bail!("--orders names no order; write e.g. --orders 2,3,4,5");
    }
    Ok(orders)
}

/// The tokenizer of `bleu`, `self-bleu` and `distinct`.
fn parse_tokenizer(name: &str, lowercase: bool) -> anyhow::Result<TokenizerConfig> {
    let (level, split_punctuation) = match name {
        "whitespace" => (Level::Word, false),
        "word" => (Level::Word, true),
        "char" => (Level::Char, false),
        _ => {
            let hint = agon_sdk::suggest::closest(name, TOKENIZERS)
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            bail!(
                "unknown tokenizer `{name}`{hint}; the tokenizers are {}",
                TOKENIZERS.join(", ")
            );
        }
    };
    Ok(TokenizerConfig {
        level,
        lowercase,
        split_punctuation,
    })
}

/// One input file's lines.
struct TextFile {
    path: PathBuf,
    lines: Vec<String>,
}

/// Reads `path` (the `role` names it in errors: "hypothesis", "reference").
/// An empty hypothesis is a system's empty output and is scored. An empty
/// (or blank) reference line is scored as the reference tools score it, a
/// zero-length reference, with a note: it is more often a misaligned or
/// damaged file than a reference.
fn read_text_file(path: &Path, role: &str) -> anyhow::Result<TextFile> {
    let what = format!("{role} file");
    let bytes = crate::data::read_named_file(path, &what)?;
    let text = crate::data::utf8_text_of(&bytes, path, &what)?;
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        bail!(
            "{role} file {} is empty; it needs one {role} per line",
            path.display()
        );
    }
    if role == "reference" {
        let blank: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].chars().all(agon_sdk::metrics::is_python_space))
            .collect();
        if let Some(first) = blank.first() {
            crate::notes::warn(&format!(
                "reference file {}:{}: empty or blank line{}; scored as a zero-length reference, as sacreBLEU, rouge-score and NLTK score it (check that the file is the one meant)",
                path.display(),
                first + 1,
                match blank.len() {
                    1 => String::new(),
                    n => format!(" (and {} more)", n - 1),
                }
            ));
        }
    }
    Ok(TextFile {
        path: path.to_path_buf(),
        lines,
    })
}

/// Token strings → ids, shared by hypotheses and references so that equal
/// tokens match.
#[derive(Default)]
struct Interner(HashMap<String, u32>);

impl Interner {
    fn ids(&mut self, tokens: Vec<String>) -> Vec<u32> {
        tokens
            .into_iter()
            .map(|t| {
                let next = self.0.len() as u32;
                *self.0.entry(t).or_insert(next)
            })
            .collect()
    }
}

/// One reported score.
struct Row {
    key: String,
    value: f64,
    what: String,
}

/// Everything `agon score` reports.
struct Report {
    hypotheses: (PathBuf, usize),
    references: Vec<(PathBuf, usize)>,
    rows: Vec<Row>,
    sacrebleu: Option<(CorpusBleu, String)>,
    settings: Value,
    tokens: Option<String>,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    sum / count.max(1) as f64
}

/// "1 line", "2 lines"; "1 hypothesis", "2 hypotheses".
fn plural(count: usize, word: &str) -> String {
    match (count, word) {
        (1, _) => format!("1 {word}"),
        (_, "hypothesis") => format!("{count} hypotheses"),
        _ => format!("{count} {word}s"),
    }
}

fn score(args: &ScoreArgs) -> anyhow::Result<Report> {
    let metrics = parse_metrics(&args.metrics)?;
    let uses_bleu = metrics.contains(&Metric::Bleu) || metrics.contains(&Metric::SelfBleu);
    let orders = if uses_bleu {
        parse_orders(&args.orders)?
    } else {
        Vec::new()
    };
    let tokenizer = parse_tokenizer(&args.tokenizer, args.lowercase)?;
    if args.refs.is_empty() {
        if let Some(metric) = metrics.iter().find(|m| m.needs_references()) {
            bail!(
                "--metric {} needs references: add --ref FILE{}",
                metric.name(),
                if metric.line_aligned() {
                    " (line i a reference of hypothesis i; repeat --ref for more references)"
                } else {
                    " (every line of every --ref file is one reference set)"
                }
            );
        }
    }
    let hypotheses = read_text_file(&args.hyp, "hypothesis")?;
    let references = if metrics.iter().any(|m| m.needs_references()) {
        args.refs
            .iter()
            .map(|path| read_text_file(path, "reference"))
            .collect::<anyhow::Result<Vec<_>>>()?
    } else {
        if !args.refs.is_empty() {
            eprintln!(
                "note: --ref is not used by {}",
                metrics
                    .iter()
                    .map(|m| m.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Vec::new()
    };
    let aligned: Vec<&str> = metrics
        .iter()
        .filter(|m| m.line_aligned())
        .map(|m| m.name())
        .collect();
    if !aligned.is_empty() {
        for reference in &references {
            if reference.lines.len() != hypotheses.lines.len() {
                bail!(
                    "{} needs references line-aligned with the hypotheses (line i of each --ref file is a reference of hypothesis i): {} has {} but {} has {}",
                    aligned.join(" and "),
                    hypotheses.path.display(),
                    plural(hypotheses.lines.len(), "line"),
                    reference.path.display(),
                    plural(reference.lines.len(), "line"),
                );
            }
        }
    }

    let n = hypotheses.lines.len();
    let streams: Vec<&[String]> = references.iter().map(|r| r.lines.as_slice()).collect();
    let mut rows = Vec::new();
    let mut sacrebleu = None;
    let mut interner = Interner::default();
    let hypothesis_ids: Vec<Vec<u32>> = if uses_bleu || metrics.contains(&Metric::Distinct) {
        hypotheses
            .lines
            .iter()
            .map(|l| interner.ids(tokenizer.tokenize(l)))
            .collect()
    } else {
        Vec::new()
    };
    let max_order = orders.iter().copied().max().unwrap_or(1);
    for metric in &metrics {
        match metric {
            Metric::SacreBleu => {
                let settings = SacreBleuSettings {
                    lowercase: args.lowercase,
                };
                let streams: Vec<Vec<&str>> = streams
                    .iter()
                    .map(|s| s.iter().map(String::as_str).collect())
                    .collect();
                let bleu = settings.corpus_bleu(&hypotheses.lines, &streams);
                let signature = settings.signature(streams.len());
                rows.push(Row {
                    key: "sacrebleu".into(),
                    value: bleu.score / 100.0,
                    what: format!(
                        "sacreBLEU corpus BLEU / 100 (sacreBLEU prints {:.2}), {signature}",
                        bleu.score
                    ),
                });
                sacrebleu = Some((bleu, signature));
            }
            Metric::Rouge => {
                let scorer = RougeMetric::new(args.rouge_stemmer);
                let mut f1 = [Vec::with_capacity(n), Vec::new(), Vec::new()];
                for (i, hypothesis) in hypotheses.lines.iter().enumerate() {
                    let refs: Vec<&str> = streams.iter().map(|s| s[i].as_str()).collect();
                    let rouge = scorer.score_multi(&refs, hypothesis);
                    f1[0].push(rouge.rouge1.f1);
                    f1[1].push(rouge.rouge2.f1);
                    f1[2].push(rouge.rouge_l.f1);
                }
                let stemming = if args.rouge_stemmer {
                    "Porter stemming"
                } else {
                    "no stemming"
                };
                for ((key, label), values) in [
                    ("rouge1", "ROUGE-1"),
                    ("rouge2", "ROUGE-2"),
                    ("rouge_l", "ROUGE-L"),
                ]
                .into_iter()
                .zip(f1)
                {
                    rows.push(Row {
                        key: key.into(),
                        value: mean(values.into_iter()),
                        what: format!(
                            "rouge-score {label} F1 ({stemming}), best of {} per line, mean of {}",
                            plural(streams.len(), "reference"),
                            plural(n, "line")
                        ),
                    });
                }
            }
            Metric::Bleu => {
                let reference_ids: Vec<Vec<u32>> = streams
                    .iter()
                    .flat_map(|s| s.iter())
                    .map(|l| interner.ids(tokenizer.tokenize(l)))
                    .collect();
                let set = BleuReferences::new(&reference_ids, max_order);
                let scores: Vec<Vec<f64>> = hypothesis_ids
                    .iter()
                    .map(|h| set.sentence_bleu(h))
                    .collect();
                for &order in &orders {
                    rows.push(Row {
                        key: format!("bleu{order}"),
                        value: mean(scores.iter().map(|s| s[order - 1])),
                        what: format!(
                            "NLTK sentence BLEU-{order} against all {} reference lines, mean of {} (Texygen)",
                            set.len(),
                            plural(n, "hypothesis")
                        ),
                    });
                }
            }
            Metric::SelfBleu => {
                if n < 2 {
                    bail!(
                        "self-bleu needs at least 2 hypotheses (each is scored against the others); {} has 1 line",
                        hypotheses.path.display()
                    );
                }
                let set = BleuReferences::new(&hypothesis_ids, max_order);
                let scores: Vec<Vec<f64>> = hypothesis_ids
                    .iter()
                    .enumerate()
                    .map(|(i, h)| set.sentence_bleu_excluding(h, i))
                    .collect();
                for &order in &orders {
                    rows.push(Row {
                        key: format!("self_bleu{order}"),
                        value: mean(scores.iter().map(|s| s[order - 1])),
                        what: format!(
                            "NLTK sentence BLEU-{order} of each hypothesis against the other {}, mean (Texygen; higher = less diverse)",
                            n - 1
                        ),
                    });
                }
            }
            Metric::Distinct => {
                for order in [1, 2] {
                    rows.push(Row {
                        key: format!("distinct{order}"),
                        value: distinct_n(&hypothesis_ids, order),
                        what: format!(
                            "distinct {order}-grams / all {order}-grams of the hypotheses"
                        ),
                    });
                }
            }
        }
    }
    let tokens = (uses_bleu || metrics.contains(&Metric::Distinct)).then(|| {
        let name = match (tokenizer.level, tokenizer.split_punctuation) {
            (Level::Char, _) => "characters (spaces ignored)",
            (Level::Word, true) => "agon's word tokens (punctuation split off)",
            (Level::Word, false) => "whitespace-separated tokens",
        };
        let case = if args.lowercase { ", lower-cased" } else { "" };
        format!("{name}{case}")
    });
    Ok(Report {
        hypotheses: (hypotheses.path, n),
        references: references
            .into_iter()
            .map(|r| {
                let count = r.lines.len();
                (r.path, count)
            })
            .collect(),
        rows,
        sacrebleu,
        settings: json!({
            "metrics": metrics.iter().map(|m| m.name()).collect::<Vec<_>>(),
            "orders": orders,
            "tokenizer": args.tokenizer,
            "lowercase": args.lowercase,
            "rouge_stemmer": args.rouge_stemmer,
        }),
        tokens,
    })
}

fn file_json((path, lines): &(PathBuf, usize)) -> Value {
    json!({ "file": path.display().to_string(), "lines": lines })
}

impl Report {
    fn to_json(&self) -> Value {
        let metrics: serde_json::Map<String, Value> = self
            .rows
            .iter()
            .map(|row| (row.key.clone(), json!(row.value)))
            .collect();
        let mut object = json!({
            "scale": "0-1 (sacreBLEU's score / 100)",
            "metrics": metrics,
            "hypotheses": file_json(&self.hypotheses),
            "references": self.references.iter().map(file_json).collect::<Vec<_>>(),
            "settings": self.settings,
        });
        if let Some((bleu, signature)) = &self.sacrebleu {
            object["sacrebleu"] = json!({
                "signature": signature,
                "precisions": bleu.precisions.iter().map(|p| p / 100.0).collect::<Vec<_>>(),
                "brevity_penalty": bleu.brevity_penalty,
                "hypothesis_length": bleu.hypothesis_len,
                "reference_length": bleu.reference_len,
            });
        }
        if let Some(tokens) = &self.tokens {
            object["tokens"] = json!(tokens);
        }
        object
    }

    fn table(&self) -> String {
        let mut out = String::new();
        let files = |files: &[(PathBuf, usize)]| {
            files
                .iter()
                .map(|(path, lines)| format!("{} ({})", path.display(), plural(*lines, "line")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "hypotheses: {}",
            files(std::slice::from_ref(&self.hypotheses))
        );
        if !self.references.is_empty() {
            let _ = writeln!(out, "references: {}", files(&self.references));
        }
        if let Some(tokens) = &self.tokens {
            let _ = writeln!(out, "bleu, self-bleu, distinct: {tokens}");
        }
        let width = self
            .rows
            .iter()
            .map(|r| r.key.len())
            .max()
            .unwrap_or(0)
            .max("metric".len());
        let _ = writeln!(out, "{:<width$}  {:>6}  what", "metric", "score");
        for row in &self.rows {
            let _ = writeln!(out, "{:<width$}  {:>6.4}  {}", row.key, row.value, row.what);
        }
        out.push_str(
            "every score is on agon's 0–1 scale (sacreBLEU's 0–100 score divided by 100)\n",
        );
        out
    }
}

/// Runs `agon score`.
pub fn run(args: ScoreArgs) -> anyhow::Result<()> {
    let report = score(&args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn metrics_parse_once_each_and_a_typo_gets_a_suggestion() {
        let metrics = parse_metrics(&names(&["rouge", "self_bleu", "Rouge"])).unwrap();
        assert_eq!(metrics, [Metric::Rouge, Metric::SelfBleu]);
        let err = parse_metrics(&names(&["sacrebelu"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("did you mean `sacrebleu`")
                && err.contains("sacrebleu, rouge, bleu, self-bleu, distinct"),
            "{err}"
        );
        assert!(parse_metrics(&names(&[""])).is_err());
    }

    #[test]
    fn orders_must_be_positive_whole_numbers() {
        assert_eq!(parse_orders("2, 3,3,5").unwrap(), [2, 3, 5]);
        for bad in ["0", "2,x", "", "-1"] {
            let err = parse_orders(bad).unwrap_err().to_string();
            assert!(err.contains("--orders"), "{bad}: {err}");
        }
    }

    #[test]
    fn tokenizers_split_as_documented() {
        let line = "A dog, barking.";
        let tokens = |name| parse_tokenizer(name, true).unwrap().tokenize(line);
        assert_eq!(tokens("whitespace"), ["a", "dog,", "barking."]);
        assert_eq!(tokens("word"), ["a", "dog", ",", "barking", "."]);
        assert_eq!(tokens("char").len(), 13);
        let err = parse_tokenizer("wrd", false).unwrap_err().to_string();
        assert!(err.contains("did you mean `word`"), "{err}");
    }
}
