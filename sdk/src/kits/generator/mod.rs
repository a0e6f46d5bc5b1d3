//! The generator kit: a model takes one decoding step; the kit does the
//! rest. See [`GeneratorModel`] for what an author writes.

mod beam;
mod component;
mod model;
mod registration;
mod row_loop;
mod row_wise;
mod training;

pub use component::KitGenerator;
#[cfg(test)]
use component::RelaxedKernel;
#[cfg(feature = "testing")]
pub(crate) use component::Route;
pub use model::{stepped_teacher_forced_logits, GeneratorConfig, GeneratorModel};
pub use registration::{generator_capabilities, generator_info, new_generator};
pub use row_wise::RowWise;
pub use training::{GeneratorTraining, GENERATOR_TRAINING_DOCS};

#[cfg(test)]
pub(crate) mod tests;
