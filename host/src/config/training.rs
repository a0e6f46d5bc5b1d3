//! The training schedule: phases, their lengths and the rollout settings.

use serde::{Deserialize, Serialize};

use crate::train::{gan_loss::GanLoss, inverse_temperature::Annealing};

/// Everything about how training proceeds (defaults: SeqGAN's synthetic
/// experiment, `sequence_gan.py`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    /// Sequences per generator batch (paper: 64).
    pub batch_size: usize,
    /// Generator maximum-likelihood pretraining.
    pub mle: MleConfig,
    /// Discriminator pretraining.
    pub discriminator_pretraining: DiscriminatorPretrainingConfig,
    /// Adversarial training.
    pub adversarial: AdversarialConfig,
    /// Evaluate (NLL-oracle, NLL-test) every this many epochs of each phase;
    /// also at the end of each phase. 0 = only at phase ends.
    pub eval_every: usize,
    /// Most generated tokens in one rollout call of the scheduler (bounds
    /// peak memory: a call holds `jobs × rollouts × max_len` tokens and their
    /// activations). Calls are as large as this allows.
    pub rollout_token_budget: usize,
    /// Negatives generated per discriminator round / d-step; 0 = as many as
    /// there are training sequences (paper).
    pub negatives: usize,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig {
            batch_size: 64,
            mle: MleConfig::default(),
            discriminator_pretraining: DiscriminatorPretrainingConfig::default(),
            adversarial: AdversarialConfig::default(),
            eval_every: 5,
            rollout_token_budget: 20_480,
            negatives: 0,
        }
    }
}

/// MLE pretraining of the generator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MleConfig {
    /// Passes over the training data (paper: 120).
    pub epochs: usize,
    /// Scheduled sampling (Bengio et al. 2015): probability of feeding the
    /// model's own sample instead of the truth, ramped linearly from `start`
    /// in the first epoch to `end` in the last. Both 0 = teacher forcing.
    pub scheduled_sampling: ScheduledSampling,
}

impl Default for MleConfig {
    fn default() -> Self {
        MleConfig {
            epochs: 120,
            scheduled_sampling: ScheduledSampling::default(),
        }
    }
}

/// A linear ramp of the scheduled-sampling probability.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduledSampling {
    pub start: f32,
    pub end: f32,
}

impl ScheduledSampling {
    /// The probability in `epoch` (0-based) of `epochs`.
    pub fn at(&self, epoch: usize, epochs: usize) -> f32 {
        if epochs <= 1 {
            return self.start;
        }
        let progress = epoch as f32 / (epochs - 1) as f32;
        self.start + (self.end - self.start) * progress
    }
}

/// Discriminator pretraining: `rounds` × (fresh negatives, `epochs` passes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscriminatorPretrainingConfig {
    /// Rounds of fresh negatives (paper: 50).
    pub rounds: usize,
    /// Passes over real + negatives per round (paper: 3).
    pub epochs: usize,
}

impl Default for DiscriminatorPretrainingConfig {
    fn default() -> Self {
        DiscriminatorPretrainingConfig {
            rounds: 50,
            epochs: 3,
        }
    }
}

/// How the reward of each position is turned into the policy-gradient signal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Baseline {
    /// Raw Q-values (SeqGAN).
    #[default]
    None,
    /// Q minus the batch mean of Q at the same position.
    BatchMean,
    /// Q minus a moving average of the batch's mean Q over real tokens,
    /// `b ← decay·b + (1 − decay)·mean`, updated before it is subtracted
    /// (ScratchGAN's baseline; `baseline_decay`).
    MovingAverage,
}

/// Which positions a reward is credited to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Credit {
    /// Monte-Carlo rollouts give every prefix its own expected reward
    /// (SeqGAN; REGS, Li et al. 2017): rollouts × length scoring calls.
    #[default]
    MonteCarlo,
    /// REINFORCE: the whole sequence's reward for every token (Li et al.
    /// 2017's baseline; Wu et al. 2017): one scoring call, no rollouts.
    Sequence,
    /// The discriminator scores every token (ScratchGAN, de Masson
    /// d'Autume et al. 2019): token `t`'s reward is its score, credited as
    /// the discounted return `Σ_{s≥t} γ^{s−t} r_s`. One discriminator call,
    /// no rollouts, no `reward:` section; needs a discriminator that
    /// provides per-token scores (the `token-logits` capability).
    Dense,
}

/// What a token's reward is, from the discriminator's logit `l` at it
/// (`D = sigmoid(l)`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenReward {
    /// `2·D − 1`, in [−1, 1] (ScratchGAN's code: "more stable empirically"
    /// than MaskGAN's `log D`).
    #[default]
    ScaledProbability,
    /// `D`, in [0, 1].
    Probability,
    /// `l` itself.
    Logit,
    /// `log D` (MaskGAN).
    LogProbability,
}

impl TokenReward {
    /// The reward of a token whose logit is `logit`.
    pub fn of(self, logit: f32) -> f32 {
        let probability = 1.0 / (1.0 + (-logit).exp());
        match self {
            TokenReward::ScaledProbability => 2.0 * probability - 1.0,
            TokenReward::Probability => probability,
            TokenReward::Logit => logit,
            // log sigmoid(l) = −softplus(−l), stable for large |l|.
            TokenReward::LogProbability => -((-logit).max(0.0) + (-logit.abs()).exp().ln_1p()),
        }
    }
}

/// Dense per-token credit (`credit: dense`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DenseConfig {
    /// What a token's reward is, from the discriminator's score of it.
    pub reward: TokenReward,
    /// Discount of later tokens' rewards in a token's return (ScratchGAN's
    /// code: 0.23); 0 credits each token with its own score only.
    pub gamma: f32,
    /// Weight β of an entropy bonus: every token of a sample `y` also gets
    /// `β·(−log π(y))`, the sample's surprisal under the generator that drew
    /// it, whose expected score-function gradient is `β·∇H(π)` (0: off).
    pub entropy_bonus: f32,
}

impl Default for DenseConfig {
    fn default() -> Self {
        DenseConfig {
            reward: TokenReward::ScaledProbability,
            gamma: 0.23,
            entropy_bonus: 0.0,
        }
    }
}

/// How the adversarial phase trains the generator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// Policy gradient on sampled ids (SeqGAN and its family): rewards from
    /// `credit`, a `reward:` section or the discriminator's per-token
    /// scores.
    #[default]
    PolicyGradient,
    /// Gradients through Gumbel-softmax relaxed samples (RelGAN, Nie et
    /// al. 2019): the discriminator scores the generator's relaxed rows and
    /// the host's GAN loss is backpropagated through it into the
    /// generator. Needs the `relaxed-samples` and `relaxed-rows`
    /// capabilities (plugin ABI 1.2).
    Gumbel,
}

/// The inverse temperature β of the generator's relaxed samples over the
/// adversarial epochs (`gumbel.inverse_temperature`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InverseTemperatureConfig {
    /// How β rises from 1 to `max` over the epochs.
    pub schedule: Annealing,
    /// β_max (RelGAN's paper tries 1, 10, 100, 1000; ≥ 1).
    pub max: f64,
}

impl Default for InverseTemperatureConfig {
    fn default() -> Self {
        InverseTemperatureConfig {
            schedule: Annealing::Exponential,
            max: 100.0,
        }
    }
}

/// `algorithm: gumbel`'s settings (`adversarial.gumbel`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GumbelConfig {
    /// The GAN objective the host computes from D's logits.
    pub loss: GanLoss,
    /// β over the adversarial epochs.
    pub inverse_temperature: InverseTemperatureConfig,
}

/// The adversarial phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdversarialConfig {
    /// How the generator learns from the discriminator.
    pub algorithm: Algorithm,
    /// Adversarial epochs (paper: 200; the original log stops at 150).
    pub epochs: usize,
    /// Generator policy-gradient steps per epoch (paper: 1).
    pub g_steps: usize,
    /// Discriminator steps per epoch, each with fresh negatives (paper: 5).
    pub d_steps: usize,
    /// Passes over real + negatives per d-step (paper: 3).
    pub d_epochs: usize,
    /// Monte-Carlo rollouts per position (paper: 16). Must be ≥ 1.
    pub rollouts: usize,
    /// Rollout-policy update `rollout ← rate·rollout + (1−rate)·G` after each
    /// epoch's g-steps (paper: 0.8; 0 = always the current generator).
    pub rollout_update_rate: f32,
    /// A teacher-forced MLE step on real data after each g-step (Li et al.
    /// 2017's teacher forcing).
    pub teacher_forcing: bool,
    /// Per-token Monte-Carlo rewards (`monte-carlo`, REGS) or one
    /// sequence-level reward (`sequence`, REINFORCE).
    pub credit: Credit,
    /// Reward baseline.
    pub baseline: Baseline,
    /// Weight of the old value in the moving-average baseline (ScratchGAN's
    /// code: 0.08, mostly the current batch).
    pub baseline_decay: f32,
    /// Dense credit's reward and discount (`credit: dense`).
    pub dense: DenseConfig,
    /// Sampling temperature of g-step samples and rollouts.
    pub temperature: f32,
    /// `algorithm: gumbel`'s loss and inverse temperature.
    pub gumbel: GumbelConfig,
}

impl Default for AdversarialConfig {
    fn default() -> Self {
        AdversarialConfig {
            epochs: 200,
            g_steps: 1,
            d_steps: 5,
            d_epochs: 3,
            rollouts: 16,
            rollout_update_rate: 0.8,
            teacher_forcing: false,
            credit: Credit::MonteCarlo,
            baseline: Baseline::None,
            baseline_decay: 0.08,
            dense: DenseConfig::default(),
            temperature: 1.0,
            algorithm: Algorithm::PolicyGradient,
            gumbel: GumbelConfig::default(),
        }
    }
}

impl TrainingConfig {
    /// Checks values serde cannot (ranges, consistency); `Err` names the key.
    pub fn validate(&self) -> Result<(), String> {
        let adversarial = &self.adversarial;
        if self.batch_size == 0 {
            return Err("training.batch_size must be at least 1".into());
        }
        if adversarial.epochs > 0
            && adversarial.algorithm == Algorithm::PolicyGradient
            && adversarial.credit == Credit::MonteCarlo
            && adversarial.rollouts == 0
        {
            return Err("training.adversarial.rollouts must be at least 1 (Monte-Carlo rewards need rollouts)".into());
        }
        if !(0.0..=1.0).contains(&adversarial.rollout_update_rate) {
            return Err(format!(
                "training.adversarial.rollout_update_rate must be in [0, 1], got {}",
                adversarial.rollout_update_rate
            ));
        }
        if !(0.0..=1.0).contains(&adversarial.dense.gamma) {
            return Err(format!(
                "training.adversarial.dense.gamma must be in [0, 1], got {}",
                adversarial.dense.gamma
            ));
        }
        let bonus = adversarial.dense.entropy_bonus;
        if !(bonus.is_finite() && bonus >= 0.0) {
            return Err(format!(
                "training.adversarial.dense.entropy_bonus must be a number ≥ 0, got {bonus}"
            ));
        }
        if bonus > 0.0 && adversarial.credit != Credit::Dense {
            return Err("training.adversarial.dense.entropy_bonus applies to `credit: dense` only; set training.adversarial.credit to `dense` or remove the bonus".into());
        }
        if bonus > 0.0 && adversarial.temperature != 1.0 {
            return Err(format!(
                "training.adversarial.dense.entropy_bonus needs training.adversarial.temperature 1 (got {}): the bonus is a sample's surprisal under the generator that drew it, which the generator reports at temperature 1",
                adversarial.temperature
            ));
        }
        if !(0.0..1.0).contains(&adversarial.baseline_decay) {
            return Err(format!(
                "training.adversarial.baseline_decay must be in [0, 1), got {}",
                adversarial.baseline_decay
            ));
        }
        let beta_max = adversarial.gumbel.inverse_temperature.max;
        if !(beta_max.is_finite() && beta_max >= 1.0) {
            return Err(format!(
                "training.adversarial.gumbel.inverse_temperature.max must be a number ≥ 1 (β rises from 1 to it), got {beta_max}"
            ));
        }
        if adversarial.algorithm == Algorithm::Gumbel {
            if adversarial.epochs > 0 && adversarial.g_steps + adversarial.d_steps == 0 {
                return Err("training.adversarial.g_steps and .d_steps are both 0: `algorithm: gumbel` would train nothing; set at least one of them".into());
            }
            // Policy-gradient settings that `gumbel` has no use for: a
            // config that sets them expects an effect it would not get.
            let unused = [
                ("credit", adversarial.credit != Credit::MonteCarlo),
                ("baseline", adversarial.baseline != Baseline::None),
                ("teacher_forcing", adversarial.teacher_forcing),
                ("temperature", adversarial.temperature != 1.0),
            ];
            if let Some((key, _)) = unused.iter().find(|(_, set)| *set) {
                return Err(format!(
                    "training.adversarial.{key} is a policy-gradient setting, but training.adversarial.algorithm is `gumbel`, which does not use it (its samples are Gumbel-softmax samples at the inverse temperature of training.adversarial.gumbel.inverse_temperature); remove the key or set algorithm to `policy-gradient`"
                ));
            }
        }
        if !(adversarial.temperature.is_finite() && adversarial.temperature > 0.0) {
            return Err("training.adversarial.temperature must be a positive number".into());
        }
        let ss = &self.mle.scheduled_sampling;
        if !(0.0..=1.0).contains(&ss.start) || !(0.0..=1.0).contains(&ss.end) {
            return Err("training.mle.scheduled_sampling.start and .end must be in [0, 1]".into());
        }
        if self.rollout_token_budget == 0 {
            return Err("training.rollout_token_budget must be positive".into());
        }
        Ok(())
    }
}
