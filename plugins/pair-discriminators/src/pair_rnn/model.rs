//! The `pair-rnn` network.

use agon_sdk::{
    kits::{DiscriminatorModel, Pass, Rows, SourceUse},
    toolkit::{MaskedEmbedding, MaskedGru},
    PluginContext, PluginResult,
};
use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

use super::config::PairRnnConfig;

/// Embedding → document GRU `d` and summary GRU `s` (separate weights, each
/// read to its last real token) → `[d; s; d ⊙ s; |d − s|]` → tanh layer →
/// linear logit.
pub struct PairRnn {
    embedding: MaskedEmbedding,
    document: MaskedGru,
    summary: MaskedGru,
    hidden: Linear,
    output: Linear,
}

impl DiscriminatorModel for PairRnn {
    type Config = PairRnnConfig;
    const NAME: &'static str = "pair-rnn";
    const SOURCES: SourceUse = SourceUse::Required;

    fn new(vb: VarBuilder, context: &PluginContext, config: &PairRnnConfig) -> PluginResult<Self> {
        let vocab = context.vocab.size as usize;
        let linear = |name: &str, out: usize, input: usize| -> Result<Linear> {
            Ok(Linear::new(
                vb.get((out, input), &format!("{name}.weight"))?,
                Some(vb.get(out, &format!("{name}.bias"))?),
            ))
        };
        Ok(PairRnn {
            embedding: MaskedEmbedding::new(vb.clone(), vocab, config.embedding_dim)?,
            document: MaskedGru::new(
                vb.pp("document_gru"),
                config.embedding_dim,
                config.hidden_dim,
            )?,
            summary: MaskedGru::new(
                vb.pp("summary_gru"),
                config.embedding_dim,
                config.hidden_dim,
            )?,
            hidden: linear("hidden", config.mlp_dim, 4 * config.hidden_dim)?,
            output: linear("output", 1, config.mlp_dim)?,
        })
    }

    fn logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Tensor> {
        let source = pass.pad(rows.source_rows(), 1)?;
        let target = pass.pad(&rows.targets, 1)?;
        let d = self.document.encode(
            &self.embedding.masked(&source.ids, &source.mask)?,
            &source.mask,
        )?;
        let s = self.summary.encode(
            &self.embedding.masked(&target.ids, &target.mask)?,
            &target.mask,
        )?;
        let features = Tensor::cat(&[&d, &s, &(&d * &s)?, &(&d - &s)?.abs()?], 1)?;
        let features = pass.dropout(&features)?;
        let hidden = self.hidden.forward(&features)?.tanh()?;
        Ok(self.output.forward(&hidden)?.squeeze(1)?)
    }
}
