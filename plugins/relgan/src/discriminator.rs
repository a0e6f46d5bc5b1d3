//! RelGAN's discriminator: embedding → representations → convolutions
//! (shared by every representation) → max over time → highway → dropout →
//! linear → linear, one logit per representation, averaged per row.

use agon_sdk::{
    kits::{DiscriminatorModel, Pass, RelaxedRows, Rows, SourceUse},
    toolkit::{bias_add, linear, max_over_time, windows, Linear, MaskedEmbedding},
    PluginContext, PluginResult,
};
use candle_core::{Module, Tensor};
use candle_nn::{ops::sigmoid, VarBuilder};

use crate::RelganDiscriminatorConfig;

/// One convolution width's filters, as the matrix that multiplies unfolded
/// windows. Candle's `conv1d` would compute the same forward, but its
/// input gradient in Candle 0.11.1 is wrong once a batch has more than one
/// row and the convolution more than one filter (checked against finite
/// differences while writing this plugin), and the relaxed path needs
/// exactly that gradient.
struct Convolution {
    /// `[filters, width · d]`: window layout tap-major, then channel.
    weight: Tensor,
    bias: Tensor,
    width: usize,
}

impl Convolution {
    fn new(vb: VarBuilder, width: usize, channels: usize, filters: usize) -> PluginResult<Self> {
        Ok(Convolution {
            weight: vb.get((filters, width * channels), "weight")?,
            bias: vb.get(filters, "bias")?,
            width,
        })
    }

    /// `[N, n]`: the ReLU of every window of `xs` (`[N, W, channels]`),
    /// max-pooled over the windows.
    fn pooled(&self, xs: &Tensor) -> PluginResult<Tensor> {
        let (rows, width, _) = xs.dims3()?;
        let positions = width + 1 - self.width;
        // The toolkit's bias add: `broadcast_add`'s bits, its bias gradient
        // one pass over the windows instead of Candle's general reduction.
        let activations = bias_add(
            &windows(xs, self.width)?.matmul(&self.weight.t()?)?,
            &self.bias,
        )?
        .relu()?
        .reshape((rows, positions, ()))?;
        Ok(max_over_time(&activations)?)
    }
}

/// The network.
pub struct RelganDiscriminator {
    embedding: MaskedEmbedding,
    convolutions: Vec<Convolution>,
    highway: Linear,
    hidden: Linear,
    output: Linear,
    representations: usize,
    /// Every row is read `width` positions wide (the task's longest row,
    /// at least the widest filter), padding embedded as zeros: RelGAN reads
    /// fixed-length rows, and a row's score must not depend on its batch.
    width: usize,
}

impl RelganDiscriminator {
    /// `[B]` logits of `[B, width, E]` embedded rows.
    fn score(&self, embedded: &Tensor, pass: &mut Pass) -> PluginResult<Tensor> {
        let (rows, width, e) = embedded.dims3()?;
        let (r, d) = (self.representations, e / self.representations);
        // Each representation is a sequence of d channels: [B·R, W, d].
        let xs = embedded
            .reshape((rows, width, r, d))?
            .permute((0, 2, 1, 3))?
            .contiguous()?
            .reshape((rows * r, width, d))?;
        let pooled = self
            .convolutions
            .iter()
            .map(|conv| conv.pooled(&xs))
            .collect::<PluginResult<Vec<_>>>()?;
        let features = Tensor::cat(&pooled, 1)?;
        let gate_input = self.highway.forward(&features)?;
        let gate = sigmoid(&gate_input)?;
        let features = ((&gate * gate_input.relu()?)? + ((1.0 - &gate)? * &features)?)?;
        let hidden = self.hidden.forward(&pass.dropout(&features)?)?;
        let logits = self.output.forward(&hidden)?.reshape((rows, r))?;
        Ok(logits.mean(1)?)
    }

    /// `xs` (`[B, W, …]`) padded with zeros to a multiple of `self.width`
    /// positions, as [`Pass::pad`] pads ids.
    fn widened(&self, xs: &Tensor) -> PluginResult<Tensor> {
        let width = xs.dim(1)?;
        let target = width.div_ceil(self.width).max(1) * self.width;
        Ok(xs.pad_with_zeros(1, 0, target - width)?)
    }
}

impl DiscriminatorModel for RelganDiscriminator {
    type Config = RelganDiscriminatorConfig;
    const NAME: &'static str = "relgan-discriminator";
    const SOURCES: SourceUse = SourceUse::Never;
    const RELAXED: bool = true;

    fn new(vb: VarBuilder, context: &PluginContext, config: &Self::Config) -> PluginResult<Self> {
        let d = config.embedding_dim / config.representations;
        let n = config.filters_per_size;
        let convolutions = config
            .filter_sizes
            .iter()
            .enumerate()
            .map(|(i, &f)| Convolution::new(vb.pp(format!("conv{i}")), f, d, n))
            .collect::<PluginResult<Vec<_>>>()?;
        let features = n * config.filter_sizes.len();
        let widest = config.filter_sizes.iter().copied().max().unwrap_or(1);
        Ok(RelganDiscriminator {
            embedding: MaskedEmbedding::new(
                vb.clone(),
                context.vocab.size as usize,
                config.embedding_dim,
            )?,
            convolutions,
            highway: linear(features, features, vb.pp("highway"))?,
            hidden: linear(features, config.hidden_dim, vb.pp("hidden"))?,
            output: linear(config.hidden_dim, 1, vb.pp("output"))?,
            representations: config.representations,
            width: (context.max_len as usize).max(widest),
        })
    }

    fn logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Tensor> {
        // Rounded up to a multiple of `width`: exactly `width` unless a row
        // is longer than the task's longest.
        let padded = pass.pad(&rows.targets, self.width)?;
        self.score(&self.embedding.masked(&padded.ids, &padded.mask)?, pass)
    }

    fn relaxed_logits(&self, rows: &RelaxedRows, pass: &mut Pass) -> PluginResult<Option<Tensor>> {
        let embedded = self.embedding.relaxed(&rows.soft, &rows.mask)?;
        Ok(Some(self.score(&self.widened(&embedded)?, pass)?))
    }
}
