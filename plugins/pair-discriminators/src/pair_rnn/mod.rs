//! `pair-rnn`: a recurrent (document, summary) discriminator, simplified
//! from GAN summarization's / ATRNN's.

mod config;
mod model;

pub use config::PairRnnConfig;
pub use model::PairRnn;
