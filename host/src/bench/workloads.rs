//! The workloads: what is set up (untimed) and what is timed.

use agon_sdk::{seeds::derive_seed, Batch, MleOptions, StepOptions, TokenBatch};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

use super::{BATCH, SEQUENCES};
use crate::{
    components::{Discriminator, Generator, Reward},
    config::DenseConfig,
    task::sampling::sample_many,
    train::dense::{discounted_returns, subtract_moving_average},
    train::gan_loss::GanLoss,
    train::gumbel::{discriminator_step, generator_step, StepRows},
    train::rollout::{q_values, RolloutSettings, Scorer},
};

/// The peer's workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// One teacher-forced MLE epoch: 9,984 × T tokens in batches of 64.
    Mle,
    /// Draw 9,984 sequences of T tokens.
    Sample,
    /// One discriminator epoch on 9,984 real + 9,984 generated sequences,
    /// 64 per step (32 of each).
    Dtrain,
    /// Q-values of 64 sequences × T positions, 16 rollouts each (by
    /// default), scored by D, through the scheduler with the run's token
    /// budget.
    RolloutBatched,
    /// The same, with every call limited to 64 sequences: the call size of
    /// the original code's one call per (rollout, prefix length).
    RolloutNaive,
    /// [`Workload::Dtrain`] with `rnn-lab/gru-discriminator` at its
    /// defaults (the peer's GRU: emb 64, hidden 64, dropout 0.25, Adam 1e-3,
    /// clip 5) on the SDK's discriminator kit, whatever the config's
    /// discriminator: the speed a lab gets without writing kernels.
    DtrainGru,
    /// 50 ScratchGAN-style steps of 64 sequences (the peer's `dense-step`):
    /// sample 64, one D update on 64 real + 64 generated with
    /// `scratchgan-lab/lstm-discriminator` (emb 64, hidden 64, no dropout)
    /// trained on every position, its per-token logits of the generated
    /// rows, discounted returns (γ 0.23) less a moving-average baseline,
    /// one REINFORCE step of the generator. Whatever the config's
    /// discriminator.
    DenseStep,
    /// 50 RelGAN-style steps of 64 sequences (the peer's `gumbel-step`):
    /// one generator step (Gumbel-softmax relaxed samples of
    /// `relgan-lab/relgan`'s generator with an LSTM core of 32, scored by
    /// its discriminator beside 64 one-hot real rows, the RSGAN loss's
    /// gradient sent back through the discriminator into the generator) and
    /// one discriminator step on fresh samples, every boundary crossing
    /// included. Whatever the config's generator and discriminator.
    GumbelStep,
}

impl Workload {
    pub const ALL: [Workload; 5] = [
        Workload::Mle,
        Workload::Sample,
        Workload::Dtrain,
        Workload::RolloutBatched,
        Workload::RolloutNaive,
    ];

    /// Every workload `--workloads` accepts: [`Workload::ALL`] and those
    /// run only when named (as the peer's).
    pub const NAMED: [Workload; 8] = [
        Workload::Mle,
        Workload::Sample,
        Workload::Dtrain,
        Workload::RolloutBatched,
        Workload::RolloutNaive,
        Workload::DtrainGru,
        Workload::DenseStep,
        Workload::GumbelStep,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Mle => "mle",
            Workload::Sample => "sample",
            Workload::Dtrain => "dtrain",
            Workload::RolloutBatched => "rollout-batched",
            Workload::RolloutNaive => "rollout-naive",
            Workload::DtrainGru => "dtrain-gru",
            Workload::DenseStep => "dense-step",
            Workload::GumbelStep => "gumbel-step",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Workload::Mle => "tokens",
            Workload::Sample
            | Workload::Dtrain
            | Workload::DtrainGru
            | Workload::DenseStep
            | Workload::GumbelStep => "sequences",
            Workload::RolloutBatched | Workload::RolloutNaive => "rewards",
        }
    }

    /// Parses a comma-separated list (`mle,sample`); `all` is every workload
    /// of [`Workload::ALL`].
    pub fn parse_list(list: &str) -> anyhow::Result<Vec<Workload>> {
        let mut workloads = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "all" {
                workloads.extend(Workload::ALL);
                continue;
            }
            let workload = Workload::NAMED
                .into_iter()
                .find(|w| w.name() == name)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--workloads: unknown workload `{name}`; choose from {} or all",
                        Workload::NAMED.map(Workload::name).join(", ")
                    )
                })?;
            workloads.push(workload);
        }
        anyhow::ensure!(
            !workloads.is_empty(),
            "--workloads: name at least one workload"
        );
        Ok(workloads)
    }

    /// Whether this workload scores rollouts with the config's reward.
    pub fn needs_reward(self) -> bool {
        matches!(self, Workload::RolloutBatched | Workload::RolloutNaive)
    }

    /// Whether this workload runs the config's discriminator.
    pub fn needs_discriminator(self) -> bool {
        !matches!(
            self,
            Workload::Mle
                | Workload::Sample
                | Workload::DtrainGru
                | Workload::DenseStep
                | Workload::GumbelStep
        )
    }

    /// Run `attempt`: the untimed set-up, then the timed work. Returns the
    /// seconds and the units of work done.
    pub(super) fn run_once(
        self,
        context: &mut WorkloadContext,
        attempt: u64,
    ) -> anyhow::Result<(f64, usize)> {
        if self.needs_discriminator() {
            anyhow::ensure!(
                context.discriminator.is_some(),
                "workload {} needs a discriminator; the config has no `discriminator:` section",
                self.name()
            );
        }
        let seed = derive_seed(context.seed, &format!("{}/{attempt}", self.name()));
        let max_len = context.max_len;
        match self {
            Workload::Mle => timed(|| mle_epoch(context, seed)),
            Workload::Sample => timed(|| {
                Ok(sample_many(&mut context.generator, SEQUENCES, max_len, 1.0, seed)?.len())
            }),
            Workload::Dtrain | Workload::DtrainGru => {
                let fake = sample_many(&mut context.generator, SEQUENCES, max_len, 1.0, seed)?;
                let discriminator = match self {
                    Workload::Dtrain => context.discriminator.as_mut(),
                    _ => context.gru_discriminator.as_mut(),
                };
                let Some(discriminator) = discriminator else {
                    anyhow::bail!("workload {} has no discriminator to train", self.name());
                };
                timed(|| discriminator_epoch(discriminator, &context.data, &fake, seed))
            }
            Workload::DenseStep => timed(|| dense_steps(context, seed)),
            Workload::GumbelStep => timed(|| gumbel_steps(context, seed)),
            Workload::RolloutBatched | Workload::RolloutNaive => {
                let rows = sample_many(&mut context.generator, BATCH, max_len, 1.0, seed)?;
                let token_budget = if self == Workload::RolloutNaive {
                    BATCH * max_len as usize
                } else {
                    context.rollout_token_budget
                };
                timed(|| rollout_rewards(context, &rows, token_budget, seed))
            }
        }
    }
}

/// Runs `work`, timing it.
fn timed(work: impl FnOnce() -> anyhow::Result<usize>) -> anyhow::Result<(f64, usize)> {
    let started = Instant::now();
    let units = work()?;
    Ok((started.elapsed().as_secs_f64(), units))
}

fn mle_epoch(context: &mut WorkloadContext, seed: u64) -> anyhow::Result<usize> {
    let mut tokens = 0;
    for (step, rows) in context.data.chunks_exact(BATCH).enumerate() {
        let batch = Batch::unconditional(TokenBatch::from_rows(rows, 0));
        context.generator.mle_step(
            &batch,
            &MleOptions {
                seed: derive_seed(seed, &step.to_string()),
                scheduled_sampling: 0.0,
            },
        )?;
        tokens += batch.targets.token_count();
    }
    Ok(tokens)
}

fn discriminator_epoch(
    discriminator: &mut Discriminator,
    data: &[Vec<u32>],
    fake: &[Vec<u32>],
    seed: u64,
) -> anyhow::Result<usize> {
    let half = BATCH / 2;
    let mut sequences = 0;
    for (step, (real, fake)) in data
        .chunks_exact(half)
        .zip(fake.chunks_exact(half))
        .enumerate()
    {
        discriminator.train_step(
            &Batch::unconditional(TokenBatch::from_rows(real, 0)),
            &Batch::unconditional(TokenBatch::from_rows(fake, 0)),
            &StepOptions {
                seed: derive_seed(seed, &step.to_string()),
            },
        )?;
        sequences += real.len() + fake.len();
    }
    Ok(sequences)
}

/// Steps of the `dense-step` workload.
const DENSE_STEPS: usize = 50;

fn dense_steps(context: &mut WorkloadContext, seed: u64) -> anyhow::Result<usize> {
    let Some(discriminator) = context.token_discriminator.as_mut() else {
        anyhow::bail!("workload dense-step has no per-token discriminator");
    };
    let dense = DenseConfig::default();
    let mut baseline = 0.0;
    for step in 0..DENSE_STEPS {
        let start = (step * BATCH) % (context.data.len() - BATCH);
        let real = TokenBatch::from_rows(&context.data[start..start + BATCH], 0);
        let step_seed = derive_seed(seed, &step.to_string());
        let fake = sample_many(
            &mut context.generator,
            BATCH,
            context.max_len,
            1.0,
            step_seed,
        )?;
        let fake = Batch::unconditional(TokenBatch::from_rows(&fake, 0));
        discriminator.train_step(
            &Batch::unconditional(real),
            &fake,
            &StepOptions { seed: step_seed },
        )?;
        let logits = discriminator.token_logits(&fake)?;
        let mut returns = discounted_returns(&logits, &fake.targets, &dense);
        baseline = subtract_moving_average(&mut returns, &fake.targets, baseline, 0.08);
        context.generator.policy_gradient_step(
            &fake,
            &returns,
            &StepOptions { seed: step_seed },
        )?;
    }
    Ok(DENSE_STEPS * BATCH)
}

/// Steps of the `gumbel-step` workload.
const GUMBEL_STEPS: usize = 50;

fn gumbel_steps(context: &mut WorkloadContext, seed: u64) -> anyhow::Result<usize> {
    let Some((generator, discriminator)) = context.relaxed.as_mut() else {
        anyhow::bail!("workload gumbel-step has no relaxed generator and discriminator");
    };
    let width = context.max_len as usize;
    for step in 0..GUMBEL_STEPS {
        let start = (step * BATCH) % (context.data.len() - BATCH);
        let real = || TokenBatch::from_rows(&context.data[start..start + BATCH], 0);
        let step_seed = |part: &str| derive_seed(seed, &format!("{step}/{part}"));
        let rows = StepRows::draw(generator, real(), None, width, 1.0, step_seed("g"))?;
        let options = StepOptions {
            seed: step_seed("g-step"),
        };
        generator_step(
            generator,
            discriminator,
            &rows,
            GanLoss::Rsgan,
            step_seed("g-dropout"),
            &options,
        )?;
        let rows = StepRows::draw(generator, real(), None, width, 1.0, step_seed("d"))?;
        let options = StepOptions {
            seed: step_seed("d-dropout"),
        };
        discriminator_step(discriminator, &rows, GanLoss::Rsgan, &options)?;
    }
    Ok(GUMBEL_STEPS * BATCH)
}

fn rollout_rewards(
    context: &mut WorkloadContext,
    rows: &[Vec<u32>],
    token_budget: usize,
    seed: u64,
) -> anyhow::Result<usize> {
    let samples = TokenBatch::from_rows(rows, 0);
    let settings = RolloutSettings {
        rollouts: context.rollouts,
        token_budget,
        max_len: context.max_len,
        temperature: 1.0,
    };
    let reward = context
        .reward
        .as_mut()
        .ok_or_else(|| anyhow::anyhow!("the rollout workloads need a reward"))?;
    let mut scorer = Scorer {
        discriminator: context.discriminator.as_mut(),
        reward,
    };
    q_values(
        &mut context.generator,
        &mut scorer,
        &samples,
        &settings,
        seed,
    )?;
    Ok(rows.len() * context.max_len as usize * context.rollouts)
}

/// The models and data every workload runs on.
pub struct WorkloadContext {
    pub generator: Generator,
    pub discriminator: Option<Discriminator>,
    /// `rnn-lab/gru-discriminator` at its defaults, for `dtrain-gru` (built
    /// only when that workload is asked for).
    pub gru_discriminator: Option<Discriminator>,
    /// `scratchgan-lab/lstm-discriminator` (emb 64, hidden 64, no dropout),
    /// for `dense-step` (built only when asked for).
    pub token_discriminator: Option<Discriminator>,
    /// `relgan-lab/relgan`'s generator (LSTM core of 32) and discriminator
    /// (widths 2–5 × 100 over an embedding of 64), for `gumbel-step`
    /// (built only when asked for).
    pub relaxed: Option<(Generator, Discriminator)>,
    /// The config's reward; `None` when no workload asked for needs one.
    pub reward: Option<Reward>,
    /// 9,984 uniformly random sequences of `max_len` tokens (the peer's
    /// `torch.randint` data).
    pub data: Vec<Vec<u32>>,
    pub max_len: u32,
    pub rollout_token_budget: usize,
    /// Rollouts per prefix in the rollout workloads.
    pub rollouts: usize,
    pub seed: u64,
}

impl WorkloadContext {
    /// Random training data for `vocab_size` × `max_len`, seeded.
    pub fn random_data(vocab_size: u32, max_len: u32, seed: u64) -> Vec<Vec<u32>> {
        let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, "bench/data"));
        (0..SEQUENCES)
            .map(|_| {
                (0..max_len)
                    .map(|_| rng.random_range(0..vocab_size))
                    .collect()
            })
            .collect()
    }
}
