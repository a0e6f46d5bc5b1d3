//! Relaxed samples for gradient-based adversarial training (RelGAN's
//! Gumbel-softmax generator), derived for every kit model from its `step`.
//!
//! Each step draws Gumbel noise `g` from the row's seeded stream, feeds the
//! hard sample `argmax(logits + g)` to the next step (as RelGAN does) and
//! emits the relaxed one-hot row `softmax(β · (logits + g))`. A discriminator
//! scores the relaxed rows and the host's loss gives their gradient; the
//! policy step then moves the weights along it. The kit keeps no graph
//! between the two calls: the step draws the same noise from the same seed
//! and recomputes the rows under autograd, so a request can be answered in
//! any order and a checkpoint never holds a half-finished step.

use candle_core::{DType, Tensor};

use super::KitGenerator;
use crate::{
    error::{PluginError, PluginResult},
    generator::Policy,
    kits::generator::{model::checked_step, GeneratorModel},
    relaxed::{RelaxedSampleRequest, RelaxedSamples},
    stats::StepStats,
    toolkit::{derive_seed, gumbel_noise, gumbel_softmax, rng_from_seed, SeededRng},
};

/// One relaxed pass: the rows' tokens and their relaxed rows,
/// `[count, steps, vocabulary]` (zero past each row's length), `steps` the
/// longest row.
struct RelaxedPass {
    rows: Vec<Vec<u32>>,
    soft: Tensor,
}

impl<M: GeneratorModel> KitGenerator<M> {
    /// Relaxed samples from the current policy; see [`RelaxedSamples`].
    pub fn relaxed_sample(&self, request: &RelaxedSampleRequest) -> PluginResult<RelaxedSamples> {
        let model = self.inference_model(Policy::Current)?;
        let pass = self.relaxed_pass(&model, request)?;
        let (count, steps, vocab) = pass.soft.dims3()?;
        let max_len = request.max_len as usize;
        let mut soft = vec![0f32; count * max_len * vocab];
        let computed = pass.soft.flatten_all()?.to_vec1::<f32>()?;
        // `max(1)`: no steps (no rows, or max_len 0) leaves nothing to copy.
        for (r, row) in computed.chunks((steps * vocab).max(1)).enumerate() {
            let at = r * max_len * vocab;
            soft[at..at + row.len()].copy_from_slice(row);
        }
        Ok(RelaxedSamples {
            ids: self.pad_rows(&pass.rows, max_len),
            soft: soft.into(),
        })
    }

    /// One step of the adversarial optimiser along `gradient`, the host
    /// loss's gradient with respect to the [`RelaxedSamples::soft`] rows of
    /// `request` (same layout; values past a row's length are ignored):
    /// minimises `Σ gradient · soft(θ)`, whose gradient in the weights is
    /// the host loss's. Reports that surrogate as the loss, with the
    /// gradient norm before clipping.
    pub fn relaxed_policy_step(
        &mut self,
        request: &RelaxedSampleRequest,
        gradient: &[f32],
    ) -> PluginResult<StepStats> {
        let expected = request.count as usize * request.max_len as usize * self.vocab;
        if gradient.len() != expected {
            return Err(PluginError::input(format!(
                "{} gradient values for {} rows × {} positions × {} ids ({expected} expected)",
                gradient.len(),
                request.count,
                request.max_len,
                self.vocab
            )));
        }
        if let Some(bad) = gradient.iter().find(|g| !g.is_finite()) {
            return Err(PluginError::numerical(format!(
                "gradient value {bad} is not finite; the step was not applied"
            )));
        }
        let surrogate = self.relaxed_surrogate(request, gradient)?;
        let norm = self
            .params
            .minimise_in(self.adversarial, &surrogate, "generator")?;
        Ok(
            StepStats::new(surrogate.to_scalar::<f32>()?, request.count as usize)
                .with("grad_norm", norm),
        )
    }

    /// `Σ gradient · soft(θ)` on the trainable weights, recording the graph.
    pub(crate) fn relaxed_surrogate(
        &self,
        request: &RelaxedSampleRequest,
        gradient: &[f32],
    ) -> PluginResult<Tensor> {
        let pass = self.relaxed_pass(&self.model, request)?;
        let (count, steps, vocab) = pass.soft.dims3()?;
        let full = Tensor::from_slice(
            gradient,
            (count, request.max_len as usize, vocab),
            &self.device,
        )?;
        let gradient = full.narrow(1, 0, steps)?;
        Ok((pass.soft * gradient)?.sum_all()?)
    }

    fn relaxed_pass(&self, model: &M, request: &RelaxedSampleRequest) -> PluginResult<RelaxedPass> {
        let beta = f64::from(request.inverse_temperature);
        if !(beta.is_finite() && beta > 0.0) {
            return Err(PluginError::input(format!(
                "inverse temperature must be a positive finite number, got {beta}"
            )));
        }
        let (count, max_len) = (request.count as usize, request.max_len as usize);
        let sources = self.sources(&request.sources, count, "relaxed_sample")?;
        let mut rows: Vec<Vec<u32>> = vec![Vec::with_capacity(max_len); count];
        if count == 0 || max_len == 0 {
            let soft = Tensor::zeros((count, 0, self.vocab), DType::F32, &self.device)?;
            return Ok(RelaxedPass { rows, soft });
        }
        let (memory, mut state) = model.start(sources, count, &self.device)?;
        let mut streams: Vec<SeededRng> = (0..count)
            .map(|r| rng_from_seed(derive_seed(request.seed, &r.to_string())))
            .collect();
        let mut done = vec![false; count];
        let mut inputs = vec![self.bos; count];
        let mut steps = Vec::with_capacity(max_len);
        // Every row steps until the last one ends: the rows stay one batch,
        // and a finished row's positions are masked to zero.
        while steps.len() < max_len && done.iter().any(|d| !d) {
            let tokens = Tensor::new(inputs.as_slice(), &self.device)?;
            let (logits, next) = checked_step(model, &memory, &state, &tokens, self.vocab)?;
            let noise = gumbel_noise(&mut streams, self.vocab, &self.device)?;
            let (ids, soft) = gumbel_softmax(&logits, &noise, beta)?;
            let live: Vec<f32> = done.iter().map(|&d| if d { 0.0 } else { 1.0 }).collect();
            let live = Tensor::from_vec(live, (count, 1), &self.device)?;
            steps.push(soft.broadcast_mul(&live)?);
            for (r, &id) in ids.iter().enumerate() {
                if !done[r] {
                    rows[r].push(id);
                    done[r] = Some(id) == self.eos;
                }
            }
            inputs = ids;
            state = next;
        }
        Ok(RelaxedPass {
            rows,
            soft: Tensor::stack(&steps, 1)?,
        })
    }
}
