//! SeqGAN's synthetic task: an oracle LSTM with fixed weights generates the
//! training data, and a generator is scored by how likely the oracle finds
//! its samples.
//!
//! * **NLL-oracle** = −(1 / (N·T)) Σ log p_oracle(y) over N generator samples
//!   (a per-token mean in nats, as SeqGAN's code computes and reports it).
//! * **NLL-test** = the generator's per-token NLL of held-out oracle samples.

use abi_stable::std_types::ROption;
use agon_sdk::{seeds::derive_seed, Batch, Policy, SampleRequest, TokenBatch};

use crate::components::Generator;

/// Most sequences sampled or scored in one plugin call (bounds the size of
/// the logits the generator materialises: rows × vocabulary floats).
pub const CHUNK: usize = 1024;

/// Scores of one evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OracleMetrics {
    pub nll_oracle: f64,
    pub nll_test: f64,
}

/// The oracle, the training set and the held-out set.
pub struct OracleTask {
    pub oracle: Generator,
    pub train: Vec<Vec<u32>>,
    pub heldout: Vec<Vec<u32>>,
    eval_samples: usize,
    max_len: u32,
}

/// `count` samples from `generator`, drawn in chunks of [`CHUNK`]; chunk `k`
/// uses the seed `derive_seed(seed, k)`.
pub fn sample_many(
    generator: &mut Generator,
    count: usize,
    max_len: u32,
    temperature: f32,
    seed: u64,
) -> anyhow::Result<Vec<Vec<u32>>> {
    let mut sequences = Vec::with_capacity(count);
    let mut chunk = 0;
    while sequences.len() < count {
        let n = CHUNK.min(count - sequences.len());
        let batch = generator.sample(&SampleRequest {
            count: n as u32,
            max_len,
            temperature,
            seed: derive_seed(seed, &chunk.to_string()),
            policy: Policy::Current,
            sources: ROption::RNone,
        })?;
        sequences.extend(batch.iter_rows().map(<[u32]>::to_vec));
        chunk += 1;
    }
    Ok(sequences)
}

/// Per-token mean NLL of `sequences` under `generator`.
pub fn per_token_nll(generator: &mut Generator, sequences: &[Vec<u32>]) -> anyhow::Result<f64> {
    let mut total = 0.0f64;
    let mut tokens = 0usize;
    for chunk in sequences.chunks(CHUNK) {
        let batch = Batch::unconditional(TokenBatch::from_rows(chunk, 0));
        total -= generator
            .log_likelihood(&batch)?
            .iter()
            .map(|&v| f64::from(v))
            .sum::<f64>();
        tokens += batch.targets.token_count();
    }
    Ok(total / tokens.max(1) as f64)
}

impl OracleTask {
    /// Takes `train` as given or samples `train_samples` from the oracle, and
    /// samples the held-out set (all seeded from `seed`).
    pub fn new(
        mut oracle: Generator,
        train: Option<Vec<Vec<u32>>>,
        train_samples: usize,
        heldout_samples: usize,
        eval_samples: usize,
        max_len: u32,
        seed: u64,
    ) -> anyhow::Result<Self> {
        let train = match train {
            Some(train) => train,
            None => sample_many(
                &mut oracle,
                train_samples,
                max_len,
                1.0,
                derive_seed(seed, "task/train"),
            )?,
        };
        let heldout = sample_many(
            &mut oracle,
            heldout_samples,
            max_len,
            1.0,
            derive_seed(seed, "task/heldout"),
        )?;
        Ok(OracleTask {
            oracle,
            train,
            heldout,
            eval_samples,
            max_len,
        })
    }

    /// NLL-oracle of fresh generator samples and NLL-test of the held-out set.
    pub fn evaluate(
        &mut self,
        generator: &mut Generator,
        seed: u64,
    ) -> anyhow::Result<OracleMetrics> {
        let samples = sample_many(generator, self.eval_samples, self.max_len, 1.0, seed)?;
        Ok(OracleMetrics {
            nll_oracle: per_token_nll(&mut self.oracle, &samples)?,
            nll_test: per_token_nll(generator, &self.heldout)?,
        })
    }
}
