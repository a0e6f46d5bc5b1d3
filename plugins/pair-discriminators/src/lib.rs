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
//! Built on the SDK's discriminator kit (`agon_sdk::kits`): this crate is
//! the three networks and their configs; the kit trains each with binary
//! cross-entropy on logits (reporting `accuracy` and `grad_norm`), applies
//! seeded dropout, scores in evaluation mode and saves / loads weights with
//! Adam's state, and refuses unconditional batches. Every random draw goes
//! through the toolkit's seeded ChaCha stream. No row's score depends on the
//! padding of its batch.

mod hierarchical_rnn;
mod pair_cnn;
mod pair_rnn;
#[cfg(test)]
mod tests;

pub use hierarchical_rnn::{HierarchicalRnn, HierarchicalRnnConfig};
pub use pair_cnn::{PairCnn, PairCnnConfig};
pub use pair_rnn::{PairRnn, PairRnnConfig};

agon_sdk::discriminator_library! {
    /// The library.
    pub struct PairDiscriminatorsLibrary;
    namespace: "pair-lab",
    name: "pair-discriminators",
    discriminators: {
        "pair-cnn" => PairCnn:
            "Adversarial-NMT's CNN over the (source position, target position) image",
        "hierarchical-rnn" => HierarchicalRnn:
            "Adversarial dialogue's hierarchical GRU: utterance GRU, then turn GRU",
        "pair-rnn" => PairRnn:
            "Document GRU + summary GRU, [d; s; d*s; |d-s|] -> tanh layer -> logit",
    }
}

#[cfg(test)]
mod config_docs_tests {
    use super::*;
    use agon_sdk::PluginLibrary;

    #[test]
    fn every_key_of_every_default_config_is_documented() {
        for component in PairDiscriminatorsLibrary::components() {
            assert_eq!(component.check_config_docs(), Ok(()));
        }
    }
}
