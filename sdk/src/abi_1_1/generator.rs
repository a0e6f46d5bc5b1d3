//! The generator trait as it was at ABI 1.1 (its methods' documentation
//! is the current [`crate::Generator`]'s).
#![allow(non_local_definitions)] // emitted by abi_stable's #[sabi_trait] expansion
#![allow(missing_docs)]

use abi_stable::{
    sabi_trait,
    std_types::{RBox, RResult, RSlice, RStr, RVec},
};

use crate::{
    batch::{Batch, TokenBatch},
    error::PluginError,
    generator::{DecodeRequest, MleOptions, RolloutRequest, SampleRequest},
    stats::{StepOptions, StepStats},
};

#[sabi_trait]
pub trait Generator: Send {
    fn mle_step(&mut self, batch: &Batch, options: &MleOptions) -> RResult<StepStats, PluginError>;

    fn log_likelihood(&mut self, batch: &Batch) -> RResult<RVec<f32>, PluginError>;

    fn sample(&mut self, request: &SampleRequest) -> RResult<TokenBatch, PluginError>;

    fn decode(&mut self, request: &DecodeRequest) -> RResult<TokenBatch, PluginError>;

    fn rollout(&mut self, request: &RolloutRequest) -> RResult<TokenBatch, PluginError>;

    fn policy_gradient_step(
        &mut self,
        batch: &Batch,
        rewards: RSlice<'_, f32>,
        options: &StepOptions,
    ) -> RResult<StepStats, PluginError>;

    fn update_rollout_policy(&mut self, rate: f32) -> RResult<(), PluginError>;

    fn parameter_count(&self) -> u64;

    fn save(&self, dir: RStr<'_>) -> RResult<(), PluginError>;

    #[sabi(last_prefix_field)]
    fn load(&mut self, dir: RStr<'_>) -> RResult<(), PluginError>;

    fn tempered_log_likelihood(
        &mut self,
        batch: &Batch,
        temperature: f32,
    ) -> RResult<RVec<f32>, PluginError> {
        let _ = (batch, temperature);
        RResult::RErr(PluginError::unsupported(
            "this generator does not implement tempered_log_likelihood (ABI 1.1)",
        ))
    }
}

/// An owned ABI 1.1 generator trait object.
pub type GeneratorBox = Generator_TO<'static, RBox<()>>;
