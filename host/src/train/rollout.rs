//! The Monte-Carlo rollout scheduler (SeqGAN §"Monte Carlo search").
//!
//! For B generated sequences and N rollouts, the reward of token t of row b
//! is `Q(b, t) = mean_n R(complete_n(y_{b,1..t}))` for every prefix shorter
//! than the row, and `R(y_b)` for the last position, scored directly (no
//! rollout). All `Σ_b (L_b − 1)` prefixes × N rollouts are packed into as
//! few generator calls as `token_budget` allows; each call's completions go
//! straight to the discriminator and the reward in one call each. Never one
//! call per position or per rollout.

use abi_stable::std_types::ROption;
use agon_sdk::{seeds::derive_seed, Batch, PrefixJob, RewardInput, RolloutRequest, TokenBatch};

use crate::components::{Discriminator, Generator, Reward};

/// How rollouts are run.
#[derive(Clone, Debug)]
pub struct RolloutSettings {
    /// Rollouts per prefix (≥ 1).
    pub rollouts: usize,
    /// Most generated tokens (`rows × max_len`) in one call.
    pub token_budget: usize,
    /// Length sequences are completed to.
    pub max_len: u32,
    /// Sampling temperature.
    pub temperature: f32,
}

/// What the scheduler did, for logs and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RolloutStats {
    /// Generator rollout calls.
    pub generator_calls: usize,
    /// Scoring calls (discriminator and reward, once each per batch).
    pub scoring_calls: usize,
    /// Completed sequences scored.
    pub sequences: usize,
    /// Largest number of sequences in one call.
    pub largest_call: usize,
}

/// What generated rows are conditioned on (conditional tasks): row-aligned
/// sources, and the gold targets of those sources for metric rewards.
#[derive(Clone, Debug, Default)]
pub struct Condition {
    pub sources: Option<TokenBatch>,
    pub references: Option<TokenBatch>,
}

fn gather(batch: &TokenBatch, rows: &[usize]) -> TokenBatch {
    let picked: Vec<&[u32]> = rows.iter().map(|&r| batch.row(r)).collect();
    TokenBatch::from_rows_with_width(&picked, 0, batch.width as usize)
}

impl Condition {
    /// The condition of rows `rows` (in that order, repeats allowed).
    pub fn rows(&self, rows: &[usize]) -> Condition {
        Condition {
            sources: self.sources.as_ref().map(|b| gather(b, rows)),
            references: self.references.as_ref().map(|b| gather(b, rows)),
        }
    }
}

fn option(batch: Option<TokenBatch>) -> ROption<TokenBatch> {
    batch.map_or(ROption::RNone, ROption::RSome)
}

/// Turns sequences into rewards: D's probabilities (when the reward needs
/// them), then the reward function.
pub struct Scorer<'a> {
    pub discriminator: Option<&'a mut Discriminator>,
    pub reward: &'a mut Reward,
}

impl Scorer<'_> {
    /// One reward per row of `sequences` (unconditional).
    pub fn score(&mut self, sequences: TokenBatch) -> anyhow::Result<Vec<f32>> {
        self.score_given(sequences, Condition::default())
    }

    /// One reward per row of `sequences`, given their row-aligned condition.
    pub fn score_given(
        &mut self,
        sequences: TokenBatch,
        condition: Condition,
    ) -> anyhow::Result<Vec<f32>> {
        let discriminator = match (&mut self.discriminator, self.reward.needs_discriminator) {
            (Some(d), true) => {
                let batch = Batch {
                    targets: sequences.clone(),
                    sources: option(condition.sources.clone()),
                };
                ROption::RSome(d.probabilities(&batch)?.into())
            }
            (None, true) => {
                anyhow::bail!("the reward needs a discriminator and none is configured")
            }
            (_, false) => ROption::RNone,
        };
        self.reward.rewards(&RewardInput {
            sequences,
            sources: option(condition.sources),
            references: option(condition.references),
            discriminator,
        })
    }
}

/// The seed of the rollouts of prefix `prefix_len` of row `row`.
pub fn job_seed(seed: u64, row: usize, prefix_len: usize) -> u64 {
    derive_seed(seed, &format!("rollout/{row}/{prefix_len}"))
}

/// One request's worth of work: jobs and which of their rollouts.
struct Chunk {
    jobs: Vec<PrefixJob>,
    rollouts: u32,
}

/// Splits all (prefix × rollout) work into chunks of at most
/// `token_budget / max_len` completed sequences (at least one sequence).
fn plan(samples: &TokenBatch, settings: &RolloutSettings, seed: u64) -> Vec<Chunk> {
    let rows_per_call = (settings.token_budget / settings.max_len.max(1) as usize).max(1);
    let rollouts = settings.rollouts;
    let mut prefixes = Vec::new();
    for (row, &len) in samples.lengths.iter().enumerate() {
        for prefix_len in 1..len as usize {
            prefixes.push((row, prefix_len));
        }
    }
    let job = |(row, prefix_len): (usize, usize), first_rollout: usize| PrefixJob {
        row: row as u32,
        prefix_len: prefix_len as u32,
        seed: job_seed(seed, row, prefix_len),
        first_rollout: first_rollout as u32,
    };
    if rollouts <= rows_per_call {
        // Whole jobs, as many per call as fit.
        let jobs_per_call = rows_per_call / rollouts;
        prefixes
            .chunks(jobs_per_call)
            .map(|chunk| Chunk {
                jobs: chunk.iter().map(|&p| job(p, 0)).collect(),
                rollouts: rollouts as u32,
            })
            .collect()
    } else {
        // One job per call, its rollouts split to fit the budget.
        let mut chunks = Vec::new();
        for &prefix in &prefixes {
            let mut first = 0;
            while first < rollouts {
                let count = rows_per_call.min(rollouts - first);
                chunks.push(Chunk {
                    jobs: vec![job(prefix, first)],
                    rollouts: count as u32,
                });
                first += count;
            }
        }
        chunks
    }
}

/// Q-values for every real position of every row of `samples`, row-major
/// `rows × width` like the batch (0 at padding).
pub fn q_values(
    generator: &mut Generator,
    scorer: &mut Scorer<'_>,
    samples: &TokenBatch,
    settings: &RolloutSettings,
    seed: u64,
) -> anyhow::Result<(Vec<f32>, RolloutStats)> {
    q_values_given(
        generator,
        scorer,
        samples,
        &Condition::default(),
        settings,
        seed,
    )
}

/// REINFORCE's per-token rewards: every real position of a row gets the
/// reward of the whole row (one scoring call, no rollouts).
pub fn sequence_rewards(
    scorer: &mut Scorer<'_>,
    samples: &TokenBatch,
    condition: &Condition,
) -> anyhow::Result<Vec<f32>> {
    let width = samples.width as usize;
    let rewards = scorer.score_given(samples.clone(), condition.clone())?;
    let mut q = vec![0.0f32; samples.rows() * width];
    for (row, reward) in rewards.into_iter().enumerate() {
        let len = samples.lengths[row] as usize;
        q[row * width..row * width + len].fill(reward);
    }
    Ok(q)
}

/// [`q_values`] of rows conditioned on `condition` (row-aligned with
/// `samples`): each completion is scored with the condition of its row.
pub fn q_values_given(
    generator: &mut Generator,
    scorer: &mut Scorer<'_>,
    samples: &TokenBatch,
    condition: &Condition,
    settings: &RolloutSettings,
    seed: u64,
) -> anyhow::Result<(Vec<f32>, RolloutStats)> {
    anyhow::ensure!(
        settings.rollouts >= 1,
        "the rollout count must be at least 1"
    );
    let width = samples.width as usize;
    let mut q = vec![0.0f32; samples.rows() * width];
    let mut stats = RolloutStats::default();
    let scale = 1.0 / settings.rollouts as f32;
    for chunk in plan(samples, settings, seed) {
        let per_job = chunk.rollouts as usize;
        let completions = generator.rollout(&RolloutRequest {
            sequences: samples.clone(),
            jobs: chunk.jobs.clone().into(),
            rollouts_per_job: chunk.rollouts,
            max_len: settings.max_len,
            temperature: settings.temperature,
            sources: option(condition.sources.clone()),
        })?;
        stats.generator_calls += 1;
        stats.largest_call = stats.largest_call.max(completions.rows());
        stats.sequences += completions.rows();
        let rows: Vec<usize> = chunk
            .jobs
            .iter()
            .flat_map(|job| std::iter::repeat_n(job.row as usize, per_job))
            .collect();
        let rewards = scorer.score_given(completions, condition.rows(&rows))?;
        stats.scoring_calls += 1;
        for (j, job) in chunk.jobs.iter().enumerate() {
            let sum: f32 = rewards[j * per_job..(j + 1) * per_job].iter().sum();
            q[job.row as usize * width + job.prefix_len as usize - 1] += sum * scale;
        }
    }
    // The last position of every row: the finished sequence, scored directly.
    let finished = scorer.score_given(samples.clone(), condition.clone())?;
    stats.scoring_calls += 1;
    for (row, reward) in finished.into_iter().enumerate() {
        let len = samples.lengths[row] as usize;
        if len > 0 {
            q[row * width + len - 1] = reward;
        }
    }
    Ok((q, stats))
}

/// Subtracts from each position the mean Q of the rows that have it.
pub fn subtract_batch_mean(q: &mut [f32], samples: &TokenBatch) {
    let width = samples.width as usize;
    for t in 0..width {
        let rows: Vec<usize> = (0..samples.rows())
            .filter(|&r| (samples.lengths[r] as usize) > t)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let mean = rows.iter().map(|&r| q[r * width + t]).sum::<f32>() / rows.len() as f32;
        for r in rows {
            q[r * width + t] -= mean;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(rollouts: usize, token_budget: usize) -> RolloutSettings {
        RolloutSettings {
            rollouts,
            token_budget,
            max_len: 4,
            temperature: 1.0,
        }
    }

    fn covered(chunks: &[Chunk]) -> Vec<(u32, u32, u32)> {
        let mut all: Vec<(u32, u32, u32)> = chunks
            .iter()
            .flat_map(|c| {
                c.jobs.iter().flat_map(move |j| {
                    (0..c.rollouts).map(move |n| (j.row, j.prefix_len, j.first_rollout + n))
                })
            })
            .collect();
        all.sort_unstable();
        all
    }

    #[test]
    fn plan_covers_every_prefix_and_rollout_once_within_the_budget() {
        let samples = TokenBatch::from_rows(&[vec![1u32, 2, 3, 4], vec![5, 6]], 0);
        let expected: Vec<(u32, u32, u32)> = [(0u32, 1u32), (0, 2), (0, 3), (1, 1)]
            .iter()
            .flat_map(|&(r, p)| (0..3).map(move |n| (r, p, n)))
            .collect();
        for budget in [4, 8, 12, 24, 1000] {
            let chunks = plan(&samples, &settings(3, budget), 9);
            assert_eq!(covered(&chunks), expected, "budget {budget}");
            let rows_per_call = (budget / 4).max(1);
            for chunk in &chunks {
                assert!(
                    chunk.jobs.len() * chunk.rollouts as usize <= rows_per_call,
                    "budget {budget}"
                );
            }
        }
        assert_eq!(
            plan(&samples, &settings(3, 1000), 9).len(),
            1,
            "one call when everything fits"
        );
    }

    #[test]
    fn a_completion_gets_the_source_and_reference_of_its_row() {
        let condition = Condition {
            sources: Some(TokenBatch::from_rows(&[vec![10u32, 11], vec![12]], 0)),
            references: Some(TokenBatch::from_rows(&[vec![20u32], vec![21, 22, 23]], 0)),
        };
        // Jobs of rows 1, 0 with two rollouts each: rows 1, 1, 0, 0.
        let picked = condition.rows(&[1, 1, 0, 0]);
        let sources = picked.sources.unwrap();
        assert_eq!(
            sources.iter_rows().collect::<Vec<_>>(),
            [&[12][..], &[12], &[10, 11], &[10, 11]]
        );
        let references = picked.references.unwrap();
        assert_eq!(references.row(0), &[21, 22, 23]);
        assert_eq!(references.row(3), &[20]);
        assert!(Condition::default().rows(&[0]).sources.is_none());
    }

    #[test]
    fn batch_mean_baseline_centres_each_position() {
        let samples = TokenBatch::from_rows(&[vec![1u32, 2], vec![3]], 0);
        let mut q = vec![1.0, 2.0, 3.0, 0.0];
        subtract_batch_mean(&mut q, &samples);
        assert_eq!(q, vec![-1.0, 0.0, 1.0, 0.0]);
    }
}
