//! `pair-cnn`: Adversarial-NMT's discriminator (Wu et al. 2017), a CNN over
//! the 2-D image of (source position, target position) cells.

mod config;
mod conv3x3;
mod model;
mod pair_conv;
mod pool;

pub use config::PairCnnConfig;
pub use model::PairCnn;
