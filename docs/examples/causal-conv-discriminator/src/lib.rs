//! `my-lab/causal-conv-discriminator`: a per-token discriminator on the
//! SDK's discriminator kit. It gives a logit at every position, and
//! position `t` reads only tokens `t + 1 − kernel_width ..= t`: a causal
//! convolution. The host's `credit: dense` (ScratchGAN) rewards each
//! generated token with its position's score, without rollouts.

use agon_sdk::kits::{
    DiscriminatorConfig, DiscriminatorModel, DiscriminatorTraining, Pass, RelaxedRows, Rows,
    SourceUse,
};
use agon_sdk::toolkit::{last_positions, windows, MaskedEmbedding};
use agon_sdk::{PluginContext, PluginResult};
use candle_core::{Module, Tensor};
use candle_nn::{linear, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

/// The model's keys, plus the kit's `training:` block (dropout, Adam, clipping).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CausalConvConfig {
    pub embedding_dim: usize,
    pub kernel_width: usize,
    pub hidden_dim: usize,
    pub training: DiscriminatorTraining,
}

impl Default for CausalConvConfig {
    fn default() -> Self {
        CausalConvConfig {
            embedding_dim: 64,
            kernel_width: 3,
            hidden_dim: 64,
            training: DiscriminatorTraining::default(),
        }
    }
}

impl DiscriminatorConfig for CausalConvConfig {
    const DOCS: &'static [(&'static str, &'static str)] = &[
        (
            "embedding_dim",
            "Size of each token's embedding vector, a whole number of at least 1.",
        ),
        (
            "kernel_width",
            "Tokens each position reads: itself and the kernel_width - 1 before it, at least 1.",
        ),
        (
            "hidden_dim",
            "Filters of the convolution, the features each position's logit reads, at least 1.",
        ),
    ];
    fn training(&self) -> &DiscriminatorTraining {
        &self.training
    }
    fn dimensions(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("embedding_dim", self.embedding_dim),
            ("kernel_width", self.kernel_width),
            ("hidden_dim", self.hidden_dim),
        ]
    }
}

/// Embedding → causal convolution → ReLU → dropout → a logit per position.
pub struct CausalConv {
    embedding: MaskedEmbedding,
    /// The convolution as one matmul over windows: `[kernel_width · E] → [H]`.
    convolution: Linear,
    output: Linear,
    kernel_width: usize,
}

impl DiscriminatorModel for CausalConv {
    type Config = CausalConvConfig;
    const NAME: &'static str = "causal-conv";
    const SOURCES: SourceUse = SourceUse::Never;
    /// Scores every position: the kit trains on every position (each real
    /// token labelled 1, each generated one 0), answers `token_logits` and
    /// declares the `token-logits` capability.
    const PER_TOKEN: bool = true;

    fn new(
        vb: VarBuilder,
        context: &PluginContext,
        config: &CausalConvConfig,
    ) -> PluginResult<Self> {
        let (e, k) = (config.embedding_dim, config.kernel_width);
        Ok(CausalConv {
            embedding: MaskedEmbedding::new(vb.clone(), context.vocab.size as usize, e)?,
            convolution: linear(k * e, config.hidden_dim, vb.pp("convolution"))?,
            output: linear(config.hidden_dim, 1, vb.pp("output"))?,
            kernel_width: k,
        })
    }

    /// `[B, W]`: position `t`'s logit, the verdict on the row's first
    /// `t + 1` tokens (the contract checks that later tokens never move it).
    fn token_logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Option<Tensor>> {
        Ok(Some(self.per_position(rows, pass)?))
    }

    /// A row's logit is its last token's: the verdict on the whole row.
    /// Policy-gradient rewards and `agon eval` use it.
    fn logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Tensor> {
        let per_token = self.per_position(rows, pass)?;
        Ok(last_positions(&per_token, &rows.lengths())?)
    }

    /// Optional: relaxed rows (Gumbel-softmax training, `algorithm:
    /// gumbel`), read through the same embedding and network.
    const RELAXED: bool = true;

    fn relaxed_logits(&self, rows: &RelaxedRows, pass: &mut Pass) -> PluginResult<Option<Tensor>> {
        let embedded = self.embedding.relaxed(&rows.soft, &rows.mask)?;
        let per_token = self.head(&embedded, pass)?;
        Ok(Some(last_positions(&per_token, &rows.lengths)?))
    }
}

impl CausalConv {
    /// `[B, W]` logits of rows of ids.
    fn per_position(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Tensor> {
        let padded = pass.pad(&rows.targets, 1)?; // [B, W] ids and mask
        let embedded = self.embedding.masked(&padded.ids, &padded.mask)?;
        self.head(&embedded, pass)
    }

    /// `[B, W, E]` embeddings → `[B, W]` logits. Left-padding with
    /// `kernel_width − 1` zero positions makes window `t` end at token `t`.
    /// (`toolkit::windows` + a matmul rather than Candle's `conv1d`, whose
    /// input gradient in Candle 0.11 is wrong for batches of several rows:
    /// the relaxed path needs that gradient.)
    fn head(&self, embedded: &Tensor, pass: &mut Pass) -> PluginResult<Tensor> {
        let (rows, width, _) = embedded.dims3()?;
        let shifted = embedded.pad_with_zeros(1, self.kernel_width - 1, 0)?;
        let taps = windows(&shifted, self.kernel_width)?; // [B·W, k·E]
        let features = self.convolution.forward(&taps)?.relu()?;
        let logits = self.output.forward(&pass.dropout(&features)?)?; // [B·W, 1]
        Ok(logits.reshape((rows, width))?)
    }
}

agon_sdk::discriminator_library! {
    /// The library: `my-lab/causal-conv-discriminator`, one per-token discriminator `causal-conv`.
    pub struct MyLabPerTokenDiscriminators;
    namespace: "my-lab",
    name: "causal-conv-discriminator",
    discriminators: {
        "causal-conv" => CausalConv: "Causal convolution over the token embeddings, a logit at every position (per-token scores)",
    }
}

#[cfg(test)]
mod tests;
