//! The discriminator component around any pair model: binary cross-entropy
//! training, evaluation-mode probabilities, checkpoints.

use std::path::Path;

use agon_sdk::{
    toolkit::{device_for, reinitialize, Trainable},
    Batch, DiscriminatorImpl, PluginContext, PluginError, PluginResult, StepOptions, StepStats,
};
use candle_core::{DType, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::{
    dropout::Dropout,
    init::pytorch_like,
    pairs::{Padder, Pairs},
    settings::{PairConfig, TrainingSettings},
};

/// A network that gives the logit of `P(real)` for (source, target) pairs.
pub trait PairModel: Sized + Send + 'static {
    type Config: PairConfig;
    /// The component's name (messages, checkpoint file).
    const NAME: &'static str;

    fn new(vb: VarBuilder, vocab: usize, config: &Self::Config) -> candle_core::Result<Self>;

    /// `[B]` logits, one per pair; `dropout` is the identity when evaluating.
    fn logits(&self, pairs: &Pairs, padder: &Padder, dropout: &mut Dropout)
        -> PluginResult<Tensor>;
}

/// A discriminator component made of a [`PairModel`] and its optimiser.
pub struct PairDiscriminator<M: PairModel> {
    settings: TrainingSettings,
    padder: Padder,
    model: M,
    params: Trainable,
}

impl<M: PairModel> PairDiscriminator<M> {
    pub fn new(context: &PluginContext) -> PluginResult<Self> {
        let config: M::Config = context.config()?;
        config.validate()?;
        let settings = config.training();
        let device = device_for(context)?;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let model = M::new(vb, context.vocab.size as usize, &config)?;
        // Candle filled the variables from its unseedable RNG; redraw them.
        reinitialize(&varmap, context.seed, pytorch_like)?;
        Ok(PairDiscriminator {
            padder: Padder {
                pad: context.vocab.pad.into_option().unwrap_or(0),
                device,
            },
            model,
            params: Trainable::new(varmap, settings.optimizer.clone(), settings.grad_clip)?,
            settings,
        })
    }

    fn pairs(&self, batch: &Batch) -> PluginResult<Pairs> {
        Pairs::from_batch(batch, M::NAME, self.settings.max_source_len)
    }

    fn checkpoint_file(dir: &Path) -> std::path::PathBuf {
        dir.join(format!("{}.safetensors", M::NAME))
    }
}

impl<M: PairModel> DiscriminatorImpl for PairDiscriminator<M> {
    fn train_step(
        &mut self,
        real: &Batch,
        generated: &Batch,
        options: &StepOptions,
    ) -> PluginResult<StepStats> {
        let pairs = Pairs::stacked(self.pairs(real)?, self.pairs(generated)?);
        if pairs.rows() == 0 {
            return Err(PluginError::input(
                "a training step needs at least one pair",
            ));
        }
        let mut labels = vec![1.0f32; real.targets.rows()];
        labels.resize(pairs.rows(), 0.0);
        let labels = Tensor::from_vec(labels, pairs.rows(), &self.padder.device)?;
        let mut dropout = Dropout::training(self.settings.dropout, options.seed);
        let logits = self.model.logits(&pairs, &self.padder, &mut dropout)?;
        let loss = agon_sdk::toolkit::bce_with_logits(&logits, &labels)?;
        let accuracy = logits
            .ge(0.0)?
            .to_dtype(DType::F32)?
            .eq(&labels)?
            .to_dtype(DType::F32)?
            .mean_all()?
            .to_scalar::<f32>()?;
        let norm = self.params.minimise(&loss, M::NAME)?;
        Ok(StepStats::new(loss.to_scalar::<f32>()?, pairs.rows())
            .with("accuracy", accuracy)
            .with("grad_norm", norm))
    }

    fn probabilities(&mut self, batch: &Batch) -> PluginResult<Vec<f32>> {
        let pairs = self.pairs(batch)?;
        if pairs.rows() == 0 {
            return Ok(Vec::new());
        }
        let logits = self
            .model
            .logits(&pairs, &self.padder, &mut Dropout::evaluation())?
            .detach();
        Ok(candle_nn::ops::sigmoid(&logits)?.to_vec1::<f32>()?)
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
