//! Conditional real text — translation (Multi30k), summarization
//! (DialogSum), dialogue (DailyDialog): line-aligned source and target
//! files, one joint vocabulary, and the metrics of outputs decoded from the
//! test sources.
//!
//! * `bleu`: sacreBLEU's corpus BLEU (13a tokenizer; lower-cased as `-lc`
//!   when the tokenizer lower-cases, so a lower-case system is not punished
//!   for case it never produces), on the detokenised outputs against the raw
//!   reference lines, every reference file a stream; divided by 100, so
//!   that every metric agon reports is on one 0–1 scale;
//! * `rouge1`, `rouge2`, `rouge_l`: rouge-score's F1 (stemmed when
//!   `evaluation.rouge_stemmer` says so), best
//!   over the references (`score_multi`), averaged over sentences;
//! * `distinct1`, `distinct2`: distinct n-grams / all n-grams of the outputs;
//! * `nll_test`: the generator's per-token NLL of the test targets given
//!   their sources (pairs whose target fits `max_len`).
//!
//! Sources are cut to `max_source_len` − 1 tokens plus EOS (documents and
//! long contexts are routinely truncated); the target length policy is
//! `task.long_lines`, applied to whole pairs.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use agon_sdk::{
    metrics::{distinct_n, BleuStats, RougeMetric, SacreBleuSettings},
    VocabInfo,
};
use anyhow::{anyhow, bail};

use super::{
    sampling::{decode_many, per_token_nll},
    text::{hypothesis, vocab_info},
    unigram_baseline::{below_baseline, collapse_diagnosis, unigram_nll},
};
use crate::{
    components::Generator,
    config::{ConditionalEvaluation, ConditionalMetric, TaskConfig},
    text::{keep_first, read_aligned_lines, vocabulary, LongLines, TokenizerConfig, Vocabulary},
};

/// Default number of test sources decoded per training-time evaluation.
pub const DEFAULT_EVAL_SOURCES: usize = 1000;

/// The tokenised splits of a conditional task.
#[derive(Clone, Debug)]
pub struct ParallelData {
    pub tokenizer: TokenizerConfig,
    pub vocabulary: Vocabulary,
    /// Training sources and targets, row-aligned, each ending with EOS.
    pub train_sources: Vec<Vec<u32>>,
    pub train_targets: Vec<Vec<u32>>,
    /// Pairs in the training files (more than the training set holds under
    /// `task.train_limit` or `long_lines: skip`).
    pub train_file_lines: usize,
    /// Every test source (cut to `max_source_len`), ending with EOS.
    pub test_sources: Vec<Vec<u32>>,
    /// `references[k][i]`: reference k of test source i, raw text.
    pub references: Vec<Vec<String>>,
    /// Test pairs whose target fits `max_len` (for NLL-test).
    pub nll_sources: Vec<Vec<u32>>,
    pub nll_targets: Vec<Vec<u32>>,
    /// NLL-test of a model that knows only token frequencies (see
    /// `unigram_baseline`).
    pub unigram_nll_test: f64,
    pub max_len: u32,
    pub max_source_len: u32,
}

fn required<'a>(path: &'a Option<PathBuf>, key: &str) -> anyhow::Result<&'a Path> {
    path.as_deref().ok_or_else(|| {
        anyhow!("task.{key} is missing: a conditional task needs train_source, train_data, test_source and test_data (line-aligned files, one example per line)")
    })
}

/// Refuses line-aligned files whose line counts differ.
fn check_aligned(a: (&Path, usize), b: (&Path, usize)) -> anyhow::Result<()> {
    if a.1 != b.1 {
        bail!(
            "data files {} ({} lines) and {} ({} lines) must be line-aligned (line i of one pairs with line i of the other); fix the files so they have the same number of lines",
            a.0.display(),
            a.1,
            b.0.display(),
            b.1
        );
    }
    Ok(())
}

/// The raw lines of a reference file (an empty reference would count as a
/// zero-length reference in BLEU's brevity penalty: refused).
fn raw_lines(path: &Path) -> anyhow::Result<Vec<String>> {
    let bytes = crate::data::read_data_file(path)?;
    let lines: Vec<String> = crate::data::utf8_text(&bytes, path)?
        .lines()
        .map(str::to_string)
        .collect();
    let blank = |l: &String| l.chars().all(agon_sdk::metrics::is_python_space);
    if let Some(i) = lines.iter().position(blank) {
        bail!(
            "data file {}:{}: empty line; every line must hold one reference (remove the line and its source)",
            path.display(),
            i + 1
        );
    }
    Ok(lines)
}

/// Refuses one file as both sides of a split: sources and targets are two
/// line-aligned files, and a file of pairs (a TSV) read as both would train
/// a model to copy its lines, columns and all.
fn check_two_files(
    (source_key, source): (&str, &Path),
    (target_key, target): (&str, &Path),
) -> anyhow::Result<()> {
    let same = match (source.canonicalize(), target.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => source == target,
    };
    if same {
        bail!(
            "task.{source_key} and task.{target_key} are the same file, {}: a conditional task reads its sources and its targets from two files, line i of one the source of line i of the other. For a file of tab-separated pairs, write each column to a file of its own (e.g. `tail -n +2 pairs.tsv | cut -f2 > train.src`, `… | cut -f3 > train.tgt`; `tail` drops a header) and name those",
            source.display()
        );
    }
    Ok(())
}

impl ParallelData {
    /// Reads and tokenises the splits. The vocabulary is built from the
    /// training sources and targets; `saved` (a run's `vocab.txt`) must
    /// equal it.
    pub fn load(task: &TaskConfig, saved: Option<(&Vocabulary, &Path)>) -> anyhow::Result<Self> {
        let tokenizer = task.tokenizer.clone().unwrap_or_default();
        let train_source_path = required(&task.train_source, "train_source")?;
        let train_path = required(&task.train_data, "train_data")?;
        let test_source_path = required(&task.test_source, "test_source")?;
        let test_path = required(&task.test_data, "test_data")?;
        check_two_files(
            ("train_source", train_source_path),
            ("train_data", train_path),
        )?;
        check_two_files(("test_source", test_source_path), ("test_data", test_path))?;
        let mut train_sources =
            read_aligned_lines(train_source_path, Some(train_path), &tokenizer)?;
        let mut train_targets =
            read_aligned_lines(train_path, Some(train_source_path), &tokenizer)?;
        check_aligned(
            (train_source_path, train_sources.len()),
            (train_path, train_targets.len()),
        )?;
        let train_file_lines = keep_first(&mut train_sources, task.train_limit, train_path);
        train_targets.truncate(train_sources.len()); // line-aligned: the same pairs
        let test_source_lines = read_aligned_lines(test_source_path, Some(test_path), &tokenizer)?;
        let test_target_lines = read_aligned_lines(test_path, Some(test_source_path), &tokenizer)?;
        check_aligned(
            (test_source_path, test_source_lines.len()),
            (test_path, test_target_lines.len()),
        )?;
        let mut references = vec![raw_lines(test_path)?];
        for extra in task.extra_references.iter().flatten() {
            let lines = raw_lines(extra)?;
            check_aligned((test_path, references[0].len()), (extra, lines.len()))?;
            references.push(lines);
        }

        let longest = |lines: &[Vec<String>]| lines.iter().map(Vec::len).max().unwrap_or(0) as u32;
        let max_len = task.max_len.unwrap_or(longest(&train_targets) + 1);
        let max_source_len = task.max_source_len.unwrap_or(longest(&train_sources) + 1);
        for (key, value) in [("max_len", max_len), ("max_source_len", max_source_len)] {
            if value < 2 {
                bail!("task.{key} is {value}; a conditional task needs at least 2 (one token and the end-of-sequence token)");
            }
        }
        let max_tokens = max_len as usize - 1;
        let policy = task.long_lines.unwrap_or_default();
        if let Some(i) = train_targets.iter().position(|l| l.len() > max_tokens) {
            if policy == LongLines::Error {
                bail!(
                    "data file {}:{}: {} tokens, more than the {max_tokens} that fit in task.max_len = {max_len} (one place is the end-of-sequence token); raise task.max_len or set task.long_lines: skip or truncate",
                    train_path.display(),
                    i + 1,
                    train_targets[i].len(),
                );
            }
            let long = train_targets
                .iter()
                .filter(|l| l.len() > max_tokens)
                .count();
            if policy == LongLines::Skip {
                let keep: Vec<bool> = train_targets
                    .iter()
                    .map(|l| l.len() <= max_tokens)
                    .collect();
                let mut flags = keep.iter();
                train_sources.retain(|_| *flags.next().unwrap_or(&false));
                train_targets.retain(|l| l.len() <= max_tokens);
            }
            crate::notes::data_note(&format!(
                "{long} of the targets of {} are longer than {max_tokens} tokens; their pairs were {} (task.long_lines)",
                train_path.display(),
                if policy == LongLines::Skip { "skipped" } else { "truncated" }
            ));
            if train_targets.is_empty() {
                bail!(
                    "data file {}: no target fits in task.max_len = {max_len}; raise task.max_len",
                    train_path.display()
                );
            }
        }
        let source_tokens = max_source_len as usize - 1;
        for line in train_sources.iter_mut() {
            line.truncate(source_tokens);
        }
        for line in train_targets.iter_mut() {
            line.truncate(max_tokens);
        }
        let vocabulary = Vocabulary::build(
            train_sources
                .iter()
                .chain(train_targets.iter())
                .map(Vec::as_slice),
            task.min_count.unwrap_or(1),
            task.vocab_size.map(|v| v as usize),
        );
        if let Some((saved, saved_path)) = saved {
            if saved != &vocabulary {
                bail!(
                    "the vocabulary built from {} and {} ({} ids) differs from the run's {} ({} ids): the training files or the tokenizer settings changed since the run started; restore them, or start a new run",
                    train_source_path.display(),
                    train_path.display(),
                    vocabulary.len(),
                    saved_path.display(),
                    saved.len()
                );
            }
        }
        let encode = |line: &[String], limit: usize| -> Vec<u32> {
            line.iter()
                .take(limit)
                .map(|t| vocabulary.id(t))
                .chain(std::iter::once(vocabulary::EOS))
                .collect()
        };
        let test_sources: Vec<Vec<u32>> = test_source_lines
            .iter()
            .map(|l| encode(l, source_tokens))
            .collect();
        let (nll_sources, nll_targets): (Vec<_>, Vec<_>) = test_sources
            .iter()
            .zip(&test_target_lines)
            .filter(|(_, target)| target.len() <= max_tokens)
            .map(|(source, target)| (source.clone(), encode(target, max_tokens)))
            .unzip();
        if nll_targets.is_empty() {
            bail!(
                "data file {}: no test target fits in task.max_len = {max_len} (NLL-test would have nothing to score); raise task.max_len",
                test_path.display()
            );
        }
        let train_targets: Vec<Vec<u32>> = train_targets
            .iter()
            .map(|l| encode(l, max_tokens))
            .collect();
        let unigram_nll_test = unigram_nll(&train_targets, &nll_targets, vocabulary.len());
        Ok(ParallelData {
            train_sources: train_sources
                .iter()
                .map(|l| encode(l, source_tokens))
                .collect(),
            train_targets,
            train_file_lines,
            test_sources,
            references,
            nll_sources,
            nll_targets,
            unigram_nll_test,
            tokenizer,
            vocabulary,
            max_len,
            max_source_len,
        })
    }

    /// The vocabulary as components see it.
    pub fn vocab_info(&self) -> VocabInfo {
        vocab_info(&self.vocabulary)
    }

    /// An output's tokens as text (up to its end-of-sequence token).
    pub fn decode(&self, ids: &[u32]) -> String {
        let tokens: Vec<&str> = hypothesis(ids)
            .iter()
            .map(|&id| self.vocabulary.token(id))
            .collect();
        self.tokenizer.detokenize(&tokens)
    }

    /// sacreBLEU's settings for this task's outputs.
    pub fn sacrebleu(&self) -> SacreBleuSettings {
        SacreBleuSettings {
            lowercase: self.tokenizer.lowercase,
        }
    }
}

/// Per-sentence scores of the outputs for the first `n` test sources: what
/// corpus metrics are summed from and paired tests resample.
#[derive(Clone, Debug, Default)]
pub struct OutputScores {
    /// The outputs, detokenised.
    pub outputs: Vec<String>,
    /// The outputs' ids without EOS (distinct-n).
    pub output_ids: Vec<Vec<u32>>,
    /// The same as the vocabulary spells them: what outputs of runs with
    /// different vocabularies are compared by.
    pub output_tokens: Vec<Vec<String>>,
    /// sacreBLEU sufficient statistics per sentence (`bleu` metric).
    pub bleu: Vec<BleuStats>,
    /// ROUGE-1/2/L F1 per sentence (`rouge` metric).
    pub rouge: BTreeMap<String, Vec<f64>>,
}

/// Corpus BLEU of some sentences' statistics, on agon's 0–1 scale of every
/// metric: sacreBLEU's score divided by 100.
pub fn corpus_bleu_of(stats: &[BleuStats], indices: impl Iterator<Item = usize>) -> f64 {
    let mut total = BleuStats::default();
    for i in indices {
        total.add(&stats[i]);
    }
    total.score().score / 100.0
}

/// One sentence's BLEU statistics as per_sample.json keeps them: clipped
/// matches of orders 1–4, hypothesis n-grams of orders 1–4, hypothesis
/// length, closest reference length.
pub fn bleu_statistics_row(stats: &BleuStats) -> Vec<u64> {
    let mut row = Vec::with_capacity(10);
    row.extend(stats.correct);
    row.extend(stats.total);
    row.extend([stats.hypothesis_len as u64, stats.reference_len as u64]);
    row
}

/// [`bleu_statistics_row`] read back; `None` if it is not one.
pub fn bleu_statistics_of(row: &[u64]) -> Option<BleuStats> {
    let [c1, c2, c3, c4, t1, t2, t3, t4, hypothesis, reference] = *row else {
        return None;
    };
    Some(BleuStats {
        correct: [c1, c2, c3, c4],
        total: [t1, t2, t3, t4],
        hypothesis_len: usize::try_from(hypothesis).ok()?,
        reference_len: usize::try_from(reference).ok()?,
    })
}

impl OutputScores {
    /// Every metric of `metrics` over the outputs.
    pub fn metrics(&self, metrics: &[ConditionalMetric]) -> BTreeMap<String, f64> {
        let all = || 0..self.outputs.len();
        let mut values = BTreeMap::new();
        for metric in metrics {
            match metric {
                ConditionalMetric::Bleu => {
                    values.insert("bleu".into(), corpus_bleu_of(&self.bleu, all()));
                }
                ConditionalMetric::Rouge => {
                    for (name, scores) in &self.rouge {
                        let mean = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
                        values.insert(name.clone(), mean);
                    }
                }
                ConditionalMetric::Distinct => {
                    for n in [1, 2] {
                        values.insert(format!("distinct{n}"), distinct_n(&self.output_ids, n));
                    }
                }
            }
        }
        values
    }
}

/// The conditional task during training and evaluation.
pub struct ConditionalTask {
    pub data: ParallelData,
    pub evaluation: ConditionalEvaluation,
    /// Test sources decoded per training-time evaluation.
    pub eval_sources: usize,
    /// The verdict (below the unigram baseline or not) whose whole
    /// diagnosis a training-time collapse warning last gave: later warnings
    /// with the same verdict give the numbers only.
    collapse_explained: Option<bool>,
}

impl ConditionalTask {
    pub fn new(data: ParallelData, evaluation: ConditionalEvaluation, eval_sources: usize) -> Self {
        ConditionalTask {
            data,
            evaluation,
            eval_sources,
            collapse_explained: None,
        }
    }

    /// Why a generator with this NLL-test may give one output for every
    /// source (the end of the collapse warning).
    pub fn collapse_diagnosis(&self, nll_test: f64) -> String {
        collapse_diagnosis(nll_test, self.data.unigram_nll_test)
    }

    /// The metric shown in progress lines and tested first (name, key).
    pub fn headline(&self) -> (String, String) {
        match self.evaluation.metrics.first() {
            Some(ConditionalMetric::Rouge) => ("ROUGE-L".into(), "rouge_l".into()),
            Some(ConditionalMetric::Distinct) => ("distinct-2".into(), "distinct2".into()),
            _ => ("BLEU".into(), "bleu".into()),
        }
    }

    /// Scores `outputs` for the first `outputs.len()` test sources.
    pub fn score_outputs(&self, outputs: &[Vec<u32>]) -> OutputScores {
        let n = outputs.len();
        let texts: Vec<String> = outputs.iter().map(|o| self.data.decode(o)).collect();
        let references: Vec<Vec<&str>> = self
            .data
            .references
            .iter()
            .map(|stream| stream[..n].iter().map(String::as_str).collect())
            .collect();
        let mut scores = OutputScores {
            output_ids: outputs.iter().map(|o| hypothesis(o).to_vec()).collect(),
            output_tokens: outputs
                .iter()
                .map(|o| {
                    hypothesis(o)
                        .iter()
                        .map(|&id| self.data.vocabulary.token(id).to_string())
                        .collect()
                })
                .collect(),
            ..OutputScores::default()
        };
        if self.evaluation.metrics.contains(&ConditionalMetric::Bleu) {
            scores.bleu = self.data.sacrebleu().sentence_stats(&texts, &references);
        }
        if self.evaluation.metrics.contains(&ConditionalMetric::Rouge) {
            let metric = RougeMetric::new(self.evaluation.rouge_stemmer);
            for (i, text) in texts.iter().enumerate() {
                let refs: Vec<&str> = references.iter().map(|stream| stream[i]).collect();
                let rouge = metric.score_multi(&refs, text);
                for (name, value) in [
                    ("rouge1", rouge.rouge1.f1),
                    ("rouge2", rouge.rouge2.f1),
                    ("rouge_l", rouge.rouge_l.f1),
                ] {
                    scores.rouge.entry(name.into()).or_default().push(value);
                }
            }
        }
        scores.outputs = texts;
        scores
    }

    /// Outputs for the first `count` test sources, decoded as configured.
    pub fn decode_test(
        &self,
        generator: &mut Generator,
        count: usize,
    ) -> anyhow::Result<Vec<Vec<u32>>> {
        let count = count.min(self.data.test_sources.len());
        decode_many(
            generator,
            &self.data.test_sources[..count],
            self.data.max_len,
            self.evaluation.beam_size,
            self.evaluation.length_penalty,
        )
    }

    /// NLL-test: per-token NLL of the test targets given their sources.
    pub fn nll_test(&self, generator: &mut Generator) -> anyhow::Result<f64> {
        per_token_nll(
            generator,
            &self.data.nll_targets,
            Some(&self.data.nll_sources),
        )
    }

    /// The metrics of a training-time evaluation (deterministic decoding:
    /// no seed); `at` names it in a warning (`mle epoch 4`).
    pub fn evaluate(
        &mut self,
        generator: &mut Generator,
        at: &str,
    ) -> anyhow::Result<BTreeMap<String, f64>> {
        let outputs = self.decode_test(generator, self.eval_sources)?;
        let scores = self.score_outputs(&outputs);
        let nll_test = self.nll_test(generator)?;
        // A run that stays collapsed warns at every evaluation: the whole
        // diagnosis when its verdict is new, else the numbers and the
        // verdict.
        let baseline = self.data.unigram_nll_test;
        let verdict = below_baseline(nll_test, baseline);
        let diagnosis = match self.collapse_explained == Some(verdict) {
            false => self.collapse_diagnosis(nll_test),
            true => format!(
                "its NLL-test ({nll_test:.3}) is still {} the unigram baseline's {baseline:.3} (see the earlier warning)",
                if verdict { "below" } else { "no better than" }
            ),
        };
        let warned = crate::notes::warn_if_all_same(
            &format!("the generator at {at}"),
            &scores.outputs,
            &diagnosis,
        );
        if warned.is_some() {
            self.collapse_explained = Some(verdict);
        }
        let mut values = scores.metrics(&self.evaluation.metrics);
        values.insert("nll_test".into(), nll_test);
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bleu_statistics_rows_read_back_to_the_same_statistics() {
        let stats = BleuStats::sentence(&[1, 2, 3, 4, 2], &[vec![1, 2, 3], vec![2, 3, 4, 2, 9, 9]]);
        let row = bleu_statistics_row(&stats);
        assert_eq!(row.len(), 10);
        assert_eq!(bleu_statistics_of(&row), Some(stats));
        assert_eq!(bleu_statistics_of(&row[..9]), None);
    }

    fn write_files(dir: &Path, files: &[(&str, &str)]) {
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }

    fn config(dir: &Path, extra: &str) -> TaskConfig {
        let text = format!(
            "kind: conditional\ntrain_source: {d}/train.src\ntrain_data: {d}/train.tgt\ntest_source: {d}/test.src\ntest_data: {d}/test.tgt\n{extra}",
            d = dir.display()
        );
        agon_sdk::yaml::from_str(&text).unwrap()
    }

    #[test]
    fn pairs_share_one_vocabulary_and_sources_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        write_files(
            dir.path(),
            &[
                ("train.src", "ein hund läuft schnell\neine katze\n"),
                ("train.tgt", "a dog runs\na cat\n"),
                ("test.src", "ein vogel singt laut\n"),
                ("test.tgt", "a cat\n"),
            ],
        );
        let data = ParallelData::load(&config(dir.path(), "max_source_len: 3\n"), None).unwrap();
        assert_eq!(data.max_len, 4);
        let eos = vocabulary::EOS;
        // Cut to 2 tokens + EOS; both sides' words in one vocabulary.
        assert_eq!(data.train_sources[0].len(), 3);
        assert_eq!(data.train_sources[0][2], eos);
        assert_eq!(data.decode(&data.train_sources[0]), "ein hund");
        assert_eq!(data.decode(&data.train_targets[1]), "a cat");
        assert_eq!(data.test_sources[0][1], vocabulary::UNK);
        assert_eq!(data.references, vec![vec!["a cat".to_string()]]);
        assert_eq!(data.decode(&data.nll_targets[0]), "a cat");
        // No test target fits: NLL-test would score nothing.
        write_files(dir.path(), &[("test.tgt", "A bird sings loudly.\n")]);
        let err = ParallelData::load(&config(dir.path(), "max_source_len: 3\n"), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no test target fits in task.max_len = 4"),
            "{err}"
        );
    }

    #[test]
    fn misaligned_files_and_long_targets_are_refused_with_the_files_named() {
        let dir = tempfile::tempdir().unwrap();
        write_files(
            dir.path(),
            &[
                ("train.src", "a\nb\nc\n"),
                ("train.tgt", "x\ny\n"),
                ("test.src", "a\n"),
                ("test.tgt", "x\n"),
            ],
        );
        let err = ParallelData::load(&config(dir.path(), ""), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("train.src (3 lines)") && err.contains("train.tgt (2 lines)"),
            "{err}"
        );
        write_files(dir.path(), &[("train.tgt", "x\ny y y y\nz\n")]);
        let err = ParallelData::load(&config(dir.path(), "max_len: 3\n"), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("train.tgt:2: 4 tokens"), "{err}");
        let skipped =
            ParallelData::load(&config(dir.path(), "max_len: 3\nlong_lines: skip\n"), None)
                .unwrap();
        assert_eq!(skipped.train_targets.len(), 2);
        assert_eq!(skipped.decode(&skipped.train_sources[1]), "c");
    }

    #[test]
    fn outputs_equal_to_the_references_score_full_marks() {
        let dir = tempfile::tempdir().unwrap();
        write_files(
            dir.path(),
            &[
                ("train.src", "s t u\nv w\n"),
                (
                    "train.tgt",
                    "the cat sat on the mat .\na dog ran in the big park .\n",
                ),
                ("test.src", "s t u\nv w\n"),
                (
                    "test.tgt",
                    "The cat sat on the mat.\nA dog ran in the big park.\n",
                ),
                ("test2.tgt", "x\ny\n"),
            ],
        );
        let mut task_config = config(
            dir.path(),
            "tokenizer: {level: word, lowercase: true, split_punctuation: true}\n",
        );
        task_config.extra_references = Some(vec![dir.path().join("test2.tgt")]);
        let data = ParallelData::load(&task_config, None).unwrap();
        let evaluation = ConditionalEvaluation {
            metrics: vec![
                ConditionalMetric::Bleu,
                ConditionalMetric::Rouge,
                ConditionalMetric::Distinct,
            ],
            ..ConditionalEvaluation::default()
        };
        let task = ConditionalTask::new(data.clone(), evaluation.clone(), 2);
        let metrics = task
            .score_outputs(&data.train_targets)
            .metrics(&evaluation.metrics);
        // Lower-case outputs, true-case references: `-lc` BLEU is 100.
        assert!((metrics["bleu"] - 1.0).abs() < 1e-11, "{metrics:?}");
        assert!((metrics["rouge_l"] - 1.0).abs() < 1e-12, "{metrics:?}");
        assert!(
            (metrics["distinct1"] - 12.0 / 15.0).abs() < 1e-12,
            "{metrics:?}"
        );
        let swapped = vec![data.train_targets[1].clone(), data.train_targets[0].clone()];
        let worse = task.score_outputs(&swapped).metrics(&evaluation.metrics);
        assert!(worse["bleu"] < 0.2 && worse["rouge_l"] < 0.5, "{worse:?}");
    }
}
