//! `relgan-lab/relgan` — RelGAN's components (Nie et al., ICLR 2019).
//!
//! * `relgan-discriminator`: the paper's discriminator. The one-hot input is
//!   embedded once and the embedding split into several *representations*
//!   (64 of width 1 in the paper); one set of convolutions (widths 2–5, 300
//!   filters each) reads every representation, max-pooled over time, then a
//!   highway layer, dropout and two linear layers give one logit per
//!   representation. It reads ids (policy-gradient algorithms) and relaxed
//!   rows (Gumbel-softmax training: distributions over the vocabulary go
//!   through the same embedding as expected embeddings).
//!
//! Built on the SDK's discriminator kit: this crate is the model and its
//! config; the kit trains, scores, saves and loads it.

mod discriminator;
mod discriminator_config;
#[cfg(test)]
mod tests;

pub use discriminator::RelganDiscriminator;
pub use discriminator_config::RelganDiscriminatorConfig;

agon_sdk::discriminator_library! {
    /// The library.
    pub struct RelganLibrary;
    namespace: "relgan-lab",
    name: "relgan",
    discriminators: {
        "relgan-discriminator" => RelganDiscriminator:
            "RelGAN's discriminator: one embedding split into several representations, convolutions of widths 2-5 over each, max-pooling, highway, one logit per representation averaged; reads ids and relaxed rows",
    }
}
