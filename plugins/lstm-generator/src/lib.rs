//! `agon/lstm-generator` — SeqGAN's generator (Yu et al., AAAI 2017):
//! token embedding → single-layer LSTM → softmax over the vocabulary.
//!
//! It also loads the weights of SeqGAN's synthetic-data oracle (the "target
//! LSTM") and can be frozen, so the oracle is just an instance of it.

mod config;
#[cfg(test)]
mod contract;
mod decode;
mod fused_loss;
mod generator;
mod lstm_by_hand;
mod oracle;
#[cfg(test)]
mod path_agreement;
mod weights;

pub use config::LstmGeneratorConfig;
pub use generator::LstmGenerator;

use agon_sdk::{
    capabilities::{SOURCES_NEVER, TEMPERED_LOG_LIKELIHOOD},
    ComponentCapabilities, ComponentInfo, ComponentKind, GeneratorImpl, PluginContext,
    PluginLibrary, PluginResult,
};

/// One line per key of `lstm`'s config, for `agon plugins show`.
const CONFIG_DOCS: &[(&str, &str)] = &[
    (
        "embedding_dim",
        "Size of each token's embedding vector, a whole number of at least 1 (SeqGAN: 32); must match the file given in oracle_weights.",
    ),
    (
        "hidden_dim",
        "Size of the LSTM's hidden and cell states, a whole number of at least 1 (SeqGAN: 32); must match the file given in oracle_weights.",
    ),
    (
        "init_std",
        "Standard deviation of the zero-mean normal distribution every initial weight is drawn from (SeqGAN: 0.1).",
    ),
    ("optimizer.lr", "Learning rate of Adam (SeqGAN: 0.01)."),
    (
        "adversarial_optimizer.lr",
        "Learning rate of the adversarial steps' Adam (SeqGAN: 0.01).",
    ),
    (
        "grad_clip",
        "Largest norm of all gradients together; a larger gradient is scaled down to it; 0 turns clipping off (SeqGAN: 5).",
    ),
    (
        "oracle_weights",
        "Safetensors file of weights in the layout of SeqGAN's oracle to start from, relative to the working directory; null starts from random weights.",
    ),
    (
        "frozen",
        "true refuses every training step (the oracle of the synthetic task); false trains as usual.",
    ),
];

/// The library.
pub struct LstmGeneratorLibrary;

impl PluginLibrary for LstmGeneratorLibrary {
    const NAMESPACE: &'static str = "agon";
    const NAME: &'static str = "lstm-generator";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn components() -> Vec<ComponentInfo> {
        vec![ComponentInfo::documented(
            ComponentKind::Generator,
            "lstm",
            "SeqGAN generator: embedding + LSTM + softmax; loads the SeqGAN oracle's weights",
            &LstmGeneratorConfig::default(),
            &[
                CONFIG_DOCS,
                agon_sdk::toolkit::ADAM_CONFIG_DOCS,
                agon_sdk::toolkit::ADVERSARIAL_ADAM_CONFIG_DOCS,
                agon_sdk::toolkit::COMPUTE_CONFIG_DOCS,
            ]
            .concat(),
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

    fn capabilities() -> Vec<ComponentCapabilities> {
        vec![ComponentCapabilities::new(
            ComponentKind::Generator,
            "lstm",
            &[TEMPERED_LOG_LIKELIHOOD, SOURCES_NEVER],
        )]
    }
}

agon_sdk::export_plugin!(LstmGeneratorLibrary);

#[cfg(test)]
mod config_docs_tests {
    use super::*;

    #[test]
    fn every_key_of_every_default_config_is_documented() {
        for component in LstmGeneratorLibrary::components() {
            assert_eq!(component.check_config_docs(), Ok(()));
        }
    }
}
