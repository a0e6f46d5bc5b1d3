//! Relaxed rows for gradient-based adversarial training (RelGAN): logits of
//! rows given as distributions over the vocabulary, the gradient of the
//! host's loss with respect to those rows (what the generator trains on),
//! and a training step along the host's gradient with respect to the
//! logits. The host owns the loss, so these take its gradient per logit
//! (`upstream`), never a loss of their own.
//!
//! Each call computes the forward pass with dropout seeded by the caller,
//! so the logits a gradient refers to are the logits the host saw. One
//! exception saves a pass: `relaxed_logits` with a dropout seed keeps its
//! pass (`kits::kept_pass`), with the rows tracked, and the call that
//! follows it on the same rows, seed and weights — a
//! `relaxed_input_gradient` (a generator step) or a `relaxed_train_step`
//! (a discriminator step) — differentiates that pass instead of
//! recomputing it, which gives the same values to the last bit. It keeps
//! nothing when the batch is taken in chunks (that would hold every
//! chunk's activations at once) or off the CPU.
//!
//! The rows' gradient goes through a request (`toolkit::rows_gradient`):
//! a model that reads its rows with the toolkit's relaxed embedding
//! (`MaskedEmbedding::relaxed`) has it written once into the buffer this
//! returns, and a training step on a kept pass computes none. A model that
//! reads them some other way gets autograd's gradient, the same values at
//! the cost of Candle's extra passes over the rows.
//!
//! Memory: a crossing's rows are `[rows × width × vocabulary]` f32 (25.6 MB
//! for 64 rows at the oracle's 20 × 5,000), and a pass holds a copy of them,
//! the model's activations and, for a gradient, the gradient with respect
//! to them. With `training.relaxed_chunk` set, each call takes the batch
//! through the model that many rows at a time (a training step sums the
//! chunks' weight gradients before its one optimiser step), so the pass's
//! share of peak memory follows the chunk, not the batch the host sends.

use std::ops::Range;

use abi_stable::std_types::ROption;
use candle_core::{CpuStorage, Storage, Tensor, Var};

use super::{one_per_row, KitDiscriminator};
use crate::{
    batch::TokenBatch,
    error::{PluginError, PluginResult},
    kits::{
        discriminator::{rows::row_sources, DiscriminatorConfig, DiscriminatorModel, Pass},
        kept_pass::same_bits,
    },
    relaxed::{check_finite, RelaxedBatch},
    stats::{StepOptions, StepStats},
    toolkit::{
        derive_seed,
        rows_gradient::{RowsGradient, RowsGradientRequest},
        Dropout,
    },
};

use super::super::model::RelaxedRows;

impl<M: DiscriminatorModel> KitDiscriminator<M> {
    /// `[B]` logits of `batch`; `dropout_seed` `None` scores in evaluation
    /// mode, `Some(seed)` with the training dropout that seed draws.
    pub fn relaxed_logits(
        &self,
        batch: &RelaxedBatch,
        dropout_seed: Option<u64>,
    ) -> PluginResult<Vec<f32>> {
        self.check_relaxed(batch)?;
        let chunks = self.relaxed_chunks(batch.rows());
        let keep = match dropout_seed {
            Some(seed) if chunks.len() == 1 && self.padder.device.is_cpu() => Some(seed),
            _ => None,
        };
        self.kept.clear();
        let mut logits = Vec::with_capacity(batch.rows());
        for chunk in chunks {
            // A kept pass tracks the rows, so that a gradient request on
            // it can reach them (a training step asks for none).
            let soft = self.chunk_tensor(batch, &chunk, keep.is_some())?;
            let rows = self.relaxed_rows(batch, soft.clone(), &chunk)?;
            let dropout = chunk_dropout(dropout_seed, &chunk);
            let forward = self.relaxed_forward(&rows, dropout)?;
            logits.extend(forward.detach().to_vec1::<f32>()?);
            if let Some(dropout_seed) = keep {
                let pass = KeptLogits {
                    dropout_seed,
                    width: batch.width,
                    lengths: batch.lengths.to_vec(),
                    sources: batch.sources.clone(),
                    soft,
                    logits: forward,
                };
                self.kept.keep(self.params.varmap(), pass)?;
            }
        }
        Ok(logits)
    }

    /// `∂(Σ upstream · logits)/∂soft`, `[rows, width, vocabulary]` (zero
    /// past each row's length): with `upstream` the host loss's gradient
    /// with respect to the logits of [`Self::relaxed_logits`] (same batch,
    /// same `dropout_seed`), the loss's gradient with respect to the rows.
    /// The weights do not change.
    pub fn relaxed_input_gradient(
        &self,
        batch: &RelaxedBatch,
        upstream: &[f32],
        dropout_seed: Option<u64>,
    ) -> PluginResult<Vec<f32>> {
        self.check_relaxed(batch)?;
        check_upstream(upstream, batch.rows())?;
        let kept = match dropout_seed {
            Some(seed) => self
                .kept
                .take_if(self.params.varmap(), |pass| pass.is_of(batch, seed))?,
            None => {
                self.kept.clear();
                None
            }
        };
        if kept.is_some() {
            check_past_lengths(batch, self.vocab)?;
        }
        let mut kept = kept.map(|pass| (pass.soft, pass.logits));
        let mut gradient = Vec::new();
        for chunk in self.relaxed_chunks(batch.rows()) {
            let (input, logits) = match kept.take() {
                // `relaxed_logits` computed this very pass: one chunk.
                Some(pass) => pass,
                None => {
                    let input = self.chunk_tensor(batch, &chunk, true)?;
                    let rows = self.relaxed_rows(batch, input.clone(), &chunk)?;
                    let dropout = chunk_dropout(dropout_seed, &chunk);
                    let logits = self.relaxed_forward(&rows, dropout)?;
                    (input, logits)
                }
            };
            let surrogate = self.contract(&logits, &upstream[chunk.clone()])?;
            let request = RowsGradientRequest::new(&input, RowsGradient::Deliver);
            let grads = surrogate.backward()?;
            let mut values = match (request.take(), grads.get(&input)) {
                // The toolkit's relaxed embedding wrote it directly.
                (Some(values), _) => values,
                (None, Some(g)) => g.flatten_all()?.to_vec1::<f32>()?,
                // The model does not read the rows at all.
                (None, None) => vec![0.0; input.elem_count()],
            };
            // A model may read positions past a row's length (they hold
            // zeros); the loss does not depend on them.
            let lengths = &batch.lengths[chunk];
            zero_past_lengths(&mut values, lengths, batch.width as usize, self.vocab);
            if gradient.is_empty() {
                gradient = values;
            } else {
                gradient.extend_from_slice(&values);
            }
        }
        Ok(gradient)
    }

    /// One optimiser step minimising `Σ upstream · logits`, the host loss's
    /// first-order change, with the training dropout `options.seed` draws
    /// (the seed of the [`Self::relaxed_logits`] call `upstream` came
    /// from). Reports that surrogate as the loss, with the gradient norm.
    pub fn relaxed_train_step(
        &mut self,
        batch: &RelaxedBatch,
        upstream: &[f32],
        options: &StepOptions,
    ) -> PluginResult<StepStats> {
        self.check_relaxed(batch)?;
        check_upstream(upstream, batch.rows())?;
        if batch.rows() == 0 {
            return Err(PluginError::input(
                "a relaxed training step needs at least one row; the batch has none",
            ));
        }
        let kept = self
            .kept
            .take_if(self.params.varmap(), |pass| pass.is_of(batch, options.seed))?;
        let vars = self.params.varmap().all_vars();
        let mut summed: Vec<Option<Tensor>> = vec![None; vars.len()];
        let mut value = 0f32;
        if kept.is_some() {
            check_past_lengths(batch, self.vocab)?;
        }
        let (mut kept, mut kept_rows) = match kept {
            Some(pass) => (Some(pass.logits), Some(pass.soft)),
            None => (None, None),
        };
        for chunk in self.relaxed_chunks(batch.rows()) {
            let logits = match kept.take() {
                // `relaxed_logits` computed this very pass: one chunk.
                Some(logits) => logits,
                None => {
                    let rows =
                        self.relaxed_rows(batch, self.chunk_tensor(batch, &chunk, false)?, &chunk)?;
                    let dropout = chunk_dropout(Some(options.seed), &chunk);
                    self.relaxed_forward(&rows, dropout)?
                }
            };
            let surrogate = self.contract(&logits, &upstream[chunk])?;
            value += surrogate.to_scalar::<f32>()?;
            // A kept pass tracked its rows; a training step needs no
            // gradient for them.
            let _rows = kept_rows
                .take()
                .map(|rows| RowsGradientRequest::new(&rows, RowsGradient::Skip));
            let grads = surrogate.backward()?;
            for (sum, var) in summed.iter_mut().zip(&vars) {
                if let Some(g) = grads.get(var.as_tensor()) {
                    *sum = Some(match sum.take() {
                        Some(total) => (total + g)?,
                        None => g.clone(),
                    });
                }
            }
        }
        let gradients = vars
            .iter()
            .zip(summed)
            .filter_map(|(var, g)| g.map(|g| (var.as_tensor().clone(), g)))
            .collect();
        let norm = self
            .params
            .minimise_with_gradients(value, gradients, M::NAME)?;
        Ok(StepStats::new(value, batch.rows()).with("grad_norm", norm))
    }

    /// Refuses the boundary's relaxed calls for a model without
    /// [`DiscriminatorModel::RELAXED`], as its undeclared capability says.
    pub(super) fn relaxed_supported(&self) -> PluginResult<()> {
        if M::RELAXED {
            return Ok(());
        }
        Err(PluginError::unsupported(format!(
            "{} reads ids only: it does not implement relaxed_logits",
            M::NAME
        )))
    }

    /// The row ranges a relaxed call takes through the model, one forward
    /// (and backward) pass each: `training.relaxed_chunk` rows at a time,
    /// or the whole batch when it is 0.
    fn relaxed_chunks(&self, rows: usize) -> Vec<Range<usize>> {
        let size = match self.config.training().relaxed_chunk {
            0 => rows.max(1),
            size => size,
        };
        (0..rows)
            .step_by(size)
            .map(|start| start..(start + size).min(rows))
            .collect()
    }

    /// `Σ upstream · logits`.
    fn contract(&self, logits: &Tensor, upstream: &[f32]) -> PluginResult<Tensor> {
        let upstream = Tensor::from_slice(upstream, upstream.len(), &self.padder.device)?;
        Ok((logits * upstream)?.sum_all()?)
    }

    /// `[B]` logits of `rows`, checked to be one per row.
    fn relaxed_forward(
        &self,
        rows: &RelaxedRows,
        dropout_seed: Option<u64>,
    ) -> PluginResult<Tensor> {
        let dropout = match dropout_seed {
            Some(seed) => Dropout::training(self.config.training().dropout, seed),
            None => Dropout::evaluation(),
        };
        let mut pass = Pass::new(self.padder.clone(), dropout);
        let logits = self.model.relaxed_logits(rows, &mut pass)?.ok_or_else(|| {
            PluginError::unsupported(format!(
                "{} reads ids only: it does not implement relaxed_logits",
                M::NAME
            ))
        })?;
        one_per_row::<M>(logits, rows.len(), "relaxed logits")
    }

    /// Checks `batch`'s values against its rows, width and lengths, and its
    /// sources against its rows.
    fn check_relaxed(&self, batch: &RelaxedBatch) -> PluginResult<()> {
        let vocab = self.vocab;
        let (rows, width) = (batch.rows(), batch.width as usize);
        if batch.soft.len() != rows * width * vocab {
            return Err(PluginError::input(format!(
                "{} relaxed values for {rows} rows × {width} positions × {vocab} ids",
                batch.soft.len()
            )));
        }
        if let Some(&long) = batch.lengths.iter().find(|&&l| l as usize > width) {
            return Err(PluginError::input(format!(
                "a relaxed row of length {long} in a batch {width} wide"
            )));
        }
        if let Some(sources) = batch.sources.as_ref().into_option() {
            if sources.rows() != rows {
                return Err(PluginError::input(format!(
                    "{} sources for {rows} relaxed rows (one per row expected)",
                    sources.rows()
                )));
            }
        }
        Ok(())
    }

    /// A copy of `chunk`'s rows of `batch.soft`, checked to be finite as
    /// they are copied (the kit tells the SDK it checks them, sparing a
    /// pass), zero past each row's length: the one copy a crossing costs,
    /// since the boundary's array cannot be borrowed by a tensor.
    fn chunk_values(&self, batch: &RelaxedBatch, chunk: &Range<usize>) -> PluginResult<Vec<f32>> {
        let (width, vocab) = (batch.width as usize, self.vocab);
        let stride = width * vocab;
        let rows = &batch.soft[chunk.start * stride..chunk.end * stride];
        let mut values = Vec::with_capacity(rows.len());
        // Blocks small enough to be checked while still in cache.
        for block in rows.chunks(1 << 14) {
            values.extend_from_slice(block);
            check_finite(block)?;
        }
        zero_past_lengths(&mut values, &batch.lengths[chunk.clone()], width, vocab);
        Ok(values)
    }

    /// `chunk`'s rows of `batch` as a `[rows, W, V]` tensor
    /// ([`Self::chunk_values`]); with `track`, a variable, whose gradient
    /// the backward pass computes.
    fn chunk_tensor(
        &self,
        batch: &RelaxedBatch,
        chunk: &Range<usize>,
        track: bool,
    ) -> PluginResult<Tensor> {
        let dims = (chunk.len(), batch.width as usize, self.vocab);
        let values = self.chunk_values(batch, chunk)?;
        let device = &self.padder.device;
        Ok(if track {
            Var::from_vec(values, dims, device)?.as_tensor().clone()
        } else {
            Tensor::from_vec(values, dims, device)?
        })
    }

    /// The model's view of `chunk`'s rows of `batch`, read from `soft`
    /// (`[rows, W, V]`, zero past each row's length).
    fn relaxed_rows(
        &self,
        batch: &RelaxedBatch,
        soft: Tensor,
        chunk: &Range<usize>,
    ) -> PluginResult<RelaxedRows> {
        let width = batch.width as usize;
        let lengths = &batch.lengths[chunk.clone()];
        let mask: Vec<f32> = lengths
            .iter()
            .flat_map(|&len| (0..width).map(move |t| f32::from(u8::from(t < len as usize))))
            .collect();
        let mask = Tensor::from_vec(mask, (lengths.len(), width), &self.padder.device)?;
        let sources = row_sources(
            batch.sources.as_ref().into_option(),
            M::NAME,
            M::SOURCES,
            self.config.max_source_len(),
        )?
        .map(|all| all[chunk.clone()].to_vec());
        Ok(RelaxedRows {
            soft,
            mask,
            lengths: lengths.iter().map(|&l| l as usize).collect(),
            sources,
        })
    }
}

/// The forward pass of a `relaxed_logits` call with a dropout seed, over
/// the whole batch at once, and what it was computed from.
pub(in crate::kits::discriminator) struct KeptLogits {
    dropout_seed: u64,
    width: u32,
    lengths: Vec<u32>,
    sources: ROption<TokenBatch>,
    /// The rows as the model read them (zero past each row's length), a
    /// variable, so a gradient request can use the pass.
    soft: Tensor,
    /// `[B]`, with the autograd graph back to the weights.
    logits: Tensor,
}

impl KeptLogits {
    /// Whether this pass is the one a training step on `batch` with the
    /// dropout of `dropout_seed` would compute: the same seed, lengths,
    /// sources and rows (bit for bit up to each row's length).
    fn is_of(&self, batch: &RelaxedBatch, dropout_seed: u64) -> bool {
        if self.dropout_seed != dropout_seed
            || self.width != batch.width
            || self.lengths.as_slice() != batch.lengths.as_slice()
            || self.sources != batch.sources
        {
            return false;
        }
        let (storage, layout) = self.soft.storage_and_layout();
        let (Storage::Cpu(CpuStorage::F32(values)), Some((start, end))) =
            (&*storage, layout.contiguous_offsets())
        else {
            return false;
        };
        let kept = &values[start..end];
        let rows = self.lengths.len();
        if kept.len() != batch.soft.len() || rows == 0 || self.width == 0 {
            return false;
        }
        let per_row = kept.len() / rows;
        let vocab = per_row / self.width as usize;
        kept.chunks(per_row)
            .zip(batch.soft.chunks(per_row))
            .zip(&self.lengths)
            .all(|((kept, sent), &len)| {
                let read = len as usize * vocab;
                same_bits(&kept[..read], &sent[..read])
            })
    }
}

/// Checks the values of `batch` past each row's length. A kept pass
/// matched the rest bit for bit, and those were checked when it was
/// computed; past the lengths the model reads zeros, but a batch is
/// refused for any value that is not finite, wherever it is.
fn check_past_lengths(batch: &RelaxedBatch, vocab: usize) -> PluginResult<()> {
    let width = batch.width as usize;
    for (row, &len) in batch
        .soft
        .chunks((width * vocab).max(1))
        .zip(&batch.lengths)
    {
        check_finite(&row[(len as usize).min(width) * vocab..])?;
    }
    Ok(())
}

/// The dropout seed of the pass over `chunk`: the call's own for the
/// chunk that starts the batch (so one chunk is the unchunked call), one
/// derived from it and the chunk's first row for the others.
fn chunk_dropout(seed: Option<u64>, chunk: &Range<usize>) -> Option<u64> {
    seed.map(|seed| match chunk.start {
        0 => seed,
        start => derive_seed(seed, &format!("relaxed rows from {start}")),
    })
}

/// Checks there is one finite upstream gradient per row.
fn check_upstream(upstream: &[f32], rows: usize) -> PluginResult<()> {
    if upstream.len() != rows {
        return Err(PluginError::input(format!(
            "{} upstream gradients for {rows} rows (one per row's logit expected)",
            upstream.len(),
        )));
    }
    if let Some(bad) = upstream.iter().find(|g| !g.is_finite()) {
        return Err(PluginError::numerical(format!(
            "upstream gradient {bad} is not finite"
        )));
    }
    Ok(())
}

/// Zeroes the positions of `values` (`[rows, width, vocab]`, one row per
/// entry of `lengths`) past each row's length. Positions past a row's
/// length read nothing: zeroing them in place costs only those positions,
/// where multiplying by a mask in the graph would cost two passes over the
/// whole batch (forward and back).
fn zero_past_lengths(values: &mut [f32], lengths: &[u32], width: usize, vocab: usize) {
    for (row, &len) in values.chunks_mut((width * vocab).max(1)).zip(lengths) {
        row[(len as usize).min(width) * vocab..].fill(0.0);
    }
}
