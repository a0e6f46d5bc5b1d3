//! The `pair-rnn` network.

use agon_sdk::PluginResult;
use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

use super::config::PairRnnConfig;
use crate::shared::{
    component::PairModel,
    dropout::Dropout,
    embedding::Embedding,
    gru::GruEncoder,
    pairs::{Padder, Pairs},
};

/// Embedding → document GRU `d` and summary GRU `s` (separate weights, each
/// read to its last real token) → `[d; s; d ⊙ s; |d − s|]` → tanh layer →
/// linear logit.
pub struct PairRnn {
    embedding: Embedding,
    document: GruEncoder,
    summary: GruEncoder,
    hidden: Linear,
    output: Linear,
}

impl PairModel for PairRnn {
    type Config = PairRnnConfig;
    const NAME: &'static str = "pair-rnn";

    fn new(vb: VarBuilder, vocab: usize, config: &PairRnnConfig) -> Result<Self> {
        let linear = |name: &str, out: usize, input: usize| -> Result<Linear> {
            Ok(Linear::new(
                vb.get((out, input), &format!("{name}.weight"))?,
                Some(vb.get(out, &format!("{name}.bias"))?),
            ))
        };
        Ok(PairRnn {
            embedding: Embedding::new(vb.clone(), vocab, config.embedding_dim)?,
            document: GruEncoder::new(
                vb.pp("document_gru"),
                config.embedding_dim,
                config.hidden_dim,
            )?,
            summary: GruEncoder::new(
                vb.pp("summary_gru"),
                config.embedding_dim,
                config.hidden_dim,
            )?,
            hidden: linear("hidden", config.mlp_dim, 4 * config.hidden_dim)?,
            output: linear("output", 1, config.mlp_dim)?,
        })
    }

    fn logits(
        &self,
        pairs: &Pairs,
        padder: &Padder,
        dropout: &mut Dropout,
    ) -> PluginResult<Tensor> {
        let source = padder.pad(&pairs.sources, 1)?;
        let target = padder.pad(&pairs.targets, 1)?;
        let d = self.document.encode(
            &self.embedding.masked(&source.ids, &source.mask)?,
            &source.mask,
        )?;
        let s = self.summary.encode(
            &self.embedding.masked(&target.ids, &target.mask)?,
            &target.mask,
        )?;
        let features = Tensor::cat(&[&d, &s, &(&d * &s)?, &(&d - &s)?.abs()?], 1)?;
        let features = dropout.apply(&features)?;
        let hidden = self.hidden.forward(&features)?.tanh()?;
        Ok(self.output.forward(&hidden)?.squeeze(1)?)
    }
}
