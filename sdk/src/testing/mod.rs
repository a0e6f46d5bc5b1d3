//! The component contract any author can run (feature `testing`): one call
//! per kind builds your component through the SDK's guard, as the host
//! does, and drives it on a small toy task. Each call panics with a message
//! naming the broken rule, so it reads as a failing test:
//!
//! ```ignore
//! #[test]
//! fn the_discriminator_keeps_the_contract() {
//!     let mut context = agon_sdk::PluginContext::for_tests(40, 12);
//!     context.config_yaml = "embedding_dim: 8\n".into();
//!     agon_sdk::testing::check_discriminator::<MyLibrary>("mean-pool", &context, Task::Unconditional);
//! }
//! ```
//!
//! What is checked, for every kind: construction through the guard;
//! determinism under a seed (two components from one context, driven the
//! same way, give the same numbers bit for bit); save and load give back
//! the same component (its scores, and its next training step); a row's
//! score does not depend on the other rows of its batch, nor on how wide
//! the batch is padded or what the padding holds; outputs are finite and in
//! range; an id outside the vocabulary is refused with an error, and no
//! call panics; a `sources-*` declaration (`agon_sdk::capabilities`) is one
//! name and takes the task the contract runs. A discriminator that declares
//! `token-logits` gives one logit per real token, under the same rules, and
//! causal: a position's logit does not move when the row's later tokens
//! change.
//!
//! A discriminator with two compute paths (`compute: kernels | tensor`)
//! also runs [`check_discriminator_paths_agree`]: both paths train ten
//! steps side by side and must agree up to float rounding.
//!
//! A kit discriminator also runs [`check_weight_gradients`] (with
//! `candle`), and a kit generator [`check_generator_weight_gradients`]: the
//! gradient of its training loss in every weight against finite
//! differences, which finds an op that silently has no backward (and, for
//! a per-token model, a weight the row logits read that training never
//! reaches).
//!
//! A kit discriminator that reads relaxed rows (`relaxed_logits`, with
//! `candle`) also runs [`check_relaxed_rows_score_as_ids`] (a conditional
//! one [`check_conditional_relaxed_rows_score_as_ids`]) and
//! [`check_relaxed_input_gradient`]; one off the kit,
//! [`check_relaxed_input_gradient_of`].
//!
//! The gradient chain of `algorithm: gumbel` ([`check_gradient_chain`])
//! needs a model of the other kind: [`BigramGenerator`] and
//! [`MeanPoolDiscriminator`] are small kit models for that, since two
//! plugin crates cannot be linked into one test binary (each exports its
//! library's root symbol under the one name the host looks up).
//!
//! The checks and models said above to need `candle` exist only in a build
//! with that feature.
// Without `candle` their names above are plain text, not links.
#![cfg_attr(not(feature = "candle"), allow(rustdoc::broken_intra_doc_links))]

#[cfg(test)]
mod broken;
#[cfg(test)]
mod broken_generator;
mod compute_paths;
mod discriminator;
#[cfg(feature = "candle")]
mod entries;
mod generator;
#[cfg(feature = "candle")]
mod gradient_chain;
#[cfg(feature = "candle")]
mod partners;
mod relaxed_contract;
#[cfg(feature = "candle")]
mod relaxed_rows;
mod reward;
mod toy;
#[cfg(feature = "candle")]
mod weight_gradients;

pub use compute_paths::check_discriminator_paths_agree;
pub use discriminator::check_discriminator;
pub use generator::check_generator;
#[cfg(feature = "candle")]
pub use gradient_chain::{check_gradient_chain, LogitLoss};
#[cfg(feature = "candle")]
pub use partners::{BigramConfig, BigramGenerator, MeanPoolConfig, MeanPoolDiscriminator};
#[cfg(feature = "candle")]
pub use relaxed_rows::{
    check_conditional_relaxed_rows_score_as_ids, check_relaxed_input_gradient,
    check_relaxed_input_gradient_of, check_relaxed_rows_score_as_ids, one_hot_pairs, one_hot_rows,
};
pub use reward::check_reward;
pub use toy::Task;
#[cfg(feature = "candle")]
pub use weight_gradients::{
    check_conditional_generator_weight_gradients, check_conditional_weight_gradients,
    check_generator_weight_gradients, check_weight_gradients,
};

use abi_stable::std_types::{ROption, RResult};

use crate::{
    author::PluginLibrary,
    capabilities::{
        declares, SourceDeclaration, SOURCES_NEVER, SOURCES_OPTIONAL, SOURCES_REQUIRED,
    },
    context::{PluginContext, VocabInfo},
    error::{ErrorKind, PluginError},
    manifest::ComponentKind,
};

/// A context with the host's conventions for text tasks (pad 0, BOS 1,
/// EOS 2, unknown 3, then words), for a contract or any test.
pub fn text_context(vocab_size: u32, max_len: u32) -> PluginContext {
    let mut context = PluginContext::for_tests(vocab_size, max_len);
    context.vocab = VocabInfo {
        size: vocab_size,
        bos: 1,
        eos: ROption::RSome(2),
        pad: ROption::RSome(0),
        unk: ROption::RSome(3),
    };
    context
}

/// The library's `sources-*` declaration of `kind`/`component`, if any, is
/// one name, and takes the rows of `task`: a component the contract runs on
/// a conditional task must not declare `sources-never`, nor one it runs on
/// an unconditional task `sources-required`.
fn check_source_declaration<L: PluginLibrary>(kind: ComponentKind, component: &str, task: Task) {
    let declared = L::capabilities();
    let names: Vec<&str> = [SOURCES_NEVER, SOURCES_OPTIONAL, SOURCES_REQUIRED]
        .into_iter()
        .filter(|name| declares(&declared, kind, component, name))
        .collect();
    assert!(
        names.len() <= 1,
        "contract: `{component}` declares {names:?}; declare one of the three `sources-*` names"
    );
    if let Some(declaration) = SourceDeclaration::of(&declared, kind, component) {
        let conditional = task == Task::Conditional;
        assert!(
            declaration.accepts(conditional),
            "contract: `{component}` declares `{}` but the contract runs it on {} task; declare what it reads",
            declaration.capability(),
            if conditional { "a conditional" } else { "an unconditional" }
        );
    }
}

/// The value of a call across the boundary, or a panic naming `what`.
fn ok<T>(result: RResult<T, PluginError>, what: &str) -> T {
    result
        .into_result()
        .unwrap_or_else(|e| panic!("contract: {what} failed: {e}"))
}

/// Panics unless `result` is an error other than a caught panic.
fn assert_refused<T>(result: Result<T, PluginError>, what: &str) {
    match result {
        Ok(_) => panic!("contract: {what} was accepted; it must be refused with an error"),
        Err(e) if e.kind() == ErrorKind::Panic => {
            panic!("contract: {what} panicked ({e}); refuse it with an error instead")
        }
        Err(_) => {}
    }
}

/// Panics if `result` is a caught panic; either answer is fine otherwise.
fn assert_no_panic<T>(result: Result<T, PluginError>, what: &str) {
    if let Err(e) = result {
        assert!(
            e.kind() != ErrorKind::Panic,
            "contract: {what} panicked ({e}); return an error instead"
        );
    }
}

/// Panics unless `a` and `b` are equal to `tolerance` (relative to the
/// larger magnitude, or absolute below 1), naming `what` and the row.
pub fn assert_close(a: &[f32], b: &[f32], tolerance: f32, what: &str) {
    assert_eq!(
        a.len(),
        b.len(),
        "{what}: {} values vs {}",
        a.len(),
        b.len()
    );
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tolerance * x.abs().max(y.abs()).max(1.0),
            "{what}: value {i} differs: {x} against {y}"
        );
    }
}

/// A fresh directory for checkpoints, removed when dropped.
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "agon-contract-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("contract: cannot create a temporary directory");
        ScratchDir(dir)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary directory")
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
