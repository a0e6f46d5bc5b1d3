//! `rnn-lab/gru-discriminator` — a recurrent discriminator: token embedding,
//! a GRU read to each sequence's last real token (and, with
//! `bidirectional: true`, a second one read backwards), dropout and a
//! logistic output. A second team's take on the same interface as
//! SeqGAN's CNN; the architecture used by several follow-ups (e.g. the RNN
//! discriminator of GAN summarization, Liu et al. 2018, without the
//! document encoder).
//!
//! Built on the SDK's discriminator kit: this crate is the model and its
//! config; the kit trains, scores, saves and loads it.

mod config;
mod model;
#[cfg(test)]
mod tests;

pub use config::GruDiscriminatorConfig;
pub use model::GruDiscriminator;

agon_sdk::discriminator_library! {
    /// The library.
    pub struct GruDiscriminatorLibrary;
    namespace: "rnn-lab",
    name: "gru-discriminator",
    discriminators: {
        "gru" => GruDiscriminator:
            "Recurrent discriminator: embedding + GRU over the real tokens (optionally both ways) + logistic output",
    }
}
