//! `relgan-lab/relgan` — RelGAN's components (Nie et al., ICLR 2019).
//!
//! * `relgan-generator`: the paper's generator. An embedding, a relational
//!   memory core (memory slots attending over themselves and the input,
//!   Santoro et al. 2018; `core: lstm` for an LSTM instead) and a linear
//!   layer to the vocabulary. The generator kit gives it MLE, sampling,
//!   rollouts, policy gradients and Gumbel-softmax relaxed samples, so it
//!   trains under every algorithm.
//! * `relgan-discriminator`: the paper's discriminator. The one-hot input is
//!   embedded once and the embedding split into several *representations*
//!   (64 of width 1 in the paper); one set of convolutions (widths 2–5, 300
//!   filters each) reads every representation, max-pooled over time, then a
//!   highway layer, dropout and two linear layers give one logit per
//!   representation. It reads ids (policy-gradient algorithms) and relaxed
//!   rows (Gumbel-softmax training: distributions over the vocabulary go
//!   through the same embedding as expected embeddings).
//!
//! Built on the SDK's kits: this crate is the two models and their configs;
//! the kits train, score, sample, save and load them.

mod discriminator;
mod discriminator_config;
mod generator;
mod generator_config;
mod relational_memory;
#[cfg(test)]
mod tests;

use agon_sdk::{
    kits, ComponentCapabilities, ComponentInfo, ComponentKind, DiscriminatorImpl, GeneratorImpl,
    PluginContext, PluginLibrary, PluginResult,
};

pub use discriminator::RelganDiscriminator;
pub use discriminator_config::RelganDiscriminatorConfig;
pub use generator::RelganGenerator;
pub use generator_config::{Core, RelganGeneratorConfig};

/// The library: a generator and a discriminator, so it registers by hand
/// (the kits' macros each register one kind).
pub struct RelganLibrary;

const GENERATOR: &str = "relgan-generator";
const DISCRIMINATOR: &str = "relgan-discriminator";

impl PluginLibrary for RelganLibrary {
    const NAMESPACE: &'static str = "relgan-lab";
    const NAME: &'static str = "relgan";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn components() -> Vec<ComponentInfo> {
        vec![
            kits::generator_info::<RelganGenerator>(
                GENERATOR,
                "RelGAN's generator: embedding, relational memory (or an LSTM) and a linear output; draws Gumbel-softmax relaxed samples",
            ),
            kits::discriminator_info::<RelganDiscriminator>(
                DISCRIMINATOR,
                "RelGAN's discriminator: one embedding split into several representations, convolutions of widths 2-5 over each, max-pooling, highway, one logit per representation averaged; reads ids and relaxed rows",
            ),
        ]
    }

    fn capabilities() -> Vec<ComponentCapabilities> {
        let mut all = kits::generator_capabilities::<RelganGenerator>(GENERATOR);
        all.extend(kits::discriminator_capabilities::<RelganDiscriminator>(
            DISCRIMINATOR,
        ));
        all
    }

    fn new_generator(name: &str, context: &PluginContext) -> PluginResult<Box<dyn GeneratorImpl>> {
        match name {
            GENERATOR => kits::new_generator::<RelganGenerator>(context),
            other => Err(agon_sdk::author::unknown_component::<Self>(
                ComponentKind::Generator,
                other,
            )),
        }
    }

    fn new_discriminator(
        name: &str,
        context: &PluginContext,
    ) -> PluginResult<Box<dyn DiscriminatorImpl>> {
        match name {
            DISCRIMINATOR => kits::new_discriminator::<RelganDiscriminator>(context),
            other => Err(agon_sdk::author::unknown_component::<Self>(
                ComponentKind::Discriminator,
                other,
            )),
        }
    }
}

agon_sdk::export_plugin!(RelganLibrary);
