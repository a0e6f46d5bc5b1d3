//! Embedding → dropout → left-to-right LSTM → (layer norm) → dropout → a
//! logit at every position.

use std::path::Path;

use agon_sdk::{
    kits::{DiscriminatorModel, Pass, Rows, SourceUse},
    toolkit::{
        last_positions, load_tensors, pytorch_like, LayerNorm, Lstm, MaskedEmbedding, SeededInit,
    },
    PluginContext, PluginError, PluginResult,
};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{linear, Linear, VarBuilder};

use crate::config::{LstmDiscriminatorConfig, PretrainedEmbedding};

/// The network.
pub struct LstmDiscriminator {
    embedding: MaskedEmbedding,
    /// The fixed embedding of `pretrained_embedding`, if any.
    pretrained: Option<MaskedEmbedding>,
    lstm: Lstm,
    layer_norm: Option<LayerNorm>,
    output: Linear,
}

impl DiscriminatorModel for LstmDiscriminator {
    type Config = LstmDiscriminatorConfig;
    const NAME: &'static str = "lstm-discriminator";
    const SOURCES: SourceUse = SourceUse::Never;
    const PER_TOKEN: bool = true;

    fn new(vb: VarBuilder, context: &PluginContext, config: &Self::Config) -> PluginResult<Self> {
        let (e, h) = (config.embedding_dim, config.hidden_dim);
        let vocab = context.vocab.size as usize;
        let pretrained = match &config.pretrained_embedding {
            Some(spec) => Some(pretrained_table(spec, vocab, vb.device())?),
            None => None,
        };
        let fixed = pretrained.as_ref().map_or(0, |t| t.dim(1).unwrap_or(0));
        Ok(LstmDiscriminator {
            embedding: MaskedEmbedding::new(vb.clone(), vocab, e)?,
            pretrained: pretrained.map(MaskedEmbedding::frozen),
            lstm: Lstm::on_path(
                vb.pp("lstm"),
                e + fixed,
                h,
                config.compute.resolve(vb.device())?,
            )?,
            layer_norm: match config.layer_norm {
                // The toolkit's: Candle's fused layer norm passes no
                // gradient to the LSTM below it.
                true => Some(LayerNorm::new(vb.pp("layer_norm"), h, 1e-5)?),
                false => None,
            },
            output: linear(h, 1, vb.pp("output"))?,
        })
    }

    /// `[B, W]`: position `t`'s logit reads the LSTM's state after token
    /// `t`, so it sees tokens `0..=t` only, and padding after a row's last
    /// token never reaches its scores.
    fn token_logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Option<Tensor>> {
        // Unmasked: padding follows a row's last token, and the LSTM reads
        // left to right, so no padding reaches a real position's logit.
        let padded = pass.pad(&rows.targets, 1)?;
        let mut xs = self.embedding.lookup(&padded.ids)?;
        if let Some(pretrained) = &self.pretrained {
            xs = Tensor::cat(&[xs, pretrained.lookup(&padded.ids)?], 2)?;
        }
        let xs = pass.dropout(&xs)?;
        let mut hs = self.lstm.states(&xs)?;
        if let Some(norm) = &self.layer_norm {
            hs = norm.forward(&hs)?;
        }
        let hs = pass.dropout(&hs)?;
        // As one [B·W, H] matmul: a rank-3 input to Linear would be a
        // batch of B matmuls against a broadcast weight.
        let (rows, width, hidden) = hs.dims3()?;
        let logits = self.output.forward(&hs.reshape((rows * width, hidden))?)?;
        Ok(Some(logits.reshape((rows, width))?))
    }

    /// A row's logit is its last real token's: the verdict on the whole
    /// sequence.
    fn logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Tensor> {
        let per_token = self
            .token_logits(rows, pass)?
            .expect("token_logits always answers");
        Ok(last_positions(&per_token, &rows.lengths())?)
    }

    /// PyTorch's LSTM initialisation, U(−1/√H, 1/√H), for the LSTM's
    /// weights and biases (candle names them `weight_ih_l0`, …); layer
    /// norm's scale 1 and shift 0; the kit's defaults otherwise.
    fn init(name: &str, dims: &[usize]) -> SeededInit {
        let last = name.rsplit('.').next().unwrap_or(name);
        if name.contains("layer_norm.") {
            return SeededInit::Const(if last == "weight" { 1.0 } else { 0.0 });
        }
        if name.contains("lstm.") && (last.starts_with("weight_") || last.starts_with("bias_")) {
            let hidden = (dims[0] / 4).max(1);
            return SeededInit::Uniform(1.0 / (hidden as f32).sqrt());
        }
        pytorch_like(name, dims)
    }
}

/// The `[vocab, dim]` table of `spec`, checked against the vocabulary.
fn pretrained_table(
    spec: &PretrainedEmbedding,
    vocab: usize,
    device: &Device,
) -> PluginResult<Tensor> {
    let mut tensors = load_tensors(Path::new(&spec.file), device)?;
    let table = tensors.remove(&spec.tensor).ok_or_else(|| {
        let mut names: Vec<&String> = tensors.keys().collect();
        names.sort();
        PluginError::config(format!(
            "pretrained_embedding: {} has no tensor `{}` (it has: {names:?}); set pretrained_embedding.tensor",
            spec.file, spec.tensor
        ))
    })?;
    match table.dims() {
        [rows, dim] if *rows == vocab && *dim > 0 => Ok(table.to_dtype(DType::F32)?),
        dims => Err(PluginError::config(format!(
            "pretrained_embedding: `{}` in {} has shape {dims:?}, but this task's vocabulary has {vocab} ids; it must be [{vocab}, dim] (built on the same vocabulary)",
            spec.tensor, spec.file
        ))),
    }
}
