//! Rewards computed from the discriminator's probabilities.

use agon_sdk::{PluginError, PluginResult, RewardImpl, RewardInput};

/// How D's probability becomes a reward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transform {
    /// r = D.
    Probability,
    /// r = log max(D, 1e-8).
    Log,
    /// r = w / mean(w), w = D / (1 − D).
    MaliGan,
}

/// A reward that reads the discriminator's scores.
pub struct DiscriminatorReward {
    pub transform: Transform,
}

impl RewardImpl for DiscriminatorReward {
    fn needs_discriminator(&self) -> bool {
        true
    }

    fn rewards(&mut self, input: &RewardInput) -> PluginResult<Vec<f32>> {
        let scores = input.discriminator.as_ref().into_option().ok_or_else(|| {
            PluginError::input("this reward needs discriminator scores, and none were given")
        })?;
        Ok(apply(self.transform, scores))
    }
}

/// The transform applied to a batch of probabilities.
pub fn apply(transform: Transform, scores: &[f32]) -> Vec<f32> {
    match transform {
        Transform::Probability => scores.to_vec(),
        Transform::Log => scores.iter().map(|&d| d.max(1e-8).ln()).collect(),
        Transform::MaliGan => {
            let weights: Vec<f32> = scores
                .iter()
                .map(|&d| {
                    let d = d.clamp(1e-6, 1.0 - 1e-6);
                    d / (1.0 - d)
                })
                .collect();
            let mean = weights.iter().sum::<f32>() / weights.len().max(1) as f32;
            weights.iter().map(|w| w / mean).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms() {
        assert_eq!(apply(Transform::Probability, &[0.25, 0.5]), vec![0.25, 0.5]);
        let log = apply(Transform::Log, &[1.0, 0.0]);
        assert_eq!(log[0], 0.0);
        assert!((log[1] - (1e-8f32).ln()).abs() < 1e-3);
        // w = [1/3, 1] → mean 2/3 → [0.5, 1.5]
        let mali = apply(Transform::MaliGan, &[0.25, 0.5]);
        assert!(
            (mali[0] - 0.5).abs() < 1e-5 && (mali[1] - 1.5).abs() < 1e-5,
            "{mali:?}"
        );
    }
}
