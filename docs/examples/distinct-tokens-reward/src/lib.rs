//! `acme/distinct-tokens` — a reward for diversity: the fraction of distinct
//! tokens in each generated sequence, optionally raised to a power.

use agon_sdk::{
    ComponentCapabilities, ComponentInfo, ComponentKind, PluginContext, PluginError, PluginLibrary,
    PluginResult, RewardImpl, RewardInput,
};
use serde::{Deserialize, Serialize};

/// The component's configuration; `Default` is what `agon plugins show` lists.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct DistinctTokensConfig {
    /// Exponent applied to the distinct fraction.
    power: f32,
}

impl Default for DistinctTokensConfig {
    fn default() -> Self {
        DistinctTokensConfig { power: 1.0 }
    }
}

struct DistinctTokens {
    config: DistinctTokensConfig,
}

impl RewardImpl for DistinctTokens {
    fn needs_discriminator(&self) -> bool {
        false
    }

    fn rewards(&mut self, input: &RewardInput) -> PluginResult<Vec<f32>> {
        Ok(input
            .sequences
            .iter_rows()
            .map(|row| {
                let mut seen = row.to_vec();
                seen.sort_unstable();
                seen.dedup();
                let fraction = seen.len() as f32 / row.len().max(1) as f32;
                fraction.powf(self.config.power)
            })
            .collect())
    }
}

struct AcmeRewards;

impl PluginLibrary for AcmeRewards {
    const NAMESPACE: &'static str = "acme";
    const NAME: &'static str = "distinct-tokens";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn components() -> Vec<ComponentInfo> {
        vec![ComponentInfo::documented(
            ComponentKind::Reward,
            "distinct-tokens",
            "Fraction of distinct tokens per sequence (a diversity reward)",
            &DistinctTokensConfig::default(),
            &[(
                "power",
                "Exponent applied to each sequence's fraction of distinct tokens, a positive number; above 1 punishes repetition harder.",
            )],
        )]
    }

    fn new_reward(name: &str, context: &PluginContext) -> PluginResult<Box<dyn RewardImpl>> {
        if name != "distinct-tokens" {
            return Err(agon_sdk::author::unknown_component::<Self>(
                ComponentKind::Reward,
                name,
            ));
        }
        let config: DistinctTokensConfig = context.config()?;
        if !config.power.is_finite() || config.power <= 0.0 {
            return Err(PluginError::config("power must be a positive number"));
        }
        Ok(Box::new(DistinctTokens { config }))
    }

    /// What it reads: no sources needed, none refused, no references, so
    /// every task can use it. The host checks a config against this before
    /// the run directory exists (docs/writing-a-plugin.md, "Conditional
    /// tasks").
    fn capabilities() -> Vec<ComponentCapabilities> {
        vec![ComponentCapabilities::new(
            ComponentKind::Reward,
            "distinct-tokens",
            &[agon_sdk::capabilities::SOURCES_OPTIONAL],
        )]
    }
}

agon_sdk::export_plugin!(AcmeRewards);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_config_key_is_documented() {
        for component in AcmeRewards::components() {
            assert_eq!(component.check_config_docs(), Ok(()));
        }
    }

    /// The SDK's contract, as the host will call it: one finite value per
    /// row, the same for the same rows, bad configs refused.
    #[test]
    fn follows_the_reward_contract() {
        agon_sdk::testing::check_reward::<AcmeRewards>(
            "distinct-tokens",
            &PluginContext::for_tests(30, 10),
            agon_sdk::testing::Task::Unconditional,
        );
    }
}
