//! Configuration of the per-token LSTM discriminator.

use agon_sdk::{
    kits::{DiscriminatorConfig, DiscriminatorTraining},
    toolkit::Compute,
};
use serde::{Deserialize, Serialize};

/// A fixed embedding table from a safetensors file (ScratchGAN's pretrained
/// GloVe part), looked up beside the trainable embedding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainedEmbedding {
    /// The safetensors file, relative to the working directory.
    pub file: String,
    /// The `[vocab, dim]` tensor in it.
    #[serde(default = "embedding_tensor")]
    pub tensor: String,
}

fn embedding_tensor() -> String {
    "embedding".into()
}

/// Hyper-parameters (ScratchGAN's discriminator, scaled to the task).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LstmDiscriminatorConfig {
    /// Token embedding size.
    pub embedding_dim: usize,
    /// LSTM hidden size.
    pub hidden_dim: usize,
    /// Layer normalisation of the LSTM's outputs before the logit.
    pub layer_norm: bool,
    /// A fixed embedding read from a file, concatenated with the trainable
    /// one at every position.
    pub pretrained_embedding: Option<PretrainedEmbedding>,
    /// The LSTM as the toolkit's CPU kernel or as Candle's LSTM.
    pub compute: Compute,
    /// Dropout (on the embeddings and on the LSTM's outputs), Adam,
    /// clipping, scoring chunk.
    pub training: DiscriminatorTraining,
}

impl Default for LstmDiscriminatorConfig {
    fn default() -> Self {
        LstmDiscriminatorConfig {
            embedding_dim: 64,
            hidden_dim: 64,
            layer_norm: false,
            pretrained_embedding: None,
            compute: Compute::Auto,
            training: DiscriminatorTraining::default(),
        }
    }
}

impl DiscriminatorConfig for LstmDiscriminatorConfig {
    const DOCS: &'static [(&'static str, &'static str)] = &[
        (
            "embedding_dim",
            "Size of each token's embedding vector, a whole number of at least 1.",
        ),
        (
            "hidden_dim",
            "Size of the LSTM's hidden and cell states, a whole number of at least 1; each position's logit is read from the hidden state after that token.",
        ),
        (
            "layer_norm",
            "true normalises each position's LSTM output (zero mean, unit variance, then a learned scale and shift) before dropout and the logit; ScratchGAN's discriminator normalises inside its LSTM cell instead.",
        ),
        (
            "pretrained_embedding",
            "null, or {file: a safetensors file relative to the working directory, tensor: the name of a [vocabulary size, dim] tensor in it (default embedding)}: a fixed embedding, never trained nor checkpointed, concatenated with the trainable one at every position (ScratchGAN's pretrained GloVe vectors; a generator's checkpoint/generator/*.safetensors holds one).",
        ),
        (
            "compute",
            "Which implementation runs the LSTM: auto (on the CPU its recurrence as one hand-written op, forward and backward through time per block of rows; Candle's LSTM elsewhere), kernels (CPU only) or tensor (Candle's LSTM stepped per position, on any device: the path a GPU runs, and the LSTM of runs made before this key existed). Both give the same numbers up to float rounding.",
        ),
    ];

    fn training(&self) -> &DiscriminatorTraining {
        &self.training
    }

    fn dimensions(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("embedding_dim", self.embedding_dim),
            ("hidden_dim", self.hidden_dim),
        ]
    }
}
