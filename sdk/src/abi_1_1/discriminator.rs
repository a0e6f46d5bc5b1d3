//! The discriminator trait as it was at ABI 1.1 (its methods' documentation
//! is the current [`crate::Discriminator`]'s).
#![allow(non_local_definitions)] // emitted by abi_stable's #[sabi_trait] expansion
#![allow(missing_docs)]

use abi_stable::{
    sabi_trait,
    std_types::{RBox, RResult, RStr, RVec},
};

use crate::{
    batch::Batch,
    error::PluginError,
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
}

/// An owned ABI 1.1 discriminator trait object.
pub type DiscriminatorBox = Discriminator_TO<'static, RBox<()>>;
