//! The reward interface: turns generated sequences into scalar rewards.
#![allow(non_local_definitions)] // emitted by abi_stable's #[sabi_trait] expansion

use abi_stable::{
    sabi_trait,
    std_types::{RBox, ROption, RResult, RVec},
    StableAbi,
};

use crate::{batch::TokenBatch, error::PluginError};

/// What a reward function may look at for one batch of generated sequences.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct RewardInput {
    /// The generated (or rolled-out) sequences.
    pub sequences: TokenBatch,
    /// Row-aligned sources, for conditional tasks.
    pub sources: ROption<TokenBatch>,
    /// Row-aligned references (the gold target for each source), when known.
    pub references: ROption<TokenBatch>,
    /// `P(real)` of each row from the discriminator, present exactly when the
    /// reward says it [needs the discriminator](Reward::needs_discriminator).
    pub discriminator: ROption<RVec<f32>>,
}

/// A reward component. Plugin authors implement [`crate::RewardImpl`].
#[sabi_trait]
pub trait Reward: Send {
    /// Whether the host must score sequences with the discriminator before
    /// calling [`Reward::rewards`]. PG-BLEU, for one, does not.
    fn needs_discriminator(&self) -> bool;

    /// Gives the reward the training corpus (for corpus-level references such
    /// as PG-BLEU against the training data). Called once before training.
    fn set_corpus(&mut self, corpus: &TokenBatch) -> RResult<(), PluginError>;

    /// One reward per row of `input.sequences`.
    #[sabi(last_prefix_field)]
    fn rewards(&mut self, input: &RewardInput) -> RResult<RVec<f32>, PluginError>;
}

/// An owned reward trait object, as the host holds it.
pub type RewardBox = Reward_TO<'static, RBox<()>>;
