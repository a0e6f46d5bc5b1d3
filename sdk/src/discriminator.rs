//! The discriminator interface: tells real sequences from generated ones.
#![allow(non_local_definitions)] // emitted by abi_stable's #[sabi_trait] expansion

use abi_stable::{
    sabi_trait,
    std_types::{RBox, ROption, RResult, RSlice, RStr, RVec},
};

use crate::{
    batch::Batch,
    error::PluginError,
    relaxed::{PairedRows, RelaxedBatch},
    stats::{StepOptions, StepStats},
};

/// A discriminator component. Plugin authors implement
/// [`crate::DiscriminatorImpl`]; the SDK turns it into this trait object.
#[sabi_trait]
pub trait Discriminator: Send {
    /// One training step on real (label 1) and generated (label 0) sequences.
    /// For conditional tasks both batches carry their sources.
    fn train_step(
        &mut self,
        real: &Batch,
        generated: &Batch,
        options: &StepOptions,
    ) -> RResult<StepStats, PluginError>;

    /// `P(real)` for every row, in `[0, 1]`, in evaluation mode (no dropout).
    fn probabilities(&mut self, batch: &Batch) -> RResult<RVec<f32>, PluginError>;

    /// Number of trainable parameters.
    fn parameter_count(&self) -> u64;

    /// Writes weights and optimiser state into the existing directory `dir`.
    fn save(&self, dir: RStr<'_>) -> RResult<(), PluginError>;

    /// Restores what [`Discriminator::save`] wrote.
    #[sabi(last_prefix_field)]
    fn load(&mut self, dir: RStr<'_>) -> RResult<(), PluginError>;

    /// Since ABI 1.1. One logit of `P(real)` per real token, in evaluation
    /// mode (no dropout, no update): row 0's tokens in order, then row 1's,
    /// …, `batch.targets.token_count()` values in all, padding excluded.
    /// Position `t`'s logit is the discriminator's verdict on the row's
    /// first `t + 1` tokens (ScratchGAN's per-step discriminator). Optional:
    /// declared as [`crate::capabilities::TOKEN_LOGITS`]; a library built
    /// before ABI 1.1, or a discriminator that scores whole sequences only,
    /// answers `Unsupported`.
    fn token_logits(&mut self, batch: &Batch) -> RResult<RVec<f32>, PluginError> {
        let _ = batch;
        RResult::RErr(PluginError::unsupported(
            "this discriminator scores whole sequences only: it does not implement token_logits (ABI 1.1)",
        ))
    }

    /// Since ABI 1.2. One logit of `P(real)` per row of relaxed rows (see
    /// [`crate::relaxed`]), no update: `dropout_seed` `None` scores in
    /// evaluation mode, `Some(seed)` with the training dropout that seed
    /// draws (the same seed draws the same dropout in
    /// [`Discriminator::relaxed_input_gradient`] and
    /// [`Discriminator::relaxed_train_step`]). One-hot rows score as the
    /// ids they encode. Optional: declared as
    /// [`crate::capabilities::RELAXED_ROWS`]; a library built before ABI
    /// 1.2, or a discriminator that reads ids only, answers `Unsupported`.
    fn relaxed_logits(
        &mut self,
        batch: &RelaxedBatch,
        dropout_seed: ROption<u64>,
    ) -> RResult<RVec<f32>, PluginError> {
        let _ = (batch, dropout_seed);
        RResult::RErr(PluginError::unsupported(
            "this discriminator reads ids only: it does not implement relaxed_logits (ABI 1.2)",
        ))
    }

    /// Since ABI 1.2. `∂(Σ upstream · logits)/∂soft`, `[rows, width,
    /// vocabulary]` like `batch.soft` (zero past each row's length), with
    /// `upstream` the host loss's gradient with respect to the logits of
    /// [`Discriminator::relaxed_logits`] on the same batch and dropout seed:
    /// the loss's gradient with respect to the rows. No update. Part of
    /// [`crate::capabilities::RELAXED_ROWS`].
    fn relaxed_input_gradient(
        &mut self,
        batch: &RelaxedBatch,
        upstream: RSlice<'_, f32>,
        dropout_seed: ROption<u64>,
    ) -> RResult<RVec<f32>, PluginError> {
        let _ = (batch, upstream, dropout_seed);
        RResult::RErr(PluginError::unsupported(
            "this discriminator reads ids only: it does not implement relaxed_input_gradient (ABI 1.2)",
        ))
    }

    /// Since ABI 1.2. One optimiser step minimising `Σ upstream · logits`,
    /// with `upstream` the host loss's gradient with respect to the logits
    /// [`Discriminator::relaxed_logits`] gave for `batch` with dropout seed
    /// `options.seed`: the host owns the loss, the discriminator its
    /// weights. Reports that surrogate as the loss. Part of
    /// [`crate::capabilities::RELAXED_ROWS`].
    fn relaxed_train_step(
        &mut self,
        batch: &RelaxedBatch,
        upstream: RSlice<'_, f32>,
        options: &StepOptions,
    ) -> RResult<StepStats, PluginError> {
        let _ = (batch, upstream, options);
        RResult::RErr(PluginError::unsupported(
            "this discriminator reads ids only: it does not implement relaxed_train_step (ABI 1.2)",
        ))
    }

    /// Since ABI 1.3. [`Discriminator::relaxed_logits`] of
    /// `rows.joined(vocabulary)` ([`PairedRows`]): one logit per real row,
    /// then one per generated row, the dropout of `dropout_seed` drawn over
    /// the joined batch. Part of [`crate::capabilities::RELAXED_ROWS`]: a
    /// library built for ABI 1.2 answers by joining the rows and calling
    /// its `relaxed_logits`, as this default does.
    fn paired_logits(
        &mut self,
        rows: &PairedRows,
        dropout_seed: ROption<u64>,
    ) -> RResult<RVec<f32>, PluginError> {
        match rows.joined_over_own_vocab() {
            Ok(joined) => self.relaxed_logits(&joined, dropout_seed),
            Err(e) => RResult::RErr(e),
        }
    }

    /// Since ABI 1.3. The generated rows' part of
    /// [`Discriminator::relaxed_input_gradient`] of `rows.joined(vocabulary)`:
    /// `[pairs, width, vocabulary]` like `rows.generated.soft`, with
    /// `upstream` one gradient per logit of
    /// [`Discriminator::paired_logits`] (real rows first). The real rows'
    /// part, which nothing upstream of them needs, is not returned. Part of
    /// [`crate::capabilities::RELAXED_ROWS`]; the default joins the rows.
    fn paired_input_gradient(
        &mut self,
        rows: &PairedRows,
        upstream: RSlice<'_, f32>,
        dropout_seed: ROption<u64>,
    ) -> RResult<RVec<f32>, PluginError> {
        let joined = match rows.joined_over_own_vocab() {
            Ok(joined) => joined,
            Err(e) => return RResult::RErr(e),
        };
        match self.relaxed_input_gradient(&joined, upstream, dropout_seed) {
            RResult::ROk(gradient) => rows
                .generated_part(gradient.into_vec())
                .map(RVec::from)
                .into(),
            RResult::RErr(e) => RResult::RErr(e),
        }
    }

    /// Since ABI 1.3. [`Discriminator::relaxed_train_step`] on
    /// `rows.joined(vocabulary)`, `upstream` one gradient per logit of
    /// [`Discriminator::paired_logits`]. Part of
    /// [`crate::capabilities::RELAXED_ROWS`]; the default joins the rows.
    fn paired_train_step(
        &mut self,
        rows: &PairedRows,
        upstream: RSlice<'_, f32>,
        options: &StepOptions,
    ) -> RResult<StepStats, PluginError> {
        match rows.joined_over_own_vocab() {
            Ok(joined) => self.relaxed_train_step(&joined, upstream, options),
            Err(e) => RResult::RErr(e),
        }
    }
}

/// An owned discriminator trait object, as the host holds it.
pub type DiscriminatorBox = Discriminator_TO<'static, RBox<()>>;
