//! The generator component: training steps, sampling, rollouts, decoding,
//! checkpoints. Every method encodes its sources first; see the crate doc
//! for the model.

use std::{borrow::Cow, collections::HashMap, path::Path};

use agon_sdk::{
    reexports::abi_stable::std_types::ROption,
    toolkit::{
        derive_seed, device_for, reinitialize, rng_from_seed, teacher_forcing, tensor_like,
        OptimizerSlot, SeededInit, Trainable,
    },
    Batch, DecodeRequest, GeneratorImpl, MleOptions, PluginContext, PluginError, PluginResult,
    Policy, RolloutRequest, SampleRequest, StepOptions, StepStats, TokenBatch,
};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

use crate::{
    beam::{beam_search, BeamSettings},
    config::Seq2SeqConfig,
    decoder,
    encoder::{encode, Encoded},
    sampling::{extend_rows, Choice, Row},
    weights::{is_bias, Seq2SeqWeights},
};

const CHECKPOINT_FILE: &str = "seq2seq-generator.safetensors";

/// The attention encoder–decoder, with its rollout policy and optimiser.
pub struct Seq2SeqGenerator {
    device: Device,
    bos: u32,
    pad: u32,
    eos: Option<u32>,
    params: Trainable,
    /// The optimiser state of policy-gradient steps.
    adversarial: OptimizerSlot,
    policy: Seq2SeqWeights,
    rollout: Seq2SeqWeights,
}

impl Seq2SeqGenerator {
    /// Builds the generator from its context with seeded initialisation.
    pub fn new(context: &PluginContext) -> PluginResult<Self> {
        let config: Seq2SeqConfig = context.config()?;
        config.validate().map_err(PluginError::config)?;
        let vocab = context.vocab.size as usize;
        if vocab == 0 || context.vocab.bos >= context.vocab.size {
            return Err(PluginError::config(format!(
                "a vocabulary of {vocab} ids with BOS {} cannot be generated from",
                context.vocab.bos
            )));
        }
        let device = device_for(context)?;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let policy = Seq2SeqWeights::new(vb, vocab, &config)?;
        reinitialize(&varmap, context.seed, |name, _| {
            if is_bias(name) {
                SeededInit::Const(0.0)
            } else {
                SeededInit::Uniform(config.init_scale)
            }
        })?;
        let rollout = policy.detached_copy()?;
        let mut params = Trainable::new(varmap, config.optimizer.clone(), config.grad_clip)?;
        let adversarial =
            params.add_optimizer("adversarial", config.adversarial_optimizer.clone())?;
        Ok(Seq2SeqGenerator {
            adversarial,
            device,
            bos: context.vocab.bos,
            pad: context.vocab.pad.into_option().unwrap_or(0),
            eos: context.vocab.eos.into_option(),
            params,
            policy,
            rollout,
        })
    }

    /// Weights for inference (no autograd graph is recorded).
    fn weights(&self, policy: Policy) -> PluginResult<Seq2SeqWeights> {
        Ok(match policy {
            Policy::Current => self.policy.detached()?,
            Policy::Rollout => self.rollout.clone(),
        })
    }

    fn encode(&self, w: &Seq2SeqWeights, sources: &TokenBatch) -> PluginResult<Encoded> {
        encode(w, sources, self.pad, &self.device)
    }

    /// `[B, T]` log-probabilities of `targets` (trimmed to their longest
    /// row) and the `[B, T]` mask of real tokens, through `w`.
    fn target_log_probs(
        &self,
        w: &Seq2SeqWeights,
        sources: &TokenBatch,
        targets: &TokenBatch,
        scheduled_sampling: Option<(f32, u64)>,
    ) -> PluginResult<(Tensor, Tensor)> {
        let encoded = self.encode(w, sources)?;
        let tf = teacher_forcing(targets, self.bos, &self.device)?;
        let log_probs = match scheduled_sampling {
            Some((rate, seed)) => decoder::scheduled_sampling_log_probs(
                w,
                &encoded.memory,
                &encoded.init_state,
                self.bos,
                &tf.targets.flatten_all()?.to_vec1::<u32>()?,
                rate,
                &mut rng_from_seed(seed),
            )?,
            None => decoder::teacher_forced_log_probs(
                w,
                &encoded.memory,
                &encoded.init_state,
                &tf.inputs,
                &tf.targets,
            )?,
        };
        Ok((log_probs, tf.mask))
    }

    /// Every row generated from BOS to EOS or `max_len`.
    fn generate_from_bos(
        &self,
        w: &Seq2SeqWeights,
        encoded: Encoded,
        mut rows: Vec<Row>,
        max_len: usize,
        choice: Choice,
    ) -> PluginResult<TokenBatch> {
        let bos = vec![self.bos; rows.len()];
        extend_rows(
            w,
            encoded.memory,
            encoded.init_state,
            &mut rows,
            bos,
            max_len,
            choice,
            self.eos,
        )?;
        Ok(self.finish_batch(&rows, max_len))
    }

    fn finish_batch(&self, rows: &[Row], max_len: usize) -> TokenBatch {
        let rows: Vec<&[u32]> = rows.iter().map(|r| r.tokens.as_slice()).collect();
        self.pad_rows(&rows, max_len)
    }

    fn pad_rows<R: AsRef<[u32]>>(&self, rows: &[R], max_len: usize) -> TokenBatch {
        // Never narrower than a row, so building the batch cannot panic.
        let width = rows
            .iter()
            .map(|r| r.as_ref().len())
            .max()
            .unwrap_or(0)
            .max(max_len);
        TokenBatch::from_rows_with_width(rows, self.pad, width)
    }
}

/// The sources of a call, or the error every method gives without them.
fn require_sources<'a>(
    sources: &'a ROption<TokenBatch>,
    rows: usize,
    what: &str,
) -> PluginResult<&'a TokenBatch> {
    match sources {
        ROption::RSome(sources) if sources.rows() == rows => Ok(sources),
        ROption::RSome(sources) => Err(PluginError::input(format!(
            "{what}: {} source rows for {rows} rows",
            sources.rows()
        ))),
        ROption::RNone => Err(PluginError::input(format!(
            "{what} without sources: the seq2seq generator needs a conditional task \
             (every row comes with a source sequence); use lstm-generator for unconditional text"
        ))),
    }
}

/// `batch` without columns past its longest row (padding costs decoder steps).
fn trimmed(batch: &TokenBatch) -> Cow<'_, TokenBatch> {
    let longest = batch.lengths.iter().copied().max().unwrap_or(0);
    if longest == batch.width {
        return Cow::Borrowed(batch);
    }
    let rows: Vec<&[u32]> = batch.iter_rows().collect();
    Cow::Owned(TokenBatch::from_rows_with_width(&rows, 0, longest as usize))
}

fn check_temperature(temperature: f32) -> PluginResult<()> {
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err(PluginError::input(format!(
            "temperature must be a positive finite number, got {temperature}"
        )));
    }
    Ok(())
}

fn nonempty(targets: &TokenBatch, what: &str) -> PluginResult<()> {
    if targets.token_count() == 0 {
        return Err(PluginError::input(format!(
            "{what}: the batch holds no target tokens"
        )));
    }
    Ok(())
}

impl GeneratorImpl for Seq2SeqGenerator {
    fn mle_step(&mut self, batch: &Batch, options: &MleOptions) -> PluginResult<StepStats> {
        let targets = trimmed(&batch.targets);
        let sources = require_sources(&batch.sources, targets.rows(), "mle_step")?;
        nonempty(&targets, "mle_step")?;
        let rate = options.scheduled_sampling;
        if !(0.0..=1.0).contains(&rate) {
            return Err(PluginError::input(format!(
                "scheduled_sampling must be a probability in [0, 1], got {rate}"
            )));
        }
        let scheduled = (rate > 0.0).then_some((rate, options.seed));
        let (log_probs, mask) =
            self.target_log_probs(&self.policy, sources, &targets, scheduled)?;
        let tokens = targets.token_count() as f64;
        let loss = ((log_probs * mask)?.sum_all()? / -tokens)?;
        let norm = self.params.minimise(&loss, "generator")?;
        Ok(StepStats::new(loss.to_scalar::<f32>()?, targets.rows()).with("grad_norm", norm))
    }

    fn log_likelihood(&mut self, batch: &Batch) -> PluginResult<Vec<f32>> {
        let targets = trimmed(&batch.targets);
        let sources = require_sources(&batch.sources, targets.rows(), "log_likelihood")?;
        if targets.token_count() == 0 {
            return Ok(vec![0.0; targets.rows()]);
        }
        let w = self.policy.detached()?;
        let (log_probs, mask) = self.target_log_probs(&w, sources, &targets, None)?;
        Ok((log_probs * mask)?.sum(1)?.to_vec1::<f32>()?)
    }

    fn sample(&mut self, request: &SampleRequest) -> PluginResult<TokenBatch> {
        let count = request.count as usize;
        let sources = require_sources(&request.sources, count, "sample")?;
        check_temperature(request.temperature)?;
        let max_len = request.max_len as usize;
        if count == 0 {
            return Ok(self.pad_rows::<&[u32]>(&[], max_len));
        }
        let w = self.weights(request.policy)?;
        let encoded = self.encode(&w, sources)?;
        let rows = (0..count)
            .map(|r| Row {
                tokens: Vec::with_capacity(max_len),
                rng: rng_from_seed(derive_seed(request.seed, &r.to_string())),
                done: false,
            })
            .collect();
        let choice = Choice::Sample(request.temperature);
        self.generate_from_bos(&w, encoded, rows, max_len, choice)
    }

    fn decode(&mut self, request: &DecodeRequest) -> PluginResult<TokenBatch> {
        let sources = &request.sources;
        let max_len = request.max_len as usize;
        if !request.length_penalty.is_finite() {
            return Err(PluginError::input(format!(
                "length_penalty must be finite, got {}",
                request.length_penalty
            )));
        }
        if sources.is_empty() {
            return Ok(self.pad_rows::<&[u32]>(&[], max_len));
        }
        let w = self.policy.detached()?;
        let encoded = self.encode(&w, sources)?;
        if request.beam_size <= 1 {
            let rows = (0..sources.rows())
                .map(|_| Row {
                    tokens: Vec::with_capacity(max_len),
                    rng: rng_from_seed(0), // unused by greedy choice
                    done: false,
                })
                .collect();
            return self.generate_from_bos(&w, encoded, rows, max_len, Choice::Greedy);
        }
        let outputs = beam_search(
            &w,
            &encoded,
            BeamSettings {
                beam: request.beam_size as usize,
                max_len,
                length_penalty: request.length_penalty,
                bos: self.bos,
                eos: self.eos,
            },
        )?;
        Ok(self.pad_rows(&outputs, max_len))
    }

    fn rollout(&mut self, request: &RolloutRequest) -> PluginResult<TokenBatch> {
        let sequences = &request.sequences;
        let sources = require_sources(&request.sources, sequences.rows(), "rollout")?;
        check_temperature(request.temperature)?;
        let max_len = request.max_len as usize;
        let per_job = request.rollouts_per_job as usize;
        if request.jobs.is_empty() || per_job == 0 {
            return Ok(self.pad_rows::<&[u32]>(&[], max_len));
        }
        for (i, job) in request.jobs.iter().enumerate() {
            let row = job.row as usize;
            if row >= sequences.rows()
                || job.prefix_len == 0
                || job.prefix_len > sequences.lengths[row]
            {
                return Err(PluginError::input(format!(
                    "rollout job {i} (row {row}, prefix {}) does not fit the sequences",
                    job.prefix_len
                )));
            }
        }
        let w = self.rollout.clone();
        let encoded = self.encode(&w, sources)?;
        // One teacher-forced pass caches the decoder state after every
        // prefix: state `t` has read BOS, y_0 … y_{t−1}, so a prefix of `k`
        // tokens continues from state `k − 1` by feeding y_{k−1}.
        let steps = request.jobs.iter().map(|j| j.prefix_len).max().unwrap_or(1) as usize;
        let tf = teacher_forcing(sequences, self.bos, &self.device)?;
        let inputs = tf.inputs.narrow(1, 0, steps)?;
        let hidden = w.hidden_dim();
        let states = decoder::unroll(&w, &encoded.memory, &encoded.init_state, &inputs)?
            .states
            .reshape((sequences.rows() * steps, hidden))?;

        // Ascending prefix length: rows that reach max_len first sit at the
        // end of the batch, where dropping them is a narrow.
        let mut order: Vec<(usize, usize)> = (0..request.jobs.len())
            .flat_map(|j| (0..per_job).map(move |n| (j, n)))
            .collect();
        order.sort_by_key(|&(j, _)| request.jobs[j].prefix_len);
        let mut rows = Vec::with_capacity(order.len());
        let mut state_index = Vec::with_capacity(order.len());
        let mut source_index = Vec::with_capacity(order.len());
        let mut next_inputs = Vec::with_capacity(order.len());
        for &(j, n) in &order {
            let job = request.jobs[j];
            let prefix = &sequences.row(job.row as usize)[..job.prefix_len as usize];
            let last = prefix[prefix.len() - 1];
            rows.push(Row {
                tokens: prefix.to_vec(),
                rng: rng_from_seed(derive_seed(
                    job.seed,
                    &(job.first_rollout as usize + n).to_string(),
                )),
                done: Some(last) == self.eos,
            });
            state_index.push((job.row as usize * steps + prefix.len() - 1) as u32);
            source_index.push(job.row);
            next_inputs.push(last);
        }
        let state = states.index_select(&Tensor::new(state_index.as_slice(), &self.device)?, 0)?;
        let memory = encoded
            .memory
            .gather(&Tensor::new(source_index.as_slice(), &self.device)?)?;
        extend_rows(
            &w,
            memory,
            state,
            &mut rows,
            next_inputs,
            max_len,
            Choice::Sample(request.temperature),
            self.eos,
        )?;
        // Back to job-major order.
        let mut ordered: Vec<Option<Row>> = (0..rows.len()).map(|_| None).collect();
        for (row, &(j, n)) in rows.into_iter().zip(&order) {
            ordered[j * per_job + n] = Some(row);
        }
        let rows: Vec<Row> = ordered.into_iter().flatten().collect();
        Ok(self.finish_batch(&rows, max_len))
    }

    fn policy_gradient_step(
        &mut self,
        batch: &Batch,
        rewards: &[f32],
        _options: &StepOptions,
    ) -> PluginResult<StepStats> {
        let full = &batch.targets;
        let sources = require_sources(&batch.sources, full.rows(), "policy_gradient_step")?;
        let width = full.width as usize;
        if rewards.len() != full.rows() * width {
            return Err(PluginError::input(format!(
                "{} rewards for a {}×{width} batch",
                rewards.len(),
                full.rows()
            )));
        }
        if let Some(bad) = rewards.iter().find(|r| !r.is_finite()) {
            return Err(PluginError::numerical(format!(
                "reward {bad} is not finite; the step was not applied"
            )));
        }
        nonempty(full, "policy_gradient_step")?;
        let targets = trimmed(full);
        let steps = targets.width as usize;
        let rewards: Vec<f32> = rewards
            .chunks(width)
            .flat_map(|row| row[..steps].iter().copied())
            .collect();
        let rewards = Tensor::from_vec(rewards, (targets.rows(), steps), &self.device)?;
        let (log_probs, mask) = self.target_log_probs(&self.policy, sources, &targets, None)?;
        let weighted = ((log_probs * mask)? * rewards)?;
        let loss = (weighted.sum_all()? / -(targets.rows() as f64))?;
        let norm = self
            .params
            .minimise_in(self.adversarial, &loss, "generator")?;
        Ok(StepStats::new(loss.to_scalar::<f32>()?, targets.rows()).with("grad_norm", norm))
    }

    fn update_rollout_policy(&mut self, rate: f32) -> PluginResult<()> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(PluginError::input(format!(
                "rollout update rate must be in [0, 1], got {rate}"
            )));
        }
        let rate = f64::from(rate);
        let current: HashMap<&str, Tensor> = self.policy.named().into_iter().collect();
        self.rollout = self.rollout.map(|name, old| {
            let now = current
                .get(name)
                .ok_or_else(|| candle_core::Error::Msg(format!("no generator tensor {name}")))?
                .detach();
            (old * rate)? + (now * (1.0 - rate))?
        })?;
        Ok(())
    }

    fn parameter_count(&self) -> u64 {
        self.params.parameter_count()
    }

    fn save(&self, dir: &Path) -> PluginResult<()> {
        let rollout = self
            .rollout
            .named()
            .into_iter()
            .map(|(name, t)| (format!("rollout.{name}"), t))
            .collect();
        self.params.save(&dir.join(CHECKPOINT_FILE), rollout)
    }

    fn load(&mut self, dir: &Path) -> PluginResult<()> {
        let file = dir.join(CHECKPOINT_FILE);
        let tensors = self.params.load(&file)?;
        let mut rollout = HashMap::new();
        for (name, current) in self.policy.named() {
            let key = format!("rollout.{name}");
            rollout.insert(
                name,
                tensor_like(&tensors, &key, current.dims(), &file)?.detach(),
            );
        }
        self.rollout = self.policy.map(|name, _| {
            rollout
                .get(name)
                .cloned()
                .ok_or_else(|| candle_core::Error::Msg(format!("no rollout tensor {name}")))
        })?;
        Ok(())
    }
}

#[cfg(test)]
#[path = "generator_tests.rs"]
mod tests;
