//! Dense per-token credit (`credit: dense`, ScratchGAN): the discriminator's
//! score of every token is that token's reward, and each token is credited
//! with its discounted return. One discriminator call per g-step; the
//! rollout scheduler is not involved.

use agon_sdk::TokenBatch;

use crate::config::DenseConfig;

/// `rows × width` returns (row-major, like `samples.ids`; zero past a row's
/// length) from `logits`, one per real token row after row as
/// `Discriminator::token_logits` gives them: `R_t = Σ_{s≥t} γ^{s−t} r_s`
/// with `r_s = config.reward.of(logit_s)`, within each row.
pub fn discounted_returns(logits: &[f32], samples: &TokenBatch, config: &DenseConfig) -> Vec<f32> {
    let width = samples.width as usize;
    let mut returns = vec![0.0f32; samples.rows() * width];
    let mut next = 0;
    for (r, row) in samples.iter_rows().enumerate() {
        let scores = &logits[next..next + row.len()];
        next += row.len();
        let mut running = 0.0f32;
        for t in (0..row.len()).rev() {
            running = config.reward.of(scores[t]) + config.gamma * running;
            returns[r * width + t] = running;
        }
    }
    returns
}

/// Adds the entropy bonus to `q`'s real tokens: every token of row `r` gets
/// `beta · (−log_likelihoods[r])`, the row's surprisal `−log π(y)` under the
/// generator that sampled it.
///
/// Why the whole sequence's surprisal at every token: `∇H(π) =
/// E[(−log π(y)) · Σ_t ∇log π(y_t | y_<t)]` (the score-function form; the
/// `−E[∇log π(y)]` term is zero), so adding it to every token's return makes
/// the policy gradient an unbiased estimate of `∇(J + β·H)`. The generator
/// reports `log π` per sequence only (`Generator::log_likelihood`, ABI 1.0),
/// so the surprisal of tokens before `t` stays in `t`'s return: it has mean
/// zero there and adds variance, not bias, which the baseline reduces.
pub fn add_entropy_bonus(q: &mut [f32], samples: &TokenBatch, log_likelihoods: &[f32], beta: f32) {
    let width = samples.width as usize;
    for (r, row) in samples.iter_rows().enumerate() {
        let bonus = -beta * log_likelihoods[r];
        for value in &mut q[r * width..r * width + row.len()] {
            *value += bonus;
        }
    }
}

/// Subtracts the moving-average baseline from `q`'s real tokens after
/// updating it with their mean: `b ← decay·b + (1 − decay)·mean`
/// (ScratchGAN's order: the baseline includes the current batch). Returns
/// the new baseline.
pub fn subtract_moving_average(
    q: &mut [f32],
    samples: &TokenBatch,
    baseline: f64,
    decay: f64,
) -> f64 {
    let width = samples.width as usize;
    let (mut sum, mut count) = (0.0f64, 0usize);
    for (r, row) in samples.iter_rows().enumerate() {
        for t in 0..row.len() {
            sum += f64::from(q[r * width + t]);
            count += 1;
        }
    }
    if count == 0 {
        return baseline;
    }
    let updated = decay * baseline + (1.0 - decay) * sum / count as f64;
    for (r, row) in samples.iter_rows().enumerate() {
        for t in 0..row.len() {
            q[r * width + t] -= updated as f32;
        }
    }
    updated
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TokenReward;

    fn samples() -> TokenBatch {
        TokenBatch::from_rows(&[vec![4, 5, 6], vec![7]], 0)
    }

    #[test]
    fn returns_discount_later_rewards_within_each_row() {
        let config = DenseConfig {
            reward: TokenReward::Logit,
            gamma: 0.5,
            ..DenseConfig::default()
        };
        let q = discounted_returns(&[1.0, 2.0, 4.0, -3.0], &samples(), &config);
        // Row 0: 4; 2 + 0.5·4 = 4; 1 + 0.5·4 = 3. Row 1: −3, then padding.
        assert_eq!(q, vec![3.0, 4.0, 4.0, -3.0, 0.0, 0.0]);
    }

    #[test]
    fn scratchgan_reward_is_twice_the_probability_less_one() {
        let config = DenseConfig::default();
        assert_eq!(config.gamma, 0.23);
        let q = discounted_returns(&[0.0, 0.0, 0.0, 0.0], &samples(), &config);
        assert!(
            q.iter().all(|&v| v.abs() < 1e-7),
            "D = 0.5 rewards 0: {q:?}"
        );
        let big = TokenReward::ScaledProbability.of(30.0);
        assert!((big - 1.0).abs() < 1e-6);
        // log sigmoid is finite far from 0 on both sides.
        assert!((TokenReward::LogProbability.of(-100.0) + 100.0).abs() < 1e-3);
        assert!(TokenReward::LogProbability.of(100.0).abs() < 1e-6);
        assert!((TokenReward::Probability.of(0.0) - 0.5).abs() < 1e-7);
    }

    #[test]
    fn the_entropy_bonus_adds_each_rows_surprisal_to_its_real_tokens_only() {
        let samples = samples();
        let mut q = vec![1.0, 2.0, 3.0, 6.0, 0.0, 0.0];
        add_entropy_bonus(&mut q, &samples, &[-4.0, -0.5], 0.25);
        // Row 0: + 0.25·4 = 1 at each of its three tokens; row 1: + 0.125
        // at its one token; padding untouched.
        assert_eq!(q, vec![2.0, 3.0, 4.0, 6.125, 0.0, 0.0]);
    }

    #[test]
    fn the_moving_average_includes_the_current_batch_and_skips_padding() {
        let samples = samples();
        let mut q = vec![1.0, 2.0, 3.0, 6.0, 99.0, 99.0];
        // Mean over the four real tokens is 3; b = 0.5·1 + 0.5·3 = 2.
        let b = subtract_moving_average(&mut q, &samples, 1.0, 0.5);
        assert_eq!(b, 2.0);
        assert_eq!(q, vec![-1.0, 0.0, 1.0, 4.0, 99.0, 99.0]);
    }
}
