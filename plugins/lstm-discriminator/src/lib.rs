//! `scratchgan-lab/lstm-discriminator` — ScratchGAN's discriminator (de
//! Masson d'Autume et al., NeurIPS 2019): token embedding, an LSTM read
//! left to right, and a logit at every position, so that position `t`'s
//! score sees only the tokens up to `t`. It scores every token
//! (`token-logits`, plugin ABI 1.1), which the host's dense credit turns
//! into per-token rewards without Monte-Carlo rollouts, and trains on every
//! position: each real token labelled 1, each generated one 0.
//!
//! Built on the SDK's discriminator kit: this crate is the model and its
//! config; the kit trains, scores, saves and loads it.

mod config;
mod model;
#[cfg(test)]
mod tests;

pub use config::{LstmDiscriminatorConfig, PretrainedEmbedding};
pub use model::LstmDiscriminator;

agon_sdk::discriminator_library! {
    /// The library.
    pub struct LstmDiscriminatorLibrary;
    namespace: "scratchgan-lab",
    name: "lstm-discriminator",
    discriminators: {
        "lstm-per-token" => LstmDiscriminator:
            "ScratchGAN's discriminator: embedding + left-to-right LSTM + a logit at every position (per-token scores)",
    }
}
