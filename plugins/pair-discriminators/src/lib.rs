//! `pair-lab/pair-discriminators` — discriminators for conditional tasks:
//! each scores a (source, target) pair, so a fluent target paired with the
//! wrong source is still "generated". All three read `Batch { targets,
//! sources: RSome(sources) }` (one joint vocabulary, rows ending in EOS,
//! padded) and refuse unconditional batches with an input error.
//!
//! * **`pair-cnn`** — Adversarial-NMT's discriminator (Wu et al. 2017,
//!   "Adversarial Neural Machine Translation"). A shared embedding turns the
//!   source `x` and target `y` into the 2-D image whose cell `(i, j)` is
//!   `[emb(x_i); emb(y_j)]` (zero where `i` or `j` is padding); a 3×3
//!   convolution (64 filters) + ReLU, a 2×2 max-pool, a second 3×3
//!   convolution (64) + ReLU, a max over the real cells and a linear layer
//!   give the logit. *Simplifications:* the source is truncated to its first
//!   `max_source_len` tokens (default 50) because the image has
//!   `source × target` cells; where the paper goes on pooling into a
//!   fixed-size map and an MLP, this takes a global max over the real cells
//!   and one linear layer (so any pair of lengths gives one feature vector
//!   and the padding of the batch has no effect). Costliest of the three:
//!   about 0.64 s per step at 64 + 64 pairs of 20–30 × 20 tokens on two CPU
//!   cores (0.1 s with `conv1_filters: 8`). The first convolution is
//!   computed in a separable form that equals the 2-D convolution over the
//!   image (tested against Candle's `conv2d`) without building it.
//! * **`hierarchical-rnn`** — the discriminator of adversarial dialogue
//!   generation (Li et al. 2017). An utterance-level GRU (shared weights)
//!   encodes the context and the response, each to its last real token; a
//!   turn-level GRU reads `[context vector, response vector]`; its final
//!   state → linear → logit. With `turn_separator: <id>` the context is
//!   split at that id into turns, each encoded by the utterance GRU and fed
//!   to the turn GRU in order (all utterances of a batch go through the
//!   utterance GRU in one pass, so this costs nothing extra). The context is
//!   truncated to its first `max_source_len` tokens (default 50).
//! * **`pair-rnn`** — for (document, summary), a simplification of the
//!   recurrent discriminators of GAN summarization (Liu et al. 2018) and
//!   ATRNN: one GRU encodes the document (its first `max_source_len` tokens,
//!   default 200), a second the summary; `[d; s; d ⊙ s; |d − s|]` → tanh
//!   layer → logit. *Simplified:* no attention over the document, a single
//!   layer each, unidirectional.
//!
//! Shared (`shared/`): the pair inputs, the embedding, the masked GRU, seeded
//! dropout and PyTorch-like seeded initialisation, and one component type
//! that trains any of the models with binary cross-entropy on logits
//! (reporting `accuracy` and `grad_norm`), scores in evaluation mode and
//! saves / loads weights with Adam's state. Every random draw goes through
//! the toolkit's seeded ChaCha stream. No row's score depends on the padding
//! of its batch.

mod hierarchical_rnn;
mod pair_cnn;
mod pair_rnn;
mod shared;
#[cfg(test)]
mod tests;

pub use hierarchical_rnn::{HierarchicalRnn, HierarchicalRnnConfig};
pub use pair_cnn::{PairCnn, PairCnnConfig};
pub use pair_rnn::{PairRnn, PairRnnConfig};
pub use shared::component::PairDiscriminator;

use agon_sdk::{
    ComponentInfo, ComponentKind, DiscriminatorImpl, PluginContext, PluginLibrary, PluginResult,
};

/// One line per key of `pair-cnn`'s own config, for `agon plugins show`.
const PAIR_CNN_DOCS: &[(&str, &str)] = &[
    (
        "embedding_dim",
        "Size of each token's embedding vector, one table for sources and targets, a whole number of at least 1.",
    ),
    (
        "conv1_filters",
        "Number of filters of the first 3x3 convolution over the source-by-target grid, at least 1; the costliest part (8 is about six times faster than 64).",
    ),
    (
        "conv2_filters",
        "Number of filters of the second 3x3 convolution, after the 2x2 max-pool, at least 1.",
    ),
    (
        "dropout",
        "Probability of zeroing each pooled feature while training, at least 0 and below 1; 0 turns dropout off.",
    ),
    (
        "max_source_len",
        "Source tokens read per row (the first ones), at least 1; the grid has source-by-target cells, so this bounds the cost of long sources.",
    ),
];

/// One line per key of `hierarchical-rnn`'s own config.
const HIERARCHICAL_RNN_DOCS: &[(&str, &str)] = &[
    (
        "embedding_dim",
        "Size of each token's embedding vector, one table for contexts and responses, a whole number of at least 1.",
    ),
    (
        "utterance_hidden_dim",
        "State size of the utterance-level GRU, which encodes each context turn and the response, at least 1.",
    ),
    (
        "turn_hidden_dim",
        "State size of the turn-level GRU, which reads the utterance vectors in order, at least 1.",
    ),
    (
        "turn_separator",
        "Token id that splits a context into turns, each encoded on its own; null reads the whole context as one utterance.",
    ),
    (
        "dropout",
        "Probability of zeroing each entry of the turn GRU's final state while training, at least 0 and below 1; 0 turns dropout off.",
    ),
    (
        "max_source_len",
        "Context tokens read per row (the first ones, separators included), at least 1.",
    ),
];

/// One line per key of `pair-rnn`'s own config.
const PAIR_RNN_DOCS: &[(&str, &str)] = &[
    (
        "embedding_dim",
        "Size of each token's embedding vector, one table for documents and summaries, a whole number of at least 1.",
    ),
    (
        "hidden_dim",
        "State size of both GRUs, the document's and the summary's, at least 1.",
    ),
    (
        "mlp_dim",
        "Size of the tanh layer over the document vector, the summary vector, their product and their absolute difference, at least 1.",
    ),
    (
        "dropout",
        "Probability of zeroing each of those pair features while training, at least 0 and below 1; 0 turns dropout off.",
    ),
    (
        "max_source_len",
        "Document tokens read per row (the first ones), at least 1; the GRU's cost grows with it.",
    ),
];

/// One line per training key every component's config has.
const TRAINING_DOCS: &[(&str, &str)] = &[
    ("optimizer.lr", "Learning rate of Adam (default 0.001)."),
    (
        "grad_clip",
        "Largest norm of all gradients together; a larger gradient is scaled down to it; 0 turns clipping off.",
    ),
];

/// The library.
pub struct PairDiscriminatorsLibrary;

impl PluginLibrary for PairDiscriminatorsLibrary {
    const NAMESPACE: &'static str = "pair-lab";
    const NAME: &'static str = "pair-discriminators";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn components() -> Vec<ComponentInfo> {
        vec![
            ComponentInfo::documented(
                ComponentKind::Discriminator,
                "pair-cnn",
                "Adversarial-NMT's CNN over the (source position, target position) image",
                &PairCnnConfig::default(),
                &[
                    PAIR_CNN_DOCS,
                    TRAINING_DOCS,
                    agon_sdk::toolkit::ADAM_CONFIG_DOCS,
                ]
                .concat(),
            ),
            ComponentInfo::documented(
                ComponentKind::Discriminator,
                "hierarchical-rnn",
                "Adversarial dialogue's hierarchical GRU: utterance GRU, then turn GRU",
                &HierarchicalRnnConfig::default(),
                &[
                    HIERARCHICAL_RNN_DOCS,
                    TRAINING_DOCS,
                    agon_sdk::toolkit::ADAM_CONFIG_DOCS,
                ]
                .concat(),
            ),
            ComponentInfo::documented(
                ComponentKind::Discriminator,
                "pair-rnn",
                "Document GRU + summary GRU, [d; s; d*s; |d-s|] -> tanh layer -> logit",
                &PairRnnConfig::default(),
                &[
                    PAIR_RNN_DOCS,
                    TRAINING_DOCS,
                    agon_sdk::toolkit::ADAM_CONFIG_DOCS,
                ]
                .concat(),
            ),
        ]
    }

    fn new_discriminator(
        name: &str,
        context: &PluginContext,
    ) -> PluginResult<Box<dyn DiscriminatorImpl>> {
        match name {
            "pair-cnn" => Ok(Box::new(PairDiscriminator::<PairCnn>::new(context)?)),
            "hierarchical-rnn" => Ok(Box::new(PairDiscriminator::<HierarchicalRnn>::new(
                context,
            )?)),
            "pair-rnn" => Ok(Box::new(PairDiscriminator::<PairRnn>::new(context)?)),
            other => Err(agon_sdk::author::unknown_component::<Self>(
                ComponentKind::Discriminator,
                other,
            )),
        }
    }
}

agon_sdk::export_plugin!(PairDiscriminatorsLibrary);

#[cfg(test)]
mod config_docs_tests {
    use super::*;

    #[test]
    fn every_key_of_every_default_config_is_documented() {
        for component in PairDiscriminatorsLibrary::components() {
            assert_eq!(component.check_config_docs(), Ok(()));
        }
    }
}
