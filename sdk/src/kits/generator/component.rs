//! The component the kit builds around a [`GeneratorModel`]: MLE and
//! policy-gradient steps, likelihoods, sampling, rollouts, decoding,
//! checkpoints; relaxed samples for gradient-based training in
//! `relaxed.rs`.

mod relaxed;

#[cfg(test)]
pub(crate) use relaxed::RelaxedKernel;

use std::{borrow::Cow, collections::HashMap, path::Path};

use abi_stable::std_types::ROption;
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rand::Rng;

use crate::kits::kept_pass::KeptPass;

use super::{
    beam::{beam_search, BeamSettings},
    model::{checked_step, validate},
    row_loop::{extend_rows, Choice, Limits, Row},
    GeneratorConfig, GeneratorModel, RowWise,
};

use crate::{
    author::GeneratorImpl,
    batch::{Batch, TokenBatch},
    context::PluginContext,
    error::{PluginError, PluginResult},
    generator::{DecodeRequest, MleOptions, Policy, RolloutRequest, SampleRequest},
    kits::SourceUse,
    relaxed::{RelaxedSampleRequest, RelaxedSamples},
    stats::{StepOptions, StepStats},
    toolkit::{
        derive_seed, device_for, output_layer_nll, reinitialize, rng_from_seed, sample_from_logits,
        sorted_vars, target_log_probs, teacher_forcing, tensor_like, OptimizerSlot, TeacherForcing,
        Trainable,
    },
};

/// Which way a loss over a teacher-forced pass is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// `toolkit::output_layer_nll` on the model's hidden states, when the
    /// model gives them (`GeneratorModel::teacher_forced_hidden`) and runs
    /// on the CPU; the logits otherwise.
    FusedWherePossible,
    /// The logits (`teacher_forced_logits`), whatever the model gives.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    Logits,
}

/// A teacher-forced pass started: the model's memory and initial state for
/// the rows, and their teacher-forcing tensors.
struct StartedPass<M: GeneratorModel> {
    memory: M::Memory,
    state: M::State,
    tf: TeacherForcing,
}

/// A generator component made of a [`GeneratorModel`], its two optimisers,
/// its rollout policy and the kit's training, sampling and decoding.
pub struct KitGenerator<M: GeneratorModel> {
    context: PluginContext,
    config: M::Config,
    device: Device,
    vocab: usize,
    bos: u32,
    pad: u32,
    eos: Option<u32>,
    params: Trainable,
    /// The optimiser state of policy-gradient steps.
    adversarial: OptimizerSlot,
    /// The model on the trainable variables (gradients flow).
    model: M,
    /// The rollout policy's weights by variable name (detached copies).
    rollout: HashMap<String, Tensor>,
    /// The pass of the last relaxed sample on the CPU, for a policy step on
    /// the same request (`relaxed.rs`).
    kept: KeptPass<relaxed::KeptSample>,
}

impl<M: GeneratorModel> KitGenerator<M> {
    /// Reads and checks the config, builds the model on the context's
    /// device and initialises it from the context's seed; the rollout
    /// policy starts as a copy.
    pub fn new(context: &PluginContext) -> PluginResult<Self> {
        let config: M::Config = context.config()?;
        validate(&config)?;
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
        let model = M::new(vb, context, &config)?;
        // Candle filled the variables from its unseedable RNG; redraw them.
        reinitialize(&varmap, context.seed, |name, dims| {
            M::init(&config, name, dims)
        })?;
        let rollout = sorted_vars(&varmap)
            .into_iter()
            .map(|(name, var)| Ok((name, var.as_tensor().detach().copy()?)))
            .collect::<PluginResult<_>>()?;
        let training = config.training();
        let mut params = Trainable::new(varmap, training.optimizer, training.grad_clip)?;
        let adversarial = params.add_optimizer("adversarial", training.adversarial_optimizer)?;
        Ok(KitGenerator {
            context: context.clone(),
            config,
            vocab,
            bos: context.vocab.bos,
            pad: context.vocab.pad.into_option().unwrap_or(0),
            eos: context.vocab.eos.into_option(),
            device,
            params,
            adversarial,
            model,
            rollout,
            kept: KeptPass::default(),
        })
    }

    /// The model on the trainable variables.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The config the component runs with.
    pub fn config(&self) -> &M::Config {
        &self.config
    }

    /// Whether a relaxed sample's pass is kept (`relaxed.rs`), and how many
    /// kept passes policy steps have used.
    #[cfg(test)]
    pub(crate) fn kept_pass(&self) -> (bool, usize) {
        (self.kept.holds(), self.kept.uses())
    }

    /// The trainable variables (gradient checks perturb them for finite
    /// differences).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn varmap(&self) -> &VarMap {
        self.params.varmap()
    }

    /// The weights of `policy` by variable name, in name order (detached:
    /// the current ones share the variables' storage).
    pub fn weights(&self, policy: Policy) -> Vec<(String, Tensor)> {
        match policy {
            Policy::Current => sorted_vars(self.params.varmap())
                .into_iter()
                .map(|(name, var)| (name, var.as_tensor().detach()))
                .collect(),
            Policy::Rollout => {
                let mut weights: Vec<(String, Tensor)> = self
                    .rollout
                    .iter()
                    .map(|(name, t)| (name.clone(), t.clone()))
                    .collect();
                weights.sort_by(|a, b| a.0.cmp(&b.0));
                weights
            }
        }
    }

    /// The model on `weights`, recording no gradients.
    fn model_on(&self, weights: HashMap<String, Tensor>) -> PluginResult<M> {
        let vb = VarBuilder::from_tensors(weights, DType::F32, &self.device);
        M::new(vb, &self.context, &self.config)
    }

    /// Weights for inference: the current ones (detached: no autograd graph
    /// is recorded, and they share the variables' storage) or the rollout
    /// policy's.
    fn inference_model(&self, policy: Policy) -> PluginResult<M> {
        match policy {
            Policy::Current => self.model_on(self.weights(Policy::Current).into_iter().collect()),
            Policy::Rollout => self.model_on(self.rollout.clone()),
        }
    }

    /// The sources a call passes to the model: `Some` exactly for a model
    /// that reads them; a call that does not match is refused.
    fn sources<'a>(
        &self,
        sources: &'a ROption<TokenBatch>,
        rows: usize,
        what: &str,
    ) -> PluginResult<Option<&'a TokenBatch>> {
        match (M::SOURCES, sources) {
            (SourceUse::Never, ROption::RNone) => Ok(None),
            (SourceUse::Never, ROption::RSome(_)) => Err(PluginError::unsupported(format!(
                "{}: {what} with sources, but this generator does not read sources \
                 (it models sequences alone); use a conditional generator for a conditional task",
                M::NAME
            ))),
            (SourceUse::Required, ROption::RSome(s)) if s.rows() == rows => Ok(Some(s)),
            (SourceUse::Required, ROption::RSome(s)) => Err(PluginError::input(format!(
                "{}: {what}: {} source rows for {rows} rows",
                M::NAME,
                s.rows()
            ))),
            (SourceUse::Required, ROption::RNone) => Err(PluginError::input(format!(
                "{}: {what} without sources: this generator needs a conditional task \
                 (every row comes with a source sequence)",
                M::NAME
            ))),
        }
    }

    /// The mean negative log-likelihood per target token that `mle_step`
    /// minimises (teacher forcing, or scheduled sampling at `(rate, seed)`),
    /// with its graph; `targets` trimmed and non-empty.
    fn mle_loss(
        &self,
        sources: Option<&TokenBatch>,
        targets: &TokenBatch,
        scheduled: Option<(f32, u64)>,
    ) -> PluginResult<Tensor> {
        self.mle_loss_on(sources, targets, scheduled, Route::FusedWherePossible)
    }

    /// [`Self::mle_loss`], through the fused loss where the model allows
    /// it or through the logits always.
    fn mle_loss_on(
        &self,
        sources: Option<&TokenBatch>,
        targets: &TokenBatch,
        scheduled: Option<(f32, u64)>,
        route: Route,
    ) -> PluginResult<Tensor> {
        let pass = self.start_pass(&self.model, sources, targets)?;
        if scheduled.is_none() && route == Route::FusedWherePossible {
            let tokens = targets.token_count() as f32;
            if let Some(loss) = self.fused_loss(&pass, |_, real| real / tokens)? {
                return Ok(loss);
            }
        }
        let (log_probs, mask) = self.pass_log_probs(&self.model, pass, targets, 1.0, scheduled)?;
        let tokens = targets.token_count() as f64;
        Ok(((log_probs * mask)?.sum_all()? / -tokens)?)
    }

    /// `Σ c_i · (−log p(target_i))` over the positions `i` (row-major) of
    /// the teacher-forced `pass`, `c_i = coefficient(i, mask_i)`, through
    /// the output layer's fused loss on the CPU, for a model that gives its
    /// hidden states ([`GeneratorModel::teacher_forced_hidden`]); `None` for
    /// one that does not, or on another device.
    fn fused_loss(
        &self,
        pass: &StartedPass<M>,
        coefficient: impl Fn(usize, f32) -> f32,
    ) -> PluginResult<Option<Tensor>> {
        if !self.device.is_cpu() {
            return Ok(None);
        }
        let StartedPass { memory, state, tf } = pass;
        let Some((hidden, layer)) = self
            .model
            .teacher_forced_hidden(memory, state, &tf.inputs)?
        else {
            return Ok(None);
        };
        let (rows, steps) = tf.inputs.dims2()?;
        let (layer_vocab, width) = layer.weight().dims2()?;
        if hidden.dims() != [rows * steps, width] || layer_vocab != self.vocab {
            return Err(PluginError::other(format!(
                "{}: teacher_forced_hidden gave hidden states of shape {:?} and a [{layer_vocab}, {width}] output layer for {rows} rows of {steps} steps; expected [{}, {width}] and a vocabulary of {}",
                M::NAME,
                hidden.dims(),
                rows * steps,
                self.vocab
            )));
        }
        let coefficients: Vec<f32> = tf
            .mask_values
            .iter()
            .enumerate()
            .map(|(i, &real)| coefficient(i, real))
            .collect();
        let ids = tf.targets.flatten_all()?.to_vec1::<u32>()?;
        Ok(Some(output_layer_nll(&hidden, layer, &ids, &coefficients)?))
    }

    /// [`Self::mle_loss`] of `rows` under teacher forcing, with `sources`
    /// (one per row) for a conditional model: what
    /// `testing::check_generator_weight_gradients` and
    /// `check_conditional_generator_weight_gradients` differentiate. Sources
    /// that do not suit the model are refused as `mle_step` refuses them.
    /// `route` picks the fused loss where the model allows it (what
    /// `mle_step` runs) or the logits always (to check the one against the
    /// other).
    #[cfg(feature = "testing")]
    pub(crate) fn teacher_forced_loss(
        &self,
        sources: Option<&[Vec<u32>]>,
        rows: &[Vec<u32>],
        route: Route,
    ) -> PluginResult<Tensor> {
        let targets = TokenBatch::from_rows(rows, 0);
        let targets = trimmed(&targets);
        nonempty(&targets, "the MLE loss")?;
        let sources: ROption<TokenBatch> = sources.map(|s| TokenBatch::from_rows(s, 0)).into();
        let sources = self.sources(&sources, targets.rows(), "the MLE loss")?;
        self.mle_loss_on(sources, &targets, None, route)
    }

    /// `[B, T]` log-probabilities of `targets` (trimmed to their longest
    /// row) at `temperature`, and the `[B, T]` mask of real tokens, through
    /// `model`; with `scheduled_sampling` (rate, seed), one step at a time
    /// feeding the model's own samples.
    fn target_log_probs(
        &self,
        model: &M,
        sources: Option<&TokenBatch>,
        targets: &TokenBatch,
        temperature: f32,
        scheduled_sampling: Option<(f32, u64)>,
    ) -> PluginResult<(Tensor, Tensor)> {
        let pass = self.start_pass(model, sources, targets)?;
        self.pass_log_probs(model, pass, targets, temperature, scheduled_sampling)
    }

    /// The memory and initial state of `targets`' rows, and their
    /// teacher-forcing inputs: what both loss paths start from (so a step
    /// runs `start`, an encoder perhaps, once).
    fn start_pass(
        &self,
        model: &M,
        sources: Option<&TokenBatch>,
        targets: &TokenBatch,
    ) -> PluginResult<StartedPass<M>> {
        let (memory, state) = model.start(sources, targets.rows(), &self.device)?;
        let tf = teacher_forcing(targets, self.bos, &self.device)?;
        Ok(StartedPass { memory, state, tf })
    }

    /// [`Self::target_log_probs`] of a started pass.
    fn pass_log_probs(
        &self,
        model: &M,
        pass: StartedPass<M>,
        targets: &TokenBatch,
        temperature: f32,
        scheduled_sampling: Option<(f32, u64)>,
    ) -> PluginResult<(Tensor, Tensor)> {
        let StartedPass { memory, state, tf } = pass;
        let log_probs = match scheduled_sampling {
            Some((rate, seed)) => {
                self.scheduled_sampling_log_probs(model, &memory, state, targets, rate, seed)?
            }
            None => {
                let (rows, steps) = tf.inputs.dims2()?;
                let logits = model.teacher_forced_logits(&memory, &state, &tf.inputs)?;
                if logits.dims() != [rows * steps, self.vocab] {
                    return Err(PluginError::other(format!(
                        "{}: teacher_forced_logits gave shape {:?} for {rows} rows of {steps} steps; expected [{}, {}]",
                        M::NAME,
                        logits.dims(),
                        rows * steps,
                        self.vocab
                    )));
                }
                let logits = if temperature == 1.0 {
                    logits
                } else {
                    (logits / f64::from(temperature))?
                };
                target_log_probs(&logits, &tf.targets.flatten_all()?)?.reshape((rows, steps))?
            }
        };
        Ok((log_probs, tf.mask))
    }

    /// `[B, T]` log-probabilities of the targets, feeding the model's own
    /// sample instead of the truth with probability `rate` at each position
    /// (scheduled sampling, Bengio et al. 2015).
    fn scheduled_sampling_log_probs(
        &self,
        model: &M,
        memory: &M::Memory,
        mut state: M::State,
        targets: &TokenBatch,
        rate: f32,
        seed: u64,
    ) -> PluginResult<Tensor> {
        let rows = targets.rows();
        let steps = targets.width as usize;
        let truth: Vec<u32> = targets
            .iter_rows()
            .zip(&targets.lengths)
            .flat_map(|(row, &len)| {
                (0..steps).map(move |t| if t < len as usize { row[t] } else { 0 })
            })
            .collect();
        let mut rng = rng_from_seed(seed);
        let mut inputs = vec![self.bos; rows];
        let mut columns = Vec::with_capacity(steps);
        for t in 0..steps {
            let input = Tensor::new(inputs.as_slice(), &self.device)?;
            let (logits, next) = checked_step(model, memory, &state, &input, self.vocab)?;
            state = next;
            let column: Vec<u32> = (0..rows).map(|r| truth[r * steps + t]).collect();
            let column_t = Tensor::new(column.as_slice(), &self.device)?;
            columns.push(target_log_probs(&logits, &column_t)?);
            let model_logits = logits.detach().flatten_all()?.to_vec1::<f32>()?;
            let vocab = self.vocab;
            for r in 0..rows {
                inputs[r] = if rng.random::<f32>() < rate {
                    sample_from_logits(&model_logits[r * vocab..(r + 1) * vocab], 1.0, &mut rng)
                } else {
                    column[r]
                };
            }
        }
        Ok(Tensor::stack(&columns, 1)?)
    }

    /// `count` rows generated from BOS to EOS or `max_len`, row `r`
    /// sampling from a stream derived from `seed` and `r`.
    #[allow(clippy::too_many_arguments)]
    fn generate_from_bos(
        &self,
        model: &M,
        memory: M::Memory,
        state: M::State,
        count: usize,
        max_len: usize,
        choice: Choice,
        seed: u64,
    ) -> PluginResult<TokenBatch> {
        let mut rows: Vec<Row> = (0..count)
            .map(|r| Row {
                tokens: Vec::with_capacity(max_len),
                rng: rng_from_seed(derive_seed(seed, &r.to_string())),
                done: false,
            })
            .collect();
        let bos = vec![self.bos; count];
        let limits = self.limits(max_len);
        extend_rows(model, memory, state, &mut rows, bos, choice, &limits)?;
        Ok(self.finish_batch(&rows, max_len))
    }

    fn limits(&self, max_len: usize) -> Limits<'_> {
        Limits {
            device: &self.device,
            vocab: self.vocab,
            max_len,
            eos: self.eos,
        }
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

    fn finish_batch(&self, rows: &[Row], max_len: usize) -> TokenBatch {
        let rows: Vec<&[u32]> = rows.iter().map(|r| r.tokens.as_slice()).collect();
        self.pad_rows(&rows, max_len)
    }

    /// The per-sequence log-likelihood of `batch` at `temperature`.
    fn sequence_log_likelihoods(&self, batch: &Batch, temperature: f32) -> PluginResult<Vec<f32>> {
        let targets = trimmed(&batch.targets);
        let sources = self.sources(&batch.sources, targets.rows(), "log_likelihood")?;
        if targets.token_count() == 0 {
            return Ok(vec![0.0; targets.rows()]);
        }
        let model = self.inference_model(Policy::Current)?;
        let (log_probs, mask) =
            self.target_log_probs(&model, sources, &targets, temperature, None)?;
        Ok((log_probs * mask)?.sum(1)?.to_vec1::<f32>()?)
    }
}

/// `batch` without columns past its longest row (padding costs steps).
fn trimmed(batch: &TokenBatch) -> Cow<'_, TokenBatch> {
    let longest = batch.lengths.iter().copied().max().unwrap_or(0);
    if longest == batch.width {
        return Cow::Borrowed(batch);
    }
    let rows: Vec<&[u32]> = batch.iter_rows().collect();
    Cow::Owned(TokenBatch::from_rows_with_width(&rows, 0, longest as usize))
}

fn nonempty(targets: &TokenBatch, what: &str) -> PluginResult<()> {
    if targets.token_count() == 0 {
        return Err(PluginError::input(format!(
            "{what}: the batch holds no target tokens"
        )));
    }
    Ok(())
}

impl<M: GeneratorModel> GeneratorImpl for KitGenerator<M> {
    fn mle_step(&mut self, batch: &Batch, options: &MleOptions) -> PluginResult<StepStats> {
        self.kept.clear();
        let targets = trimmed(&batch.targets);
        let sources = self.sources(&batch.sources, targets.rows(), "mle_step")?;
        nonempty(&targets, "mle_step")?;
        let rate = options.scheduled_sampling;
        if !(0.0..=1.0).contains(&rate) {
            return Err(PluginError::input(format!(
                "scheduled_sampling must be a probability in [0, 1], got {rate}"
            )));
        }
        let scheduled = (rate > 0.0).then_some((rate, options.seed));
        let loss = self.mle_loss(sources, &targets, scheduled)?;
        let norm = self.params.minimise(&loss, "generator")?;
        Ok(StepStats::new(loss.to_scalar::<f32>()?, targets.rows()).with("grad_norm", norm))
    }

    fn log_likelihood(&mut self, batch: &Batch) -> PluginResult<Vec<f32>> {
        self.kept.clear();
        self.sequence_log_likelihoods(batch, 1.0)
    }

    fn tempered_log_likelihood(
        &mut self,
        batch: &Batch,
        temperature: f32,
    ) -> PluginResult<Vec<f32>> {
        self.kept.clear();
        self.sequence_log_likelihoods(batch, temperature)
    }

    fn relaxed_sample(&mut self, request: &RelaxedSampleRequest) -> PluginResult<RelaxedSamples> {
        KitGenerator::relaxed_sample(self, request)
    }

    fn relaxed_policy_step(
        &mut self,
        request: &RelaxedSampleRequest,
        gradient: &[f32],
        _options: &StepOptions,
    ) -> PluginResult<StepStats> {
        KitGenerator::relaxed_policy_step(self, request, gradient)
    }

    fn sample(&mut self, request: &SampleRequest) -> PluginResult<TokenBatch> {
        self.kept.clear();
        let count = request.count as usize;
        let sources = self.sources(&request.sources, count, "sample")?;
        let max_len = request.max_len as usize;
        if count == 0 {
            return Ok(self.pad_rows::<&[u32]>(&[], max_len));
        }
        let model = self.inference_model(request.policy)?;
        let (memory, state) = model.start(sources, count, &self.device)?;
        let choice = Choice::Sample(request.temperature);
        self.generate_from_bos(&model, memory, state, count, max_len, choice, request.seed)
    }

    fn decode(&mut self, request: &DecodeRequest) -> PluginResult<TokenBatch> {
        self.kept.clear();
        if M::SOURCES == SourceUse::Never {
            return Err(PluginError::unsupported(format!(
                "{} does not read sources, so it has nothing to decode; decoding is for conditional generators",
                M::NAME
            )));
        }
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
        let count = sources.rows();
        let model = self.inference_model(Policy::Current)?;
        let (memory, state) = model.start(Some(sources), count, &self.device)?;
        if request.beam_size <= 1 {
            // The seed is unused by greedy choice.
            return self.generate_from_bos(
                &model,
                memory,
                state,
                count,
                max_len,
                Choice::Greedy,
                0,
            );
        }
        let settings = BeamSettings {
            beam: request.beam_size as usize,
            max_len,
            length_penalty: request.length_penalty,
            bos: self.bos,
            eos: self.eos,
        };
        let outputs = beam_search(
            &model,
            &memory,
            &state,
            count,
            self.vocab,
            &self.device,
            settings,
        )?;
        Ok(self.pad_rows(&outputs, max_len))
    }

    fn rollout(&mut self, request: &RolloutRequest) -> PluginResult<TokenBatch> {
        self.kept.clear();
        let sequences = &request.sequences;
        let sources = self.sources(&request.sources, sequences.rows(), "rollout")?;
        // The SDK's guard has checked the request before this call: the
        // temperature, at least one rollout per job, and every job's row and
        // prefix length (1 ..= the row's length).
        let max_len = request.max_len as usize;
        let per_job = request.rollouts_per_job as usize;
        if request.jobs.is_empty() {
            return Ok(self.pad_rows::<&[u32]>(&[], max_len));
        }
        let model = self.inference_model(Policy::Rollout)?;
        let (memory, init) = model.start(sources, sequences.rows(), &self.device)?;
        // One teacher-forced pass caches the state after every prefix:
        // state `t` has read BOS, y_0 … y_{t−1}, so a prefix of `k` tokens
        // continues from state `k − 1` by feeding y_{k−1}.
        let steps = request.jobs.iter().map(|j| j.prefix_len).max().unwrap_or(1) as usize;
        let tf = teacher_forcing(sequences, self.bos, &self.device)?;
        let inputs = tf.inputs.narrow(1, 0, steps)?;
        let states = model.prefix_states(&memory, &init, &inputs)?;

        // Ascending prefix length: rows that reach max_len first sit at the
        // end of the batch, where dropping them keeps the first rows.
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
        let state = states.select_rows(&Tensor::new(state_index.as_slice(), &self.device)?)?;
        let memory = memory.select_rows(&Tensor::new(source_index.as_slice(), &self.device)?)?;
        let choice = Choice::Sample(request.temperature);
        let limits = self.limits(max_len);
        extend_rows(
            &model,
            memory,
            state,
            &mut rows,
            next_inputs,
            choice,
            &limits,
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
        self.kept.clear();
        let full = &batch.targets;
        let sources = self.sources(&batch.sources, full.rows(), "policy_gradient_step")?;
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
        // −Σ mask · reward · log p / rows: fused for a model that gives its
        // hidden states, else through the logits.
        let rows = targets.rows() as f32;
        let pass = self.start_pass(&self.model, sources, &targets)?;
        let fused = self.fused_loss(&pass, |i, real| real * rewards[i] / rows)?;
        let loss = match fused {
            Some(loss) => loss,
            None => {
                let rewards = Tensor::from_vec(rewards, (targets.rows(), steps), &self.device)?;
                let (log_probs, mask) =
                    self.pass_log_probs(&self.model, pass, &targets, 1.0, None)?;
                let weighted = ((log_probs * mask)? * rewards)?;
                (weighted.sum_all()? / -(targets.rows() as f64))?
            }
        };
        let norm = self
            .params
            .minimise_in(self.adversarial, &loss, "generator")?;
        Ok(StepStats::new(loss.to_scalar::<f32>()?, targets.rows()).with("grad_norm", norm))
    }

    fn update_rollout_policy(&mut self, rate: f32) -> PluginResult<()> {
        self.kept.clear();
        if !(0.0..=1.0).contains(&rate) {
            return Err(PluginError::input(format!(
                "rollout update rate must be in [0, 1], got {rate}"
            )));
        }
        let rate = f64::from(rate);
        for (name, var) in sorted_vars(self.params.varmap()) {
            let old = self.rollout.get(&name).ok_or_else(|| {
                PluginError::other(format!("{}: no rollout weights for {name}", M::NAME))
            })?;
            let now = var.as_tensor().detach();
            let moved = ((old * rate)? + (now * (1.0 - rate))?)?;
            self.rollout.insert(name, moved);
        }
        Ok(())
    }

    fn parameter_count(&self) -> u64 {
        self.params.parameter_count()
    }

    fn save(&self, dir: &Path) -> PluginResult<()> {
        self.kept.clear();
        let rollout = self
            .rollout
            .iter()
            .map(|(name, t)| (format!("rollout.{name}"), t.clone()))
            .collect();
        self.params.save(&dir.join(M::checkpoint_file()), rollout)
    }

    fn load(&mut self, dir: &Path) -> PluginResult<()> {
        self.kept.clear();
        let file = dir.join(M::checkpoint_file());
        let tensors = self.params.load(&file)?;
        let mut rollout = HashMap::new();
        for (name, var) in sorted_vars(self.params.varmap()) {
            let key = format!("rollout.{name}");
            let tensor = tensor_like(&tensors, &key, var.as_tensor().dims(), &file)?.detach();
            rollout.insert(name, tensor);
        }
        self.rollout = rollout;
        Ok(())
    }
}
