//! `my-lab/gru-lm-generator`: a recurrent language model on the SDK's
//! generator kit. The model says how to start (a zero state) and how to take
//! one step (embed the token, update the GRU, project onto the vocabulary);
//! the kit derives MLE, sampling, Monte-Carlo rollouts, the policy-gradient
//! step, the rollout policy and checkpoints.

use agon_sdk::kits::{GeneratorConfig, GeneratorModel, GeneratorTraining, SourceUse};
use agon_sdk::{PluginContext, PluginResult, TokenBatch};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::rnn::GRUState;
use candle_nn::{embedding, gru, linear, Embedding, GRUConfig, Linear, VarBuilder, GRU, RNN};
use serde::{Deserialize, Serialize};

/// The config: the model's keys, and the kit's `training:` block (Adam of
/// the MLE steps, Adam of the policy-gradient steps, gradient clip).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GruLmConfig {
    pub embedding_dim: usize,
    pub hidden_dim: usize,
    pub training: GeneratorTraining,
}

impl Default for GruLmConfig {
    fn default() -> Self {
        GruLmConfig {
            embedding_dim: 32,
            hidden_dim: 64,
            training: GeneratorTraining::default(),
        }
    }
}

impl GeneratorConfig for GruLmConfig {
    const DOCS: &'static [(&'static str, &'static str)] = &[
        (
            "embedding_dim",
            "Size of each token's embedding, at least 1.",
        ),
        ("hidden_dim", "Size of the GRU's state, at least 1."),
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

/// Embedding → GRU → linear output, one token at a time.
pub struct GruLm {
    embedding: Embedding,
    gru: GRU,
    output: Linear,
    hidden_dim: usize,
}

impl GeneratorModel for GruLm {
    type Config = GruLmConfig;
    /// A language model reads nothing besides its state.
    type Memory = ();
    /// `[rows, hidden_dim]`: the GRU's state.
    type State = Tensor;
    const NAME: &'static str = "gru-lm";
    const SOURCES: SourceUse = SourceUse::Never;

    fn new(vb: VarBuilder, context: &PluginContext, config: &GruLmConfig) -> PluginResult<Self> {
        let vocab = context.vocab.size as usize;
        let (e, h) = (config.embedding_dim, config.hidden_dim);
        Ok(GruLm {
            embedding: embedding(vocab, e, vb.pp("embedding"))?,
            gru: gru(e, h, GRUConfig::default(), vb.pp("gru"))?,
            output: linear(h, vocab, vb.pp("output"))?,
            hidden_dim: h,
        })
    }

    fn start(
        &self,
        _sources: Option<&TokenBatch>,
        rows: usize,
        device: &Device,
    ) -> PluginResult<((), Tensor)> {
        Ok((
            (),
            Tensor::zeros((rows, self.hidden_dim), DType::F32, device)?,
        ))
    }

    fn step(&self, _memory: &(), h: &Tensor, tokens: &Tensor) -> PluginResult<(Tensor, Tensor)> {
        let x = self.embedding.forward(tokens)?;
        let h = self.gru.step(&x, &GRUState { h: h.clone() })?.h;
        Ok((self.output.forward(&h)?, h))
    }
}

agon_sdk::generator_library! {
    /// The library: one generator, `gru-lm`.
    pub struct MyLabGenerators;
    namespace: "my-lab",
    name: "gru-lm-generator",
    generators: {
        "gru-lm" => GruLm: "Embedding, GRU and linear output: a recurrent language model on the SDK's kit",
    }
}

#[cfg(test)]
mod tests;
