//! Relaxed samples for gradient-based adversarial training (RelGAN's
//! Gumbel-softmax generator), derived for every kit model from its `step`.
//!
//! Each step draws Gumbel noise `g` from the row's seeded stream, feeds the
//! hard sample `argmax(logits + g)` to the next step (as RelGAN does) and
//! emits the relaxed one-hot row `softmax(β · (logits + g))`. A discriminator
//! scores the relaxed rows and the host's loss gives their gradient; the
//! policy step then moves the weights along it. The step needs nothing
//! from the sample call: it can draw the same noise from the same seed and
//! recompute the rows with the model's graph, so a request can be answered
//! in any order and a checkpoint never holds a half-finished step. On the
//! CPU the sample call keeps its pass (`kits::kept_pass`: the logits with
//! their graph and the rows), and a policy step on the same request and
//! weights uses it instead of recomputing it, to the same bits.
//!
//! On the CPU each position goes through the toolkit's fused kernel and the
//! softmax's gradient is taken in closed form, so only the model's logits
//! are in the graph ([`RelaxedKernel::Fused`]); on other devices, tensor
//! ops and autograd ([`RelaxedKernel::Tensor`]). The tests hold the two to
//! the same samples and gradients.

use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Shape, Storage, Tensor};
use rayon::prelude::*;

use super::KitGenerator;
use crate::{
    error::{PluginError, PluginResult},
    generator::Policy,
    kits::generator::{model::checked_step, GeneratorModel},
    relaxed::{first_non_finite, RelaxedSampleRequest, RelaxedSamples},
    stats::StepStats,
    toolkit::{
        derive_seed, gumbel_noise, gumbel_softmax, gumbel_softmax_backward, gumbel_softmax_rows,
        rng_from_seed, row_blocks::contiguous, SeededRng,
    },
};

/// How a relaxed pass turns one position's logits into relaxed rows: both
/// give the same samples (to rounding) and the same weight gradients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RelaxedKernel {
    /// The toolkit's fused CPU kernel, and the policy step's gradient in
    /// closed form (`toolkit::gumbel_softmax_backward`).
    Fused,
    /// Tensor ops on any device, the gradient by autograd.
    Tensor,
}

impl RelaxedKernel {
    fn for_device(device: &Device) -> Self {
        if device.is_cpu() {
            Self::Fused
        } else {
            Self::Tensor
        }
    }
}

/// `f` of `tensor`'s values: read in place when they are contiguous on the
/// CPU (a position's logits are `[rows, vocabulary]`, 1.3 MB at the
/// oracle's sizes, read twenty times a sample), else copied out.
fn with_values<R>(tensor: &Tensor, f: impl FnOnce(&[f32]) -> R) -> PluginResult<R> {
    {
        let (storage, layout) = tensor.storage_and_layout();
        if let (Storage::Cpu(cpu), true) = (&*storage, layout.is_contiguous()) {
            return Ok(f(contiguous(cpu, layout, "the logits")?));
        }
    }
    Ok(f(&tensor.flatten_all()?.to_vec1::<f32>()?))
}

/// The surrogate of a policy step: its value `Σ gradient · soft(θ)`, and a
/// scalar whose weight gradient is that of the value (the value itself on
/// the tensor path; on the fused path `Σ dlogits · logits(θ)` with the
/// closed-form `dlogits` held fixed, which keeps the softmax out of the
/// graph).
pub(crate) struct RelaxedSurrogate {
    pub(crate) value: f32,
    pub(crate) graph: Tensor,
}

impl<M: GeneratorModel> KitGenerator<M> {
    /// Relaxed samples from the current policy; see [`RelaxedSamples`].
    pub fn relaxed_sample(&self, request: &RelaxedSampleRequest) -> PluginResult<RelaxedSamples> {
        self.relaxed_sample_with(request, RelaxedKernel::for_device(&self.device))
    }

    pub(crate) fn relaxed_sample_with(
        &self,
        request: &RelaxedSampleRequest,
        kernel: RelaxedKernel,
    ) -> PluginResult<RelaxedSamples> {
        let (count, max_len, vocab) =
            (request.count as usize, request.max_len as usize, self.vocab);
        let beta = inverse_temperature(request)?;
        self.kept.clear();
        // The fused path samples on the trainable model and keeps its
        // logits for a policy step; the tensor path on detached weights.
        let inference;
        let model = match kernel {
            RelaxedKernel::Fused => &self.model,
            RelaxedKernel::Tensor => {
                inference = self.inference_model(Policy::Current)?;
                &inference
            }
        };
        let mut kept_logits = Vec::new();
        // `[count, max_len, vocab]`, written position by position; zero past
        // each row's end.
        let mut soft = vec![0f32; count * max_len * vocab];
        let row_stride = (max_len * vocab).max(1);
        let rows = self.relaxed_pass(model, request, |t, logits, live, streams| {
            let at = t * vocab..(t + 1) * vocab;
            match kernel {
                RelaxedKernel::Fused => {
                    kept_logits.push(logits.clone());
                    let mut out: Vec<&mut [f32]> = soft
                        .chunks_mut(row_stride)
                        .map(|row| &mut row[at.clone()])
                        .collect();
                    with_values(logits, |values| {
                        gumbel_softmax_rows(values, streams, live, beta, &mut out)
                    })
                }
                RelaxedKernel::Tensor => {
                    let (ids, relaxed) = tensor_position(logits, streams, live, beta)?;
                    let values = relaxed.flatten_all()?.to_vec1::<f32>()?;
                    for (row, computed) in soft.chunks_mut(row_stride).zip(values.chunks(vocab)) {
                        row[at.clone()].copy_from_slice(computed);
                    }
                    Ok(ids)
                }
            }
        })?;
        if kernel == RelaxedKernel::Fused {
            let pass = KeptSample {
                request: request.clone(),
                lengths: rows.iter().map(Vec::len).collect(),
                logits: kept_logits,
                soft: soft.clone(),
            };
            self.kept.keep(self.params.varmap(), pass)?;
        }
        Ok(RelaxedSamples {
            ids: self.pad_rows(&rows, max_len),
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
        if let Some((_, bad)) = first_non_finite(gradient) {
            return Err(PluginError::numerical(format!(
                "gradient value {bad} is not finite; the step was not applied"
            )));
        }
        let kept = self
            .kept
            .take_if(self.params.varmap(), |pass| pass.request == *request)?;
        let surrogate = match kept {
            Some(pass) => self.kept_surrogate(pass, request, gradient)?,
            None => self.relaxed_surrogate(request, gradient)?,
        };
        let norm = self
            .params
            .minimise_in(self.adversarial, &surrogate.graph, "generator")?;
        Ok(StepStats::new(surrogate.value, request.count as usize).with("grad_norm", norm))
    }

    /// `Σ gradient · soft(θ)` on the trainable weights, recording the graph.
    pub(crate) fn relaxed_surrogate(
        &self,
        request: &RelaxedSampleRequest,
        gradient: &[f32],
    ) -> PluginResult<RelaxedSurrogate> {
        self.relaxed_surrogate_with(request, gradient, RelaxedKernel::for_device(&self.device))
    }

    pub(crate) fn relaxed_surrogate_with(
        &self,
        request: &RelaxedSampleRequest,
        gradient: &[f32],
        kernel: RelaxedKernel,
    ) -> PluginResult<RelaxedSurrogate> {
        let (count, max_len, vocab) =
            (request.count as usize, request.max_len as usize, self.vocab);
        let beta = inverse_temperature(request)?;
        let row_stride = (max_len * vocab).max(1);
        // Position `t`'s `[count, vocab]` slice of the gradient.
        let at_position = |t: usize| -> Vec<f32> {
            gradient
                .chunks(row_stride)
                .flat_map(|row| &row[t * vocab..(t + 1) * vocab])
                .copied()
                .collect()
        };
        let mut terms = Vec::with_capacity(max_len);
        let mut value = 0f64;
        let mut relaxed = vec![0f32; count * vocab];
        self.relaxed_pass(&self.model, request, |t, logits, live, streams| {
            let upstream = at_position(t);
            match kernel {
                RelaxedKernel::Fused => {
                    let mut out: Vec<&mut [f32]> = relaxed.chunks_mut(vocab).collect();
                    let ids = with_values(logits, |values| {
                        gumbel_softmax_rows(values, streams, live, beta, &mut out)
                    })?;
                    let rows = relaxed.chunks(vocab).zip(upstream.chunks(vocab)).zip(live);
                    terms.push(fused_term(logits, rows, beta, &mut value)?);
                    Ok(ids)
                }
                RelaxedKernel::Tensor => {
                    let (ids, relaxed) = tensor_position(logits, streams, live, beta)?;
                    let upstream = Tensor::from_vec(upstream, (count, vocab), &self.device)?;
                    terms.push((relaxed * upstream)?.sum_all()?);
                    Ok(ids)
                }
            }
        })?;
        let graph = self.sum_of_terms(&terms)?;
        let value = match kernel {
            RelaxedKernel::Fused => value as f32,
            RelaxedKernel::Tensor => graph.to_scalar::<f32>()?,
        };
        Ok(RelaxedSurrogate { value, graph })
    }

    /// [`Self::relaxed_surrogate`] on the fused path from the pass the
    /// sample call kept for `request`: the same terms from the same values,
    /// without recomputing them.
    fn kept_surrogate(
        &self,
        pass: KeptSample,
        request: &RelaxedSampleRequest,
        gradient: &[f32],
    ) -> PluginResult<RelaxedSurrogate> {
        let beta = inverse_temperature(request)?;
        let (max_len, vocab) = (request.max_len as usize, self.vocab);
        let row_stride = (max_len * vocab).max(1);
        let mut terms = Vec::with_capacity(pass.logits.len());
        let mut value = 0f64;
        for (t, logits) in pass.logits.iter().enumerate() {
            let at = t * vocab..(t + 1) * vocab;
            let relaxed = pass.soft.chunks(row_stride).map(|row| &row[at.clone()]);
            let upstream = gradient.chunks(row_stride).map(|row| &row[at.clone()]);
            let live: Vec<bool> = pass.lengths.iter().map(|&len| t < len).collect();
            let rows = relaxed.zip(upstream).zip(&live);
            terms.push(fused_term(logits, rows, beta, &mut value)?);
        }
        let graph = self.sum_of_terms(&terms)?;
        Ok(RelaxedSurrogate {
            value: value as f32,
            graph,
        })
    }

    /// The surrogate's graph: the positions' terms summed (a zero scalar
    /// when no position ran).
    fn sum_of_terms(&self, terms: &[Tensor]) -> PluginResult<Tensor> {
        Ok(if terms.is_empty() {
            Tensor::zeros((), DType::F32, &self.device)?
        } else {
            Tensor::stack(terms, 0)?.sum_all()?
        })
    }

    /// Runs `model` over `request`'s rows position by position, feeding
    /// each row's hard sample back, and returns the rows' tokens. At each
    /// position `t`, `position(t, logits, live, streams)` turns the
    /// `[count, vocab]` logits into that position's hard ids (its relaxed
    /// rows are the caller's business), drawing noise from the rows'
    /// streams; `live[r]` is false once row `r` has ended.
    fn relaxed_pass(
        &self,
        model: &M,
        request: &RelaxedSampleRequest,
        mut position: impl FnMut(usize, &Tensor, &[bool], &mut [SeededRng]) -> PluginResult<Vec<u32>>,
    ) -> PluginResult<Vec<Vec<u32>>> {
        let (count, max_len) = (request.count as usize, request.max_len as usize);
        let sources = self.sources(&request.sources, count, "relaxed_sample")?;
        let mut rows: Vec<Vec<u32>> = vec![Vec::with_capacity(max_len); count];
        if count == 0 || max_len == 0 {
            return Ok(rows);
        }
        let (memory, mut state) = model.start(sources, count, &self.device)?;
        let mut streams: Vec<SeededRng> = (0..count)
            .map(|r| rng_from_seed(derive_seed(request.seed, &r.to_string())))
            .collect();
        let mut live = vec![true; count];
        let mut inputs = vec![self.bos; count];
        // Every row steps until the last one ends: the rows stay one batch,
        // and a finished row's positions are zero.
        for t in 0..max_len {
            if !live.iter().any(|&l| l) {
                break;
            }
            let tokens = Tensor::new(inputs.as_slice(), &self.device)?;
            let (logits, next) = checked_step(model, &memory, &state, &tokens, self.vocab)?;
            let ids = position(t, &logits, &live, &mut streams)?;
            for (r, &id) in ids.iter().enumerate() {
                if live[r] {
                    rows[r].push(id);
                    live[r] = Some(id) != self.eos;
                }
            }
            inputs = ids;
            state = next;
        }
        Ok(rows)
    }
}

/// What a relaxed sample on the CPU keeps for the policy step: its
/// request, each row's length, the logits of each position with their
/// graph and the relaxed rows `[count, max_len, vocab]`.
pub(super) struct KeptSample {
    request: RelaxedSampleRequest,
    lengths: Vec<usize>,
    logits: Vec<Tensor>,
    soft: Vec<f32>,
}

/// One position's term of the fused surrogate: `Σ dlogits · logits` with
/// `dlogits` the softmax's closed-form gradient of each live row (zero for
/// a finished one), given as `((relaxed row, upstream row), live)`; adds
/// the rows' `⟨upstream, relaxed⟩` to `value`.
fn fused_term<'a>(
    logits: &Tensor,
    rows: impl Iterator<Item = ((&'a [f32], &'a [f32]), &'a bool)>,
    beta: f32,
    value: &mut f64,
) -> PluginResult<Tensor> {
    let (count, vocab) = logits.dims2()?;
    let mut dlogits = vec![0f32; count * vocab];
    let rows: Vec<_> = rows.collect();
    // Rows in parallel, their terms added in row order: the same value
    // whatever the thread count.
    let terms: Vec<f64> = dlogits
        .par_chunks_mut(vocab.max(1))
        .zip(rows.par_iter())
        .map(|(dl, &((relaxed, upstream), &live))| {
            if live {
                gumbel_softmax_backward(relaxed, upstream, beta, dl)
            } else {
                0.0
            }
        })
        .collect();
    for (term, ((_, _), &live)) in terms.iter().zip(&rows) {
        if live {
            *value += term;
        }
    }
    Ok(logits.contiguous()?.apply_op1(FixedContraction(dlogits))?)
}

/// The inverse temperature of `request`, checked.
fn inverse_temperature(request: &RelaxedSampleRequest) -> PluginResult<f32> {
    let beta = request.inverse_temperature;
    if !(beta.is_finite() && beta > 0.0) {
        return Err(PluginError::input(format!(
            "inverse temperature must be a positive finite number, got {beta}"
        )));
    }
    Ok(beta)
}

/// `x ↦ Σ w ⊙ x` for fixed weights `w` (a position's closed-form
/// `dlogits`), as one op: as `(x * w).sum_all()` its backward pass made
/// five passes over `[rows, vocabulary]` (the sum's broadcast, both
/// operands' gradients, Candle's zeroing and summing of each), where this
/// makes one and differentiates `x` only.
struct FixedContraction(Vec<f32>);

impl CustomOp1 for FixedContraction {
    fn name(&self) -> &'static str {
        "fixed-contraction"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = match (storage, layout.contiguous_offsets()) {
            (CpuStorage::F32(values), Some((start, end))) => &values[start..end],
            _ => candle_core::bail!("fixed contraction: a contiguous f32 tensor is expected"),
        };
        if x.len() != self.0.len() {
            candle_core::bail!(
                "fixed contraction: {} values against {} weights",
                x.len(),
                self.0.len()
            );
        }
        // The value only guards the step (a non-finite one refuses it; the
        // reported loss is summed elsewhere), so it is summed in lanes the
        // compiler vectorises rather than strictly left to right.
        const LANES: usize = 8;
        let mut lanes = [0f64; LANES];
        let (x_blocks, w_blocks) = (x.chunks_exact(LANES), self.0.chunks_exact(LANES));
        let tail: f64 = x_blocks
            .remainder()
            .iter()
            .zip(w_blocks.remainder())
            .map(|(&x, &w)| f64::from(x) * f64::from(w))
            .sum();
        for (x, w) in x_blocks.zip(w_blocks) {
            for ((lane, &x), &w) in lanes.iter_mut().zip(x).zip(w) {
                *lane += f64::from(x) * f64::from(w);
            }
        }
        let sum = lanes.iter().sum::<f64>() + tail;
        Ok((CpuStorage::F32(vec![sum as f32]), Shape::from(())))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let scale = grad.to_scalar::<f32>()?;
        let values: Vec<f32> = self.0.iter().map(|&w| w * scale).collect();
        Ok(Some(Tensor::from_vec(values, arg.shape(), arg.device())?))
    }
}

/// One position with tensor ops: the hard ids and the relaxed rows,
/// `[count, vocab]`, zero for a finished row.
fn tensor_position(
    logits: &Tensor,
    streams: &mut [SeededRng],
    live: &[bool],
    beta: f32,
) -> PluginResult<(Vec<u32>, Tensor)> {
    let (count, vocab) = logits.dims2()?;
    let noise = gumbel_noise(streams, vocab, logits.device())?;
    let (ids, soft) = gumbel_softmax(logits, &noise, f64::from(beta))?;
    let live: Vec<f32> = live.iter().map(|&l| f32::from(u8::from(l))).collect();
    let live = Tensor::from_vec(live, (count, 1), logits.device())?;
    Ok((ids, soft.broadcast_mul(&live)?))
}
