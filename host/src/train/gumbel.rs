//! `algorithm: gumbel`: RelGAN's adversarial epoch (Nie et al., ICLR 2019).
//!
//! The generator draws Gumbel-softmax relaxed samples at the epoch's
//! inverse temperature β; the discriminator scores them beside real rows
//! (`paired_logits`); the host computes the GAN loss from those logits and
//! sends its gradient back through the discriminator
//! (`paired_input_gradient`) into the generator (`relaxed_policy_step`).
//! The discriminator trains on the same loss from its own side
//! (`paired_train_step`). Only f32 arrays
//! cross the boundary; each plugin keeps or recomputes its own graph (the
//! SDK's kits keep the pass of a sample or a scoring call for the step on
//! the same rows that follows it).
//!
//! One epoch is `g_steps` generator steps then `d_steps` discriminator
//! steps, each on one batch of `batch_size` real and `batch_size` generated
//! rows. They go to the discriminator as one step's paired rows (real rows
//! as ids, generated rows relaxed: plugin ABI 1.3), which it scores as one
//! batch, real rows first, so one dropout draw (the step's seed) covers
//! both and the logits a gradient refers to are the logits the host saw.
//! A discriminator built for ABI 1.2 gets them joined into one relaxed
//! batch, real rows one-hot (`Discriminator::paired_logits`' default).

use abi_stable::std_types::ROption;
use agon_sdk::{PairedRows, RelaxedBatch, RelaxedSampleRequest, StepOptions, TokenBatch};

use super::{
    gan_loss::{GanLoss, LossGradients, Side},
    inverse_temperature::inverse_temperature,
    mean, rows_of, shuffled, Trainer,
};
use crate::components::{Discriminator, Generator};

/// One step's rows as the discriminator reads them: `rows` real rows, then
/// `rows` relaxed samples of the generator.
pub(crate) struct StepRows {
    paired: PairedRows,
    request: RelaxedSampleRequest,
}

impl StepRows {
    /// `real` rows cut to `width` tokens, and as many relaxed samples of
    /// `generator` at inverse temperature `beta`, drawn with `seed`; with
    /// `sources`, both rows of each pair have the same source.
    pub(crate) fn draw(
        generator: &mut Generator,
        real: TokenBatch,
        sources: Option<TokenBatch>,
        width: usize,
        beta: f32,
        seed: u64,
    ) -> anyhow::Result<Self> {
        let rows = real.rows();
        let sources = sources.map_or(ROption::RNone, ROption::RSome);
        let request = RelaxedSampleRequest {
            count: rows as u32,
            max_len: width as u32,
            inverse_temperature: beta,
            seed,
            sources: sources.clone(),
        };
        let samples = generator.relaxed_sample(&request)?;
        let paired = PairedRows {
            real: fit(real, width),
            generated: RelaxedBatch {
                lengths: samples.ids.lengths,
                width: width as u32,
                soft: samples.soft,
                sources,
            },
        };
        Ok(StepRows { paired, request })
    }

    fn pairs(&self) -> usize {
        self.paired.pairs()
    }
}

/// One generator step: the discriminator scores `step`'s rows with the
/// dropout of `dropout_seed`, the host's `loss` gives the generator's
/// gradient per logit, the discriminator turns it into the gradient with
/// respect to the rows, and the generator steps along its own rows' part.
/// Returns the generator's loss.
pub(crate) fn generator_step(
    generator: &mut Generator,
    discriminator: &mut Discriminator,
    step: &StepRows,
    loss: GanLoss,
    dropout_seed: u64,
    options: &StepOptions,
) -> anyhow::Result<f64> {
    let logits = discriminator.paired_logits(&step.paired, Some(dropout_seed))?;
    let gradients = evaluate(loss, Side::Generator, &logits, step.pairs())?;
    let upstream = upstream_of(&gradients);
    // The generated rows' gradient: the generator's own samples.
    let fake = discriminator.paired_input_gradient(&step.paired, &upstream, Some(dropout_seed))?;
    generator.relaxed_policy_step(&step.request, &fake, options)?;
    Ok(gradients.loss)
}

/// One discriminator step on `step`'s rows under the host's `loss`, with
/// the dropout of `options.seed`. Returns its loss and accuracy (before
/// the step).
pub(crate) fn discriminator_step(
    discriminator: &mut Discriminator,
    step: &StepRows,
    loss: GanLoss,
    options: &StepOptions,
) -> anyhow::Result<(f64, f64)> {
    let logits = discriminator.paired_logits(&step.paired, Some(options.seed))?;
    let gradients = evaluate(loss, Side::Discriminator, &logits, step.pairs())?;
    discriminator.paired_train_step(&step.paired, &upstream_of(&gradients), options)?;
    Ok((gradients.loss, accuracy(loss, &logits, step.pairs())))
}

impl Trainer {
    /// One adversarial epoch of `algorithm: gumbel` (epoch `epoch` of the
    /// phase).
    pub(super) fn gumbel_epoch(&mut self, epoch: usize) -> anyhow::Result<()> {
        let adversarial = self.config.training.adversarial.clone();
        let beta = inverse_temperature(
            adversarial.gumbel.inverse_temperature.schedule,
            adversarial.gumbel.inverse_temperature.max,
            epoch,
            adversarial.epochs,
        ) as f32;
        let loss = adversarial.gumbel.loss;
        let (mut g_losses, mut d_losses, mut accuracies) = (Vec::new(), Vec::new(), Vec::new());
        for g in 0..adversarial.g_steps {
            let step = self.step_rows(&format!("adv/{epoch}/g{g}"), beta)?;
            let dropout_seed = self.seed(&format!("adv/{epoch}/g{g}/dropout"));
            let options = StepOptions {
                seed: self.seed(&format!("adv/{epoch}/g{g}/step")),
            };
            let Some(discriminator) = self.discriminator.as_mut() else {
                anyhow::bail!("`algorithm: gumbel` needs a discriminator");
            };
            g_losses.push(generator_step(
                &mut self.generator,
                discriminator,
                &step,
                loss,
                dropout_seed,
                &options,
            )?);
        }
        for d in 0..adversarial.d_steps {
            let step = self.step_rows(&format!("adv/{epoch}/d{d}"), beta)?;
            let options = StepOptions {
                seed: self.seed(&format!("adv/{epoch}/d{d}/dropout")),
            };
            let Some(discriminator) = self.discriminator.as_mut() else {
                anyhow::bail!("`algorithm: gumbel` needs a discriminator");
            };
            let (d_loss, d_accuracy) = discriminator_step(discriminator, &step, loss, &options)?;
            d_losses.push(d_loss);
            accuracies.push(d_accuracy);
        }
        self.latest.g_loss = mean(&g_losses);
        self.latest.mean_reward = None;
        if !d_losses.is_empty() {
            self.latest.d_loss = mean(&d_losses);
            self.latest.d_accuracy = mean(&accuracies);
        }
        Ok(())
    }

    /// `batch_size` real rows (one-hot) and as many relaxed samples at
    /// inverse temperature `beta`, for the step `label`; for a conditional
    /// task, both for the same seeded choice of training sources.
    fn step_rows(&mut self, label: &str, beta: f32) -> anyhow::Result<StepRows> {
        let width = self.task.max_len() as usize;
        let condition = self.g_step_condition(&format!("{label}/sources"));
        let (real, sources) = match (condition.references, condition.sources) {
            (Some(references), Some(sources)) => (references, Some(sources)),
            _ => {
                let order = shuffled(self.task.train().len(), self.seed(&format!("{label}/real")));
                let rows = &order[..self.config.training.batch_size.min(order.len())];
                (rows_of(self.task.train(), rows), None)
            }
        };
        let seed = self.seed(&format!("{label}/gumbel"));
        StepRows::draw(&mut self.generator, real, sources, width, beta, seed)
    }
}

/// `ids` with rows cut to `width` tokens (the task's max_len bounds them
/// already; this only narrows the padding).
fn fit(ids: TokenBatch, width: usize) -> TokenBatch {
    let rows: Vec<&[u32]> = ids
        .iter_rows()
        .map(|row| &row[..row.len().min(width)])
        .collect();
    TokenBatch::from_rows_with_width(&rows, 0, width)
}

/// `side`'s loss on logits of `rows` real rows followed by `rows`
/// generated ones.
fn evaluate(
    loss: GanLoss,
    side: Side,
    logits: &[f32],
    rows: usize,
) -> anyhow::Result<LossGradients> {
    let (real, fake) = logits.split_at(rows);
    loss.evaluate(side, real, fake).map_err(anyhow::Error::msg)
}

/// The loss's gradient per logit, real rows first, as the discriminator
/// takes it.
fn upstream_of(gradients: &LossGradients) -> Vec<f32> {
    gradients
        .real
        .iter()
        .chain(&gradients.fake)
        .map(|&g| g as f32)
        .collect()
}

/// How often the discriminator is right: for `rsgan`, whose logits mean
/// something only relative to each other, the fraction of pairs whose real
/// row scores above its generated one; otherwise the fraction of rows on
/// the right side of 0 (real above, generated below).
fn accuracy(loss: GanLoss, logits: &[f32], rows: usize) -> f64 {
    let (real, fake) = logits.split_at(rows);
    if loss == GanLoss::Rsgan {
        let right = real.iter().zip(fake).filter(|(r, f)| r > f).count();
        return right as f64 / rows.max(1) as f64;
    }
    let right =
        real.iter().filter(|&&l| l > 0.0).count() + fake.iter().filter(|&&l| l < 0.0).count();
    right as f64 / logits.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use abi_stable::std_types::ROption;
    use agon_relgan::{RelganDiscriminator, RelganGenerator};
    use agon_sdk::{
        kits::{KitDiscriminator, KitGenerator},
        testing::check_gradient_chain,
        PluginContext, RelaxedBatch, RelaxedSampleRequest, TokenBatch,
    };

    use super::*;

    const VOCAB: u32 = 7;
    const WIDTH: u32 = 4;

    fn context(config: &str, seed: u64) -> PluginContext {
        let mut context = PluginContext::for_tests(VOCAB, WIDTH);
        context.seed = seed;
        context.config_yaml = config.into();
        context
    }

    /// The whole gradient path of `algorithm: gumbel` on a tiny vocabulary:
    /// the host's loss on RelGAN's discriminator's logits, through its input
    /// gradient, into RelGAN's generator (both cores), against finite
    /// differences of that loss in every generator weight, for every GAN
    /// loss.
    #[test]
    fn the_generator_gradient_through_host_loss_and_discriminator_matches_finite_differences() {
        let d = KitDiscriminator::<RelganDiscriminator>::new(&context(
            "{embedding_dim: 4, representations: 2, filter_sizes: [2], filters_per_size: 3, hidden_dim: 4}",
            3,
        ))
        .unwrap();
        let real_ids = TokenBatch::from_rows(&[vec![4u32, 5, 6, 2], vec![5, 2], vec![6, 6, 4]], 0);
        let real = RelaxedBatch::one_hot(&real_ids, WIDTH as usize, VOCAB as usize, ROption::RNone)
            .unwrap();
        let request = RelaxedSampleRequest {
            count: 3,
            max_len: WIDTH,
            inverse_temperature: 1.5,
            seed: 11,
            sources: ROption::RNone,
        };
        let cores = [
            "{embedding_dim: 3, mem_slots: 1, num_heads: 2, head_size: 2}",
            "{embedding_dim: 3, core: lstm, hidden_dim: 4}",
        ];
        for core in cores {
            let g = KitGenerator::<RelganGenerator>::new(&context(core, 5)).unwrap();
            for loss in [GanLoss::Rsgan, GanLoss::Standard, GanLoss::Hinge] {
                let host_loss = |logits: &[f32]| {
                    let gradients = evaluate(loss, Side::Generator, logits, 3).unwrap();
                    (gradients.loss, upstream_of(&gradients))
                };
                let checked = check_gradient_chain(&g, &d, &real, &request, 9, 2, &host_loss);
                assert!(checked > 40, "{core} {loss:?}: {checked} checked");
            }
        }
    }
}
