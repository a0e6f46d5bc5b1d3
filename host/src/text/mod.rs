//! Real text ↔ token ids: the tokenizer, the vocabulary built from the
//! training split, and reading text files with errors that name the line.

pub mod corpus;
pub mod tokenizer;
pub mod vocabulary;

pub use corpus::{keep_first, parse_lines, read_aligned_lines, read_lines, LongLines};
pub use tokenizer::{Level, TokenizerConfig};
pub use vocabulary::Vocabulary;
