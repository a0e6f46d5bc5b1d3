//! The generator interface: a sequence model trained by MLE and policy gradient.
#![allow(non_local_definitions)] // emitted by abi_stable's #[sabi_trait] expansion

use abi_stable::{
    sabi_trait,
    std_types::{RBox, ROption, RResult, RSlice, RStr, RVec},
    StableAbi,
};

use crate::{
    batch::{Batch, TokenBatch},
    error::PluginError,
    relaxed::{RelaxedSampleRequest, RelaxedSamples},
    stats::{StepOptions, StepStats},
};

/// Which weights generate: the generator itself, or its rollout policy.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// The generator being trained.
    Current,
    /// The delayed copy used for Monte-Carlo rollouts (SeqGAN's β-rate copy).
    Rollout,
}

/// Options of a teacher-forced MLE step.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct MleOptions {
    /// Seed for the step's randomness.
    pub seed: u64,
    /// Scheduled sampling (Bengio et al. 2015): the probability of feeding the
    /// model's own sampled token instead of the ground truth at each position.
    /// `0.0` is plain teacher forcing.
    pub scheduled_sampling: f32,
}

/// Draw sequences from the generator.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct SampleRequest {
    /// How many sequences. For conditional tasks, must equal the source rows.
    pub count: u32,
    /// Longest sequence to produce; rows stop early at EOS.
    pub max_len: u32,
    /// Softmax temperature (`1.0` = the model's distribution).
    pub temperature: f32,
    /// Seed of the sampling streams (row `r` uses a stream derived from it
    /// and `r`).
    pub seed: u64,
    /// Which weights sample.
    pub policy: Policy,
    /// Sources to condition on (one sample per row).
    pub sources: ROption<TokenBatch>,
}

/// Deterministic decoding for conditional evaluation.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct DecodeRequest {
    /// The sources to decode from.
    pub sources: TokenBatch,
    /// Longest output.
    pub max_len: u32,
    /// `1` = greedy; `> 1` = beam search with this many beams.
    pub beam_size: u32,
    /// Length penalty exponent α for beam scores `log p / len^α`.
    pub length_penalty: f32,
}

/// One prefix to complete: the first `prefix_len` tokens of row `row` of
/// [`RolloutRequest::sequences`].
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrefixJob {
    /// Row of the request's `sequences`.
    pub row: u32,
    /// Tokens of that row kept as the prefix (`1..=len`).
    pub prefix_len: u32,
    /// Seed of this job's sampling streams: rollout `first_rollout + n`
    /// (`n < rollouts_per_job`) draws from a stream derived from this seed and
    /// that number, so completions do not depend on how the host splits jobs
    /// and rollouts into calls.
    pub seed: u64,
    /// Number of this job's first rollout in this request.
    pub first_rollout: u32,
}

/// Monte-Carlo completion of many prefixes of mixed lengths in one call.
///
/// The generator encodes each row of `sequences` once (caching its state at
/// every position), then for each job draws `rollouts_per_job` completions
/// with the rollout policy, starting from the cached state after the prefix.
/// It must never re-read a prefix per rollout.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct RolloutRequest {
    /// The sequences whose prefixes are completed.
    pub sequences: TokenBatch,
    /// The prefixes to complete.
    pub jobs: RVec<PrefixJob>,
    /// Completions per job.
    pub rollouts_per_job: u32,
    /// Longest completed sequence.
    pub max_len: u32,
    /// Softmax temperature.
    pub temperature: f32,
    /// Row-aligned sources for conditional tasks.
    pub sources: ROption<TokenBatch>,
}

/// A generator component. Plugin authors implement [`crate::GeneratorImpl`]
/// instead; the SDK turns it into this ABI-stable trait object.
#[sabi_trait]
pub trait Generator: Send {
    /// One teacher-forced maximum-likelihood step on `batch`; the loss is the
    /// mean per-token negative log-likelihood.
    fn mle_step(&mut self, batch: &Batch, options: &MleOptions) -> RResult<StepStats, PluginError>;

    /// Per-sequence log-likelihood `Σ_t log p(y_t | y_<t, x)` of each row, in
    /// nats, under the current weights (no update).
    fn log_likelihood(&mut self, batch: &Batch) -> RResult<RVec<f32>, PluginError>;

    /// Ancestral sampling.
    fn sample(&mut self, request: &SampleRequest) -> RResult<TokenBatch, PluginError>;

    /// Greedy or beam decoding of sources.
    fn decode(&mut self, request: &DecodeRequest) -> RResult<TokenBatch, PluginError>;

    /// Monte-Carlo completion of prefixes with the rollout policy. Returns
    /// `jobs.len() × rollouts_per_job` full sequences, job-major.
    fn rollout(&mut self, request: &RolloutRequest) -> RResult<TokenBatch, PluginError>;

    /// One REINFORCE step: minimises `−Σ_t r_t log p(y_t | y_<t, x)` averaged
    /// over the batch. `rewards` holds one value per token, `rows × width`
    /// row-major like `batch.targets`; values past a row's length are ignored.
    fn policy_gradient_step(
        &mut self,
        batch: &Batch,
        rewards: RSlice<'_, f32>,
        options: &StepOptions,
    ) -> RResult<StepStats, PluginError>;

    /// Moves the rollout policy towards the generator:
    /// `rollout ← rate · rollout + (1 − rate) · generator`. Rate `0` copies.
    fn update_rollout_policy(&mut self, rate: f32) -> RResult<(), PluginError>;

    /// Number of trainable parameters.
    fn parameter_count(&self) -> u64;

    /// Writes weights, rollout weights and optimiser state into the existing
    /// directory `dir` (the host makes the write atomic).
    fn save(&self, dir: RStr<'_>) -> RResult<(), PluginError>;

    /// Restores what [`Generator::save`] wrote.
    #[sabi(last_prefix_field)]
    fn load(&mut self, dir: RStr<'_>) -> RResult<(), PluginError>;

    /// Since ABI 1.1. Per-sequence log-likelihood of each row, in nats, under
    /// the tempered distribution `softmax(logits / temperature)` at every
    /// position (no update); at temperature 1 it equals
    /// [`Generator::log_likelihood`]. Optional: declared as
    /// [`crate::capabilities::TEMPERED_LOG_LIKELIHOOD`]; a library built
    /// before ABI 1.1, or one that does not implement it, answers
    /// `Unsupported`.
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

    /// Since ABI 1.2. Relaxed samples from the current weights (no update):
    /// at every position, Gumbel noise `g` from the request's seed, the hard
    /// id `argmax(logits + g)` (fed to the next position) and the relaxed
    /// row `softmax(β · (logits + g))`; see [`crate::relaxed`]. The same
    /// request gives the same samples until the weights change. Optional:
    /// declared as [`crate::capabilities::RELAXED_SAMPLES`]; a library
    /// built before ABI 1.2, or one that does not implement it, answers
    /// `Unsupported`.
    fn relaxed_sample(
        &mut self,
        request: &RelaxedSampleRequest,
    ) -> RResult<RelaxedSamples, PluginError> {
        let _ = request;
        RResult::RErr(PluginError::unsupported(
            "this generator does not implement relaxed_sample (ABI 1.2)",
        ))
    }

    /// Since ABI 1.2. One step of the generator's adversarial optimiser
    /// along `gradient`, the host loss's gradient with respect to the
    /// [`RelaxedSamples::soft`] rows that [`Generator::relaxed_sample`]
    /// gives for `request` under the current weights (same layout, values
    /// past a row's length ignored): the weights move along
    /// `∂(Σ gradient · soft(θ))/∂θ`. Reports that surrogate as the loss.
    /// Part of [`crate::capabilities::RELAXED_SAMPLES`].
    fn relaxed_policy_step(
        &mut self,
        request: &RelaxedSampleRequest,
        gradient: RSlice<'_, f32>,
        options: &StepOptions,
    ) -> RResult<StepStats, PluginError> {
        let _ = (request, gradient, options);
        RResult::RErr(PluginError::unsupported(
            "this generator does not implement relaxed_policy_step (ABI 1.2)",
        ))
    }
}

/// An owned generator trait object, as the host holds it.
pub type GeneratorBox = Generator_TO<'static, RBox<()>>;
