//! Text-generation metrics over token ids, shared by the host (evaluation)
//! and reward plugins (metric rewards), so both compute the same numbers.
//!
//! Pure Rust, and no part of the plugin boundary: a crate of its own so the
//! boundary and the Candle toolkit do not carry ROUGE's tokenizer and
//! Unicode crates. Plugins reach it as `agon_sdk::metrics` (feature
//! `metrics`). Each metric states which reference implementation it
//! reproduces; the tests (`tests/`) check against fixtures produced by that
//! implementation (`tests/fixtures/`, with the scripts that made them).

pub mod bleu;
pub mod distinct;
pub mod rouge;
pub mod sacrebleu;

pub use bleu::{corpus_bleu, sentence_stats, BleuReferences, BleuStats, CorpusBleu};
pub use distinct::distinct_n;
pub use rouge::{rouge_l, Rouge, RougeMetric, RougeScore};
pub use sacrebleu::{corpus_bleu_13a, is_python_space, tokenize_13a, SacreBleuSettings};
