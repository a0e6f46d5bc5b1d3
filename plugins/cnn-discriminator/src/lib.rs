//! `seqgan-lab/cnn-discriminator` — SeqGAN's discriminator (Yu et al., AAAI
//! 2017, after Kim 2014 and Zhang & LeCun 2015): token embedding,
//! convolutions of several widths with ReLU and max-over-time pooling, a
//! highway layer, dropout, and a two-class softmax with L2 on its weights.

mod config;
mod conv_pool;
mod discriminator;
mod hand_gradients;
mod model;
mod simd;
mod tabulated;

pub use config::CnnDiscriminatorConfig;
pub use discriminator::CnnDiscriminator;

use agon_sdk::{
    ComponentInfo, ComponentKind, DiscriminatorImpl, PluginContext, PluginLibrary, PluginResult,
};

/// The library.
pub struct CnnDiscriminatorLibrary;

impl PluginLibrary for CnnDiscriminatorLibrary {
    const NAMESPACE: &'static str = "seqgan-lab";
    const NAME: &'static str = "cnn-discriminator";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn components() -> Vec<ComponentInfo> {
        vec![ComponentInfo::new(
            ComponentKind::Discriminator,
            "cnn-highway",
            "SeqGAN discriminator: multi-width CNN + max-over-time pooling + highway + dropout",
            &CnnDiscriminatorConfig::default(),
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
}

agon_sdk::export_plugin!(CnnDiscriminatorLibrary);
