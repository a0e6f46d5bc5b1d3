//! Embedding → GRU (optionally both ways) → dropout → logistic output.

use agon_sdk::{
    kits::{DiscriminatorModel, Pass, RelaxedRows, Rows, SourceUse},
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

    /// Dropout, then the logit of each row's `[B, directions · H]` features.
    fn head(&self, features: &Tensor, pass: &mut Pass) -> PluginResult<Tensor> {
        Ok(self.output.forward(&pass.dropout(features)?)?.squeeze(1)?)
    }
}

/// `xs` (`[B, W, E]`) with each row's first `lengths[b]` positions in
/// reverse order (padding stays where it is).
fn reversed(xs: &Tensor, lengths: &[usize]) -> PluginResult<Tensor> {
    let (rows, width, e) = xs.dims3()?;
    let index: Vec<u32> = (0..rows)
        .flat_map(|b| {
            let len = lengths[b];
            (0..width).map(move |t| (b * width + if t < len { len - 1 - t } else { t }) as u32)
        })
        .collect();
    let index = Tensor::from_vec(index, rows * width, xs.device())?;
    Ok(xs
        .reshape((rows * width, e))?
        .index_select(&index, 0)?
        .reshape((rows, width, e))?)
}

impl DiscriminatorModel for GruDiscriminator {
    type Config = GruDiscriminatorConfig;
    const NAME: &'static str = "gru-discriminator";
    const SOURCES: SourceUse = SourceUse::Never;
    const RELAXED: bool = true;

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
        self.head(&features, pass)
    }

    fn relaxed_logits(&self, rows: &RelaxedRows, pass: &mut Pass) -> PluginResult<Option<Tensor>> {
        let xs = self.embedding.relaxed(&rows.soft, &rows.mask)?;
        let mut features = self.forward.encode(&xs, &rows.mask)?;
        if let Some(backward) = &self.backward {
            let back = backward.encode(&reversed(&xs, &rows.lengths)?, &rows.mask)?;
            features = Tensor::cat(&[features, back], 1)?;
        }
        Ok(Some(self.head(&features, pass)?))
    }
}
