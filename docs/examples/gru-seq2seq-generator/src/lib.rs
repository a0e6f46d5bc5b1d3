//! `my-lab/gru-seq2seq-generator`: a conditional generator (translation,
//! summarization, dialogue) on the SDK's generator kit. `start` encodes each
//! row's source with a GRU; its last state starts the decoder, and at every
//! step the decoder's state attends over the encoder's states.
//! `teacher_forced_logits` computes the attention of a whole teacher-forced
//! pass at once. The kit derives MLE, sampling, greedy and beam decoding,
//! rollouts, the policy-gradient step and checkpoints, as for a language
//! model.

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

/// A GRU encoder; a GRU decoder whose state attends over the encoder's
/// states (Luong et al.'s dot-product attention, scaled), and an output
/// layer that reads the state and what it attended to.
pub struct GruSeq2Seq {
    source_embedding: Embedding,
    encoder: GRU,
    target_embedding: Embedding,
    decoder: GRU,
    output: Linear,
    hidden_dim: usize,
    pad: u32,
}

/// Added to the attention score of a position past a source's end: its
/// weight after the softmax is exactly 0.
const PADDING_SCORE: f64 = -1e9;

impl GeneratorModel for GruSeq2Seq {
    type Config = GruSeq2SeqConfig;
    /// Each row's source, encoded: the encoder's state at every position
    /// (`[rows, S, hidden_dim]`), and the score bias of every position
    /// (`[rows, S]`: 0 within the source, `PADDING_SCORE` past its end).
    type Memory = (Tensor, Tensor);
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
            decoder: gru(e, h, GRUConfig::default(), vb.pp("decoder"))?,
            output: linear(2 * h, vocab, vb.pp("output"))?,
            hidden_dim: h,
            pad: context.vocab.pad.into_option().unwrap_or(0),
        })
    }

    fn start(
        &self,
        sources: Option<&TokenBatch>,
        rows: usize,
        device: &Device,
    ) -> PluginResult<((Tensor, Tensor), Tensor)> {
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
        let mut states = Vec::new();
        for t in 0..padded.ids.dim(1)? {
            let x = self
                .source_embedding
                .forward(&padded.ids.narrow(1, t, 1)?.squeeze(1)?)?;
            let next = self.encoder.step(&x, &GRUState { h: h.clone() })?.h;
            // Past a source's end the state stays as it was, so the last
            // state, which starts the decoder, is the state at the end of
            // the source whatever the padding.
            let real = padded.mask.narrow(1, t, 1)?; // [rows, 1]
            h = (next.broadcast_mul(&real)? + h.broadcast_mul(&real.affine(-1.0, 1.0)?)?)?;
            states.push(h.clone());
        }
        let annotations = Tensor::stack(&states, 1)?; // [rows, S, hidden]
        let bias = padded.mask.affine(-PADDING_SCORE, PADDING_SCORE)?; // 1 → 0, 0 → PADDING_SCORE
        Ok(((annotations, bias), h))
    }

    fn step(
        &self,
        memory: &(Tensor, Tensor),
        h: &Tensor,
        tokens: &Tensor,
    ) -> PluginResult<(Tensor, Tensor)> {
        let x = self.target_embedding.forward(tokens)?;
        let h = self.decoder.step(&x, &GRUState { h: h.clone() })?.h;
        // One query per row: attention of a sequence of length 1.
        let logits = self.attend_and_project(memory, &h.unsqueeze(1)?)?;
        Ok((logits.squeeze(1)?, h))
    }

    /// A teacher-forced pass at once: the recurrence still runs position by
    /// position (each state needs the one before), but the attention of
    /// every position is one batched matmul and the output layer another,
    /// where the default would run `step`, attention included, `T` times.
    fn teacher_forced_logits(
        &self,
        memory: &(Tensor, Tensor),
        state: &Tensor,
        inputs: &Tensor,
    ) -> PluginResult<Tensor> {
        let (rows, steps) = inputs.dims2()?;
        let embedded = self.target_embedding.forward(inputs)?; // [rows, T, emb]
        let mut h = state.clone();
        let mut states = Vec::with_capacity(steps);
        for t in 0..steps {
            // Contiguous: a GPU's matmul refuses a strided view.
            let x = embedded.narrow(1, t, 1)?.squeeze(1)?.contiguous()?;
            h = self.decoder.step(&x, &GRUState { h })?.h;
            states.push(h.clone());
        }
        let queries = Tensor::stack(&states, 1)?; // [rows, T, hidden]
        let logits = self.attend_and_project(memory, &queries)?; // [rows, T, vocab]
        Ok(logits.reshape((rows * steps, ()))?)
    }
}

impl GruSeq2Seq {
    /// Logits `[rows, T, vocab]` of decoder states `queries` (`[rows, T,
    /// hidden]`): each attends over its row's encoder states, and the
    /// output layer reads the state beside the weighted sum it attended to.
    fn attend_and_project(
        &self,
        (annotations, bias): &(Tensor, Tensor),
        queries: &Tensor,
    ) -> PluginResult<Tensor> {
        let scale = 1.0 / (self.hidden_dim as f64).sqrt();
        let keys = annotations.transpose(1, 2)?.contiguous()?; // [rows, hidden, S]
        let scores = (queries.contiguous()?.matmul(&keys)? * scale)? // [rows, T, S]
            .broadcast_add(&bias.unsqueeze(1)?)?;
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = weights.matmul(annotations)?; // [rows, T, hidden]
        let features = Tensor::cat(&[queries, &context], 2)?; // [rows, T, 2·hidden]
        Ok(self.output.forward(&features)?)
    }
}

agon_sdk::generator_library! {
    /// The library: one conditional generator, `gru-seq2seq`.
    pub struct MyLabSeq2SeqGenerators;
    namespace: "my-lab",
    name: "gru-seq2seq-generator",
    generators: {
        "gru-seq2seq" => GruSeq2Seq: "GRU encoder and GRU decoder with dot-product attention over the source: a conditional generator on the SDK's kit",
    }
}

#[cfg(test)]
mod tests;
