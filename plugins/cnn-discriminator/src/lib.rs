//! `seqgan-lab/cnn-discriminator` — SeqGAN's discriminator (Yu et al., AAAI
//! 2017, after Kim 2014 and Zhang & LeCun 2015): token embedding,
//! convolutions of several widths with ReLU and max-over-time pooling, a
//! highway layer, dropout, and a two-class softmax with L2 on its weights.
//! Scores relaxed rows too (`relaxed.rs`, the `relaxed-rows` capability), so
//! `algorithm: gumbel` trains a generator against it.

mod config;
#[cfg(test)]
mod contract;
mod conv_pool;
mod discriminator;
mod hand_gradients;
mod highway_head;
mod model;
#[cfg(test)]
mod path_agreement;
mod relaxed;
mod tabulated;

pub use config::CnnDiscriminatorConfig;
pub use discriminator::CnnDiscriminator;

use agon_sdk::{
    ComponentInfo, ComponentKind, DiscriminatorImpl, PluginContext, PluginLibrary, PluginResult,
};

/// One line per key of `cnn-highway`'s config, for `agon plugins show`.
const CONFIG_DOCS: &[(&str, &str)] = &[
    (
        "embedding_dim",
        "Size of each token's embedding vector, a whole number of at least 1 (SeqGAN: 64).",
    ),
    (
        "filter_sizes",
        "Convolution widths in tokens, one per filter bank, each at least 1 (SeqGAN: 1 to 10, 15 and 20).",
    ),
    (
        "filter_counts",
        "Number of filters of each width, one per entry of filter_sizes; their sum is the size of the pooled features.",
    ),
    (
        "dropout_keep",
        "Probability of keeping each feature before the output layer while training, above 0 and at most 1; 1 turns dropout off (SeqGAN: 0.75).",
    ),
    (
        "l2_lambda",
        "L2 penalty on the output layer: this / 2 times the sum of the squares of its weights and bias is added to the loss; 0 turns it off (SeqGAN: 0.2).",
    ),
    ("optimizer.lr", "Learning rate of Adam (SeqGAN: 0.0001)."),
    (
        "grad_clip",
        "Largest norm of all gradients together; a larger gradient is scaled down to it; 0 turns clipping off (SeqGAN does not clip).",
    ),
];

/// The library.
pub struct CnnDiscriminatorLibrary;

impl PluginLibrary for CnnDiscriminatorLibrary {
    const NAMESPACE: &'static str = "seqgan-lab";
    const NAME: &'static str = "cnn-discriminator";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn components() -> Vec<ComponentInfo> {
        vec![ComponentInfo::documented(
            ComponentKind::Discriminator,
            "cnn-highway",
            "SeqGAN discriminator: multi-width CNN + max-over-time pooling + highway + dropout",
            &CnnDiscriminatorConfig::default(),
            &[
                CONFIG_DOCS,
                agon_sdk::toolkit::ADAM_CONFIG_DOCS,
                agon_sdk::toolkit::COMPUTE_CONFIG_DOCS,
            ]
            .concat(),
        )]
    }

    fn new_discriminator(
        name: &str,
        context: &PluginContext,
    ) -> PluginResult<Box<dyn DiscriminatorImpl>> {
        match name {
            "cnn-highway" => Ok(Box::new(CnnDiscriminator::new(context)?)),
            other => Err(agon_sdk::author::unknown_component::<Self>(
                ComponentKind::Discriminator,
                other,
            )),
        }
    }

    fn capabilities() -> Vec<agon_sdk::ComponentCapabilities> {
        vec![agon_sdk::ComponentCapabilities::new(
            ComponentKind::Discriminator,
            "cnn-highway",
            &[
                agon_sdk::capabilities::SOURCES_NEVER,
                agon_sdk::capabilities::RELAXED_ROWS,
            ],
        )]
    }
}

agon_sdk::export_plugin!(CnnDiscriminatorLibrary);

#[cfg(test)]
mod config_docs_tests {
    use super::*;

    #[test]
    fn every_key_of_every_default_config_is_documented() {
        for component in CnnDiscriminatorLibrary::components() {
            assert_eq!(component.check_config_docs(), Ok(()));
        }
    }
}
