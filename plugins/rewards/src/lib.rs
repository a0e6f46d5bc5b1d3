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
mod discriminator;
mod reference;

use agon_sdk::{
    ComponentInfo, ComponentKind, PluginContext, PluginLibrary, PluginResult, RewardImpl,
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
                "MaliGAN: normalised D/(1-D) over the batch",
                &none,
            ),
            ComponentInfo::new(
                ComponentKind::Reward,
                "bleu",
                "Sentence BLEU against the training corpus (PG-BLEU); needs no discriminator",
                &BleuRewardConfig::default(),
            ),
            ComponentInfo::new(
                ComponentKind::Reward,
                "sentence-bleu",
                "Sentence BLEU of each sequence against its own reference (conditional tasks)",
                &MetricRewardConfig::default(),
            ),
            ComponentInfo::new(
                ComponentKind::Reward,
                "rouge-l",
                "ROUGE-L F1 of each sequence against its own reference (conditional tasks)",
                &MetricRewardConfig::default(),
            ),
            ComponentInfo::new(
                ComponentKind::Reward,
                "mixture",
                "lambda * D + (1 - lambda) * metric (sentence-bleu or rouge-l) against the reference",
                &MixtureConfig::default(),
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
}

agon_sdk::export_plugin!(RewardsLibrary);
