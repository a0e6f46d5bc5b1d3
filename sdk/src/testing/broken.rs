//! The contract catches what it promises to catch: deliberately broken
//! components fail it with the rule they break.

use std::path::Path;

use super::{check_discriminator, check_discriminator_paths_agree, Task};
use crate::{
    author::{DiscriminatorImpl, PluginLibrary},
    batch::Batch,
    capabilities::{
        ComponentCapabilities, SOURCES_NEVER, SOURCES_OPTIONAL, SOURCES_REQUIRED, TOKEN_LOGITS,
    },
    context::PluginContext,
    error::{PluginError, PluginResult},
    manifest::{ComponentInfo, ComponentKind},
    stats::{StepOptions, StepStats},
};

/// A one-weight discriminator with switchable defects.
struct Toy {
    weight: f32,
    reads_padding: bool,
    saves: bool,
    /// Per-token logits, if any, and what position `t` reads.
    per_token: Option<TokenView>,
}

/// What a per-token toy's position `t` reads.
#[derive(Clone, Copy)]
enum TokenView {
    /// Tokens `0..=t`: causal.
    Prefix,
    /// The whole row.
    WholeRow,
    /// Tokens `0..=t` and the row's length.
    PrefixAndLength,
}

impl DiscriminatorImpl for Toy {
    fn train_step(&mut self, _: &Batch, _: &Batch, _: &StepOptions) -> PluginResult<StepStats> {
        self.weight += 0.01;
        Ok(StepStats::new(self.weight, 2))
    }

    fn probabilities(&mut self, batch: &Batch) -> PluginResult<Vec<f32>> {
        let t = &batch.targets;
        Ok((0..t.rows())
            .map(|r| {
                let ids = match self.reads_padding {
                    // Reads the whole padded row, past its length.
                    true => &t.ids[r * t.width as usize..(r + 1) * t.width as usize],
                    false => t.row(r),
                };
                let x = self.weight * ids.iter().sum::<u32>() as f32 / 100.0;
                1.0 / (1.0 + (-x).exp())
            })
            .collect())
    }

    fn token_logits(&mut self, batch: &Batch) -> PluginResult<Vec<f32>> {
        let Some(view) = self.per_token else {
            return Err(PluginError::unsupported("no per-token logits"));
        };
        let t = &batch.targets;
        Ok((0..t.rows())
            .flat_map(|r| {
                let row = t.row(r);
                (0..row.len()).map(move |position| {
                    let sum = |ids: &[u32]| ids.iter().sum::<u32>() as f32;
                    match view {
                        TokenView::Prefix => sum(&row[..=position]) / 100.0,
                        TokenView::WholeRow => sum(row) / 100.0,
                        TokenView::PrefixAndLength => {
                            (sum(&row[..=position]) + row.len() as f32) / 100.0
                        }
                    }
                })
            })
            .map(|x| self.weight * x)
            .collect())
    }

    fn parameter_count(&self) -> u64 {
        1
    }

    fn save(&self, dir: &Path) -> PluginResult<()> {
        if self.saves {
            std::fs::write(dir.join("w"), self.weight.to_string())
                .map_err(|e| crate::error::PluginError::io(e.to_string()))?;
        }
        Ok(())
    }

    fn load(&mut self, dir: &Path) -> PluginResult<()> {
        if let Ok(text) = std::fs::read_to_string(dir.join("w")) {
            self.weight = text.parse().unwrap_or(0.0);
        }
        Ok(())
    }
}

struct Broken;

impl PluginLibrary for Broken {
    const NAMESPACE: &'static str = "test";
    const NAME: &'static str = "broken";
    const VERSION: &'static str = "0.1.0";

    fn components() -> Vec<ComponentInfo> {
        [
            "good",
            "reads-padding",
            "forgets",
            "needs-sources",
            "undecided",
            "per-token",
            "peeks-ahead",
            "reads-length",
        ]
        .into_iter()
        .map(|n| ComponentInfo::new(ComponentKind::Discriminator, n, "toy", &()))
        .collect()
    }

    /// A config of `start: 0.7` starts the weight there (two "paths" that
    /// do not train alike).
    fn new_discriminator(
        name: &str,
        context: &PluginContext,
    ) -> PluginResult<Box<dyn DiscriminatorImpl>> {
        Ok(Box::new(Toy {
            weight: match context.config_yaml.as_str().trim() {
                "start: 0.7" => 0.7,
                _ => 0.5,
            },
            reads_padding: name == "reads-padding",
            saves: name != "forgets",
            per_token: match name {
                "per-token" => Some(TokenView::Prefix),
                "peeks-ahead" => Some(TokenView::WholeRow),
                "reads-length" => Some(TokenView::PrefixAndLength),
                _ => None,
            },
        }))
    }

    /// `needs-sources` claims sources it never gets on an unconditional
    /// task; `undecided` names two `sources-*` declarations; `per-token`,
    /// `peeks-ahead` and `reads-length` score every token, the second from
    /// the whole row, the third knowing the row's length.
    fn capabilities() -> Vec<ComponentCapabilities> {
        vec![
            ComponentCapabilities::new(ComponentKind::Discriminator, "good", &[SOURCES_NEVER]),
            ComponentCapabilities::new(
                ComponentKind::Discriminator,
                "needs-sources",
                &[SOURCES_REQUIRED],
            ),
            ComponentCapabilities::new(
                ComponentKind::Discriminator,
                "undecided",
                &[SOURCES_NEVER, SOURCES_OPTIONAL],
            ),
            ComponentCapabilities::new(ComponentKind::Discriminator, "per-token", &[TOKEN_LOGITS]),
            ComponentCapabilities::new(
                ComponentKind::Discriminator,
                "peeks-ahead",
                &[TOKEN_LOGITS],
            ),
            ComponentCapabilities::new(
                ComponentKind::Discriminator,
                "reads-length",
                &[TOKEN_LOGITS],
            ),
        ]
    }
}

fn context() -> PluginContext {
    PluginContext::for_tests(20, 8)
}

#[test]
fn a_correct_toy_passes() {
    check_discriminator::<Broken>("good", &context(), Task::Unconditional);
}

#[test]
fn causal_per_token_logits_pass() {
    check_discriminator::<Broken>("per-token", &context(), Task::Unconditional);
}

/// Each position's logit from the whole row: one per token, the same alone
/// and padded wider, so only the causality check tells.
#[test]
#[should_panic(expected = "token_logits is not causal")]
fn per_token_logits_that_read_later_tokens_fail() {
    check_discriminator::<Broken>("peeks-ahead", &context(), Task::Unconditional);
}

/// Later tokens changed but the length kept: only cutting the row tells.
#[test]
#[should_panic(expected = "when the row was cut after")]
fn per_token_logits_that_read_the_rows_length_fail() {
    check_discriminator::<Broken>("reads-length", &context(), Task::Unconditional);
}

#[test]
#[should_panic(expected = "padded wider with other values")]
fn reading_past_a_rows_length_fails() {
    check_discriminator::<Broken>("reads-padding", &context(), Task::Unconditional);
}

#[test]
#[should_panic(expected = "a loaded component scores differently")]
fn not_saving_the_weights_fails() {
    check_discriminator::<Broken>("forgets", &context(), Task::Unconditional);
}

#[test]
#[should_panic(
    expected = "declares `sources-required` but the contract runs it on an unconditional task"
)]
fn a_source_declaration_that_does_not_fit_the_task_fails() {
    check_discriminator::<Broken>("needs-sources", &context(), Task::Unconditional);
}

#[test]
#[should_panic(expected = "declare one of the three `sources-*` names")]
fn two_source_declarations_fail() {
    check_discriminator::<Broken>("undecided", &context(), Task::Unconditional);
}

#[test]
fn paths_that_train_alike_pass_the_path_check_and_others_fail_it() {
    check_discriminator_paths_agree::<Broken>("good", &context(), &context(), Task::Unconditional);
    let mut other = context();
    other.config_yaml = "start: 0.7".into();
    let failure = std::panic::catch_unwind(|| {
        check_discriminator_paths_agree::<Broken>("good", &context(), &other, Task::Unconditional)
    })
    .expect_err("two paths that start apart must fail the check");
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("paths: step 0's loss"), "{message}");
}
