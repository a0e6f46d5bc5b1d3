//! The discriminator kit: a model gives one logit per row; the kit does the
//! rest. See [`DiscriminatorModel`] for what an author writes.

mod component;
mod config_macro;
mod model;
mod registration;
mod rows;
mod training;

pub use component::KitDiscriminator;
#[doc(hidden)]
pub use config_macro::KeyFlag;
pub use model::{DiscriminatorConfig, DiscriminatorModel, Pass, RelaxedRows};
pub use registration::{discriminator_capabilities, discriminator_info, new_discriminator};
pub use rows::{Rows, SourceUse};
pub use training::{DiscriminatorTraining, DISCRIMINATOR_TRAINING_DOCS};

#[cfg(test)]
mod tests;
