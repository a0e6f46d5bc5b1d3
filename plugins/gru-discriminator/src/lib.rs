//! `rnn-lab/gru-discriminator` — a recurrent discriminator: token embedding,
//! a GRU read to each sequence's last real token, and a logistic output.
//! A second team's take on the same interface as SeqGAN's CNN; the
//! architecture used by several follow-ups (e.g. the RNN discriminator of
//! GAN summarization, Liu et al. 2018, without the document encoder).

mod config;
mod discriminator;
mod model;

pub use config::GruDiscriminatorConfig;
pub use discriminator::GruDiscriminator;

use agon_sdk::{
    ComponentInfo, ComponentKind, DiscriminatorImpl, PluginContext, PluginLibrary, PluginResult,
};

/// The library.
pub struct GruDiscriminatorLibrary;

impl PluginLibrary for GruDiscriminatorLibrary {
    const NAMESPACE: &'static str = "rnn-lab";
    const NAME: &'static str = "gru-discriminator";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn components() -> Vec<ComponentInfo> {
        vec![ComponentInfo::new(
            ComponentKind::Discriminator,
            "gru",
            "Recurrent discriminator: embedding + GRU over the real tokens + logistic output",
            &GruDiscriminatorConfig::default(),
        )]
    }

    fn new_discriminator(
        name: &str,
        context: &PluginContext,
    ) -> PluginResult<Box<dyn DiscriminatorImpl>> {
        match name {
            "gru" => Ok(Box::new(GruDiscriminator::new(context)?)),
            other => Err(agon_sdk::author::unknown_component::<Self>(
                ComponentKind::Discriminator,
                other,
            )),
        }
    }
}

agon_sdk::export_plugin!(GruDiscriminatorLibrary);
