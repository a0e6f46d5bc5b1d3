//! The discriminator trait as it was at ABI 1.2 (its methods' documentation
//! is the current [`crate::Discriminator`]'s).
#![allow(non_local_definitions)] // emitted by abi_stable's #[sabi_trait] expansion
#![allow(missing_docs)]

use abi_stable::{
    sabi_trait,
    std_types::{RBox, ROption, RResult, RSlice, RStr, RVec},
};

use crate::{
    batch::Batch,
    error::PluginError,
    relaxed::RelaxedBatch,
    stats::{StepOptions, StepStats},
};

#[sabi_trait]
pub trait Discriminator: Send {
    fn train_step(
        &mut self,
        real: &Batch,
        generated: &Batch,
        options: &StepOptions,
    ) -> RResult<StepStats, PluginError>;

    fn probabilities(&mut self, batch: &Batch) -> RResult<RVec<f32>, PluginError>;

    fn parameter_count(&self) -> u64;

    fn save(&self, dir: RStr<'_>) -> RResult<(), PluginError>;

    #[sabi(last_prefix_field)]
    fn load(&mut self, dir: RStr<'_>) -> RResult<(), PluginError>;

    fn token_logits(&mut self, batch: &Batch) -> RResult<RVec<f32>, PluginError> {
        let _ = batch;
        RResult::RErr(PluginError::unsupported(
            "this discriminator scores whole sequences only: it does not implement token_logits (ABI 1.1)",
        ))
    }

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
}

pub type DiscriminatorBox = Discriminator_TO<'static, RBox<()>>;
