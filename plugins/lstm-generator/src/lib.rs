//! `agon/lstm-generator` — SeqGAN's generator (Yu et al., AAAI 2017):
//! token embedding → single-layer LSTM → softmax over the vocabulary.
//!
//! It also loads the weights of SeqGAN's synthetic-data oracle (the "target
//! LSTM") and can be frozen, so the oracle is just an instance of it.

mod config;
mod decode;
mod fused_loss;
mod generator;
mod lstm_by_hand;
mod oracle;
mod weights;

pub use config::LstmGeneratorConfig;
pub use generator::LstmGenerator;

use agon_sdk::{
    ComponentInfo, ComponentKind, GeneratorImpl, PluginContext, PluginLibrary, PluginResult,
};

/// The library.
pub struct LstmGeneratorLibrary;

impl PluginLibrary for LstmGeneratorLibrary {
    const NAMESPACE: &'static str = "agon";
    const NAME: &'static str = "lstm-generator";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn components() -> Vec<ComponentInfo> {
        vec![ComponentInfo::new(
            ComponentKind::Generator,
            "lstm",
            "SeqGAN generator: embedding + LSTM + softmax; loads the SeqGAN oracle's weights",
            &LstmGeneratorConfig::default(),
        )]
    }

    fn new_generator(name: &str, context: &PluginContext) -> PluginResult<Box<dyn GeneratorImpl>> {
        match name {
            "lstm" => Ok(Box::new(LstmGenerator::new(context)?)),
            other => Err(agon_sdk::author::unknown_component::<Self>(
                ComponentKind::Generator,
                other,
            )),
        }
    }
}

agon_sdk::export_plugin!(LstmGeneratorLibrary);
