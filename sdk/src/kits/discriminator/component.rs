//! The component the kit builds around a [`DiscriminatorModel`]: training
//! steps, scoring, checkpoints.

use std::path::{Path, PathBuf};

use candle_core::{DType, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::{model::validate, DiscriminatorConfig, DiscriminatorModel, Pass, Rows};
use crate::{
    author::DiscriminatorImpl,
    batch::Batch,
    context::PluginContext,
    error::{PluginError, PluginResult},
    stats::{StepOptions, StepStats},
    toolkit::{bce_with_logits, device_for, reinitialize, Dropout, Padder, Trainable},
};

/// A discriminator component made of a [`DiscriminatorModel`], its
/// optimiser and the kit's training and scoring.
pub struct KitDiscriminator<M: DiscriminatorModel> {
    config: M::Config,
    padder: Padder,
    model: M,
    params: Trainable,
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
            model,
            params,
            config,
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
        if logits.dims() != [rows.len()] {
            return Err(PluginError::other(format!(
                "{} gave logits of shape {:?} for {} rows; a discriminator model returns one logit per row, shape [{}]",
                M::NAME,
                logits.dims(),
                rows.len(),
                rows.len()
            )));
        }
        Ok(logits)
    }
}

impl<M: DiscriminatorModel> DiscriminatorImpl for KitDiscriminator<M> {
    fn train_step(
        &mut self,
        real: &Batch,
        generated: &Batch,
        options: &StepOptions,
    ) -> PluginResult<StepStats> {
        let (real, generated) = (self.rows(real)?, self.rows(generated)?);
        let real_rows = real.len();
        let rows = real.stacked(generated);
        if rows.is_empty() {
            return Err(PluginError::input("a training step needs at least one row"));
        }
        let mut labels = vec![1.0f32; real_rows];
        labels.resize(rows.len(), 0.0);
        let labels = Tensor::from_vec(labels, rows.len(), &self.padder.device)?;
        let dropout = Dropout::training(self.config.training().dropout, options.seed);
        let logits = self.logits(&rows, dropout)?;
        let loss = bce_with_logits(&logits, &labels)?;
        // A logit of exactly 0 (P = 0.5) counts as "real".
        let accuracy = logits
            .ge(0.0)?
            .to_dtype(DType::F32)?
            .eq(&labels)?
            .to_dtype(DType::F32)?
            .mean_all()?
            .to_scalar::<f32>()?;
        let norm = self.params.minimise(&loss, M::NAME)?;
        Ok(StepStats::new(loss.to_scalar::<f32>()?, rows.len())
            .with("accuracy", accuracy)
            .with("grad_norm", norm))
    }

    fn probabilities(&mut self, batch: &Batch) -> PluginResult<Vec<f32>> {
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

    fn parameter_count(&self) -> u64 {
        self.params.parameter_count()
    }

    fn save(&self, dir: &Path) -> PluginResult<()> {
        self.params
            .save(&Self::checkpoint_file(dir), Default::default())
    }

    fn load(&mut self, dir: &Path) -> PluginResult<()> {
        self.params.load(&Self::checkpoint_file(dir)).map(|_| ())
    }
}
