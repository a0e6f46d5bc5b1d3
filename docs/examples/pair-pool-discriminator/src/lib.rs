//! `my-lab/pair-pool-discriminator`: a conditional discriminator on the
//! SDK's discriminator kit. It judges a (source, target) pair: is this
//! target a real answer to this source? Both sides are embedded and
//! mean-pooled over their real tokens; a hidden layer sees the two together.

use agon_sdk::kits::{
    DiscriminatorConfig, DiscriminatorModel, DiscriminatorTraining, Pass, RelaxedRows, Rows,
    SourceUse,
};
use agon_sdk::toolkit::{masked_mean, MaskedEmbedding};
use agon_sdk::{PluginContext, PluginError, PluginResult};
use candle_core::{Module, Tensor};
use candle_nn::{linear, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

/// The model's keys, plus the kit's `training:` block (dropout, Adam, clipping).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PairPoolConfig {
    pub embedding_dim: usize,
    pub hidden_dim: usize,
    pub training: DiscriminatorTraining,
}

impl Default for PairPoolConfig {
    fn default() -> Self {
        PairPoolConfig {
            embedding_dim: 64,
            hidden_dim: 64,
            training: DiscriminatorTraining::default(),
        }
    }
}

impl DiscriminatorConfig for PairPoolConfig {
    const DOCS: &'static [(&'static str, &'static str)] = &[
        (
            "embedding_dim",
            "Size of each source and target token's embedding, a whole number of at least 1.",
        ),
        (
            "hidden_dim",
            "Size of the hidden layer that reads the pooled source and target together, at least 1.",
        ),
    ];
    fn training(&self) -> &DiscriminatorTraining {
        &self.training
    }
    fn dimensions(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("embedding_dim", self.embedding_dim),
            ("hidden_dim", self.hidden_dim),
        ]
    }
}

/// Source and target each embedded and mean-pooled → [source; target] →
/// linear → ReLU → dropout → linear → logit.
pub struct PairPool {
    source_embedding: MaskedEmbedding,
    target_embedding: MaskedEmbedding,
    hidden: Linear,
    output: Linear,
}

impl DiscriminatorModel for PairPool {
    type Config = PairPoolConfig;
    const NAME: &'static str = "pair-pool";
    /// Every row comes with its source; the kit declares `sources-required`
    /// and refuses rows without.
    const SOURCES: SourceUse = SourceUse::Required;

    fn new(vb: VarBuilder, context: &PluginContext, config: &PairPoolConfig) -> PluginResult<Self> {
        let (vocab, e, h) = (
            context.vocab.size as usize,
            config.embedding_dim,
            config.hidden_dim,
        );
        Ok(PairPool {
            source_embedding: MaskedEmbedding::new(vb.pp("source"), vocab, e)?,
            target_embedding: MaskedEmbedding::new(vb.pp("target"), vocab, e)?,
            hidden: linear(2 * e, h, vb.pp("hidden"))?,
            output: linear(h, 1, vb.pp("output"))?,
        })
    }

    fn logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Tensor> {
        let targets = pass.pad(&rows.targets, 1)?; // [B, W] ids and mask
        let embedded = self.target_embedding.masked(&targets.ids, &targets.mask)?;
        let target = masked_mean(&embedded, &targets.mask)?;
        self.head(rows.sources.as_deref(), &target, pass)
    }

    /// Optional: the same network with relaxed targets, for Gumbel-softmax
    /// training (`algorithm: gumbel`). Sources stay ids: only the
    /// generator's side is relaxed.
    const RELAXED: bool = true;

    fn relaxed_logits(&self, rows: &RelaxedRows, pass: &mut Pass) -> PluginResult<Option<Tensor>> {
        let embedded = self.target_embedding.relaxed(&rows.soft, &rows.mask)?;
        let target = masked_mean(&embedded, &rows.mask)?;
        Ok(Some(self.head(rows.sources.as_deref(), &target, pass)?))
    }
}

impl PairPool {
    /// The pooled sources beside `target` (`[B, E]`) → `[B]` logits.
    fn head(
        &self,
        sources: Option<&[Vec<u32>]>,
        target: &Tensor,
        pass: &mut Pass,
    ) -> PluginResult<Tensor> {
        let sources = sources.ok_or_else(|| {
            PluginError::input(format!("{} needs a source for every row", Self::NAME))
        })?;
        let padded = pass.pad(sources, 1)?;
        let embedded = self.source_embedding.masked(&padded.ids, &padded.mask)?;
        let source = masked_mean(&embedded, &padded.mask)?;
        let hidden = self
            .hidden
            .forward(&Tensor::cat(&[&source, target], 1)?)?
            .relu()?;
        Ok(self.output.forward(&pass.dropout(&hidden)?)?.squeeze(1)?)
    }
}

agon_sdk::discriminator_library! {
    /// The library: `my-lab/pair-pool-discriminator`, one conditional discriminator `pair-pool`.
    pub struct MyLabPairDiscriminators;
    namespace: "my-lab",
    name: "pair-pool-discriminator",
    discriminators: {
        "pair-pool" => PairPool: "Mean-pooled source and target embeddings, a hidden layer over both, logistic output",
    }
}

#[cfg(test)]
mod tests;
