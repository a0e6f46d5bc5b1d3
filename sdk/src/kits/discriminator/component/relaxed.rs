//! Relaxed rows for gradient-based adversarial training (RelGAN): logits of
//! rows given as distributions over the vocabulary, the gradient of the
//! host's loss with respect to those rows (what the generator trains on),
//! and a training step along the host's gradient with respect to the
//! logits. The host owns the loss, so these take its gradient per logit
//! (`upstream`), never a loss of their own.
//!
//! Nothing is kept between calls: each recomputes the forward pass, with
//! dropout seeded by the caller, so the logits a gradient refers to are the
//! logits the host saw.

use candle_core::{Tensor, Var};

use super::{one_per_row, KitDiscriminator};
use crate::{
    error::{PluginError, PluginResult},
    kits::discriminator::{rows::row_sources, DiscriminatorConfig, DiscriminatorModel, Pass},
    relaxed::RelaxedBatch,
    stats::{StepOptions, StepStats},
    toolkit::Dropout,
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
        let rows = self.relaxed_rows(batch, self.soft_tensor(batch)?)?;
        Ok(self
            .relaxed_forward(&rows, dropout_seed)?
            .detach()
            .to_vec1::<f32>()?)
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
        let (values, dims) = self.soft_values(batch)?;
        let input = Var::from_vec(values, dims, &self.padder.device)?;
        let rows = self.relaxed_rows(batch, input.as_tensor().clone())?;
        let surrogate = self.surrogate(&rows, upstream, dropout_seed)?;
        let grads = surrogate.backward()?;
        let mut gradient = match grads.get(input.as_tensor()) {
            Some(g) => g.flatten_all()?.to_vec1::<f32>()?,
            // The model does not read the rows at all.
            None => vec![0.0; input.as_tensor().elem_count()],
        };
        // A model may read positions past a row's length (they hold
        // zeros); the loss does not depend on them.
        zero_past_lengths(&mut gradient, batch, self.vocab);
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
        let rows = self.relaxed_rows(batch, self.soft_tensor(batch)?)?;
        let surrogate = self.surrogate(&rows, upstream, Some(options.seed))?;
        let norm = self.params.minimise(&surrogate, M::NAME)?;
        Ok(StepStats::new(surrogate.to_scalar::<f32>()?, rows.len()).with("grad_norm", norm))
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

    /// `Σ upstream · logits(rows)`.
    fn surrogate(
        &self,
        rows: &RelaxedRows,
        upstream: &[f32],
        dropout_seed: Option<u64>,
    ) -> PluginResult<Tensor> {
        if upstream.len() != rows.len() {
            return Err(PluginError::input(format!(
                "{} upstream gradients for {} rows (one per row's logit expected)",
                upstream.len(),
                rows.len()
            )));
        }
        if let Some(bad) = upstream.iter().find(|g| !g.is_finite()) {
            return Err(PluginError::numerical(format!(
                "upstream gradient {bad} is not finite"
            )));
        }
        let logits = self.relaxed_forward(rows, dropout_seed)?;
        let upstream = Tensor::from_slice(upstream, rows.len(), &self.padder.device)?;
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

    /// `batch.soft` as a `[B, W, V]` tensor, checked against its lengths,
    /// zero past each row's length.
    fn soft_tensor(&self, batch: &RelaxedBatch) -> PluginResult<Tensor> {
        let (values, dims) = self.soft_values(batch)?;
        Ok(Tensor::from_vec(values, dims, &self.padder.device)?)
    }

    /// A copy of `batch.soft` checked against its lengths, zero past each
    /// row's length (the one copy a crossing costs: the boundary's array
    /// cannot be borrowed by a tensor), with its `[B, W, V]` shape.
    fn soft_values(&self, batch: &RelaxedBatch) -> PluginResult<(Vec<f32>, (usize, usize, usize))> {
        let vocab = self.vocab;
        let (rows, width) = (batch.lengths.len(), batch.width as usize);
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
        let mut values = batch.soft.to_vec();
        zero_past_lengths(&mut values, batch, vocab);
        Ok((values, (rows, width, vocab)))
    }

    /// The model's view of `batch`, its rows read from `soft` (`[B, W, V]`,
    /// zero past each row's length).
    fn relaxed_rows(&self, batch: &RelaxedBatch, soft: Tensor) -> PluginResult<RelaxedRows> {
        let width = batch.width as usize;
        let mask: Vec<f32> = batch
            .lengths
            .iter()
            .flat_map(|&len| (0..width).map(move |t| f32::from(u8::from(t < len as usize))))
            .collect();
        let mask = Tensor::from_vec(mask, (batch.lengths.len(), width), &self.padder.device)?;
        let sources = row_sources(
            batch.sources.as_ref().into_option(),
            M::NAME,
            M::SOURCES,
            self.config.max_source_len(),
        )?;
        Ok(RelaxedRows {
            soft,
            mask,
            lengths: batch.lengths.iter().map(|&l| l as usize).collect(),
            sources,
        })
    }
}

/// Zeroes the positions of `values` (`batch`'s layout) past each row's
/// length. Positions past a row's length read nothing: zeroing them in
/// place costs only those positions, where multiplying by a mask in the
/// graph would cost two passes over the whole batch (forward and back).
fn zero_past_lengths(values: &mut [f32], batch: &RelaxedBatch, vocab: usize) {
    let width = batch.width as usize;
    for (row, &len) in values
        .chunks_mut((width * vocab).max(1))
        .zip(batch.lengths.iter())
    {
        row[(len as usize).min(width) * vocab..].fill(0.0);
    }
}
