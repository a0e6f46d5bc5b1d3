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

/// One line per key of `gru`'s config, for `agon plugins show`.
const CONFIG_DOCS: &[(&str, &str)] = &[
    (
        "embedding_dim",
        "Size of each token's embedding vector, a whole number of at least 1.",
    ),
    (
        "hidden_dim",
        "Size of the GRU's hidden state, a whole number of at least 1; the state at each sequence's last real token is what gets scored.",
    ),
    (
        "dropout_keep",
        "Probability of keeping each entry of that final state while training, above 0 and at most 1; 1 turns dropout off.",
    ),
    ("optimizer.lr", "Learning rate of Adam (default 0.001)."),
    (
        "grad_clip",
        "Largest norm of all gradients together; a larger gradient is scaled down to it; 0 turns clipping off.",
    ),
];

/// The library.
pub struct GruDiscriminatorLibrary;

impl PluginLibrary for GruDiscriminatorLibrary {
    const NAMESPACE: &'static str = "rnn-lab";
    const NAME: &'static str = "gru-discriminator";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn components() -> Vec<ComponentInfo> {
        vec![ComponentInfo::documented(
            ComponentKind::Discriminator,
            "gru",
            "Recurrent discriminator: embedding + GRU over the real tokens + logistic output",
            &GruDiscriminatorConfig::default(),
            &[CONFIG_DOCS, agon_sdk::toolkit::ADAM_CONFIG_DOCS].concat(),
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

#[cfg(test)]
mod config_docs_tests {
    use super::*;

    #[test]
    fn every_key_of_every_default_config_is_documented() {
        for component in GruDiscriminatorLibrary::components() {
            assert_eq!(component.check_config_docs(), Ok(()));
        }
    }
}
