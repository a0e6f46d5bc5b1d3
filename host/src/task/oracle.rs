//! SeqGAN's synthetic task: an oracle LSTM with fixed weights generates the
//! training data, and a generator is scored by how likely the oracle finds
//! its samples.
//!
//! * **NLL-oracle** = −(1 / (N·T)) Σ log p_oracle(y) over N generator samples
//!   (a per-token mean in nats, as SeqGAN's code computes and reports it).
//! * **NLL-test** = the generator's per-token NLL of held-out oracle samples.

use std::collections::BTreeMap;

use agon_sdk::seeds::derive_seed;

use super::sampling::{per_token_nll, sample_many};
use crate::components::Generator;

/// The oracle, the training set and the held-out set.
pub struct OracleTask {
    pub oracle: Generator,
    pub train: Vec<Vec<u32>>,
    pub heldout: Vec<Vec<u32>>,
    eval_samples: usize,
    max_len: u32,
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

    /// Length of every sequence.
    pub fn max_len(&self) -> u32 {
        self.max_len
    }

    /// NLL-oracle of fresh generator samples and NLL-test of the held-out set.
    pub fn evaluate(
        &mut self,
        generator: &mut Generator,
        seed: u64,
    ) -> anyhow::Result<BTreeMap<String, f64>> {
        let samples = sample_many(generator, self.eval_samples, self.max_len, 1.0, seed)?;
        Ok(BTreeMap::from([
            (
                "nll_oracle".to_string(),
                per_token_nll(&mut self.oracle, &samples, None)?,
            ),
            (
                "nll_test".to_string(),
                per_token_nll(generator, &self.heldout, None)?,
            ),
        ]))
    }
}
