//! Text-generation metrics over token ids, shared by the host (evaluation)
//! and reward plugins (metric rewards), so both compute the same numbers.
//!
//! Pure Rust, no feature needed. Each metric states which reference
//! implementation it reproduces; the tests check against fixtures produced by
//! that implementation.

pub mod bleu;
pub mod distinct;
pub mod rouge;
pub mod sacrebleu;

pub use bleu::{corpus_bleu, sentence_stats, BleuReferences, BleuStats, CorpusBleu};
pub use distinct::distinct_n;
pub use rouge::{rouge_l, Rouge, RougeMetric, RougeScore};
pub use sacrebleu::{corpus_bleu_13a, tokenize_13a, SacreBleuSettings};
