//! The inverse temperature β of Gumbel-softmax samples over the adversarial
//! epochs: the generator's relaxed samples are `softmax(β · (logits + g))`,
//! nearly uniform at small β and nearly one-hot at large β. RelGAN (Nie et
//! al., ICLR 2019, section 2.3 and its code's `get_fixed_temperature`)
//! raises β from 1 at the first adversarial iteration to `β_max` at the
//! last: a larger β_max trades sample diversity for quality.

use serde::{Deserialize, Serialize};

/// How β rises from 1 to its maximum (`…inverse_temperature.schedule`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Annealing {
    /// β = β_max throughout.
    Constant,
    /// β = 1 + (β_max − 1) · i / (N − 1).
    Linear,
    /// β = β_max^(i / N): RelGAN's default.
    #[default]
    Exponential,
}

/// β at iteration `i` of `n` (`0 ≤ i < n`), rising from 1 to `max` (≥ 1).
pub fn inverse_temperature(schedule: Annealing, max: f64, i: usize, n: usize) -> f64 {
    debug_assert!(max >= 1.0 && n > 0);
    match schedule {
        Annealing::Constant => max,
        Annealing::Linear if n <= 1 => max,
        Annealing::Linear => 1.0 + (max - 1.0) * i as f64 / (n - 1) as f64,
        Annealing::Exponential => max.powf(i as f64 / n as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RelGAN's `get_fixed_temperature` ('no', 'lin', 'exp'), evaluated by
    /// hand for β_max = 100 over N = 5 iterations.
    #[test]
    fn schedules_follow_relgan() {
        let at = |s, i| inverse_temperature(s, 100.0, i, 5);
        for i in 0..5 {
            assert_eq!(at(Annealing::Constant, i), 100.0);
        }
        let linear: Vec<f64> = (0..5).map(|i| at(Annealing::Linear, i)).collect();
        assert_eq!(linear, [1.0, 25.75, 50.5, 75.25, 100.0]);
        // 100^(i/5): 1, 2.5119, 6.3096, 15.849, 39.811 (β_max is reached at i = N).
        let exponential: Vec<f64> = (0..5).map(|i| at(Annealing::Exponential, i)).collect();
        for (got, want) in exponential
            .iter()
            .zip([1.0, 2.511_886, 6.309_573, 15.848_932, 39.810_717])
        {
            assert!((got - want).abs() < 1e-5, "{exponential:?}");
        }
        assert_eq!(inverse_temperature(Annealing::Linear, 7.0, 0, 1), 7.0);
    }
}
