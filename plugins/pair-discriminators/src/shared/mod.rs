//! What the three discriminators share: the pair inputs, the embedding, the
//! masked GRU, seeded dropout and initialisation, and the component that
//! trains, scores, saves and loads any [`component::PairModel`].

pub mod component;
pub mod dropout;
pub mod embedding;
pub mod gru;
pub mod init;
pub mod pairs;
pub mod settings;
