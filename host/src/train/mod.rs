//! The generic adversarial loop: generator MLE pretraining, discriminator
//! pretraining, then adversarial epochs of g-steps (sample, Monte-Carlo
//! rollout rewards, optional baseline, policy gradient, optional teacher
//! forcing, rollout-policy update) and d-steps (fresh negatives, k epochs);
//! or, with `algorithm: gumbel`, RelGAN's epochs (`gumbel.rs`).

pub mod checkpoint;
pub mod dense;
pub mod gan_loss;
pub mod gumbel;
pub mod interrupt;
pub mod inverse_temperature;
pub mod metrics;
pub mod output;
pub mod plot;
pub mod progress;
pub mod rollout;
pub mod schedule;
pub mod tensorboard;

use std::{path::PathBuf, time::Instant};

use abi_stable::std_types::ROption;
use agon_sdk::{Batch, MleOptions, Policy, SampleRequest, StepOptions, TokenBatch};
use rand::{seq::SliceRandom, SeedableRng};

use crate::{
    components::{Discriminator, Generator, Reward},
    config::{Algorithm, Baseline, Credit, ExperimentConfig},
    task::{
        sampling::{sample_conditional, sample_many},
        Task,
    },
};
use metrics::{MetricsLog, MetricsRow};
use rollout::{
    q_values_given, sequence_rewards, subtract_batch_mean, Condition, RolloutSettings, Scorer,
};
use schedule::{seed_for, Phase, Position};

/// The latest training statistics, reported with the next evaluation (and
/// kept in checkpoints, so a resumed run reports what an uninterrupted one
/// would).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Latest {
    pub g_loss: Option<f64>,
    pub mean_reward: Option<f64>,
    pub d_loss: Option<f64>,
    pub d_accuracy: Option<f64>,
    /// The moving-average reward baseline (`baseline: moving-average`),
    /// carried across checkpoints so a resumed run continues it.
    #[serde(default)]
    pub reward_baseline: Option<f64>,
}

/// What a run trains and evaluates with.
pub struct Components {
    pub generator: Generator,
    pub discriminator: Option<Discriminator>,
    pub reward: Option<Reward>,
    pub task: Task,
}

/// A run in progress.
pub struct Trainer {
    pub config: ExperimentConfig,
    pub run_dir: PathBuf,
    pub generator: Generator,
    pub discriminator: Option<Discriminator>,
    pub reward: Option<Reward>,
    pub task: Task,
    pub position: Position,
    pub metrics: MetricsLog,
    /// The run's TensorBoard event file.
    tensorboard: tensorboard::Board,
    started: Instant,
    elapsed_before: f64,
    latest: Latest,
    /// Stop (checkpointed, resumable) after this many epochs or rounds.
    pub stop_after: Option<usize>,
    /// Stop (checkpointed, resumable) after the current epoch when raised.
    pub interrupt: interrupt::Interrupt,
    units_done: usize,
}

/// How a call to [`Trainer::run`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// The schedule is complete.
    Finished,
    /// `stop_after` units were done; resume with `agon train --resume`.
    Stopped,
    /// A signal asked to stop; the run was checkpointed.
    Interrupted,
}

fn shuffled(len: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    order
}

fn rows_of(data: &[Vec<u32>], indices: &[usize]) -> TokenBatch {
    let rows: Vec<&Vec<u32>> = indices.iter().map(|&i| &data[i]).collect();
    TokenBatch::from_rows(&rows, 0)
}

/// Rows `indices` of `data`, with the same rows of `sources` when the task
/// is conditional.
fn batch_of(data: &[Vec<u32>], sources: Option<&[Vec<u32>]>, indices: &[usize]) -> Batch {
    let targets = rows_of(data, indices);
    match sources {
        Some(sources) => Batch::conditional(targets, rows_of(sources, indices)),
        None => Batch::unconditional(targets),
    }
}

/// Generated negatives for the discriminator; for conditional tasks, the
/// training source each was generated from.
struct Negatives {
    sequences: Vec<Vec<u32>>,
    source_rows: Vec<usize>,
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

impl Trainer {
    /// A trainer at `position` (START for a new run) whose metrics log holds
    /// `metrics_rows` rows.
    pub fn new(
        config: ExperimentConfig,
        run_dir: PathBuf,
        components: Components,
        resume_from: Option<checkpoint::CheckpointState>,
    ) -> anyhow::Result<Self> {
        let (position, metrics_rows, latest, checkpoint_elapsed) = match resume_from {
            Some(state) => (
                state.position,
                state.metrics_rows,
                state.latest,
                state.elapsed_seconds,
            ),
            None => (Position::START, 0, Latest::default(), Some(0.0)),
        };
        let Components {
            generator,
            discriminator,
            reward,
            task,
        } = components;
        let metrics = MetricsLog::open(&run_dir, metrics_rows)?;
        let tensorboard = tensorboard::Board::open(
            &run_dir,
            &metrics.rows,
            tensorboard::generator_learning_rate(&config),
        );
        let elapsed_before = checkpoint_elapsed.unwrap_or_else(|| {
            metrics
                .rows
                .last()
                .map(|r| r.elapsed_seconds)
                .unwrap_or(0.0)
        });
        let mut trainer = Trainer {
            config,
            run_dir,
            generator,
            discriminator,
            reward,
            task,
            position,
            metrics,
            tensorboard,
            started: Instant::now(),
            elapsed_before,
            latest,
            stop_after: None,
            interrupt: interrupt::Interrupt::default(),
            units_done: 0,
        };
        if let Some(reward) = &mut trainer.reward {
            reward.set_corpus(&TokenBatch::from_rows(trainer.task.train(), 0))?;
        }
        Ok(trainer)
    }

    fn seed(&self, label: &str) -> u64 {
        seed_for(self.config.seed, label)
    }

    fn mle_epochs_done(&self) -> usize {
        match self.position.phase {
            Phase::Mle => self.position.step,
            _ => self.config.training.mle.epochs,
        }
    }

    /// Runs to the end of the schedule (or until `stop_after` units).
    pub fn run(&mut self) -> anyhow::Result<RunOutcome> {
        // An earlier attempt's position can be ahead of the checkpoint this
        // one resumes from.
        progress::clear_live_position(&self.run_dir);
        if self.position == Position::START && self.metrics.rows.is_empty() {
            self.evaluate(Phase::Mle, 0, &indicatif::ProgressBar::hidden())?;
        }
        while self.position.phase != Phase::Done {
            let outcome = match self.position.phase {
                Phase::Mle => self.mle_phase()?,
                Phase::DiscriminatorPretraining => self.discriminator_pretraining_phase()?,
                Phase::Adversarial => self.adversarial_phase()?,
                Phase::Done => RunOutcome::Finished,
            };
            if outcome != RunOutcome::Finished {
                self.checkpoint()?;
                return Ok(outcome);
            }
            if self.position.phase == Phase::Mle && self.config.training.adversarial.epochs > 0 {
                checkpoint::save_snapshot(&self.run_dir, "mle", &self.generator)?;
            }
            self.position = Position {
                phase: self.position.phase.next(),
                step: 0,
            };
            self.checkpoint()?;
            // A phase's last unit can be the one asked to stop after (or
            // the one an interrupt arrived in): stop here, before the next
            // phase's first unit, not one unit late.
            if self.position.phase != Phase::Done {
                if self.interrupt.raised() {
                    return Ok(RunOutcome::Interrupted);
                }
                if self.limit_reached() {
                    return Ok(RunOutcome::Stopped);
                }
            }
        }
        Ok(RunOutcome::Finished)
    }

    /// Counts a finished epoch or round; whether to stop now.
    fn unit_done(&mut self) -> bool {
        self.units_done += 1;
        self.limit_reached()
    }

    /// Whether this invocation has done the `stop_after` units asked of it.
    fn limit_reached(&self) -> bool {
        self.stop_after
            .is_some_and(|limit| self.units_done >= limit)
    }

    fn checkpoint(&self) -> anyhow::Result<()> {
        let state = checkpoint::CheckpointState::new(
            self.position,
            self.metrics.rows.len(),
            self.latest.clone(),
            self.elapsed_before + self.started.elapsed().as_secs_f64(),
        );
        checkpoint::save(
            &self.run_dir,
            &self.generator,
            self.discriminator.as_ref(),
            &state,
        )
    }

    fn eval_due(&self, done: usize, total: usize) -> bool {
        let every = self.config.training.eval_every;
        done == total || (every > 0 && done.is_multiple_of(every))
    }

    /// Evaluates, logs a metrics row, redraws the learning curve.
    fn evaluate(
        &mut self,
        phase: Phase,
        epoch: usize,
        bar: &indicatif::ProgressBar,
    ) -> anyhow::Result<()> {
        let seed = self.seed(&format!("eval/{}/{epoch}", phase.name()));
        let at = format!("{} epoch {epoch}", phase.name());
        let scores = self.task.evaluate(&mut self.generator, seed, &at)?;
        let global_epoch = match phase {
            Phase::Adversarial => self.config.training.mle.epochs + epoch,
            _ => epoch,
        };
        let row = MetricsRow {
            phase: phase.name().to_string(),
            epoch,
            global_epoch,
            scores,
            g_loss: self.latest.g_loss,
            mean_reward: self.latest.mean_reward,
            d_loss: self.latest.d_loss,
            d_accuracy: self.latest.d_accuracy,
            elapsed_seconds: self.elapsed_before + self.started.elapsed().as_secs_f64(),
        };
        let (headline, headline_key) = self.task.headline();
        let headline_value = row.scores.get(&headline_key).copied().unwrap_or(f64::NAN);
        let nll_test = row.scores.get("nll_test").copied().unwrap_or(f64::NAN);
        // BLEU beside its Self-BLEU: a BLEU that rises as diversity falls
        // is no gain.
        let self_bleu = headline_key
            .strip_prefix("bleu")
            .and_then(|n| Some((n, row.scores.get(&format!("self_bleu{n}"))?)))
            .map(|(n, value)| format!("  Self-BLEU-{n} {value:.4}"))
            .unwrap_or_default();
        progress::log(
            bar,
            &format!(
                "{:<12} epoch {:>4}  {headline} {headline_value:.4}{self_bleu}  NLL-test {nll_test:.4}{}{}{}",
                row.phase,
                epoch,
                row.g_loss
                    .map(|l| format!("  g-loss {l:.4}"))
                    .unwrap_or_default(),
                row.d_accuracy
                    .filter(|_| phase == Phase::Adversarial)
                    .map(|a| format!("  D acc {a:.3}"))
                    .unwrap_or_default(),
                row.mean_reward
                    .map(|r| format!("  reward {r:.3}"))
                    .unwrap_or_default()
            ),
        );
        bar.set_message(format!("{headline} {headline_value:.3}"));
        let higher = self.task.headline_higher_is_better();
        // The headline's best, and (where the headline is another metric)
        // the lowest NLL-test: the model a likelihood-minded reader selects.
        let mut snapshots = vec![("best", headline_key.as_str(), headline_value, higher)];
        if headline_key != "nll_test" {
            snapshots.push((checkpoint::BEST_NLL_TEST, "nll_test", nll_test, false));
        }
        for (name, key, value, higher) in snapshots {
            if self.is_best(key, value, higher) {
                let info = serde_json::json!({
                    "phase": row.phase,
                    "epoch": row.epoch,
                    "global_epoch": row.global_epoch,
                    "metric": key,
                    "value": value,
                });
                checkpoint::save_snapshot_with(&self.run_dir, name, &self.generator, Some(&info))?;
            }
        }
        self.tensorboard.record(&row);
        let preview_seed = self.seed(&format!("tensorboard/{}/{epoch}", phase.name()));
        self.tensorboard.samples(global_epoch, || {
            self.task
                .preview(&mut self.generator, tensorboard::SAMPLES, preview_seed)
        });
        self.metrics.push(row)?;
        plot::write_learning_curve(&self.run_dir, &self.metrics.rows, &self.task.plot())
    }

    /// Whether `value` of metric `key` beats every earlier evaluation of this
    /// run (the `best` and `best-nll-test` snapshots follow it).
    fn is_best(&self, key: &str, value: f64, higher: bool) -> bool {
        if !value.is_finite() {
            return false;
        }
        self.metrics
            .rows
            .iter()
            .filter_map(|r| r.scores.get(key).copied())
            .filter(|v| v.is_finite())
            .all(|best| if higher { value > best } else { value < best })
    }

    /// A metrics row of discriminator pretraining: D's loss and accuracy
    /// after `round` rounds (the generator does not change in this phase,
    /// so it is not evaluated again).
    fn record_discriminator(
        &mut self,
        round: usize,
        bar: &indicatif::ProgressBar,
    ) -> anyhow::Result<()> {
        let row = MetricsRow {
            phase: Phase::DiscriminatorPretraining.name().to_string(),
            epoch: round,
            global_epoch: self.mle_epochs_done(),
            scores: Default::default(),
            g_loss: None,
            mean_reward: None,
            d_loss: self.latest.d_loss,
            d_accuracy: self.latest.d_accuracy,
            elapsed_seconds: self.elapsed_before + self.started.elapsed().as_secs_f64(),
        };
        progress::log(
            bar,
            &format!(
                "{:<12} round {round:>4}  {}",
                "d-pretrain",
                self.discriminator_summary()
            ),
        );
        self.tensorboard.record(&row);
        self.metrics.push(row)
    }

    /// Runs the remaining units (epochs or rounds) of the current phase:
    /// `unit` does one and may return a progress message; every
    /// `eval_every` units (and at the end) the run is evaluated (the
    /// generator when `evaluate`, else the discriminator's latest loss and
    /// accuracy are recorded), and checkpointed.
    fn run_phase(
        &mut self,
        phase: Phase,
        label: &str,
        total: usize,
        evaluate: bool,
        mut unit: impl FnMut(&mut Self, usize) -> anyhow::Result<Option<String>>,
    ) -> anyhow::Result<RunOutcome> {
        let bar = progress::phase_bar(label, total, self.position.step);
        while self.position.step < total {
            let step = self.position.step;
            let started = std::time::Instant::now();
            let message = unit(self, step)?;
            self.position.step += 1;
            bar.inc(1);
            progress::record_live_position(
                &self.run_dir,
                phase,
                step + 1,
                total,
                self.elapsed_before + self.started.elapsed().as_secs_f64(),
            );
            let eval_due = self.eval_due(step + 1, total);
            if bar.is_hidden() && !eval_due {
                // Without a terminal's bar, a log (a sweep cell's, a batch
                // job's) still shows each unit between evaluations.
                progress::log(
                    &bar,
                    &progress::unit_line(
                        phase,
                        step + 1,
                        total,
                        started.elapsed(),
                        message.as_deref(),
                    ),
                );
            }
            if let Some(message) = message {
                bar.set_message(message);
            }
            if eval_due {
                if evaluate {
                    self.evaluate(phase, step + 1, &bar)?;
                } else {
                    self.record_discriminator(step + 1, &bar)?;
                }
                self.checkpoint()?;
            }
            let limit_reached = self.unit_done();
            if self.position.step < total {
                if self.interrupt.raised() {
                    bar.finish_and_clear();
                    return Ok(RunOutcome::Interrupted);
                }
                if limit_reached {
                    bar.finish_and_clear();
                    return Ok(RunOutcome::Stopped);
                }
            }
        }
        bar.finish_and_clear();
        Ok(RunOutcome::Finished)
    }

    fn mle_phase(&mut self) -> anyhow::Result<RunOutcome> {
        let epochs = self.config.training.mle.epochs;
        self.run_phase(
            Phase::Mle,
            "generator MLE",
            epochs,
            true,
            |trainer, epoch| {
                trainer.latest.g_loss = Some(trainer.mle_epoch(epoch)?);
                Ok(None)
            },
        )
    }

    fn mle_epoch(&mut self, epoch: usize) -> anyhow::Result<f64> {
        let training = &self.config.training;
        let batch_size = training.batch_size;
        let scheduled_sampling = training
            .mle
            .scheduled_sampling
            .at(epoch, training.mle.epochs);
        let order = shuffled(
            self.task.train().len(),
            self.seed(&format!("mle/{epoch}/order")),
        );
        let mut losses = Vec::new();
        // SeqGAN drops the last partial batch (9,984 = 156 × 64).
        for (b, indices) in order.chunks_exact(batch_size.min(order.len())).enumerate() {
            let batch = batch_of(self.task.train(), self.task.train_sources(), indices);
            let options = MleOptions {
                seed: self.seed(&format!("mle/{epoch}/{b}")),
                scheduled_sampling,
            };
            losses.push(f64::from(self.generator.mle_step(&batch, &options)?.loss));
        }
        Ok(mean(&losses).unwrap_or(f64::NAN))
    }

    /// `count` fresh negatives (0 = as many as training sequences); for
    /// conditional tasks, generated from training sources in a seeded order.
    fn negatives(&mut self, label: &str) -> anyhow::Result<Negatives> {
        let count = match self.config.training.negatives {
            0 => self.task.train().len(),
            n => n,
        };
        let seed = self.seed(label);
        let max_len = self.task.max_len();
        let Some(sources) = self.task.train_sources() else {
            return Ok(Negatives {
                sequences: sample_many(&mut self.generator, count, max_len, 1.0, seed)?,
                source_rows: Vec::new(),
            });
        };
        let order = shuffled(sources.len(), self.seed(&format!("{label}/sources")));
        let source_rows: Vec<usize> = order.iter().copied().cycle().take(count).collect();
        let chosen: Vec<Vec<u32>> = source_rows.iter().map(|&i| sources[i].clone()).collect();
        Ok(Negatives {
            sequences: sample_conditional(&mut self.generator, &chosen, max_len, 1.0, seed)?,
            source_rows,
        })
    }

    /// `epochs` passes of D over the real data and `negatives`, in batches of
    /// `batch_size` real + `batch_size` generated sequences.
    fn train_discriminator(
        &mut self,
        negatives: &Negatives,
        epochs: usize,
        label: &str,
    ) -> anyhow::Result<()> {
        let batch_size = self.config.training.batch_size;
        let sources = self.task.train_sources();
        let pairs = self.task.train().len().min(negatives.sequences.len());
        let Some(discriminator) = self.discriminator.as_mut() else {
            return Ok(());
        };
        let mut losses = Vec::new();
        let mut accuracies = Vec::new();
        for k in 0..epochs {
            let real_order = shuffled(
                self.task.train().len(),
                seed_for(self.config.seed, &format!("{label}/{k}/real")),
            );
            let fake_order = shuffled(
                negatives.sequences.len(),
                seed_for(self.config.seed, &format!("{label}/{k}/fake")),
            );
            let steps = (pairs / batch_size).max(1);
            for s in 0..steps {
                let range = s * batch_size..((s + 1) * batch_size).min(pairs);
                let real = batch_of(self.task.train(), sources, &real_order[range.clone()]);
                let fake_rows = &fake_order[range];
                let fake = match sources {
                    Some(sources) => {
                        let source_rows: Vec<usize> = fake_rows
                            .iter()
                            .map(|&i| negatives.source_rows[i])
                            .collect();
                        Batch::conditional(
                            rows_of(&negatives.sequences, fake_rows),
                            rows_of(sources, &source_rows),
                        )
                    }
                    None => batch_of(&negatives.sequences, None, fake_rows),
                };
                let options = StepOptions {
                    seed: seed_for(self.config.seed, &format!("{label}/{k}/{s}")),
                };
                let stats = discriminator.train_step(&real, &fake, &options)?;
                losses.push(f64::from(stats.loss));
                if let Some(accuracy) = stats.get("accuracy") {
                    accuracies.push(f64::from(accuracy));
                }
            }
        }
        self.latest.d_loss = mean(&losses);
        self.latest.d_accuracy = mean(&accuracies);
        Ok(())
    }

    fn discriminator_pretraining_phase(&mut self) -> anyhow::Result<RunOutcome> {
        if self.discriminator.is_none() {
            return Ok(RunOutcome::Finished);
        }
        let rounds = self.config.training.discriminator_pretraining.rounds;
        let epochs = self.config.training.discriminator_pretraining.epochs;
        let outcome = self.run_phase(
            Phase::DiscriminatorPretraining,
            "discriminator pretraining",
            rounds,
            false,
            |trainer, round| {
                let negatives = trainer.negatives(&format!("dpre/{round}/negatives"))?;
                trainer.train_discriminator(&negatives, epochs, &format!("dpre/{round}"))?;
                Ok(Some(trainer.discriminator_summary()))
            },
        )?;
        Ok(outcome)
    }

    fn discriminator_summary(&self) -> String {
        format!(
            "D loss {:.4}, accuracy {:.3}",
            self.latest.d_loss.unwrap_or(f64::NAN),
            self.latest.d_accuracy.unwrap_or(f64::NAN)
        )
    }

    fn adversarial_phase(&mut self) -> anyhow::Result<RunOutcome> {
        let adversarial = &self.config.training.adversarial;
        let (epochs, gumbel) = (
            adversarial.epochs,
            adversarial.algorithm == Algorithm::Gumbel,
        );
        if epochs > 0 && !gumbel && self.reward.is_none() && adversarial.credit != Credit::Dense {
            anyhow::bail!("adversarial training needs a `reward:` section in the config");
        }
        self.run_phase(
            Phase::Adversarial,
            "adversarial",
            epochs,
            true,
            |trainer, epoch| {
                if gumbel {
                    trainer.gumbel_epoch(epoch)?;
                } else {
                    trainer.adversarial_epoch(epoch)?;
                }
                Ok(None)
            },
        )
    }

    fn adversarial_epoch(&mut self, epoch: usize) -> anyhow::Result<()> {
        let adversarial = self.config.training.adversarial.clone();
        let batch_size = self.config.training.batch_size;
        let settings = RolloutSettings {
            rollouts: adversarial.rollouts,
            token_budget: self.config.training.rollout_token_budget,
            max_len: self.task.max_len(),
            temperature: adversarial.temperature,
        };
        let mut losses = Vec::new();
        let mut rewards = Vec::new();
        for g in 0..adversarial.g_steps {
            let condition = self.g_step_condition(&format!("adv/{epoch}/{g}/sources"));
            let samples = self.generator.sample(&SampleRequest {
                count: batch_size as u32,
                max_len: self.task.max_len(),
                temperature: adversarial.temperature,
                seed: self.seed(&format!("adv/{epoch}/{g}/sample")),
                policy: Policy::Current,
                sources: condition
                    .sources
                    .clone()
                    .map_or(ROption::RNone, ROption::RSome),
            })?;
            // The g-step's rows, as the discriminator, the entropy bonus and
            // the policy-gradient step all take them.
            let batch = Batch {
                targets: samples,
                sources: condition
                    .sources
                    .clone()
                    .map_or(ROption::RNone, ROption::RSome),
            };
            let samples = &batch.targets;
            let reward = self.reward.as_mut();
            let mut q = match (adversarial.credit, reward) {
                (Credit::Dense, _) => {
                    let discriminator = self.discriminator.as_mut().expect(
                        "dense credit needs a discriminator (checked when the run was built)",
                    );
                    let logits = discriminator.token_logits(&batch)?;
                    dense::discounted_returns(&logits, samples, &adversarial.dense)
                }
                (credit, Some(reward)) => {
                    let mut scorer = Scorer {
                        discriminator: self.discriminator.as_mut(),
                        reward,
                    };
                    if credit == Credit::MonteCarlo {
                        let rollout_seed =
                            seed_for(self.config.seed, &format!("adv/{epoch}/{g}/rollout"));
                        q_values_given(
                            &mut self.generator,
                            &mut scorer,
                            samples,
                            &condition,
                            &settings,
                            rollout_seed,
                        )?
                        .0
                    } else {
                        sequence_rewards(&mut scorer, samples, &condition)?
                    }
                }
                (_, None) => unreachable!("checked in adversarial_phase"),
            };
            let tokens = samples.token_count().max(1) as f64;
            rewards.push(q.iter().map(|&v| f64::from(v)).sum::<f64>() / tokens);
            let beta = adversarial.dense.entropy_bonus;
            if adversarial.credit == Credit::Dense && beta > 0.0 {
                // After the mean reward is recorded, so `mean_reward` stays
                // the discriminator's part; before the baseline, which then
                // also centres the bonus.
                let log_likelihoods = self.generator.log_likelihood(&batch)?;
                dense::add_entropy_bonus(&mut q, samples, &log_likelihoods, beta);
            }
            match adversarial.baseline {
                Baseline::None => {}
                Baseline::BatchMean => subtract_batch_mean(&mut q, samples),
                Baseline::MovingAverage => {
                    let baseline = self.latest.reward_baseline.unwrap_or(0.0);
                    self.latest.reward_baseline = Some(dense::subtract_moving_average(
                        &mut q,
                        samples,
                        baseline,
                        f64::from(adversarial.baseline_decay),
                    ));
                }
            }
            let options = StepOptions {
                seed: self.seed(&format!("adv/{epoch}/{g}/pg")),
            };
            let stats = self.generator.policy_gradient_step(&batch, &q, &options)?;
            losses.push(f64::from(stats.loss));
            if adversarial.teacher_forcing {
                let order = shuffled(
                    self.task.train().len(),
                    self.seed(&format!("adv/{epoch}/{g}/tf-order")),
                );
                let batch = batch_of(
                    self.task.train(),
                    self.task.train_sources(),
                    &order[..batch_size.min(order.len())],
                );
                let options = MleOptions {
                    seed: self.seed(&format!("adv/{epoch}/{g}/tf")),
                    scheduled_sampling: 0.0,
                };
                self.generator.mle_step(&batch, &options)?;
            }
        }
        self.generator
            .update_rollout_policy(adversarial.rollout_update_rate)?;
        self.latest.g_loss = mean(&losses);
        self.latest.mean_reward = mean(&rewards);
        if self.discriminator.is_some() {
            for d in 0..adversarial.d_steps {
                let negatives = self.negatives(&format!("adv/{epoch}/d{d}/negatives"))?;
                self.train_discriminator(
                    &negatives,
                    adversarial.d_epochs,
                    &format!("adv/{epoch}/d{d}"),
                )?;
            }
        }
        Ok(())
    }

    /// What a g-step's samples are conditioned on: for conditional tasks,
    /// `batch_size` training sources in a seeded order, and their gold
    /// targets as the references of metric rewards.
    fn g_step_condition(&self, label: &str) -> Condition {
        let Some(sources) = self.task.train_sources() else {
            return Condition::default();
        };
        let order = shuffled(sources.len(), self.seed(label));
        let rows = &order[..self.config.training.batch_size.min(order.len())];
        Condition {
            sources: Some(rows_of(sources, rows)),
            references: Some(rows_of(self.task.train(), rows)),
        }
    }

    /// Generator epochs done so far (the x axis of the learning curve).
    pub fn global_epoch(&self) -> usize {
        self.mle_epochs_done()
            + match self.position.phase {
                Phase::Adversarial => self.position.step,
                Phase::Done => self.config.training.adversarial.epochs,
                _ => 0,
            }
    }
}
