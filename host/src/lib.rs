//! The agon host as a library: the `agon` binary is a thin CLI over it, and
//! the integration tests drive the trainer and the rollout scheduler
//! through it.

pub mod allocator;
pub mod assemble;
pub mod bench;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod components;
pub mod config;
pub mod data;
pub mod eval;
pub mod machine;
pub mod notes;
pub mod plugin_threads;
pub mod run_dir;
pub mod sweep;
pub mod task;
pub mod text;
pub mod train;
