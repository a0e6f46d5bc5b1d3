//! The generator component: training steps, sampling, rollouts, checkpoints.

use std::path::Path;

use agon_sdk::{
    toolkit::{
        derive_seed, device_for, reinitialize, rng_from_seed, sample_from_logits, teacher_forcing,
        tensor_like, ComputePath, OptimizerSlot, SeededInit, TeacherForcing, Trainable,
    },
    Batch, GeneratorImpl, MleOptions, PluginContext, PluginError, PluginResult, Policy,
    RolloutRequest, SampleRequest, StepOptions, StepStats, TokenBatch,
};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rand::Rng;

use crate::{
    config::LstmGeneratorConfig,
    decode::{extend_rows, Extension, Row},
    fused_loss, oracle,
    weights::{LstmState, LstmWeights},
};

const CHECKPOINT_FILE: &str = "lstm-generator.safetensors";

/// SeqGAN's generator, with its rollout policy and optimiser.
pub struct LstmGenerator {
    config: LstmGeneratorConfig,
    device: Device,
    /// Hand-written kernels (CPU) or tensor ops with autograd.
    path: ComputePath,
    bos: u32,
    pad: u32,
    eos: Option<u32>,
    params: Trainable,
    /// The optimiser state of policy-gradient steps.
    adversarial: OptimizerSlot,
    policy: LstmWeights,
    rollout: LstmWeights,
}

impl LstmGenerator {
    /// Builds the generator from its context (seeded initialisation, or the
    /// oracle's weights when `oracle_weights` is set).
    pub fn new(context: &PluginContext) -> PluginResult<Self> {
        let config: LstmGeneratorConfig = context.config()?;
        if config.embedding_dim == 0 || config.hidden_dim == 0 {
            return Err(PluginError::config(
                "embedding_dim and hidden_dim must be positive",
            ));
        }
        let device = device_for(context)?;
        let path = config.compute.resolve(&device)?;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let vocab = context.vocab.size as usize;
        let policy = LstmWeights::new(vb, vocab, config.embedding_dim, config.hidden_dim)?;
        reinitialize(&varmap, context.seed, |_, _| {
            SeededInit::Normal(config.init_std)
        })?;
        if let Some(path) = &config.oracle_weights {
            let path = Path::new(path);
            oracle::assign(&policy, oracle::load_oracle_weights(path, &device)?, path)?;
        }
        let rollout = policy.detached_copy()?;
        let mut params = Trainable::new(varmap, config.optimizer.clone(), config.grad_clip)?;
        let adversarial =
            params.add_optimizer("adversarial", config.adversarial_optimizer.clone())?;
        Ok(LstmGenerator {
            adversarial,
            device,
            path,
            bos: context.vocab.bos,
            pad: context.vocab.pad.into_option().unwrap_or(0),
            eos: context.vocab.eos.into_option(),
            params,
            policy,
            rollout,
            config,
        })
    }

    /// `−log p(y_t | y_<t)` of every real token of every row (diagnostics
    /// and the oracle's reference test).
    pub fn per_token_nll(&self, batch: &Batch) -> PluginResult<Vec<Vec<f32>>> {
        let tf = teacher_forcing(&batch.targets, self.bos, &self.device)?;
        let log_probs = self
            .policy
            .target_log_probs(&tf.inputs, &tf.targets)?
            .to_vec2::<f32>()?;
        Ok(log_probs
            .into_iter()
            .zip(batch.targets.lengths.iter())
            .map(|(row, &len)| row[..len as usize].iter().map(|lp| -lp).collect())
            .collect())
    }

    /// Hidden state, cell state and log-probabilities after the first step
    /// from the start token (the oracle's reference test).
    pub fn first_step(&self) -> PluginResult<(Vec<f32>, Vec<f32>, Vec<f32>)> {
        let w = &self.policy;
        let input = Tensor::new(&[self.bos], &self.device)?;
        let state = w.step(&w.input_projection(&input)?, &w.zero_state(1)?)?;
        let log_probs = candle_nn::ops::log_softmax(&w.logits(&state.h)?, 1)?;
        let flat =
            |t: &Tensor| -> PluginResult<Vec<f32>> { Ok(t.flatten_all()?.to_vec1::<f32>()?) };
        Ok((flat(&state.h)?, flat(&state.c)?, flat(&log_probs)?))
    }

    /// Weights for inference (no autograd graph is recorded).
    fn weights(&self, policy: Policy) -> LstmWeights {
        match policy {
            Policy::Current => self.policy.detached(),
            Policy::Rollout => self.rollout.clone(),
        }
    }

    fn ensure_trainable(&self) -> PluginResult<()> {
        if self.config.frozen {
            return Err(PluginError::unsupported(
                "this generator is frozen (frozen: true); it cannot be trained",
            ));
        }
        Ok(())
    }

    fn ensure_unconditional(batch_sources: bool) -> PluginResult<()> {
        if batch_sources {
            return Err(PluginError::unsupported(
                "lstm is an unconditional generator; use a seq2seq generator for tasks with sources",
            ));
        }
        Ok(())
    }

    /// `[B, T]` log-probabilities of the targets, feeding the model's own
    /// samples instead of the truth with probability `rate` (Bengio et al. 2015).
    fn scheduled_sampling_log_probs(
        &self,
        targets: &TokenBatch,
        rate: f32,
        seed: u64,
    ) -> PluginResult<Tensor> {
        let rows = targets.rows();
        let width = targets.width as usize;
        let mut rng = rng_from_seed(seed);
        let w = &self.policy;
        let vocab = w.out_b.dim(0)?;
        let mut state = w.zero_state(rows)?;
        let mut inputs = vec![self.bos; rows];
        let mut columns = Vec::with_capacity(width);
        for t in 0..width {
            let input = Tensor::new(inputs.as_slice(), &self.device)?;
            state = w.step(&w.input_projection(&input)?, &state)?;
            let log_probs = candle_nn::ops::log_softmax(&w.logits(&state.h)?, 1)?;
            let truth: Vec<u32> = (0..rows).map(|r| targets.ids[r * width + t]).collect();
            let truth_tensor = Tensor::new(truth.as_slice(), &self.device)?.unsqueeze(1)?;
            columns.push(log_probs.gather(&truth_tensor, 1)?);
            let model_logits = log_probs.detach().flatten_all()?.to_vec1::<f32>()?;
            for r in 0..rows {
                inputs[r] = if rng.random::<f32>() < rate {
                    sample_from_logits(&model_logits[r * vocab..(r + 1) * vocab], 1.0, &mut rng)
                } else {
                    truth[r]
                };
            }
        }
        Ok(Tensor::cat(&columns, 1)?)
    }

    /// One optimiser step on `Σ c · (−log p(target))` over the teacher-forced
    /// positions, `c` given per position (row-major, 0 at padding); returns
    /// the loss and the gradient norm. On the kernels path every gradient is
    /// written by hand (see `fused_loss`); the tensor path uses autograd.
    fn weighted_nll_step(
        &mut self,
        slot: OptimizerSlot,
        tf: &TeacherForcing,
        coefficients: Vec<f32>,
    ) -> PluginResult<(f32, f32)> {
        if self.path == ComputePath::Kernels {
            let targets = tf.targets.flatten_all()?.to_vec1::<u32>()?;
            let fused =
                fused_loss::weighted_nll(&self.policy, &tf.inputs, &targets, &coefficients)?;
            let norm = self.params.minimise_with_gradients_in(
                slot,
                fused.loss,
                fused.gradients,
                "generator",
            )?;
            return Ok((fused.loss, norm));
        }
        let coefficients = Tensor::from_vec(coefficients, tf.targets.dims(), &self.device)?;
        let log_probs = self.policy.target_log_probs(&tf.inputs, &tf.targets)?;
        let loss = (log_probs * coefficients)?.sum_all()?.neg()?;
        let norm = self.params.minimise_in(slot, &loss, "generator")?;
        Ok((loss.to_scalar::<f32>()?, norm))
    }

    fn finish_batch(&self, rows: &[Row], width: usize) -> TokenBatch {
        TokenBatch::from_rows_with_width(
            &rows.iter().map(|r| r.tokens.as_slice()).collect::<Vec<_>>(),
            self.pad,
            width,
        )
    }
}

impl GeneratorImpl for LstmGenerator {
    fn mle_step(&mut self, batch: &Batch, options: &MleOptions) -> PluginResult<StepStats> {
        self.ensure_trainable()?;
        Self::ensure_unconditional(batch.sources.is_some())?;
        let tf = teacher_forcing(&batch.targets, self.bos, &self.device)?;
        let tokens = batch.targets.token_count().max(1) as f64;
        let (loss, norm) = if options.scheduled_sampling > 0.0 {
            let log_probs = self.scheduled_sampling_log_probs(
                &batch.targets,
                options.scheduled_sampling,
                options.seed,
            )?;
            let loss = ((log_probs * &tf.mask)?.sum_all()? / -tokens)?;
            let norm = self.params.minimise(&loss, "generator")?;
            (loss.to_scalar::<f32>()?, norm)
        } else {
            let per_token = (1.0 / tokens) as f32;
            let coefficients = tf.mask_values.iter().map(|m| m * per_token).collect();
            self.weighted_nll_step(OptimizerSlot::MAIN, &tf, coefficients)?
        };
        Ok(StepStats::new(loss, batch.targets.rows()).with("grad_norm", norm))
    }

    fn log_likelihood(&mut self, batch: &Batch) -> PluginResult<Vec<f32>> {
        self.tempered_log_likelihood(batch, 1.0)
    }

    fn tempered_log_likelihood(
        &mut self,
        batch: &Batch,
        temperature: f32,
    ) -> PluginResult<Vec<f32>> {
        Self::ensure_unconditional(batch.sources.is_some())?;
        let tf = teacher_forcing(&batch.targets, self.bos, &self.device)?;
        let log_probs = self
            .policy
            .tempered_target_log_probs(&tf.inputs, &tf.targets, temperature)?
            .detach();
        Ok((log_probs * &tf.mask)?.sum(1)?.to_vec1::<f32>()?)
    }

    fn sample(&mut self, request: &SampleRequest) -> PluginResult<TokenBatch> {
        Self::ensure_unconditional(request.sources.is_some())?;
        let count = request.count as usize;
        let max_len = request.max_len as usize;
        let weights = &self.weights(request.policy);
        let mut rows: Vec<Row> = (0..count)
            .map(|r| Row {
                tokens: Vec::with_capacity(max_len),
                rng: rng_from_seed(derive_seed(request.seed, &r.to_string())),
                done: false,
            })
            .collect();
        extend_rows(
            weights,
            weights.zero_state(count)?,
            &mut rows,
            vec![self.bos; count],
            Extension {
                max_len,
                temperature: request.temperature,
                eos: self.eos,
                path: self.path,
            },
        )?;
        Ok(self.finish_batch(&rows, max_len))
    }

    fn rollout(&mut self, request: &RolloutRequest) -> PluginResult<TokenBatch> {
        Self::ensure_unconditional(request.sources.is_some())?;
        let weights = &self.rollout;
        let sequences = &request.sequences;
        let width = sequences.width as usize;
        let hidden = weights.hidden_dim();
        // One teacher-forced pass caches the state after every prefix.
        let tf = teacher_forcing(sequences, self.bos, &self.device)?;
        let (hs, cs) = weights.unroll(&tf.inputs, true)?;
        let hs = hs.reshape((sequences.rows() * width, hidden))?;
        let cs = cs
            .expect("cells kept")
            .reshape((sequences.rows() * width, hidden))?;

        let per_job = request.rollouts_per_job as usize;
        let mut order: Vec<(usize, usize)> = (0..request.jobs.len())
            .flat_map(|j| (0..per_job).map(move |n| (j, n)))
            .collect();
        order.sort_by_key(|&(j, _)| request.jobs[j].prefix_len);
        let mut rows = Vec::with_capacity(order.len());
        let mut state_index = Vec::with_capacity(order.len());
        let mut next_inputs = Vec::with_capacity(order.len());
        for &(j, n) in &order {
            let job = request.jobs[j];
            let prefix = &sequences.row(job.row as usize)[..job.prefix_len as usize];
            rows.push(Row {
                tokens: prefix.to_vec(),
                rng: rng_from_seed(derive_seed(
                    job.seed,
                    &(job.first_rollout as usize + n).to_string(),
                )),
                done: Some(prefix[prefix.len() - 1]) == self.eos,
            });
            state_index.push((job.row as usize * width + prefix.len() - 1) as u32);
            next_inputs.push(prefix[prefix.len() - 1]);
        }
        let index = Tensor::new(state_index.as_slice(), &self.device)?;
        let state = LstmState {
            h: hs.index_select(&index, 0)?,
            c: cs.index_select(&index, 0)?,
        };
        extend_rows(
            weights,
            state,
            &mut rows,
            next_inputs,
            Extension {
                max_len: request.max_len as usize,
                temperature: request.temperature,
                eos: self.eos,
                path: self.path,
            },
        )?;
        // Back to job-major order.
        let mut ordered: Vec<Option<Row>> = (0..rows.len()).map(|_| None).collect();
        for (row, &(j, n)) in rows.into_iter().zip(&order) {
            ordered[j * per_job + n] = Some(row);
        }
        let rows: Vec<Row> = ordered
            .into_iter()
            .map(|r| r.expect("every slot filled"))
            .collect();
        Ok(self.finish_batch(&rows, request.max_len as usize))
    }

    fn policy_gradient_step(
        &mut self,
        batch: &Batch,
        rewards: &[f32],
        _options: &StepOptions,
    ) -> PluginResult<StepStats> {
        self.ensure_trainable()?;
        Self::ensure_unconditional(batch.sources.is_some())?;
        if let Some(bad) = rewards.iter().find(|r| !r.is_finite()) {
            return Err(PluginError::numerical(format!(
                "reward {bad} is not finite; the step was not applied"
            )));
        }
        let targets = &batch.targets;
        let positions = targets.rows() * targets.width as usize;
        if rewards.len() != positions {
            return Err(PluginError::input(format!(
                "{} rewards for {positions} positions ({} rows × {})",
                rewards.len(),
                targets.rows(),
                targets.width
            )));
        }
        let tf = teacher_forcing(targets, self.bos, &self.device)?;
        let per_row = 1.0 / targets.rows().max(1) as f32;
        let coefficients = tf
            .mask_values
            .iter()
            .zip(rewards)
            .map(|(m, r)| m * r * per_row)
            .collect();
        let (loss, norm) = self.weighted_nll_step(self.adversarial, &tf, coefficients)?;
        Ok(StepStats::new(loss, targets.rows()).with("grad_norm", norm))
    }

    fn update_rollout_policy(&mut self, rate: f32) -> PluginResult<()> {
        let rate = f64::from(rate);
        let mut mixed = Vec::with_capacity(6);
        for (old, current) in self
            .rollout
            .tensors()
            .into_iter()
            .zip(self.policy.tensors())
        {
            mixed.push(((old * rate)? + (current.detach() * (1.0 - rate))?)?);
        }
        let mixed: [Tensor; 6] = mixed
            .try_into()
            .map_err(|_| PluginError::other("six tensors"))?;
        self.rollout = LstmWeights::from_tensors(mixed);
        Ok(())
    }

    fn parameter_count(&self) -> u64 {
        self.params.parameter_count()
    }

    fn save(&self, dir: &Path) -> PluginResult<()> {
        let rollout = self
            .rollout
            .tensors()
            .into_iter()
            .enumerate()
            .map(|(i, t)| (format!("rollout.{i}"), t.clone()))
            .collect();
        self.params.save(&dir.join(CHECKPOINT_FILE), rollout)
    }

    fn load(&mut self, dir: &Path) -> PluginResult<()> {
        let file = dir.join(CHECKPOINT_FILE);
        let tensors = self.params.load(&file)?;
        let mut rollout = Vec::with_capacity(6);
        for (i, current) in self.policy.tensors().into_iter().enumerate() {
            let key = format!("rollout.{i}");
            rollout.push(tensor_like(&tensors, &key, current.dims(), &file)?.clone());
        }
        self.rollout = LstmWeights::from_tensors(
            rollout
                .try_into()
                .map_err(|_| PluginError::other("six tensors"))?,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agon_sdk::{PluginContext, PrefixJob};

    fn generator(config: &str) -> LstmGenerator {
        let mut context = PluginContext::for_tests(30, 8);
        context.seed = 5;
        context.config_yaml = config.into();
        LstmGenerator::new(&context).unwrap()
    }

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    #[test]
    fn rollout_policy_update_is_an_exponential_moving_average() {
        let mut g = generator("embedding_dim: 4\nhidden_dim: 5\n");
        let batch = Batch::unconditional(TokenBatch::from_rows(
            &[vec![1u32, 2, 3, 4], vec![5, 6, 7, 8]],
            0,
        ));
        g.mle_step(
            &batch,
            &MleOptions {
                seed: 1,
                scheduled_sampling: 0.0,
            },
        )
        .unwrap();
        let old: Vec<Vec<f32>> = g.rollout.tensors().iter().map(|t| values(t)).collect();
        let current: Vec<Vec<f32>> = g.policy.tensors().iter().map(|t| values(t)).collect();
        assert_ne!(
            old, current,
            "the MLE step moved the generator away from the rollout copy"
        );
        g.update_rollout_policy(0.8).unwrap();
        for ((after, old), current) in g.rollout.tensors().iter().zip(&old).zip(&current) {
            for ((a, o), c) in values(after).iter().zip(old).zip(current) {
                assert!((a - (0.8 * o + 0.2 * c)).abs() < 1e-6);
            }
        }
        g.update_rollout_policy(0.0).unwrap();
        let copied: Vec<Vec<f32>> = g.rollout.tensors().iter().map(|t| values(t)).collect();
        assert_eq!(copied, current, "rate 0 copies the generator");
    }

    #[test]
    fn scheduled_sampling_changes_the_inputs_and_still_learns() {
        let batch = Batch::unconditional(TokenBatch::from_rows(
            &[vec![3u32, 9, 4, 1, 8, 2], vec![7, 7, 2, 0, 5, 5]],
            0,
        ));
        let loss = |rate: f32| {
            let mut g = generator("embedding_dim: 6\nhidden_dim: 6\n");
            let first = g
                .mle_step(
                    &batch,
                    &MleOptions {
                        seed: 3,
                        scheduled_sampling: rate,
                    },
                )
                .unwrap()
                .loss;
            for _ in 0..20 {
                g.mle_step(
                    &batch,
                    &MleOptions {
                        seed: 3,
                        scheduled_sampling: rate,
                    },
                )
                .unwrap();
            }
            (
                first,
                g.mle_step(
                    &batch,
                    &MleOptions {
                        seed: 3,
                        scheduled_sampling: rate,
                    },
                )
                .unwrap()
                .loss,
            )
        };
        let (tf_first, tf_last) = loss(0.0);
        let (ss_first, ss_last) = loss(1.0);
        // Same initial weights: the first position sees the same input (BOS)
        // either way, the later ones do not.
        assert_ne!(tf_first, ss_first);
        assert!(
            tf_last < tf_first && ss_last < ss_first,
            "{tf_first}→{tf_last}, {ss_first}→{ss_last}"
        );
    }

    #[test]
    fn rewards_of_the_wrong_length_are_refused() {
        let batch = Batch::unconditional(TokenBatch::from_rows(&[vec![3u32, 9, 4, 1]], 0));
        let mut g = generator("embedding_dim: 6\nhidden_dim: 6\n");
        let err = g
            .policy_gradient_step(&batch, &[1.0; 3], &StepOptions { seed: 0 })
            .map(|_| ())
            .expect_err("3 rewards for 4 positions");
        assert!(
            err.message().contains("3 rewards for 4 positions"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn policy_gradient_follows_the_sign_of_the_reward() {
        let batch = Batch::unconditional(TokenBatch::from_rows(
            &[vec![3u32, 9, 4, 1], vec![7, 7, 2, 0]],
            0,
        ));
        for (sign, should_rise) in [(1.0f32, true), (-1.0, false)] {
            let mut g = generator("embedding_dim: 6\nhidden_dim: 6\noptimizer: {lr: 0.05}\n");
            let before = g.log_likelihood(&batch).unwrap();
            // Reward only the first sequence's tokens.
            let mut rewards = vec![0.0f32; 8];
            rewards[..4].iter_mut().for_each(|r| *r = sign);
            g.policy_gradient_step(&batch, &rewards, &StepOptions { seed: 0 })
                .unwrap();
            let after = g.log_likelihood(&batch).unwrap();
            assert_eq!(
                after[0] > before[0],
                should_rise,
                "reward {sign}: {before:?} → {after:?}"
            );
        }
    }

    #[test]
    fn rollouts_keep_the_prefix_and_do_not_depend_on_batching() {
        let mut g = generator("embedding_dim: 4\nhidden_dim: 4\n");
        let sequences = TokenBatch::from_rows(
            &[
                vec![1u32, 2, 3, 4, 5, 6, 7, 8],
                vec![9, 8, 7, 6, 5, 4, 3, 2],
            ],
            0,
        );
        let job = |row: u32, prefix_len: u32, first_rollout: u32| PrefixJob {
            row,
            prefix_len,
            seed: 100 + row as u64 * 10 + prefix_len as u64,
            first_rollout,
        };
        let request = |jobs: Vec<PrefixJob>, rollouts_per_job: u32| RolloutRequest {
            sequences: sequences.clone(),
            jobs: jobs.into(),
            rollouts_per_job,
            max_len: 8,
            temperature: 1.0,
            sources: agon_sdk::reexports::abi_stable::std_types::ROption::RNone,
        };
        let together = g
            .rollout(&request(vec![job(0, 3, 0), job(1, 6, 0)], 3))
            .unwrap();
        assert_eq!(together.rows(), 6);
        for r in 0..3 {
            assert_eq!(&together.row(r)[..3], &[1, 2, 3]);
            assert_eq!(&together.row(3 + r)[..6], &[9, 8, 7, 6, 5, 4]);
            assert_eq!(together.row(r).len(), 8);
        }
        for (r, (row, prefix)) in [(0u32, 3u32), (0, 3), (0, 3), (1, 6), (1, 6), (1, 6)]
            .into_iter()
            .enumerate()
        {
            let alone = g
                .rollout(&request(vec![job(row, prefix, r as u32 % 3)], 1))
                .unwrap();
            assert_eq!(
                alone.row(0),
                together.row(r),
                "rollout {r} alone differs from batched"
            );
        }
    }
}
