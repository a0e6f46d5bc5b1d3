use agon_sdk::kits::{
    DiscriminatorConfig, DiscriminatorModel, DiscriminatorTraining, Pass, RelaxedRows, Rows,
    SourceUse,
};
use agon_sdk::toolkit::{masked_max, masked_mean, MaskedEmbedding};
use agon_sdk::{PluginContext, PluginError, PluginResult};
use candle_core::{Module, Tensor};
use candle_nn::{linear, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

/// The model's keys, plus the kit's `training:` block (dropout, Adam, clipping).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeanPoolConfig {
    pub embedding_dim: usize,
    /// `mean` or `max` over each row's real tokens.
    pub pooling: String,
    pub training: DiscriminatorTraining,
}

impl Default for MeanPoolConfig {
    fn default() -> Self {
        MeanPoolConfig {
            embedding_dim: 64,
            pooling: "mean".into(),
            training: DiscriminatorTraining::default(),
        }
    }
}

impl DiscriminatorConfig for MeanPoolConfig {
    const DOCS: &'static [(&'static str, &'static str)] = &[
        (
            "embedding_dim",
            "Size of each token's embedding vector, a whole number of at least 1.",
        ),
        (
            "pooling",
            "How a row's token embeddings become one vector: mean or max over its real tokens.",
        ),
    ];
    fn training(&self) -> &DiscriminatorTraining {
        &self.training
    }
    fn dimensions(&self) -> Vec<(&'static str, usize)> {
        vec![("embedding_dim", self.embedding_dim)]
    }
    fn validate(&self) -> PluginResult<()> {
        match self.pooling.as_str() {
            "mean" | "max" => Ok(()),
            other => Err(PluginError::config(format!(
                "pooling must be mean or max, got `{other}`"
            ))),
        }
    }
}

/// Embedding → pooling over the real tokens → dropout → linear → logit.
pub struct MeanPool {
    embedding: MaskedEmbedding,
    output: Linear,
    max: bool,
}

impl DiscriminatorModel for MeanPool {
    type Config = MeanPoolConfig;
    const NAME: &'static str = "mean-pool";
    const SOURCES: SourceUse = SourceUse::Never;

    fn new(vb: VarBuilder, context: &PluginContext, config: &MeanPoolConfig) -> PluginResult<Self> {
        Ok(MeanPool {
            embedding: MaskedEmbedding::new(
                vb.clone(),
                context.vocab.size as usize,
                config.embedding_dim,
            )?,
            output: linear(config.embedding_dim, 1, vb.pp("output"))?,
            max: config.pooling == "max",
        })
    }

    fn logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Tensor> {
        let padded = pass.pad(&rows.targets, 1)?; // [B, W] ids and mask
        let embedded = self.embedding.masked(&padded.ids, &padded.mask)?;
        self.head(&embedded, &padded.mask, pass)
    }

    /// Optional: the same network on relaxed rows, for Gumbel-softmax
    /// training (`algorithm: gumbel`, RelGAN). Each position is a
    /// distribution over the vocabulary, read through the embedding; the
    /// kit takes the gradient with respect to it.
    const RELAXED: bool = true;

    fn relaxed_logits(&self, rows: &RelaxedRows, pass: &mut Pass) -> PluginResult<Option<Tensor>> {
        // soft: [B, W, V], W the task's max_len; mask: [B, W].
        let embedded = self.embedding.relaxed(&rows.soft, &rows.mask)?;
        Ok(Some(self.head(&embedded, &rows.mask, pass)?))
    }
}

impl MeanPool {
    /// `[B, W, E]` embeddings (zero past each row's end) → `[B]` logits.
    fn head(&self, embedded: &Tensor, mask: &Tensor, pass: &mut Pass) -> PluginResult<Tensor> {
        let pooled = match self.max {
            true => masked_max(embedded, mask)?,
            false => masked_mean(embedded, mask)?,
        };
        Ok(self.output.forward(&pass.dropout(&pooled)?)?.squeeze(1)?)
    }
}

agon_sdk::discriminator_library! {
    /// The library: `my-lab/mean-pool-discriminator`, one discriminator `mean-pool`.
    pub struct MyLabLibrary;
    namespace: "my-lab",
    name: "mean-pool-discriminator",
    discriminators: {
        "mean-pool" => MeanPool: "Mean (or max) of the token embeddings + logistic output",
    }
}

#[cfg(test)]
mod tests;
