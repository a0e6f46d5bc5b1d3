//! The `hierarchical-rnn` network.

use agon_sdk::{
    kits::{DiscriminatorModel, Pass, Rows, SourceUse},
    toolkit::{MaskedEmbedding, MaskedGru},
    PluginContext, PluginResult,
};
use candle_core::{DType, Module, Tensor};
use candle_nn::{Linear, VarBuilder};

use super::{config::HierarchicalRnnConfig, turns::Dialogues};

/// Embedding → utterance GRU over each context turn and the response (one
/// batched pass, each read to its last real token) → turn GRU over
/// `[turn vectors…, response vector]` → final state → linear logit.
pub struct HierarchicalRnn {
    embedding: MaskedEmbedding,
    utterance: MaskedGru,
    turn: MaskedGru,
    output: Linear,
    separator: Option<u32>,
}

impl DiscriminatorModel for HierarchicalRnn {
    type Config = HierarchicalRnnConfig;
    const NAME: &'static str = "hierarchical-rnn";
    const SOURCES: SourceUse = SourceUse::Required;

    fn new(
        vb: VarBuilder,
        context: &PluginContext,
        config: &HierarchicalRnnConfig,
    ) -> PluginResult<Self> {
        let vocab = context.vocab.size as usize;
        Ok(HierarchicalRnn {
            embedding: MaskedEmbedding::new(vb.clone(), vocab, config.embedding_dim)?,
            utterance: MaskedGru::new(
                vb.pp("utterance_gru"),
                config.embedding_dim,
                config.utterance_hidden_dim,
            )?,
            turn: MaskedGru::new(
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

    fn logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Tensor> {
        let dialogues = Dialogues::new(rows, self.separator);
        let utterances = pass.pad(&dialogues.utterances, 1)?;
        let encoded = self.utterance.encode(
            &self.embedding.masked(&utterances.ids, &utterances.mask)?,
            &utterances.mask,
        )?;
        // A zero row for the padding turns (they are masked anyway).
        let hidden = encoded.dim(1)?;
        let encoded = Tensor::cat(
            &[
                encoded,
                Tensor::zeros((1, hidden), DType::F32, pass.device())?,
            ],
            0,
        )?;
        let (rows, steps) = (rows.len(), dialogues.steps);
        let index = Tensor::from_vec(dialogues.index, rows * steps, pass.device())?;
        let sequence = encoded
            .index_select(&index, 0)?
            .reshape((rows, steps, hidden))?;
        let mask = Tensor::from_vec(dialogues.mask, (rows, steps), pass.device())?;
        let state = pass.dropout(&self.turn.encode(&sequence, &mask)?)?;
        Ok(self.output.forward(&state)?.squeeze(1)?)
    }
}
