//! Embedding → GRU (optionally both ways) → dropout → logistic output.

use agon_sdk::{
    kits::{DiscriminatorModel, Pass, Rows, SourceUse},
    toolkit::{MaskedEmbedding, MaskedGru},
    PluginContext, PluginResult,
};
use candle_core::{Module, Tensor};
use candle_nn::{linear, Linear, VarBuilder};

use crate::config::GruDiscriminatorConfig;

/// The network.
pub struct GruDiscriminator {
    embedding: MaskedEmbedding,
    forward: MaskedGru,
    backward: Option<MaskedGru>,
    output: Linear,
}

impl GruDiscriminator {
    /// Final state `[B, H]` of `gru` over `rows`.
    fn encode(&self, gru: &MaskedGru, rows: &[Vec<u32>], pass: &Pass) -> PluginResult<Tensor> {
        let padded = pass.pad(rows, 1)?;
        let xs = self.embedding.masked(&padded.ids, &padded.mask)?;
        Ok(gru.encode(&xs, &padded.mask)?)
    }
}

impl DiscriminatorModel for GruDiscriminator {
    type Config = GruDiscriminatorConfig;
    const NAME: &'static str = "gru-discriminator";
    const SOURCES: SourceUse = SourceUse::Never;

    fn new(vb: VarBuilder, context: &PluginContext, config: &Self::Config) -> PluginResult<Self> {
        let (e, h) = (config.embedding_dim, config.hidden_dim);
        let directions = if config.bidirectional { 2 } else { 1 };
        let path = config.compute.resolve(vb.device())?;
        Ok(GruDiscriminator {
            embedding: MaskedEmbedding::new(vb.clone(), context.vocab.size as usize, e)?,
            forward: MaskedGru::on_path(vb.pp("gru"), e, h, path)?,
            backward: match config.bidirectional {
                true => Some(MaskedGru::on_path(vb.pp("gru_backward"), e, h, path)?),
                false => None,
            },
            output: linear(directions * h, 1, vb.pp("output"))?,
        })
    }

    fn logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Tensor> {
        let mut features = self.encode(&self.forward, &rows.targets, pass)?;
        if let Some(backward) = &self.backward {
            let reversed: Vec<Vec<u32>> = rows
                .targets
                .iter()
                .map(|row| row.iter().rev().copied().collect())
                .collect();
            features = Tensor::cat(&[features, self.encode(backward, &reversed, pass)?], 1)?;
        }
        let features = pass.dropout(&features)?;
        Ok(self.output.forward(&features)?.squeeze(1)?)
    }
}
