//! Component kits (feature `candle`): the author writes the model, the kit
//! owns the plumbing.
//!
//! * [`discriminator`] — implement [`DiscriminatorModel`] (build the
//!   network, give one logit per row) and the kit trains it with
//!   numerically stable binary cross-entropy, reports accuracy and the
//!   gradient norm, applies seeded dropout, steps Adam with clipping,
//!   scores in memory-bounded chunks, saves and loads weights with the
//!   optimiser's state, counts parameters and refuses batches whose
//!   sources the model does not read (or lacks those it needs).
//!   [`discriminator_library!`](crate::discriminator_library) registers a
//!   library of such models in a few lines.
//! * [`generator`] — implement [`GeneratorModel`] (build the network, take
//!   one decoding step from a state) and the kit derives MLE with teacher
//!   forcing or scheduled sampling, log-likelihoods (tempered too),
//!   sampling with temperature, Monte-Carlo rollouts from cached prefix
//!   states, greedy and beam decoding, the policy-gradient step with its
//!   own Adam, the rollout policy's moving average, save/load and the
//!   parameter count. [`generator_library!`](crate::generator_library)
//!   registers a library of such models.

pub mod discriminator;
pub mod generator;
mod kept_pass;

pub use discriminator::{
    discriminator_capabilities, discriminator_info, new_discriminator, DiscriminatorConfig,
    DiscriminatorModel, DiscriminatorTraining, KitDiscriminator, Pass, RelaxedRows, Rows,
    SourceUse, DISCRIMINATOR_TRAINING_DOCS,
};
// The boundary's relaxed types, which the kits' relaxed methods take.
pub use crate::relaxed::{RelaxedBatch, RelaxedSampleRequest, RelaxedSamples};
pub use generator::{
    generator_capabilities, generator_info, new_generator, stepped_teacher_forced_logits,
    GeneratorConfig, GeneratorModel, GeneratorTraining, KitGenerator, RowWise,
    GENERATOR_TRAINING_DOCS,
};
