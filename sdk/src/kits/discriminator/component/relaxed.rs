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
//! Since ABI 1.3 a step's rows may come as [`PairedRows`], real rows as
//! ids: the kit builds from them the very tensor the joined batch would
//! give (the real rows one-hot), so the model, its logits and its weight
//! gradients are those of the 1.2 call to the bit, and delivers the rows'
//! gradient of the generated rows only.
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
    relaxed::{check_finite, PairedRows, RelaxedBatch},
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
        self.logits_of(RowsIn::Relaxed(batch), dropout_seed)
    }

    /// [`Self::relaxed_logits`] of the batch `rows` stand for
    /// ([`PairedRows::joined`]): the real rows' logits, then the generated
    /// rows'.
    pub fn paired_logits(
        &self,
        rows: &PairedRows,
        dropout_seed: Option<u64>,
    ) -> PluginResult<Vec<f32>> {
        self.logits_of(RowsIn::Paired(rows), dropout_seed)
    }

    fn logits_of(&self, input: RowsIn<'_>, dropout_seed: Option<u64>) -> PluginResult<Vec<f32>> {
        self.check_relaxed(input)?;
        let call = CallRows::new(input);
        let chunks = self.relaxed_chunks(call.rows());
        let keep = match dropout_seed {
            Some(seed) if chunks.len() == 1 && self.padder.device.is_cpu() => Some(seed),
            _ => None,
        };
        self.kept.clear();
        let mut logits = Vec::with_capacity(call.rows());
        for chunk in chunks {
            // A kept pass tracks the rows, so that a gradient request on
            // it can reach them (a training step asks for none).
            let soft = self.chunk_tensor(&call, &chunk, keep.is_some())?;
            let rows = self.relaxed_rows(&call, soft.clone(), &chunk)?;
            let dropout = chunk_dropout(dropout_seed, &chunk);
            let forward = self.relaxed_forward(&rows, dropout)?;
            logits.extend(forward.detach().to_vec1::<f32>()?);
            if let Some(dropout_seed) = keep {
                let pass = KeptLogits {
                    dropout_seed,
                    width: call.width(),
                    real: call.real_ids(),
                    lengths: call.lengths,
                    sources: call.sources,
                    soft,
                    logits: forward,
                };
                self.kept.keep(self.params.varmap(), pass)?;
                // A pass is kept only when it is the call's one chunk.
                break;
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
        self.input_gradient_of(RowsIn::Relaxed(batch), upstream, dropout_seed)
    }

    /// The generated rows' part of [`Self::relaxed_input_gradient`] on the
    /// batch `rows` stand for, `[pairs, width, vocabulary]`; the real
    /// rows' part is not returned (nor computed, in a chunk of real rows
    /// alone).
    pub fn paired_input_gradient(
        &self,
        rows: &PairedRows,
        upstream: &[f32],
        dropout_seed: Option<u64>,
    ) -> PluginResult<Vec<f32>> {
        self.input_gradient_of(RowsIn::Paired(rows), upstream, dropout_seed)
    }

    fn input_gradient_of(
        &self,
        input: RowsIn<'_>,
        upstream: &[f32],
        dropout_seed: Option<u64>,
    ) -> PluginResult<Vec<f32>> {
        self.check_relaxed(input)?;
        let call = CallRows::new(input);
        check_upstream(upstream, call.rows())?;
        let kept = match dropout_seed {
            Some(seed) => self.kept.take_if(self.params.varmap(), |pass| {
                pass.is_of(&call, seed, self.vocab)
            })?,
            None => {
                self.kept.clear();
                None
            }
        };
        if kept.is_some() {
            check_past_lengths(input, self.vocab)?;
        }
        let mut kept = kept.map(|pass| (pass.soft, pass.logits));
        let first_wanted = input.first_wanted_row();
        let mut gradient = Vec::new();
        for chunk in self.relaxed_chunks(call.rows()) {
            // Rows whose gradient nobody wants: a chunk of them alone needs
            // no pass (a row's logit reads that row only).
            if chunk.end <= first_wanted && kept.is_none() {
                continue;
            }
            let (input_tensor, logits) = match kept.take() {
                // `relaxed_logits` computed this very pass: one chunk.
                Some(pass) => pass,
                None => {
                    let tensor = self.chunk_tensor(&call, &chunk, true)?;
                    let rows = self.relaxed_rows(&call, tensor.clone(), &chunk)?;
                    let dropout = chunk_dropout(dropout_seed, &chunk);
                    let logits = self.relaxed_forward(&rows, dropout)?;
                    (tensor, logits)
                }
            };
            let from_row = first_wanted.saturating_sub(chunk.start);
            let surrogate = self.contract(&logits, &upstream[chunk.clone()])?;
            let request =
                RowsGradientRequest::new(&input_tensor, RowsGradient::Deliver { from_row });
            let grads = surrogate.backward()?;
            let per_row = call.width() as usize * self.vocab;
            let mut values = match (request.take(), grads.get(&input_tensor)) {
                // The toolkit's relaxed embedding wrote it directly.
                (Some(values), _) => values,
                (None, Some(g)) => {
                    let all = g.flatten_all()?.to_vec1::<f32>()?;
                    all[from_row * per_row..].to_vec()
                }
                // The model does not read the rows at all.
                (None, None) => vec![0.0; (chunk.len() - from_row) * per_row],
            };
            // A model may read positions past a row's length (they hold
            // zeros); the loss does not depend on them.
            let lengths = &call.lengths[chunk.start + from_row..chunk.end];
            zero_past_lengths(&mut values, lengths, call.width() as usize, self.vocab);
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
        self.train_step_on(RowsIn::Relaxed(batch), upstream, options)
    }

    /// [`Self::relaxed_train_step`] on the batch `rows` stand for.
    pub fn paired_train_step(
        &mut self,
        rows: &PairedRows,
        upstream: &[f32],
        options: &StepOptions,
    ) -> PluginResult<StepStats> {
        self.train_step_on(RowsIn::Paired(rows), upstream, options)
    }

    fn train_step_on(
        &mut self,
        input: RowsIn<'_>,
        upstream: &[f32],
        options: &StepOptions,
    ) -> PluginResult<StepStats> {
        self.check_relaxed(input)?;
        let call = CallRows::new(input);
        check_upstream(upstream, call.rows())?;
        if call.rows() == 0 {
            return Err(PluginError::input(
                "a relaxed training step needs at least one row; the batch has none",
            ));
        }
        let kept = self.kept.take_if(self.params.varmap(), |pass| {
            pass.is_of(&call, options.seed, self.vocab)
        })?;
        let vars = self.params.varmap().all_vars();
        let mut summed: Vec<Option<Tensor>> = vec![None; vars.len()];
        let mut value = 0f32;
        if kept.is_some() {
            check_past_lengths(input, self.vocab)?;
        }
        let (mut kept, mut kept_rows) = match kept {
            Some(pass) => (Some(pass.logits), Some(pass.soft)),
            None => (None, None),
        };
        for chunk in self.relaxed_chunks(call.rows()) {
            let logits = match kept.take() {
                // `relaxed_logits` computed this very pass: one chunk.
                Some(logits) => logits,
                None => {
                    let rows =
                        self.relaxed_rows(&call, self.chunk_tensor(&call, &chunk, false)?, &chunk)?;
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
        Ok(StepStats::new(value, call.rows()).with("grad_norm", norm))
    }

    /// Refuses the boundary's relaxed calls for a model without
    /// [`DiscriminatorModel::RELAXED`], as its undeclared capability says.
    pub(super) fn relaxed_supported(&self) -> PluginResult<()> {
        if M::RELAXED {
            return Ok(());
        }
        Err(PluginError::unsupported(format!(
            "{} reads ids only: its model's `const RELAXED` is false (set `const RELAXED: bool = true` in its `DiscriminatorModel` impl, beside `relaxed_logits`)",
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
                "{} reads ids only: its model's `relaxed_logits` returns None (implement it, reading `rows.soft` with `MaskedEmbedding::relaxed`)",
                M::NAME
            ))
        })?;
        one_per_row::<M>(logits, rows.len(), "relaxed logits")
    }

    /// Checks `input`'s values against its rows, width and lengths, and its
    /// sources against its rows; paired rows' real ids against the
    /// vocabulary.
    fn check_relaxed(&self, input: RowsIn<'_>) -> PluginResult<()> {
        let vocab = self.vocab;
        let batch = match input {
            RowsIn::Relaxed(batch) => batch,
            RowsIn::Paired(rows) => {
                // The SDK's guard checked this already for the host's
                // calls; a direct call must not index past the vocabulary.
                rows.validate_shape(vocab as u32)?;
                &rows.generated
            }
        };
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

    /// `chunk`'s rows of `call` as the model reads them: the relaxed rows
    /// copied and checked to be finite as they are copied (the kit tells
    /// the SDK it checks them, sparing a pass), real ids written one-hot,
    /// zero past each row's length. The one copy a crossing costs, since
    /// the boundary's array cannot be borrowed by a tensor.
    fn chunk_values(&self, call: &CallRows<'_>, chunk: &Range<usize>) -> PluginResult<Vec<f32>> {
        let (width, vocab) = (call.width() as usize, self.vocab);
        let stride = width * vocab;
        let mut values = Vec::with_capacity(chunk.len() * stride);
        match call.input {
            RowsIn::Relaxed(batch) => {
                copy_checked(
                    &mut values,
                    &batch.soft[chunk.start * stride..chunk.end * stride],
                )?;
            }
            RowsIn::Paired(paired) => {
                let pairs = paired.pairs();
                let real = chunk.start.min(pairs)..chunk.end.min(pairs);
                let generated = chunk.start.max(pairs) - pairs..chunk.end.max(pairs) - pairs;
                for r in real {
                    let start = values.len();
                    values.resize(start + stride, 0.0);
                    for (t, &id) in paired.real.row(r).iter().enumerate() {
                        values[start + t * vocab + id as usize] = 1.0;
                    }
                }
                let sent = &paired.generated.soft;
                copy_checked(
                    &mut values,
                    &sent[generated.start * stride..generated.end * stride],
                )?;
            }
        }
        zero_past_lengths(&mut values, &call.lengths[chunk.clone()], width, vocab);
        Ok(values)
    }

    /// `chunk`'s rows of `call` as a `[rows, W, V]` tensor
    /// ([`Self::chunk_values`]); with `track`, a variable, whose gradient
    /// the backward pass computes.
    fn chunk_tensor(
        &self,
        call: &CallRows<'_>,
        chunk: &Range<usize>,
        track: bool,
    ) -> PluginResult<Tensor> {
        let dims = (chunk.len(), call.width() as usize, self.vocab);
        let values = self.chunk_values(call, chunk)?;
        let device = &self.padder.device;
        Ok(if track {
            Var::from_vec(values, dims, device)?.as_tensor().clone()
        } else {
            Tensor::from_vec(values, dims, device)?
        })
    }

    /// The model's view of `chunk`'s rows of `call`, read from `soft`
    /// (`[rows, W, V]`, zero past each row's length).
    fn relaxed_rows(
        &self,
        call: &CallRows<'_>,
        soft: Tensor,
        chunk: &Range<usize>,
    ) -> PluginResult<RelaxedRows> {
        let width = call.width() as usize;
        let lengths = &call.lengths[chunk.clone()];
        let mask: Vec<f32> = lengths
            .iter()
            .flat_map(|&len| (0..width).map(move |t| f32::from(u8::from(t < len as usize))))
            .collect();
        let mask = Tensor::from_vec(mask, (lengths.len(), width), &self.padder.device)?;
        let sources = row_sources(
            call.sources.as_ref().into_option(),
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

/// The rows of a relaxed call: a batch of relaxed rows (ABI 1.2), or a
/// step's paired rows, real ones as ids (ABI 1.3), which the model reads
/// as the batch they stand for ([`PairedRows::joined`]).
#[derive(Clone, Copy)]
enum RowsIn<'a> {
    Relaxed(&'a RelaxedBatch),
    Paired(&'a PairedRows),
}

impl<'a> RowsIn<'a> {
    /// The first row whose gradient the caller wants: all of a relaxed
    /// batch's, the generated ones of paired rows.
    fn first_wanted_row(self) -> usize {
        match self {
            RowsIn::Relaxed(_) => 0,
            RowsIn::Paired(rows) => rows.pairs(),
        }
    }

    /// The relaxed rows the call was sent, and the row of the joined batch
    /// where they start.
    fn relaxed_part(self) -> (&'a RelaxedBatch, usize) {
        match self {
            RowsIn::Relaxed(batch) => (batch, 0),
            RowsIn::Paired(rows) => (&rows.generated, rows.pairs()),
        }
    }
}

/// What a call reads of its rows, gathered once: the joined batch's
/// lengths and sources.
struct CallRows<'a> {
    input: RowsIn<'a>,
    lengths: Vec<u32>,
    sources: ROption<TokenBatch>,
}

impl<'a> CallRows<'a> {
    fn new(input: RowsIn<'a>) -> Self {
        let (lengths, sources) = match input {
            RowsIn::Relaxed(batch) => (batch.lengths.to_vec(), batch.sources.clone()),
            RowsIn::Paired(rows) => {
                let lengths = rows.real.lengths.iter().chain(&rows.generated.lengths);
                // Each pair's source on both of its rows.
                let sources = match &rows.generated.sources {
                    ROption::RSome(sources) => {
                        let each: Vec<&[u32]> = sources.iter_rows().collect();
                        let both: Vec<&[u32]> = each.iter().chain(&each).copied().collect();
                        ROption::RSome(TokenBatch::from_rows_with_width(
                            &both,
                            0,
                            sources.width as usize,
                        ))
                    }
                    ROption::RNone => ROption::RNone,
                };
                (lengths.copied().collect(), sources)
            }
        };
        CallRows {
            input,
            lengths,
            sources,
        }
    }

    fn rows(&self) -> usize {
        self.lengths.len()
    }

    fn width(&self) -> u32 {
        self.input.relaxed_part().0.width
    }

    /// The real rows' ids, for paired rows.
    fn real_ids(&self) -> Option<TokenBatch> {
        match self.input {
            RowsIn::Relaxed(_) => None,
            RowsIn::Paired(rows) => Some(rows.real.clone()),
        }
    }
}

/// The forward pass of a `relaxed_logits` or `paired_logits` call with a
/// dropout seed, over the whole batch at once, and what it was computed
/// from.
pub(in crate::kits::discriminator) struct KeptLogits {
    dropout_seed: u64,
    width: u32,
    /// The real rows' ids, when the call's rows were paired.
    real: Option<TokenBatch>,
    lengths: Vec<u32>,
    sources: ROption<TokenBatch>,
    /// The rows as the model read them (zero past each row's length), a
    /// variable, so a gradient request can use the pass.
    soft: Tensor,
    /// `[B]`, with the autograd graph back to the weights.
    logits: Tensor,
}

impl KeptLogits {
    /// Whether this pass is the one a call on `call`'s rows with the
    /// dropout of `dropout_seed` would compute: the same seed, lengths,
    /// sources and rows (real ids equal, relaxed rows bit for bit up to
    /// each row's length), sent the same way.
    fn is_of(&self, call: &CallRows<'_>, dropout_seed: u64, vocab: usize) -> bool {
        if self.dropout_seed != dropout_seed
            || self.width != call.width()
            || self.lengths != call.lengths
            || self.sources != call.sources
        {
            return false;
        }
        let same_real = match (&self.real, call.input) {
            (None, RowsIn::Relaxed(_)) => true,
            (Some(kept), RowsIn::Paired(rows)) => kept.iter_rows().eq(rows.real.iter_rows()),
            _ => false,
        };
        if !same_real {
            return false;
        }
        let (storage, layout) = self.soft.storage_and_layout();
        let (Storage::Cpu(CpuStorage::F32(values)), Some((start, end))) =
            (&*storage, layout.contiguous_offsets())
        else {
            return false;
        };
        let per_row = self.width as usize * vocab;
        let (sent, first) = call.input.relaxed_part();
        let kept = &values[start..end];
        if per_row == 0 || kept.len() != self.lengths.len() * per_row {
            return false;
        }
        kept[first * per_row..]
            .chunks(per_row)
            .zip(sent.soft.chunks(per_row))
            .zip(&sent.lengths)
            .all(|((kept, sent), &len)| {
                let read = len as usize * vocab;
                sent.len() == per_row && same_bits(&kept[..read], &sent[..read])
            })
    }
}

/// Checks the values of `input`'s relaxed rows past each row's length. A
/// kept pass matched the rest bit for bit, and those were checked when it
/// was computed; past the lengths the model reads zeros, but a batch is
/// refused for any value that is not finite, wherever it is.
fn check_past_lengths(input: RowsIn<'_>, vocab: usize) -> PluginResult<()> {
    let (batch, _) = input.relaxed_part();
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

/// Appends `rows` to `values`, refusing a value that is not finite.
fn copy_checked(values: &mut Vec<f32>, rows: &[f32]) -> PluginResult<()> {
    // Blocks small enough to be checked while still in cache.
    for block in rows.chunks(1 << 14) {
        values.extend_from_slice(block);
        check_finite(block)?;
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
