//! `agon/rewards` — reward functions as plain, pluggable functions.
//!
//! * `discriminator` — SeqGAN: r = D(Y), the probability of being real.
//! * `log-discriminator` — r = log D(Y) (clamped below at 1e-8).
//! * `maligan` — MaliGAN's normalised importance weight (Che et al. 2017):
//!   r_i = w_i / mean_j w_j with w = D / (1 − D).
//! * `bleu` — sentence BLEU against the training corpus; needs no
//!   discriminator (the PG-BLEU baseline of SeqGAN's Table 1).
//! * `sentence-bleu`, `rouge-l` — each sequence against its own reference
//!   (conditional tasks); `mixture` — λ·D + (1 − λ)·metric.

mod bleu;
#[cfg(test)]
mod contract;
mod discriminator;
mod reference;

use agon_sdk::{
    ComponentCapabilities, ComponentInfo, ComponentKind, PluginContext, PluginLibrary,
    PluginResult, RewardImpl,
};

pub use bleu::{BleuReward, BleuRewardConfig};
pub use discriminator::{DiscriminatorReward, Transform};
pub use reference::{Metric, MetricRewardConfig, MixtureConfig, ReferenceReward};

/// The library.
pub struct RewardsLibrary;

impl PluginLibrary for RewardsLibrary {
    const NAMESPACE: &'static str = "agon";
    const NAME: &'static str = "rewards";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn components() -> Vec<ComponentInfo> {
        let none = ();
        vec![
            ComponentInfo::new(
                ComponentKind::Reward,
                "discriminator",
                "SeqGAN: r = D(Y)",
                &none,
            ),
            ComponentInfo::new(
                ComponentKind::Reward,
                "log-discriminator",
                "r = log D(Y)",
                &none,
            ),
            ComponentInfo::new(
                ComponentKind::Reward,
                "maligan",
                "MaliGAN: D/(1-D) normalised over the rows of each call (under monte-carlo credit a call's rows depend on training.rollout_token_budget)",
                &none,
            ),
            ComponentInfo::documented(
                ComponentKind::Reward,
                "bleu",
                "Sentence BLEU against the training corpus (PG-BLEU); needs no discriminator",
                &BleuRewardConfig::default(),
                &[(
                    "max_order",
                    "Highest n-gram order of BLEU against the training corpus, a whole number of at least 1, orders weighted equally (4: BLEU-4).",
                )],
            ),
            ComponentInfo::documented(
                ComponentKind::Reward,
                "sentence-bleu",
                "Sentence BLEU of each sequence against its own reference (conditional tasks)",
                &MetricRewardConfig::default(),
                &[(
                    "max_order",
                    "Highest n-gram order of BLEU against the row's reference, a whole number of at least 1, orders weighted equally (4: BLEU-4).",
                )],
            ),
            ComponentInfo::new(
                ComponentKind::Reward,
                "rouge-l",
                "ROUGE-L F1 of each sequence against its own reference (conditional tasks)",
                &none,
            ),
            ComponentInfo::documented(
                ComponentKind::Reward,
                "mixture",
                "lambda * D + (1 - lambda) * metric (sentence-bleu or rouge-l) against the reference",
                &MixtureConfig::default(),
                &[
                    (
                        "metric",
                        "The metric mixed with the discriminator: sentence-bleu or rouge-l, against the row's reference.",
                    ),
                    (
                        "lambda",
                        "Weight of the discriminator's probability, from 0 to 1: 0 rewards the metric alone, 1 the discriminator alone.",
                    ),
                    (
                        "max_order",
                        "Highest BLEU n-gram order when metric is sentence-bleu, a whole number of at least 1, orders weighted equally.",
                    ),
                ],
            ),
        ]
    }

    fn new_reward(name: &str, context: &PluginContext) -> PluginResult<Box<dyn RewardImpl>> {
        let transform = match name {
            "discriminator" => Transform::Probability,
            "log-discriminator" => Transform::Log,
            "maligan" => Transform::MaliGan,
            "bleu" => return Ok(Box::new(BleuReward::new(context.config()?)?)),
            "sentence-bleu" => {
                return Ok(Box::new(ReferenceReward::metric(
                    Metric::SentenceBleu,
                    context,
                )?))
            }
            "rouge-l" => return Ok(Box::new(ReferenceReward::metric(Metric::RougeL, context)?)),
            "mixture" => return Ok(Box::new(ReferenceReward::mixture(context)?)),
            other => {
                return Err(agon_sdk::author::unknown_component::<Self>(
                    ComponentKind::Reward,
                    other,
                ))
            }
        };
        Ok(Box::new(DiscriminatorReward { transform }))
    }

    /// Every reward takes rows with or without sources; the metric rewards
    /// (and `mixture`, whatever its λ) score against each row's reference.
    fn capabilities() -> Vec<ComponentCapabilities> {
        use agon_sdk::capabilities::{REFERENCES_REQUIRED, SOURCES_OPTIONAL};
        let plain = ["discriminator", "log-discriminator", "maligan", "bleu"];
        let against_references = ["sentence-bleu", "rouge-l", "mixture"];
        plain
            .into_iter()
            .map(|name| {
                ComponentCapabilities::new(ComponentKind::Reward, name, &[SOURCES_OPTIONAL])
            })
            .chain(against_references.into_iter().map(|name| {
                ComponentCapabilities::new(
                    ComponentKind::Reward,
                    name,
                    &[SOURCES_OPTIONAL, REFERENCES_REQUIRED],
                )
            }))
            .collect()
    }
}

agon_sdk::export_plugin!(RewardsLibrary);

#[cfg(test)]
mod config_docs_tests {
    use super::*;

    #[test]
    fn every_key_of_every_default_config_is_documented() {
        for component in RewardsLibrary::components() {
            assert_eq!(component.check_config_docs(), Ok(()));
        }
    }
}
