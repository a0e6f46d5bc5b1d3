//! Caccia et al.'s global metrics ("Language GANs falling short", 2020),
//! with agon's own generator as the language model:
//!
//! * **LM score** (`lm_nll`): the per-token NLL of a model's samples under a
//!   language model trained on the real training data — the `--lm` run's
//!   generator. Low = samples the real-data model finds likely (quality).
//! * **Reverse LM score** (`reverse_lm_nll`): a fresh generator of the `--lm`
//!   run's architecture and schedule, trained on the model's samples only,
//!   scores the real test set. Low = the samples cover what real text does
//!   (quality and diversity); a model that repeats a few good sentences
//!   scores well on the first and badly on the second.
//!
//! The language model must not be one of the models compared (its own
//! samples would score best); train it as a separate MLE-only run on the
//! same task (another seed).

use std::path::{Path, PathBuf};

use agon_sdk::{seeds::derive_seed, Batch, MleOptions, TokenBatch};
use anyhow::{bail, Context};
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::{
    assemble::{self, load_run_generator, run_shape, shared_context, VOCAB_FILE},
    components::Generator,
    config::{ExperimentConfig, TaskKind},
    task::{
        sampling::{nll_per_sequence, per_token_nll, sample_many},
        TextData,
    },
};

/// What `agon eval --lm` is asked for.
#[derive(Clone, Debug)]
pub struct LmSettings {
    /// The run whose generator, trained on the real data, is the LM.
    pub run_dir: PathBuf,
    /// Reverse LM: MLE epochs over the samples (default: the LM run's
    /// `training.mle.epochs`; 0 skips the reverse LM score).
    pub reverse_epochs: Option<usize>,
    /// Reverse LM: samples drawn from each model to train on (default: as
    /// many as the task has training sequences).
    pub reverse_samples: Option<usize>,
}

/// The `--lm` run, opened and checked against the evaluated task.
pub struct LanguageModel {
    pub run_dir: PathBuf,
    config: ExperimentConfig,
    generator: Generator,
    reverse_epochs: usize,
    reverse_samples: Option<usize>,
}

impl LanguageModel {
    /// Opens `settings.run_dir` and checks that it is a text run on the
    /// task of `evaluated` (same test data, tokenizer and vocabulary), so
    /// that its ids mean the same words.
    pub fn open(settings: &LmSettings, evaluated: &Path) -> anyhow::Result<Self> {
        let lm_dir = &settings.run_dir;
        if lm_dir.join("manifest.json").exists() && !lm_dir.join("config.yaml").exists() {
            let runs = lm_dir.join("runs");
            let mut paths: Vec<String> = std::fs::read_dir(&runs)
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| entry.path().display().to_string())
                .collect();
            paths.sort();
            bail!(
                "--lm {}: a sweep directory, and the language model is one run: pass one of its runs ({})",
                lm_dir.display(),
                match paths.is_empty() {
                    true => format!("none has started yet in {}", runs.display()),
                    false => paths.join(", "),
                }
            );
        }
        let (config, _, generator) = load_run_generator(lm_dir, None)
            .with_context(|| format!("--lm {}: cannot load its generator", lm_dir.display()))?;
        let evaluated_config = assemble::open_config(evaluated)?;
        if config.task.kind != TaskKind::Text {
            bail!(
                "--lm {}: a {} run; the LM scores need a language model of a text task (an MLE-only run of the evaluated runs' task)",
                lm_dir.display(),
                config.task.kind.name()
            );
        }
        if config.task.test_data != evaluated_config.task.test_data
            || config.task.tokenizer != evaluated_config.task.tokenizer
        {
            bail!(
                "--lm {}: its task (test data {}, its tokenizer) is not the task of {}; train the language model on the evaluated runs' task",
                lm_dir.display(),
                config
                    .task
                    .test_data
                    .as_ref()
                    .map_or("none".into(), |p| p.display().to_string()),
                evaluated.display()
            );
        }
        let read = |dir: &Path| {
            let path = dir.join(VOCAB_FILE);
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))
        };
        if read(lm_dir)? != read(evaluated)? {
            bail!(
                "--lm {}: its {VOCAB_FILE} differs from {}'s, so the same id is another word in each; train the language model with the same task block (data, tokenizer, min_count, max_len)",
                lm_dir.display(),
                evaluated.join(VOCAB_FILE).display()
            );
        }
        if settings.reverse_samples == Some(0) {
            bail!("--reverse-lm-samples must be at least 1 (use --reverse-lm-epochs 0 to skip the reverse LM score)");
        }
        let reverse_epochs = settings
            .reverse_epochs
            .unwrap_or(config.training.mle.epochs);
        Ok(LanguageModel {
            run_dir: lm_dir.clone(),
            config,
            generator,
            reverse_epochs,
            reverse_samples: settings.reverse_samples,
        })
    }

    /// What eval.json's notes say of the two scores.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = vec![format!(
            "lm_nll: each sample's per-token NLL (nats) under the generator of {} (a language model of the real training data), averaged over samples; lower = likelier under real text (Caccia et al.'s LM score)",
            self.run_dir.display()
        )];
        if self.reverse_epochs > 0 {
            notes.push(format!(
                "reverse_lm_nll: per-token NLL (nats) of the test set under a fresh generator of {}'s config trained for {} epochs on the model's samples alone ({} samples, drawn at the evaluation's temperature with their own seed); lower = the samples cover real text (Caccia et al.'s reverse LM score)",
                self.run_dir.display(),
                self.reverse_epochs,
                self.reverse_samples
                    .map_or("as many as the task has training sequences".to_string(), |n| n.to_string())
            ));
        }
        notes
    }

    /// Each sample's per-token NLL under the language model (nats).
    pub fn lm_scores(&mut self, samples: &[Vec<u32>]) -> anyhow::Result<Vec<f64>> {
        nll_per_sequence(&mut self.generator, samples)
    }

    /// The reverse LM score of `generator` sampled at `temperature`: as
    /// many samples as the task has training sequences (or
    /// `--reverse-lm-samples`), drawn with a seed of their own derived from
    /// `seed` and the temperature, train a fresh generator that then scores
    /// the task's test set. `None` when the reverse score is off.
    pub fn reverse_score(
        &self,
        generator: &mut Generator,
        data: &TextData,
        temperature: f32,
        seed: u64,
        label: &str,
    ) -> anyhow::Result<Option<f64>> {
        if self.reverse_epochs == 0 {
            return Ok(None);
        }
        let count = self.reverse_samples.unwrap_or(data.train.len());
        let seed = derive_seed(seed, &format!("reverse-lm/{temperature}"));
        let samples = sample_many(generator, count, data.max_len, temperature, seed)?;
        let label = format!("{label} at T={temperature}");
        self.train_and_score(&samples, &data.test, seed, &label)
            .map(Some)
    }

    /// Trains a fresh generator of the LM run's config on `samples` for the
    /// reverse epochs and returns its per-token NLL of `test` (nats).
    /// `seed` makes it deterministic; `label` names the model in progress
    /// lines.
    fn train_and_score(
        &self,
        samples: &[Vec<u32>],
        test: &[Vec<u32>],
        seed: u64,
        label: &str,
    ) -> anyhow::Result<f64> {
        let mut generator = self.fresh_generator(seed)?;
        let training: Vec<&Vec<u32>> = samples.iter().filter(|s| !s.is_empty()).collect();
        if training.is_empty() {
            bail!("{label}: every sample is empty; there is nothing to train the reverse LM on");
        }
        let batch_size = self.config.training.batch_size.min(training.len());
        for epoch in 0..self.reverse_epochs {
            let mut order: Vec<usize> = (0..training.len()).collect();
            order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(derive_seed(
                seed,
                &format!("reverse-lm/{epoch}/order"),
            )));
            let mut loss = 0.0f64;
            let mut batches = 0usize;
            for (b, indices) in order.chunks_exact(batch_size).enumerate() {
                let rows: Vec<&Vec<u32>> = indices.iter().map(|&i| training[i]).collect();
                let batch = Batch::unconditional(TokenBatch::from_rows(&rows, 0));
                let options = MleOptions {
                    seed: derive_seed(seed, &format!("reverse-lm/{epoch}/{b}")),
                    scheduled_sampling: 0.0,
                };
                loss += f64::from(generator.mle_step(&batch, &options)?.loss);
                batches += 1;
            }
            eprintln!(
                "agon eval: {label}: reverse LM epoch {}/{} (g-loss {:.4})",
                epoch + 1,
                self.reverse_epochs,
                loss / batches.max(1) as f64
            );
        }
        per_token_nll(&mut generator, test, None)
    }

    /// A generator of the LM run's plugin and config with fresh weights.
    fn fresh_generator(&self, seed: u64) -> anyhow::Result<Generator> {
        let vocabulary = assemble::saved_vocabulary(&self.config, &self.run_dir)?;
        let shape = run_shape(&self.config, vocabulary.as_ref())?;
        let mut config = self.config.clone();
        config.seed = seed;
        let shared = shared_context(&config, &shape, &self.run_dir);
        let mut registry = agon_registry::Registry::from_environment();
        let (generator, _) = assemble::build_generator(&mut registry, &config, &shared)?;
        Ok(generator)
    }
}
