//! The `pair-cnn` network.

use agon_sdk::{
    kits::{DiscriminatorModel, Pass, Rows, SourceUse},
    toolkit::MaskedEmbedding,
    PluginContext, PluginResult,
};
use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

use super::{
    config::PairCnnConfig,
    conv3x3::Conv3x3,
    pair_conv::PairConv,
    pool::{max_pool_2x2, pool_mask},
};

/// Embedding → 3×3 conv over the pair image + ReLU → 2×2 max-pool → 3×3 conv
/// + ReLU → max over the real cells → linear logit.
///
/// Padding never reaches a row's score: padded cells of the image are zero,
/// each layer's output is zeroed outside the row's real (pooled) cells, and
/// both sides are padded to even lengths so the 2×2 pooling windows start at
/// the same cells whatever the batch's width. ReLU outputs are ≥ 0, so the
/// zeroed cells never win the final max (an all-padding row scores from 0s).
pub struct PairCnn {
    embedding: MaskedEmbedding,
    conv1: PairConv,
    conv2: Conv3x3,
    output: Linear,
}

impl DiscriminatorModel for PairCnn {
    type Config = PairCnnConfig;
    const NAME: &'static str = "pair-cnn";
    const SOURCES: SourceUse = SourceUse::Required;

    fn new(vb: VarBuilder, context: &PluginContext, config: &PairCnnConfig) -> PluginResult<Self> {
        let vocab = context.vocab.size as usize;
        Ok(PairCnn {
            embedding: MaskedEmbedding::new(vb.clone(), vocab, config.embedding_dim)?,
            conv1: PairConv::new(vb.pp("conv1"), config.embedding_dim, config.conv1_filters)?,
            conv2: Conv3x3::new(vb.pp("conv2"), config.conv1_filters, config.conv2_filters)?,
            output: Linear::new(
                vb.get((1, config.conv2_filters), "output.weight")?,
                Some(vb.get(1, "output.bias")?),
            ),
        })
    }

    fn logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Tensor> {
        let source = pass.pad(rows.source_rows(), 2)?;
        let target = pass.pad(&rows.targets, 2)?;
        let ex = self.embedding.masked(&source.ids, &source.mask)?;
        let ey = self.embedding.masked(&target.ids, &target.mask)?;
        let h1 = self
            .conv1
            .forward(&ex, &source.mask, &ey, &target.mask)?
            .relu()?
            .broadcast_mul(&cells(&source.mask, &target.mask)?)?;
        let pooled = max_pool_2x2(&h1)?;
        let h2 = self.conv2.forward(&pooled)?.relu()?.broadcast_mul(&cells(
            &pool_mask(&source.mask)?,
            &pool_mask(&target.mask)?,
        )?)?;
        let (rows, height, width, filters) = h2.dims4()?;
        let features = h2.reshape((rows, height * width, filters))?.max(1)?;
        let features = pass.dropout(&features)?;
        Ok(self.output.forward(&features)?.squeeze(1)?)
    }
}

/// `[B, S, T, 1]` mask of the cells whose source and target positions are
/// both real.
fn cells(source: &Tensor, target: &Tensor) -> Result<Tensor> {
    source
        .unsqueeze(2)?
        .broadcast_mul(&target.unsqueeze(1)?)?
        .unsqueeze(3)
}
