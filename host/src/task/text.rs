//! Unconditional real text (SeqGAN's poems and speeches, Texygen's COCO
//! captions): the tokenised training and test splits, and the metrics.
//!
//! Metrics of `eval_samples` generator samples (the end-of-sequence token
//! and what follows are not part of a hypothesis):
//! * `bleu{n}`: NLTK sentence BLEU-n of each sample against the whole test
//!   set, averaged (the Texygen protocol); `bleu{n}_fast`: against the first
//!   `fast_references` (500) test lines, as Texygen's default "fast" mode.
//! * `self_bleu{n}`: each sample against all the *other* samples;
//!   `self_bleu{n}_fast`: among the first `fast_references` samples only
//!   (Texygen's). Higher = less diverse.
//! * `nll_test`: the generator's per-token NLL of the test set (EOS included).
//!
//! Test words missing from the vocabulary stay distinct words in the BLEU
//! references (they never match a generated `<unk>`), so an `<unk>` earns no
//! BLEU credit.

use std::{collections::BTreeMap, collections::HashMap, path::Path};

use agon_sdk::{metrics::BleuReferences, VocabInfo};
use anyhow::{anyhow, bail};

use super::sampling::{per_token_nll, sample_many};
use crate::{
    components::Generator,
    config::{BleuConfig, TaskConfig},
    text::{keep_first, read_lines, vocabulary, LongLines, TokenizerConfig, Vocabulary},
};

/// Default number of samples per evaluation.
pub const DEFAULT_EVAL_SAMPLES: usize = 1000;

/// The tokenised splits; built before any component (the vocabulary decides
/// the components' sizes).
#[derive(Clone, Debug)]
pub struct TextData {
    pub tokenizer: TokenizerConfig,
    pub vocabulary: Vocabulary,
    /// Training sequences, each ending with EOS.
    pub train: Vec<Vec<u32>>,
    /// Lines in the training file (more than `train` holds under
    /// `task.train_limit` or `long_lines: skip`).
    pub train_file_lines: usize,
    /// Test sequences that fit in `max_len`, each ending with EOS (NLL-test).
    pub test: Vec<Vec<u32>>,
    /// Every test line as BLEU reference ids (no EOS; unknown words get ids
    /// of their own above the vocabulary).
    pub references: Vec<Vec<u32>>,
    pub max_len: u32,
}

fn required<'a>(path: &'a Option<std::path::PathBuf>, key: &str) -> anyhow::Result<&'a Path> {
    path.as_deref().ok_or_else(|| {
        anyhow!("task.{key} is missing: a text task needs train_data and test_data (one example per line)")
    })
}

/// Applies the length policy to `lines` of `path`: lines with more than
/// `max_tokens` tokens are refused, dropped or cut. Returns how many were.
fn limit_lengths(
    lines: &mut Vec<Vec<String>>,
    path: &Path,
    max_tokens: usize,
    policy: LongLines,
) -> anyhow::Result<usize> {
    if let Some(i) = lines.iter().position(|l| l.len() > max_tokens) {
        if policy == LongLines::Error {
            bail!(
                "data file {}:{}: {} tokens, more than the {max_tokens} that fit in task.max_len = {} (one place is the end-of-sequence token); raise task.max_len or set task.long_lines: skip or truncate",
                path.display(),
                i + 1,
                lines[i].len(),
                max_tokens + 1
            );
        }
    }
    let before = lines.len();
    let mut changed = 0;
    match policy {
        LongLines::Skip => lines.retain(|l| l.len() <= max_tokens),
        LongLines::Truncate | LongLines::Error => {
            for line in lines.iter_mut().filter(|l| l.len() > max_tokens) {
                line.truncate(max_tokens);
                changed += 1;
            }
        }
    }
    if lines.is_empty() {
        bail!(
            "data file {}: no line fits in task.max_len = {}; raise task.max_len",
            path.display(),
            max_tokens + 1
        );
    }
    Ok(changed + before - lines.len())
}

impl TextData {
    /// Reads and tokenises the splits. The vocabulary is built from the
    /// training file; `saved` (a run's `vocab.txt`) must equal it.
    pub fn load(task: &TaskConfig, saved: Option<(&Vocabulary, &Path)>) -> anyhow::Result<Self> {
        let tokenizer = task.tokenizer.clone().unwrap_or_default();
        let train_path = required(&task.train_data, "train_data")?;
        let test_path = required(&task.test_data, "test_data")?;
        let mut train_lines = read_lines(train_path, &tokenizer)?;
        let train_file_lines = keep_first(&mut train_lines, task.train_limit, train_path);
        let test_lines = read_lines(test_path, &tokenizer)?;
        let longest = train_lines.iter().map(Vec::len).max().unwrap_or(0);
        let max_len = task.max_len.unwrap_or(longest as u32 + 1);
        if max_len < 2 {
            bail!("task.max_len is {max_len}; a text task needs at least 2 (one token and the end-of-sequence token)");
        }
        let policy = task.long_lines.unwrap_or_default();
        let max_tokens = max_len as usize - 1;
        let changed = limit_lengths(&mut train_lines, train_path, max_tokens, policy)?;
        if changed > 0 {
            crate::notes::data_note(&format!(
                "{changed} of the lines of {} are longer than {max_tokens} tokens and were {} (task.long_lines)",
                train_path.display(),
                if policy == LongLines::Skip { "skipped" } else { "truncated" }
            ));
        }
        let vocabulary = Vocabulary::build(
            train_lines.iter().map(Vec::as_slice),
            task.min_count.unwrap_or(1),
            task.vocab_size.map(|v| v as usize),
        );
        if let Some((saved, saved_path)) = saved {
            if saved != &vocabulary {
                bail!(
                    "the vocabulary built from {} ({} ids) differs from the run's {} ({} ids): the training file or the tokenizer settings changed since the run started; restore them, or start a new run",
                    train_path.display(),
                    vocabulary.len(),
                    saved_path.display(),
                    saved.len()
                );
            }
        }
        let encode = |line: &[String]| -> Vec<u32> {
            line.iter()
                .map(|t| vocabulary.id(t))
                .chain(std::iter::once(vocabulary::EOS))
                .collect()
        };
        let train = train_lines.iter().map(|l| encode(l)).collect();
        let test = test_lines
            .iter()
            .filter(|l| l.len() <= max_tokens)
            .map(|l| encode(l))
            .collect();
        let mut unknown: HashMap<&str, u32> = HashMap::new();
        let references = test_lines
            .iter()
            .map(|line| {
                line.iter()
                    .map(|t| {
                        vocabulary.get(t).unwrap_or_else(|| {
                            let next = (vocabulary.len() + unknown.len()) as u32;
                            *unknown.entry(t.as_str()).or_insert(next)
                        })
                    })
                    .collect()
            })
            .collect();
        Ok(TextData {
            tokenizer,
            vocabulary,
            train,
            train_file_lines,
            test,
            references,
            max_len,
        })
    }

    /// The vocabulary as components see it.
    pub fn vocab_info(&self) -> VocabInfo {
        vocab_info(&self.vocabulary)
    }

    /// A sample's tokens as text (up to its end-of-sequence token).
    pub fn decode(&self, ids: &[u32]) -> String {
        let tokens: Vec<&str> = hypothesis(ids)
            .iter()
            .map(|&id| self.vocabulary.token(id))
            .collect();
        self.tokenizer.detokenize(&tokens)
    }
}

/// A text vocabulary as components see it.
pub fn vocab_info(vocabulary: &Vocabulary) -> VocabInfo {
    use abi_stable::std_types::ROption::RSome;
    VocabInfo {
        size: vocabulary.len() as u32,
        bos: vocabulary::BOS,
        eos: RSome(vocabulary::EOS),
        pad: RSome(vocabulary::PAD),
        unk: RSome(vocabulary::UNK),
    }
}

/// A sample without its end-of-sequence token and what follows.
pub fn hypothesis(ids: &[u32]) -> &[u32] {
    let end = ids
        .iter()
        .position(|&id| id == vocabulary::EOS)
        .unwrap_or(ids.len());
    &ids[..end]
}

/// Per-sample scores of one set of samples, for means and paired tests.
#[derive(Clone, Debug, Default)]
pub struct SampleScores {
    /// Metric name (`bleu2`, `self_bleu2_fast`…) → one score per sample
    /// (the `_fast` Self-BLEU has one per sample among the first 500).
    pub per_sample: BTreeMap<String, Vec<f64>>,
}

impl SampleScores {
    /// The mean of every metric.
    pub fn means(&self) -> BTreeMap<String, f64> {
        self.per_sample
            .iter()
            .map(|(name, values)| {
                let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
                (name.clone(), mean)
            })
            .collect()
    }
}

/// The text task during training and evaluation.
pub struct TextTask {
    pub data: TextData,
    pub bleu: BleuConfig,
    pub eval_samples: usize,
    full: BleuReferences,
    fast: BleuReferences,
}

impl TextTask {
    pub fn new(data: TextData, bleu: BleuConfig, eval_samples: usize) -> Self {
        let order = bleu.orders.iter().copied().max().unwrap_or(4);
        let fast_count = bleu.fast_references.min(data.references.len());
        TextTask {
            full: BleuReferences::new(&data.references, order),
            fast: BleuReferences::new(&data.references[..fast_count], order),
            data,
            bleu,
            eval_samples,
        }
    }

    /// BLEU and Self-BLEU of every sample.
    pub fn score_samples(&self, samples: &[Vec<u32>]) -> SampleScores {
        let hypotheses: Vec<&[u32]> = samples.iter().map(|s| hypothesis(s)).collect();
        let fast_count = self.bleu.fast_references.min(hypotheses.len());
        let order = self.full.max_order();
        let among_all = BleuReferences::new(&hypotheses, order);
        let among_fast = BleuReferences::new(&hypotheses[..fast_count], order);
        let mut per_sample: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        let mut push = |prefix: &str, suffix: &str, scores: Vec<f64>| {
            for &n in &self.bleu.orders {
                per_sample
                    .entry(format!("{prefix}{n}{suffix}"))
                    .or_default()
                    .push(scores[n - 1]);
            }
        };
        for (i, h) in hypotheses.iter().enumerate() {
            push("bleu", "", self.full.sentence_bleu(h));
            push("bleu", "_fast", self.fast.sentence_bleu(h));
            if hypotheses.len() > 1 {
                push("self_bleu", "", among_all.sentence_bleu_excluding(h, i));
            }
            if i < fast_count && fast_count > 1 {
                push(
                    "self_bleu",
                    "_fast",
                    among_fast.sentence_bleu_excluding(h, i),
                );
            }
        }
        SampleScores { per_sample }
    }

    /// `eval_samples` samples at `temperature`: their scores, and NLL-test.
    pub fn evaluate_at(
        &mut self,
        generator: &mut Generator,
        samples: usize,
        temperature: f32,
        seed: u64,
    ) -> anyhow::Result<(Vec<Vec<u32>>, SampleScores, f64)> {
        let drawn = sample_many(generator, samples, self.data.max_len, temperature, seed)?;
        let scores = self.score_samples(&drawn);
        let nll_test = per_token_nll(generator, &self.data.test, None)?;
        Ok((drawn, scores, nll_test))
    }

    /// The metrics of a training-time evaluation.
    pub fn evaluate(
        &mut self,
        generator: &mut Generator,
        seed: u64,
    ) -> anyhow::Result<BTreeMap<String, f64>> {
        let (_, scores, nll_test) = self.evaluate_at(generator, self.eval_samples, 1.0, seed)?;
        let mut means = scores.means();
        means.insert("nll_test".to_string(), nll_test);
        Ok(means)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task_config(train: &Path, test: &Path, extra: &str) -> TaskConfig {
        let text = format!(
            "kind: text\ntrain_data: {}\ntest_data: {}\n{extra}",
            train.display(),
            test.display()
        );
        agon_sdk::yaml::from_str(&text).unwrap()
    }

    fn files(
        train: &str,
        test: &str,
    ) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("train.txt"), dir.path().join("test.txt"));
        std::fs::write(&a, train).unwrap();
        std::fs::write(&b, test).unwrap();
        (dir, a, b)
    }

    #[test]
    fn splits_are_encoded_with_eos_and_unknown_test_words_stay_distinct() {
        let (_dir, train, test) = files("a dog runs.\na cat sits.\n", "a bird sings.\n");
        let data = TextData::load(&task_config(&train, &test, ""), None).unwrap();
        // Longest training line: 4 tokens (+ EOS).
        assert_eq!(data.max_len, 5);
        assert_eq!(data.train[0].last(), Some(&vocabulary::EOS));
        assert_eq!(data.decode(&data.train[0]), "a dog runs .");
        let unk = vocabulary::UNK;
        assert_eq!(data.test[0][1], unk);
        assert_eq!(data.test[0].len(), 5);
        let reference = &data.references[0];
        assert!(reference[1] >= data.vocabulary.len() as u32 && reference[2] > reference[1]);
        assert_eq!(reference[3], data.vocabulary.id("."));
    }

    #[test]
    fn a_changed_training_file_is_caught_against_the_saved_vocabulary() {
        let (_dir, train, test) = files("a b\n", "a\n");
        let config = task_config(&train, &test, "");
        let saved = TextData::load(&config, None).unwrap().vocabulary;
        std::fs::write(&train, "a b c\n").unwrap();
        let err = TextData::load(&config, Some((&saved, Path::new("run/vocab.txt"))))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("run/vocab.txt") && err.contains("changed"),
            "{err}"
        );
    }

    #[test]
    fn long_lines_follow_the_policy() {
        let (_dir, train, test) = files("a b c d\na b\n", "a\n");
        let err = TextData::load(&task_config(&train, &test, "max_len: 3\n"), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("train.txt:1: 4 tokens") && err.contains("long_lines"),
            "{err}"
        );
        let skipped = TextData::load(
            &task_config(&train, &test, "max_len: 3\nlong_lines: skip\n"),
            None,
        )
        .unwrap();
        assert_eq!(skipped.train.len(), 1);
    }

    #[test]
    fn copies_of_the_test_set_score_one_and_self_bleu_excludes_the_sample_itself() {
        let (_dir, train, test) = files(
            "the cat sat on the mat\na dog ran in the park\n",
            "the cat sat on the mat\na dog ran in the park\n",
        );
        let data = TextData::load(&task_config(&train, &test, ""), None).unwrap();
        let samples = data.train.clone();
        let task = TextTask::new(data, BleuConfig::default(), 2);
        let means = task.score_samples(&samples).means();
        assert!((means["bleu2"] - 1.0).abs() < 1e-12, "{means:?}");
        // Two different sentences: each one's only other reference shares
        // just "the", so Self-BLEU is far below 1.
        assert!(means["self_bleu2"] < 0.5, "{means:?}");
        let same = vec![samples[0].clone(), samples[0].clone()];
        assert!((task.score_samples(&same).means()["self_bleu2"] - 1.0).abs() < 1e-12);
    }
}
