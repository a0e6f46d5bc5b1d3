//! The component the kit builds around a [`DiscriminatorModel`]: training
//! steps, scoring, checkpoints; relaxed rows for gradient-based training in
//! `relaxed.rs`.

mod relaxed;

use std::path::{Path, PathBuf};

use candle_core::{DType, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::{model::validate, DiscriminatorConfig, DiscriminatorModel, Pass, Rows};
use crate::kits::kept_pass::KeptPass;
use crate::{
    author::DiscriminatorImpl,
    batch::Batch,
    context::PluginContext,
    error::{PluginError, PluginResult},
    relaxed::{PairedRows, RelaxedBatch},
    stats::{StepOptions, StepStats},
    toolkit::{bce_with_logits, device_for, reinitialize, Dropout, Padder, Trainable},
};

/// A discriminator component made of a [`DiscriminatorModel`], its
/// optimiser and the kit's training and scoring.
pub struct KitDiscriminator<M: DiscriminatorModel> {
    config: M::Config,
    padder: Padder,
    /// Vocabulary size (the width of a relaxed row's positions).
    vocab: usize,
    model: M,
    params: Trainable,
    /// The forward pass of the last `relaxed_logits` call, for a training
    /// step on the same rows (`relaxed.rs`).
    kept: KeptPass<relaxed::KeptLogits>,
}

impl<M: DiscriminatorModel> KitDiscriminator<M> {
    /// Reads and checks the config, builds the model on the context's
    /// device and initialises it from the context's seed.
    pub fn new(context: &PluginContext) -> PluginResult<Self> {
        let config: M::Config = context.config()?;
        validate(&config)?;
        let device = device_for(context)?;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let model = M::new(vb, context, &config)?;
        // Candle filled the variables from its unseedable RNG; redraw them.
        reinitialize(&varmap, context.seed, M::init)?;
        let training = config.training();
        let params = Trainable::new(varmap, training.optimizer.clone(), training.grad_clip)?;
        Ok(KitDiscriminator {
            padder: Padder {
                pad: context.vocab.pad.into_option().unwrap_or(0),
                device,
            },
            vocab: context.vocab.size as usize,
            model,
            params,
            config,
            kept: KeptPass::default(),
        })
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The config the component runs with.
    pub fn config(&self) -> &M::Config {
        &self.config
    }

    /// Whether a `relaxed_logits` pass is kept (`relaxed.rs`), and how many
    /// kept passes training steps have used.
    #[cfg(test)]
    pub(crate) fn kept_pass(&self) -> (bool, usize) {
        (self.kept.holds(), self.kept.uses())
    }

    /// The trainable variables (tests, and the weight-gradient check of
    /// `testing`, move them directly).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn varmap(&self) -> &VarMap {
        self.params.varmap()
    }

    /// The sum of `batch`'s row logits in evaluation mode, what
    /// `probabilities` reads: for the weight-gradient check of a per-token
    /// model, whose training never differentiates them.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn row_logits_sum(&self, batch: &Batch) -> PluginResult<Tensor> {
        let rows = self.rows(batch)?;
        Ok(self.logits(&rows, Dropout::evaluation())?.sum_all()?)
    }

    fn rows(&self, batch: &Batch) -> PluginResult<Rows> {
        Rows::from_batch(batch, M::NAME, M::SOURCES, self.config.max_source_len())
    }

    fn checkpoint_file(dir: &Path) -> PathBuf {
        dir.join(format!("{}.safetensors", M::NAME))
    }

    /// `[B]` logits of `rows`, checked to be one per row.
    fn logits(&self, rows: &Rows, dropout: Dropout) -> PluginResult<Tensor> {
        let mut pass = Pass::new(self.padder.clone(), dropout);
        let logits = self.model.logits(rows, &mut pass)?;
        one_per_row::<M>(logits, rows.len(), "logits")
    }

    /// `[B, W]` per-position logits of `rows` and their `[B, W]` mask of
    /// real tokens, for a per-token model.
    fn token_logits_and_mask(
        &self,
        rows: &Rows,
        dropout: Dropout,
    ) -> PluginResult<(Tensor, Tensor)> {
        let mut pass = Pass::new(self.padder.clone(), dropout);
        let longest = rows.targets.iter().map(Vec::len).max().unwrap_or(0);
        let logits = self.model.token_logits(rows, &mut pass)?.ok_or_else(|| {
            PluginError::other(format!(
                "{} declares PER_TOKEN but its token_logits gave nothing",
                M::NAME
            ))
        })?;
        let width = match logits.dims() {
            [b, w] if *b == rows.len() && *w >= longest => *w,
            dims => {
                return Err(PluginError::other(format!(
                    "{} gave token logits of shape {dims:?} for {} rows of up to {longest} tokens; a per-token model returns [rows, width ≥ {longest}]",
                    M::NAME,
                    rows.len()
                )))
            }
        };
        let mask: Vec<f32> = rows
            .targets
            .iter()
            .flat_map(|row| (0..width).map(move |t| f32::from(u8::from(t < row.len()))))
            .collect();
        let mask = Tensor::from_vec(mask, (rows.len(), width), &self.padder.device)?;
        Ok((logits, mask))
    }

    /// The kit's loss over `logits` against per-row `labels`: binary
    /// cross-entropy per row, or, for a per-token model, over every real
    /// token (ScratchGAN); with the accuracy over the same items.
    fn loss_and_accuracy(
        &self,
        rows: &Rows,
        labels: Vec<f32>,
        dropout: Dropout,
    ) -> PluginResult<(Tensor, f32)> {
        let device = &self.padder.device;
        // A logit of exactly 0 (P = 0.5) counts as "real".
        let correct = |logits: &Tensor, labels: &Tensor| -> candle_core::Result<Tensor> {
            logits
                .ge(0.0)?
                .to_dtype(DType::F32)?
                .eq(labels)?
                .to_dtype(DType::F32)
        };
        if !M::PER_TOKEN {
            let labels = Tensor::from_vec(labels, rows.len(), device)?;
            let logits = self.logits(rows, dropout)?;
            let loss = bce_with_logits(&logits, &labels)?;
            let accuracy = correct(&logits, &labels)?.mean_all()?.to_scalar::<f32>()?;
            return Ok((loss, accuracy));
        }
        let (logits, mask) = self.token_logits_and_mask(rows, dropout)?;
        let labels =
            Tensor::from_vec(labels, (rows.len(), 1), device)?.broadcast_as(logits.shape())?;
        // Stable BCE with logits: max(x, 0) − x·y + log(1 + e^{−|x|}).
        let per_token = ((logits.relu()? - (&logits * &labels)?)?
            + (logits.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
        let tokens = mask.sum_all()?;
        let loss = (per_token * &mask)?.sum_all()?.div(&tokens)?;
        let accuracy = (correct(&logits, &labels)? * &mask)?
            .sum_all()?
            .div(&tokens)?
            .to_scalar::<f32>()?;
        Ok((loss, accuracy))
    }

    /// The loss a training step minimises (real rows labelled 1, generated
    /// rows 0, the training dropout drawn from `seed`), with its accuracy
    /// and the number of rows: `train_step` before the optimiser, and what
    /// `testing::check_weight_gradients` differentiates.
    pub(crate) fn training_loss(
        &self,
        real: &Batch,
        generated: &Batch,
        seed: u64,
    ) -> PluginResult<(Tensor, f32, usize)> {
        let (real, generated) = (self.rows(real)?, self.rows(generated)?);
        let real_rows = real.len();
        let rows = real.stacked(generated);
        if rows.is_empty() {
            return Err(PluginError::input("a training step needs at least one row"));
        }
        let mut labels = vec![1.0f32; real_rows];
        labels.resize(rows.len(), 0.0);
        let dropout = Dropout::training(self.config.training().dropout, seed);
        let (loss, accuracy) = self.loss_and_accuracy(&rows, labels, dropout)?;
        Ok((loss, accuracy, rows.len()))
    }
}

/// `logits` if it holds one value per row (`rows` of them), else an error
/// naming the model and `what` it gave.
fn one_per_row<M: DiscriminatorModel>(
    logits: Tensor,
    rows: usize,
    what: &str,
) -> PluginResult<Tensor> {
    if logits.dims() != [rows] {
        return Err(PluginError::other(format!(
            "{} gave {what} of shape {:?} for {rows} rows; a discriminator model returns one logit per row, shape [{rows}]",
            M::NAME,
            logits.dims(),
        )));
    }
    Ok(logits)
}

impl<M: DiscriminatorModel> DiscriminatorImpl for KitDiscriminator<M> {
    fn train_step(
        &mut self,
        real: &Batch,
        generated: &Batch,
        options: &StepOptions,
    ) -> PluginResult<StepStats> {
        self.kept.clear();
        let (loss, accuracy, rows) = self.training_loss(real, generated, options.seed)?;
        let norm = self.params.minimise(&loss, M::NAME)?;
        Ok(StepStats::new(loss.to_scalar::<f32>()?, rows)
            .with("accuracy", accuracy)
            .with("grad_norm", norm))
    }

    fn probabilities(&mut self, batch: &Batch) -> PluginResult<Vec<f32>> {
        self.kept.clear();
        let rows = self.rows(batch)?;
        let chunk = self.config.training().score_chunk;
        let mut out = Vec::with_capacity(rows.len());
        for start in (0..rows.len()).step_by(chunk) {
            let logits = self
                .logits(&rows.slice(start, chunk), Dropout::evaluation())?
                .detach();
            out.extend(candle_nn::ops::sigmoid(&logits)?.to_vec1::<f32>()?);
        }
        Ok(out)
    }

    fn token_logits(&mut self, batch: &Batch) -> PluginResult<Vec<f32>> {
        self.kept.clear();
        if !M::PER_TOKEN {
            return Err(PluginError::unsupported(format!(
                "{} scores whole sequences only: it gives no per-token logits",
                M::NAME
            )));
        }
        let rows = self.rows(batch)?;
        let chunk = self.config.training().score_chunk;
        let mut out = Vec::with_capacity(batch.targets.token_count());
        for start in (0..rows.len()).step_by(chunk) {
            let part = rows.slice(start, chunk);
            let (logits, _) = self.token_logits_and_mask(&part, Dropout::evaluation())?;
            let logits = logits.detach().to_vec2::<f32>()?;
            for (row, values) in part.targets.iter().zip(logits) {
                out.extend_from_slice(&values[..row.len()]);
            }
        }
        Ok(out)
    }

    /// The relaxed methods check the values as they copy them into a
    /// tensor, or compare them with a kept pass's (`relaxed.rs`).
    fn checks_relaxed_values(&self) -> bool {
        true
    }

    fn relaxed_logits(
        &mut self,
        batch: &RelaxedBatch,
        dropout_seed: Option<u64>,
    ) -> PluginResult<Vec<f32>> {
        self.relaxed_supported()?;
        KitDiscriminator::relaxed_logits(self, batch, dropout_seed)
    }

    fn relaxed_input_gradient(
        &mut self,
        batch: &RelaxedBatch,
        upstream: &[f32],
        dropout_seed: Option<u64>,
    ) -> PluginResult<Vec<f32>> {
        self.relaxed_supported()?;
        KitDiscriminator::relaxed_input_gradient(self, batch, upstream, dropout_seed)
    }

    fn relaxed_train_step(
        &mut self,
        batch: &RelaxedBatch,
        upstream: &[f32],
        options: &StepOptions,
    ) -> PluginResult<StepStats> {
        self.relaxed_supported()?;
        KitDiscriminator::relaxed_train_step(self, batch, upstream, options)
    }

    fn paired_logits(
        &mut self,
        rows: &PairedRows,
        dropout_seed: Option<u64>,
    ) -> PluginResult<Vec<f32>> {
        self.relaxed_supported()?;
        KitDiscriminator::paired_logits(self, rows, dropout_seed)
    }

    fn paired_input_gradient(
        &mut self,
        rows: &PairedRows,
        upstream: &[f32],
        dropout_seed: Option<u64>,
    ) -> PluginResult<Vec<f32>> {
        self.relaxed_supported()?;
        KitDiscriminator::paired_input_gradient(self, rows, upstream, dropout_seed)
    }

    fn paired_train_step(
        &mut self,
        rows: &PairedRows,
        upstream: &[f32],
        options: &StepOptions,
    ) -> PluginResult<StepStats> {
        self.relaxed_supported()?;
        KitDiscriminator::paired_train_step(self, rows, upstream, options)
    }

    fn parameter_count(&self) -> u64 {
        self.params.parameter_count()
    }

    fn save(&self, dir: &Path) -> PluginResult<()> {
        self.kept.clear();
        self.params
            .save(&Self::checkpoint_file(dir), Default::default())
    }

    fn load(&mut self, dir: &Path) -> PluginResult<()> {
        self.kept.clear();
        self.params.load(&Self::checkpoint_file(dir)).map(|_| ())
    }
}
