//! The discriminator component.

use std::path::Path;

use agon_sdk::{
    toolkit::{
        device_for, dropout, labelled_batch, length_mask, padded_ids, reinitialize, rng_from_seed,
        SeededInit, Trainable,
    },
    Batch, DiscriminatorImpl, PluginContext, PluginError, PluginResult, StepOptions, StepStats,
};
use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};

use crate::{config::GruDiscriminatorConfig, model::GruNetwork};

const CHECKPOINT_FILE: &str = "gru-discriminator.safetensors";

/// A GRU discriminator.
pub struct GruDiscriminator {
    config: GruDiscriminatorConfig,
    device: Device,
    pad: u32,
    max_len: usize,
    network: GruNetwork,
    params: Trainable,
}

impl GruDiscriminator {
    pub fn new(context: &PluginContext) -> PluginResult<Self> {
        let config: GruDiscriminatorConfig = context.config()?;
        if config.embedding_dim == 0 || config.hidden_dim == 0 {
            return Err(PluginError::config(
                "embedding_dim and hidden_dim must be positive",
            ));
        }
        let device = device_for(context)?;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let network = GruNetwork::new(
            vb,
            context.vocab.size as usize,
            config.embedding_dim,
            config.hidden_dim,
        )?;
        // PyTorch's GRU initialisation: U(−1/√H, 1/√H); embedding N(0, 1).
        let bound = 1.0 / (config.hidden_dim as f32).sqrt();
        reinitialize(&varmap, context.seed, |name, _| match name {
            "embedding" => SeededInit::Normal(1.0),
            _ => SeededInit::Uniform(bound),
        })?;
        Ok(GruDiscriminator {
            device,
            pad: context.vocab.pad.into_option().unwrap_or(0),
            max_len: context.max_len as usize,
            network,
            params: Trainable::new(varmap, config.optimizer.clone(), config.grad_clip)?,
            config,
        })
    }

    fn reject_sources(batch: &Batch) -> PluginResult<()> {
        if batch.sources.is_some() {
            return Err(PluginError::unsupported(
                "gru scores sequences alone; it does not read sources",
            ));
        }
        Ok(())
    }
}

impl DiscriminatorImpl for GruDiscriminator {
    fn train_step(
        &mut self,
        real: &Batch,
        generated: &Batch,
        options: &StepOptions,
    ) -> PluginResult<StepStats> {
        Self::reject_sources(real)?;
        Self::reject_sources(generated)?;
        let batch = labelled_batch(
            &real.targets,
            &generated.targets,
            self.max_len,
            self.pad,
            &self.device,
        )?;
        let mask = length_mask(&batch.lengths, self.max_len, &self.device)?;
        let features = self.network.encode(&batch.ids, &mask)?;
        let features = dropout(
            &features,
            self.config.dropout_keep,
            &mut rng_from_seed(options.seed),
        )?;
        let logits = self.network.logits(&features)?;
        let loss = agon_sdk::toolkit::bce_with_logits(&logits, &batch.labels)?;
        let predicted = logits.ge(0.0)?.to_dtype(DType::F32)?;
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
        Self::reject_sources(batch)?;
        let ids = padded_ids(&batch.targets, self.max_len, self.pad, &self.device)?;
        let mask = length_mask(&batch.targets.lengths, self.max_len, &self.device)?;
        let logits = self
            .network
            .logits(&self.network.encode(&ids, &mask)?)?
            .detach();
        Ok(candle_nn::ops::sigmoid(&logits)?.to_vec1::<f32>()?)
    }

    fn parameter_count(&self) -> u64 {
        self.params.parameter_count()
    }

    fn save(&self, dir: &Path) -> PluginResult<()> {
        self.params
            .save(&dir.join(CHECKPOINT_FILE), Default::default())
    }

    fn load(&mut self, dir: &Path) -> PluginResult<()> {
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
        context.config_yaml = "embedding_dim: 8\nhidden_dim: 8\noptimizer: {lr: 0.01}\n".into();
        let mut d = GruDiscriminator::new(&context).unwrap();
        let rows = |offset: u32, len: usize| -> Batch {
            let rows: Vec<Vec<u32>> = (0..16)
                .map(|r| {
                    (0..len)
                        .map(|t| offset + ((r * 7 + t * 3) % 10) as u32)
                        .collect()
                })
                .collect();
            Batch::unconditional(TokenBatch::from_rows(&rows, 0))
        };
        // Variable lengths: the final state must come from each row's last real token.
        let (real, fake) = (rows(0, 8), rows(20, 5));
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
