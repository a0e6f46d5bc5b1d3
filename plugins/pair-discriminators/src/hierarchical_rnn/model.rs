//! The `hierarchical-rnn` network.

use agon_sdk::PluginResult;
use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

use super::{config::HierarchicalRnnConfig, turns::Dialogues};
use crate::shared::{
    component::PairModel,
    dropout::Dropout,
    embedding::Embedding,
    gru::GruEncoder,
    pairs::{Padder, Pairs},
};

/// Embedding → utterance GRU over each context turn and the response (one
/// batched pass, each read to its last real token) → turn GRU over
/// `[turn vectors…, response vector]` → final state → linear logit.
pub struct HierarchicalRnn {
    embedding: Embedding,
    utterance: GruEncoder,
    turn: GruEncoder,
    output: Linear,
    separator: Option<u32>,
}

impl PairModel for HierarchicalRnn {
    type Config = HierarchicalRnnConfig;
    const NAME: &'static str = "hierarchical-rnn";

    fn new(vb: VarBuilder, vocab: usize, config: &HierarchicalRnnConfig) -> Result<Self> {
        Ok(HierarchicalRnn {
            embedding: Embedding::new(vb.clone(), vocab, config.embedding_dim)?,
            utterance: GruEncoder::new(
                vb.pp("utterance_gru"),
                config.embedding_dim,
                config.utterance_hidden_dim,
            )?,
            turn: GruEncoder::new(
                vb.pp("turn_gru"),
                config.utterance_hidden_dim,
                config.turn_hidden_dim,
            )?,
            output: Linear::new(
                vb.get((1, config.turn_hidden_dim), "output.weight")?,
                Some(vb.get(1, "output.bias")?),
            ),
            separator: config.turn_separator,
        })
    }

    fn logits(
        &self,
        pairs: &Pairs,
        padder: &Padder,
        dropout: &mut Dropout,
    ) -> PluginResult<Tensor> {
        let dialogues = Dialogues::new(pairs, self.separator);
        let utterances = padder.pad(&dialogues.utterances, 1)?;
        let encoded = self.utterance.encode(
            &self.embedding.masked(&utterances.ids, &utterances.mask)?,
            &utterances.mask,
        )?;
        // A zero row for the padding turns (they are masked anyway).
        let hidden = encoded.dim(1)?;
        let encoded = Tensor::cat(
            &[
                encoded,
                Tensor::zeros((1, hidden), DType::F32, &padder.device)?,
            ],
            0,
        )?;
        let (rows, steps) = (pairs.rows(), dialogues.steps);
        let index = Tensor::from_vec(dialogues.index, rows * steps, &padder.device)?;
        let sequence = encoded
            .index_select(&index, 0)?
            .reshape((rows, steps, hidden))?;
        let mask = Tensor::from_vec(dialogues.mask, (rows, steps), &padder.device)?;
        let state = dropout.apply(&self.turn.encode(&sequence, &mask)?)?;
        Ok(self.output.forward(&state)?.squeeze(1)?)
    }
}
