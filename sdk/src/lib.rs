//! # agon-sdk — the plugin boundary of agon
//!
//! agon is a host for adversarial training of text generators (SeqGAN and its
//! family). The host owns the *algorithm* — pretraining, the adversarial loop,
//! the Monte-Carlo rollout scheduler, metrics — and plugins own the *models*.
//! This crate is the only thing a plugin library needs to depend on.
//!
//! ## What crosses the boundary
//! Only token ids with lengths ([`TokenBatch`]), `f32` scores, small stats
//! structs ([`StepStats`]), errors ([`PluginError`]) and YAML / path strings.
//! Never tensors: Candle tensors are not ABI-stable, and keeping them inside
//! the plugin lets every plugin own its weights, optimiser state and device
//! memory.
//!
//! ## Writing a plugin
//! Implement the Rust traits in [`author`] ([`GeneratorImpl`],
//! [`DiscriminatorImpl`], [`RewardImpl`], [`PluginLibrary`]) and export the
//! library with [`export_plugin!`]. The SDK wraps every call in a panic guard:
//! a panic inside your code becomes a [`PluginError`] of kind
//! [`ErrorKind::Panic`] for the host, never an abort. See
//! `docs/writing-a-plugin.md` in the agon repository for a walk-through.
//!
//! The `candle` feature adds [`toolkit`]: device selection, batch → tensor
//! helpers, seeded sampling, safetensors checkpoints, an Adam whose state can
//! be saved, and gradient clipping. The `cuda` feature forwards to Candle's.
//!
//! With `candle`, [`kits`] turns a model into a whole component: a
//! discriminator author implements [`kits::DiscriminatorModel`] (build the
//! network, give one logit per row) and registers it with
//! [`discriminator_library!`]; the kit owns labels, loss, accuracy,
//! dropout, the optimiser, scoring, checkpoints and source handling. A
//! generator author implements [`kits::GeneratorModel`] (start a call, take
//! one decoding step) and registers it with [`generator_library!`]; the kit
//! owns MLE, sampling, rollouts, decoding, the policy-gradient step, the
//! rollout policy and checkpoints.
//!

//! ## Compatibility
//! See [`abi_version`] for the rule that lets a newer host load older plugins.
//!
// The `candle` items named above exist only in a build with the feature;
// without it their names point back to this page, which says so.
#![cfg_attr(
    feature = "candle",
    doc = "[`toolkit`]: crate::toolkit\n[`kits`]: crate::kits\n[`kits::DiscriminatorModel`]: crate::kits::DiscriminatorModel\n[`kits::GeneratorModel`]: crate::kits::GeneratorModel\n[`discriminator_library!`]: crate::discriminator_library\n[`generator_library!`]: crate::generator_library"
)]
#![cfg_attr(
    not(feature = "candle"),
    doc = "[`toolkit`]: #writing-a-plugin\n[`kits`]: #writing-a-plugin\n[`kits::DiscriminatorModel`]: #writing-a-plugin\n[`kits::GeneratorModel`]: #writing-a-plugin\n[`discriminator_library!`]: #writing-a-plugin\n[`generator_library!`]: #writing-a-plugin"
)]

pub mod abi_1_0;
pub mod abi_1_1;
pub mod abi_1_2;
#[cfg(test)]
mod abi_snapshot_check;
pub mod abi_version;
pub mod author;
pub mod batch;
pub mod capabilities;
pub mod config_docs;
pub mod context;
pub mod discriminator;
pub mod error;
pub mod generator;
pub mod kit_training_docs;
pub mod manifest;
/// The metric cores (crate `agon-metrics`, `sdk/metrics`).
#[cfg(feature = "metrics")]
pub use agon_metrics as metrics;
pub mod relaxed;
pub mod reward;
pub mod root_module;
pub mod seeds;
pub mod stats;
pub mod suggest;
#[cfg(feature = "testing")]
pub mod testing;
pub mod yaml;

/// The SIMD kernels over `f32` slices (crate `agon-kernels`, `sdk/kernels`).
#[cfg(feature = "candle")]
pub use agon_kernels as kernels;
// The toolkit and kits sit on agon-kernels and Candle (Rust 1.89); the rest
// of the crate, the boundary, keeps the package's `rust-version`, and
// clippy's `incompatible_msrv` holds each part to its own floor.
#[cfg(feature = "candle")]
#[clippy::msrv = "1.89"]
pub mod kits;
#[cfg(feature = "candle")]
#[clippy::msrv = "1.89"]
pub mod toolkit;

pub use abi_version::{AbiVersion, ABI_VERSION};
pub use author::{DiscriminatorImpl, GeneratorImpl, PluginLibrary, RewardImpl};
pub use batch::{Batch, TokenBatch};
pub use capabilities::ComponentCapabilities;
pub use context::{PluginContext, VocabInfo};
pub use discriminator::{Discriminator, DiscriminatorBox};
pub use error::{ErrorKind, PluginError, PluginResult};
pub use generator::{
    DecodeRequest, Generator, GeneratorBox, MleOptions, Policy, PrefixJob, RolloutRequest,
    SampleRequest,
};
pub use manifest::{ComponentInfo, ComponentKind, Manifest};
pub use relaxed::{PairedRows, RelaxedBatch, RelaxedSampleRequest, RelaxedSamples};
pub use reward::{Reward, RewardBox, RewardInput};
pub use root_module::{AgonPlugin, AgonPluginRef};
pub use stats::{StepOptions, StepStats};

/// Re-exports used by [`export_plugin!`]; not part of the stable API.
#[doc(hidden)]
pub mod reexports {
    pub use abi_stable;
    /// For the serde derives of `discriminator_config!` (with `candle`).
    pub use serde;
}

/// The devices this build of the SDK (and so of the plugin linking it) can use.
///
/// `["cpu"]` by default, `["cpu", "cuda"]` when built with the `cuda` feature.
pub fn supported_devices() -> Vec<String> {
    let mut devices = vec!["cpu".to_string()];
    if cfg!(feature = "cuda") {
        devices.push("cuda".to_string());
    }
    devices
}
