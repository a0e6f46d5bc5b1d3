//! Tasks: where the training data comes from and how a generator is scored.

pub mod oracle;

pub use oracle::{OracleMetrics, OracleTask};
