//! The discriminator interface: tells real sequences from generated ones.
#![allow(non_local_definitions)] // emitted by abi_stable's #[sabi_trait] expansion

use abi_stable::{
    sabi_trait,
    std_types::{RBox, RResult, RStr, RVec},
};

use crate::{
    batch::Batch,
    error::PluginError,
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
}

/// An owned discriminator trait object, as the host holds it.
pub type DiscriminatorBox = Discriminator_TO<'static, RBox<()>>;
