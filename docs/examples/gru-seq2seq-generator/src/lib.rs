//! `my-lab/gru-seq2seq-generator`: a conditional generator (translation,
//! summarization, dialogue) on the SDK's generator kit. `start` encodes each
//! row's source with a GRU; its last state starts the decoder and is read
//! again at every step beside the previous token. The kit derives MLE,
//! sampling, greedy and beam decoding, rollouts, the policy-gradient step
//! and checkpoints, as for a language model.

use agon_sdk::kits::{GeneratorConfig, GeneratorModel, GeneratorTraining, SourceUse};
use agon_sdk::toolkit::Padder;
use agon_sdk::{PluginContext, PluginError, PluginResult, TokenBatch};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::rnn::GRUState;
use candle_nn::{embedding, gru, linear, Embedding, GRUConfig, Linear, VarBuilder, GRU, RNN};
use serde::{Deserialize, Serialize};

/// The config: the model's keys, and the kit's `training:` block.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GruSeq2SeqConfig {
    pub embedding_dim: usize,
    pub hidden_dim: usize,
    pub training: GeneratorTraining,
}

impl Default for GruSeq2SeqConfig {
    fn default() -> Self {
        GruSeq2SeqConfig {
            embedding_dim: 32,
            hidden_dim: 64,
            training: GeneratorTraining::default(),
        }
    }
}

impl GeneratorConfig for GruSeq2SeqConfig {
    const DOCS: &'static [(&'static str, &'static str)] = &[
        (
            "embedding_dim",
            "Size of each source and target token's embedding, at least 1.",
        ),
        (
            "hidden_dim",
            "Size of the encoder's and the decoder's GRU state, at least 1.",
        ),
    ];

    fn training(&self) -> GeneratorTraining {
        self.training.clone()
    }

    fn dimensions(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("embedding_dim", self.embedding_dim),
            ("hidden_dim", self.hidden_dim),
        ]
    }
}

/// A GRU encoder; a GRU decoder that reads the encoding at every step.
pub struct GruSeq2Seq {
    source_embedding: Embedding,
    encoder: GRU,
    target_embedding: Embedding,
    decoder: GRU,
    output: Linear,
    hidden_dim: usize,
    pad: u32,
}

impl GeneratorModel for GruSeq2Seq {
    type Config = GruSeq2SeqConfig;
    /// `[rows, hidden_dim]`: each row's encoded source.
    type Memory = Tensor;
    /// `[rows, hidden_dim]`: the decoder's state.
    type State = Tensor;
    const NAME: &'static str = "gru-seq2seq";
    /// Every call comes with one source per row; the kit declares
    /// `sources-required` and refuses calls without them.
    const SOURCES: SourceUse = SourceUse::Required;

    fn new(
        vb: VarBuilder,
        context: &PluginContext,
        config: &GruSeq2SeqConfig,
    ) -> PluginResult<Self> {
        let vocab = context.vocab.size as usize;
        let (e, h) = (config.embedding_dim, config.hidden_dim);
        Ok(GruSeq2Seq {
            source_embedding: embedding(vocab, e, vb.pp("source_embedding"))?,
            encoder: gru(e, h, GRUConfig::default(), vb.pp("encoder"))?,
            target_embedding: embedding(vocab, e, vb.pp("target_embedding"))?,
            decoder: gru(e + h, h, GRUConfig::default(), vb.pp("decoder"))?,
            output: linear(h, vocab, vb.pp("output"))?,
            hidden_dim: h,
            pad: context.vocab.pad.into_option().unwrap_or(0),
        })
    }

    fn start(
        &self,
        sources: Option<&TokenBatch>,
        rows: usize,
        device: &Device,
    ) -> PluginResult<(Tensor, Tensor)> {
        let sources = sources.ok_or_else(|| {
            PluginError::input(format!("{} needs a source for every row", Self::NAME))
        })?;
        let sources: Vec<Vec<u32>> = sources.iter_rows().map(<[u32]>::to_vec).collect();
        let padded = Padder {
            pad: self.pad,
            device: device.clone(),
        }
        .pad(&sources, 1)?; // ids and mask, [rows, width]
        let mut h = Tensor::zeros((rows, self.hidden_dim), DType::F32, device)?;
        for t in 0..padded.ids.dim(1)? {
            let x = self
                .source_embedding
                .forward(&padded.ids.narrow(1, t, 1)?.squeeze(1)?)?;
            let next = self.encoder.step(&x, &GRUState { h: h.clone() })?.h;
            // Past a source's end the state stays as it was: a row's
            // encoding must not depend on the padding, whose width depends
            // on the other rows of the batch.
            let real = padded.mask.narrow(1, t, 1)?; // [rows, 1]
            h = (next.broadcast_mul(&real)? + h.broadcast_mul(&real.affine(-1.0, 1.0)?)?)?;
        }
        Ok((h.clone(), h))
    }

    fn step(
        &self,
        encoded: &Tensor,
        h: &Tensor,
        tokens: &Tensor,
    ) -> PluginResult<(Tensor, Tensor)> {
        let x = Tensor::cat(&[&self.target_embedding.forward(tokens)?, encoded], 1)?;
        let h = self.decoder.step(&x, &GRUState { h: h.clone() })?.h;
        Ok((self.output.forward(&h)?, h))
    }
}

agon_sdk::generator_library! {
    /// The library: one conditional generator, `gru-seq2seq`.
    pub struct MyLabSeq2SeqGenerators;
    namespace: "my-lab",
    name: "gru-seq2seq-generator",
    generators: {
        "gru-seq2seq" => GruSeq2Seq: "GRU encoder and GRU decoder reading the encoded source: a conditional generator on the SDK's kit",
    }
}

#[cfg(test)]
mod tests;
