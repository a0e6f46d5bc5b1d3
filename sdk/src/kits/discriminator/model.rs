//! What a discriminator author writes: a config and a model that gives one
//! logit per row.

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use serde::{de::DeserializeOwned, Serialize};

use super::{rows::SourceUse, training::DiscriminatorTraining, Rows};
use crate::{
    context::PluginContext,
    error::{PluginError, PluginResult},
    toolkit::{pytorch_like, Dropout, Padded, Padder, SeededInit},
};

/// A kit model's config: serde with defaults (missing keys take
/// `Default`'s values; unknown keys are refused with `deny_unknown_fields`),
/// carrying the shared [`DiscriminatorTraining`] block under `training`.
pub trait DiscriminatorConfig:
    Serialize + DeserializeOwned + Default + Clone + Send + 'static
{
    /// One line per key of the model's own part of the config (the
    /// `training` block is documented by the kit), for `agon plugins show`.
    const DOCS: &'static [(&'static str, &'static str)];

    /// The `training:` block.
    fn training(&self) -> &DiscriminatorTraining;

    /// Sizes that must be at least 1, by key (checked by the kit).
    fn dimensions(&self) -> Vec<(&'static str, usize)> {
        Vec::new()
    }

    /// Source tokens read per row (the first ones); `None` reads them all.
    /// Only consulted for models that read sources.
    fn max_source_len(&self) -> Option<usize> {
        None
    }

    /// Further checks of the model's own keys.
    fn validate(&self) -> PluginResult<()> {
        Ok(())
    }
}

/// A discriminator network: everything a lab writes for a new architecture.
///
/// ```
/// use agon_sdk::kits::{DiscriminatorConfig, DiscriminatorModel, DiscriminatorTraining, Pass, Rows, SourceUse};
/// use agon_sdk::toolkit::{masked_mean, MaskedEmbedding};
/// use agon_sdk::{PluginContext, PluginResult};
/// use candle_core::{Module, Tensor};
/// use candle_nn::{linear, Linear, VarBuilder};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// #[serde(default, deny_unknown_fields)]
/// pub struct MeanPoolConfig {
///     pub embedding_dim: usize,
///     pub training: DiscriminatorTraining,
/// }
///
/// impl Default for MeanPoolConfig {
///     fn default() -> Self {
///         MeanPoolConfig { embedding_dim: 64, training: DiscriminatorTraining::default() }
///     }
/// }
///
/// impl DiscriminatorConfig for MeanPoolConfig {
///     const DOCS: &'static [(&'static str, &'static str)] =
///         &[("embedding_dim", "Size of each token's embedding, at least 1.")];
///     fn training(&self) -> &DiscriminatorTraining { &self.training }
///     fn dimensions(&self) -> Vec<(&'static str, usize)> { vec![("embedding_dim", self.embedding_dim)] }
/// }
///
/// /// Mean of the token embeddings → dropout → linear → logit.
/// pub struct MeanPool { embedding: MaskedEmbedding, output: Linear }
///
/// impl DiscriminatorModel for MeanPool {
///     type Config = MeanPoolConfig;
///     const NAME: &'static str = "mean-pool";
///     const SOURCES: SourceUse = SourceUse::Never;
///
///     fn new(vb: VarBuilder, context: &PluginContext, config: &MeanPoolConfig) -> PluginResult<Self> {
///         Ok(MeanPool {
///             embedding: MaskedEmbedding::new(vb.clone(), context.vocab.size as usize, config.embedding_dim)?,
///             output: linear(config.embedding_dim, 1, vb.pp("output"))?,
///         })
///     }
///
///     fn logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Tensor> {
///         let padded = pass.pad(&rows.targets, 1)?;
///         let features = masked_mean(&self.embedding.masked(&padded.ids, &padded.mask)?, &padded.mask)?;
///         Ok(self.output.forward(&pass.dropout(&features)?)?.squeeze(1)?)
///     }
/// }
/// ```
pub trait DiscriminatorModel: Sized + Send + 'static {
    /// The model's config (with the `training:` block).
    type Config: DiscriminatorConfig;
    /// The component's name, in messages and as the checkpoint file's stem
    /// (`{NAME}.safetensors`).
    const NAME: &'static str;
    /// Whether the model reads sources; the kit refuses batches that do not
    /// match before the model sees them.
    const SOURCES: SourceUse;

    /// Builds the network's variables through `vb`. Their initial values
    /// are drawn again, seeded, by [`DiscriminatorModel::init`] afterwards,
    /// so what Candle fills them with does not matter.
    fn new(vb: VarBuilder, context: &PluginContext, config: &Self::Config) -> PluginResult<Self>;

    /// Whether the model scores every position ([`Self::token_logits`]).
    /// Such a model trains on every position (each real token labelled 1,
    /// each generated one 0, ScratchGAN's loss), and its library declares
    /// the `token-logits` capability, which the host's dense credit needs.
    const PER_TOKEN: bool = false;

    /// `[B]` logits of `P(real)`, one per row of `rows`. Apply
    /// [`Pass::dropout`] where the architecture drops out: it is the
    /// identity when the kit scores, and seeded per step when it trains.
    /// A row's logit must not depend on the other rows (nor on how wide
    /// the batch is padded): the kit scores in chunks.
    fn logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Tensor>;

    /// `[B, W]` logits, one per position of each row (`W` at least the
    /// longest row; positions past a row's length are ignored), for a model
    /// with [`Self::PER_TOKEN`]: position `t`'s logit is the verdict on the
    /// row's first `t + 1` tokens. `None` (the default) for a model that
    /// scores whole sequences only.
    fn token_logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Option<Tensor>> {
        let _ = (rows, pass);
        Ok(None)
    }

    /// Whether the model reads relaxed rows ([`Self::relaxed_logits`]).
    /// Its library then declares the `relaxed-rows` capability, which the
    /// host's `algorithm: gumbel` needs, and the kit answers the boundary's
    /// relaxed methods with it.
    const RELAXED: bool = false;

    /// `[B]` logits of relaxed rows (Gumbel-softmax training, RelGAN): as
    /// [`Self::logits`], but each position of `rows.soft` is a distribution
    /// over the vocabulary instead of an id — a generated row's
    /// `softmax(β(logits + g))`, a real row's one-hot. Read it through the
    /// embedding ([`crate::toolkit::MaskedEmbedding::relaxed`] where
    /// `logits` uses `masked`) and keep the rest of the network; on one-hot
    /// rows the result must equal `logits` on their ids. The kit takes
    /// gradients through it to the input. `None` (the default): the model
    /// reads ids only. Implement it together with [`Self::RELAXED`].
    fn relaxed_logits(&self, rows: &RelaxedRows, pass: &mut Pass) -> PluginResult<Option<Tensor>> {
        let _ = (rows, pass);
        Ok(None)
    }

    /// The seeded initialisation of variable `name` (shape `dims`);
    /// PyTorch's defaults by variable name unless overridden.
    fn init(name: &str, dims: &[usize]) -> SeededInit {
        pytorch_like(name, dims)
    }
}

/// Rows given as one distribution over the vocabulary per position, for
/// [`DiscriminatorModel::relaxed_logits`].
pub struct RelaxedRows {
    /// `[B, W, V]`: position `t` of row `b` is a distribution over the
    /// vocabulary; zero past the row's length.
    pub soft: Tensor,
    /// `[B, W]` `f32`: 1 at a row's positions, 0 past its length.
    pub mask: Tensor,
    /// Each row's length.
    pub lengths: Vec<usize>,
    /// `Some` exactly when the model's [`SourceUse`] is `Required`.
    pub sources: Option<Vec<Vec<u32>>>,
}

impl RelaxedRows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }
}

/// One forward pass: how to pad rows on the model's device, and the
/// dropout of this pass (seeded when training, the identity when scoring).
pub struct Pass {
    padder: Padder,
    dropout: Dropout,
}

impl Pass {
    pub(super) fn new(padder: Padder, dropout: Dropout) -> Self {
        Pass { padder, dropout }
    }

    /// `rows` as `[B, W]` ids and mask, `W` the longest row rounded up to a
    /// multiple of `multiple` (a convolution's widest filter, say).
    pub fn pad(&self, rows: &[Vec<u32>], multiple: usize) -> PluginResult<Padded> {
        self.padder.pad(rows, multiple)
    }

    /// `xs` with this pass's dropout applied.
    pub fn dropout(&mut self, xs: &Tensor) -> PluginResult<Tensor> {
        self.dropout.apply(xs)
    }

    /// The device the model's variables live on.
    pub fn device(&self) -> &Device {
        &self.padder.device
    }

    /// The id that pads rows.
    pub fn pad_id(&self) -> u32 {
        self.padder.pad
    }
}

/// The kit's checks of a config: its sizes, its training block, its own.
pub(super) fn validate<C: DiscriminatorConfig>(config: &C) -> PluginResult<()> {
    for (name, value) in config.dimensions() {
        if value == 0 {
            return Err(PluginError::config(format!(
                "{name} must be at least 1, got 0"
            )));
        }
    }
    if config.max_source_len() == Some(0) {
        return Err(PluginError::config("max_source_len must be at least 1"));
    }
    config.training().validate()?;
    config.validate()
}
