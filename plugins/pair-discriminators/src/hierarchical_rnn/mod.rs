//! `hierarchical-rnn`: the discriminator of adversarial dialogue generation
//! (Li et al. 2017): utterance-level GRU, then turn-level GRU.

mod config;
mod model;
mod turns;

pub use config::HierarchicalRnnConfig;
pub use model::HierarchicalRnn;
