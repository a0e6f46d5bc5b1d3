//! The discriminator component.

use std::path::Path;

use agon_sdk::{
    toolkit::{
        device_for, dropout, labelled_batch, padded_id_vec, padded_ids, reinitialize,
        rng_from_seed, ComputePath, SeededInit, SeededRng, Trainable,
    },
    Batch, DiscriminatorImpl, PluginContext, PluginResult, RelaxedBatch, StepOptions, StepStats,
};
use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{VarBuilder, VarMap};

use crate::{
    config::CnnDiscriminatorConfig, hand_gradients::loss_and_gradients, model::CnnHighway,
    tabulated::TabulatedConvolutions,
};

const CHECKPOINT_FILE: &str = "cnn-discriminator.safetensors";

/// Sequences scored per forward pass (bounds the activations' memory).
const SCORING_CHUNK: usize = 1024;

/// Sequences scored since the last weight change after which the
/// convolutions are tabulated (the tables cost about what the convolutions
/// of 530 sequences do at paper dimensions); until then they convolve.
const TABULATE_FROM_ROWS: usize = 512;

/// SeqGAN's D.
pub struct CnnDiscriminator {
    pub(crate) config: CnnDiscriminatorConfig,
    pub(crate) device: Device,
    /// Hand-written kernels (CPU) or tensor ops with autograd.
    path: ComputePath,
    pub(crate) pad: u32,
    /// Every input is padded to this length (≥ the widest filter).
    pub(crate) input_len: usize,
    pub(crate) model: CnnHighway,
    pub(crate) params: Trainable,
    /// The convolutions tabulated for scoring, built once enough sequences
    /// have been scored since the weights changed (kernels path only).
    pub(crate) tables: Option<TabulatedConvolutions>,
    /// Sequences scored since the weights last changed.
    pub(crate) scored_since_change: usize,
}

impl CnnDiscriminator {
    pub fn new(context: &PluginContext) -> PluginResult<Self> {
        let config: CnnDiscriminatorConfig = context.config()?;
        config.validate()?;
        let device = device_for(context)?;
        let path = config.compute.resolve(&device)?;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let model = CnnHighway::new(vb, context.vocab.size as usize, &config)?;
        let highway_bound = (6.0 / (2.0 * config.total_filters() as f32)).sqrt();
        // SeqGAN's initialisers: embedding U(−1, 1), conv and output weights
        // N(0, 0.1) with biases 0.1, highway Glorot-uniform with zero bias.
        reinitialize(&varmap, context.seed, |name, _| match name {
            "embedding" => SeededInit::Uniform(1.0),
            n if n.starts_with("highway") && n.ends_with("bias") => SeededInit::Const(0.0),
            n if n.starts_with("highway") => SeededInit::Uniform(highway_bound),
            n if n.ends_with("bias") => SeededInit::Const(0.1),
            _ => SeededInit::Normal(0.1),
        })?;
        let widest = config.filter_sizes.iter().copied().max().unwrap_or(1);
        Ok(CnnDiscriminator {
            device,
            path,
            pad: context.vocab.pad.into_option().unwrap_or(0),
            input_len: (context.max_len as usize).max(widest),
            model,
            params: Trainable::new(varmap, config.optimizer.clone(), config.grad_clip)?,
            tables: None,
            scored_since_change: 0,
            config,
        })
    }
}

/// The training loss of the tensor path, as Candle ops end to end
/// (convolutions as unfolded matmuls, differentiated by autograd): cross-
/// entropy of `labels` (1 real, 0 generated; f32) through dropout plus
/// `λ/2 · (‖W‖² + ‖b‖²)` of the output layer. Returns the loss and logits.
pub(crate) fn autograd_loss(
    model: &CnnHighway,
    ids: &Tensor,
    labels: &Tensor,
    keep: f32,
    l2_lambda: f64,
    rng: &mut SeededRng,
) -> PluginResult<(Tensor, Tensor)> {
    let pooled = model.pooled_on(ids, ComputePath::Tensor)?;
    let features = dropout(&model.highway(&pooled)?, keep, rng)?;
    let logits = model.output.forward(&features)?;
    let cross_entropy = candle_nn::loss::cross_entropy(&logits, &labels.to_dtype(DType::U32)?)?;
    Ok(((cross_entropy + model.output_l2(l2_lambda)?)?, logits))
}

impl DiscriminatorImpl for CnnDiscriminator {
    fn train_step(
        &mut self,
        real: &Batch,
        generated: &Batch,
        options: &StepOptions,
    ) -> PluginResult<StepStats> {
        self.tables = None;
        self.scored_since_change = 0;
        let mut rng = rng_from_seed(options.seed);
        if self.path == ComputePath::Kernels {
            // Hand-written gradients (see hand_gradients.rs); the same
            // loss, dropout draws and updates as the autograd path below.
            let ids = [&real.targets, &generated.targets]
                .into_iter()
                .map(|b| padded_id_vec(b, self.input_len, self.pad))
                .collect::<PluginResult<Vec<_>>>()?
                .concat();
            let mut labels = vec![1.0f32; real.targets.rows()];
            labels.resize(real.targets.rows() + generated.targets.rows(), 0.0);
            let step = loss_and_gradients(
                &self.model,
                ids,
                self.input_len,
                &labels,
                self.config.dropout_keep,
                self.config.l2_lambda,
                &mut rng,
            )?;
            let norm =
                self.params
                    .minimise_with_gradients(step.loss, step.gradients, "discriminator")?;
            return Ok(StepStats::new(step.loss, labels.len())
                .with("accuracy", step.accuracy)
                .with("grad_norm", norm));
        }
        let batch = labelled_batch(
            &real.targets,
            &generated.targets,
            self.input_len,
            self.pad,
            &self.device,
        )?;
        let (loss, logits) = autograd_loss(
            &self.model,
            &batch.ids,
            &batch.labels,
            self.config.dropout_keep,
            self.config.l2_lambda,
            &mut rng,
        )?;
        let predicted = logits.argmax(D::Minus1)?.to_dtype(DType::F32)?;
        let accuracy = predicted
            .eq(&batch.labels)?
            .to_dtype(DType::F32)?
            .mean_all()?
            .to_scalar::<f32>()?;
        let norm = self.params.minimise(&loss, "discriminator")?;
        Ok(
            StepStats::new(loss.to_scalar::<f32>()?, batch.lengths.len())
                .with("accuracy", accuracy)
                .with("grad_norm", norm),
        )
    }

    fn probabilities(&mut self, batch: &Batch) -> PluginResult<Vec<f32>> {
        // Rows with sources never get here: the library declares
        // `sources-never`, and the SDK's guard refuses them.
        // In chunks: the intermediate tensors grow with the rows, and the
        // host may send tens of thousands of rollouts at once.
        let mut probabilities = Vec::with_capacity(batch.targets.rows());
        for start in (0..batch.targets.rows()).step_by(SCORING_CHUNK) {
            let rows = batch.targets.rows().min(start + SCORING_CHUNK) - start;
            let chunk = batch.targets.slice_rows(start, rows);
            self.scored_since_change += rows;
            let tabulate = self.path == ComputePath::Kernels
                && (self.tables.is_some() || self.scored_since_change >= TABULATE_FROM_ROWS);
            let pooled = if tabulate {
                let tables = match self.tables.take() {
                    Some(tables) => tables,
                    None => TabulatedConvolutions::new(&self.model)?,
                };
                let ids = padded_id_vec(&chunk, self.input_len, self.pad)?;
                let pooled = tables.pooled(&ids, self.input_len, &self.device);
                self.tables = Some(tables);
                pooled?
            } else {
                let ids = padded_ids(&chunk, self.input_len, self.pad, &self.device)?;
                self.model.pooled_on(&ids, self.path)?
            };
            let logits = self
                .model
                .output
                .forward(&self.model.highway(&pooled)?)?
                .detach();
            let probs = candle_nn::ops::softmax_last_dim(&logits)?;
            probabilities.extend(probs.narrow(1, 1, 1)?.squeeze(1)?.to_vec1::<f32>()?);
        }
        Ok(probabilities)
    }

    fn parameter_count(&self) -> u64 {
        self.params.parameter_count()
    }

    fn relaxed_logits(
        &mut self,
        batch: &RelaxedBatch,
        dropout_seed: Option<u64>,
    ) -> PluginResult<Vec<f32>> {
        self.relaxed_logits_of(batch, dropout_seed)
    }

    fn relaxed_input_gradient(
        &mut self,
        batch: &RelaxedBatch,
        upstream: &[f32],
        dropout_seed: Option<u64>,
    ) -> PluginResult<Vec<f32>> {
        self.relaxed_input_gradient_of(batch, upstream, dropout_seed)
    }

    fn relaxed_train_step(
        &mut self,
        batch: &RelaxedBatch,
        upstream: &[f32],
        options: &StepOptions,
    ) -> PluginResult<StepStats> {
        self.relaxed_train_step_of(batch, upstream, options)
    }

    fn save(&self, dir: &Path) -> PluginResult<()> {
        self.params
            .save(&dir.join(CHECKPOINT_FILE), Default::default())
    }

    fn load(&mut self, dir: &Path) -> PluginResult<()> {
        self.tables = None;
        self.scored_since_change = 0;
        self.params.load(&dir.join(CHECKPOINT_FILE)).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agon_sdk::TokenBatch;

    #[test]
    fn learns_to_tell_two_token_distributions_apart() {
        let mut context = PluginContext::for_tests(40, 8);
        context.seed = 1;
        context.config_yaml = "embedding_dim: 8\nfilter_sizes: [2, 3]\nfilter_counts: [8, 8]\noptimizer: {lr: 0.003}\n".into();
        let mut d = CnnDiscriminator::new(&context).unwrap();
        let rows = |offset: u32| -> Batch {
            let rows: Vec<Vec<u32>> = (0..16)
                .map(|r| (0..8).map(|t| offset + (r * 7 + t * 3) % 10).collect())
                .collect();
            Batch::unconditional(TokenBatch::from_rows(&rows, 0))
        };
        let (real, fake) = (rows(0), rows(20));
        let mut last = StepStats::default();
        for step in 0..60 {
            last = d
                .train_step(&real, &fake, &StepOptions { seed: step })
                .unwrap();
        }
        assert!(last.get("accuracy").unwrap() > 0.95, "{last:?}");
        let p_real = d.probabilities(&real).unwrap();
        let p_fake = d.probabilities(&fake).unwrap();
        assert!(
            p_real.iter().all(|&p| p > 0.5) && p_fake.iter().all(|&p| p < 0.5),
            "{p_real:?} {p_fake:?}"
        );
    }
}
