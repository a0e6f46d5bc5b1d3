//! Every parameter of the encoder–decoder, by name.
//!
//! The generator kit builds it on the trainable variables, on detached
//! views of them for inference and on the rollout policy's copies; the
//! names are the variables' names (and the checkpoint's).

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use crate::{config::Seq2SeqConfig, gru::GruCell};

/// Parameters (`V` vocabulary, `E` embedding, `H` decoder state and
/// annotation size, `H/2` per encoder direction, `A` attention, `O` deep
/// output).
#[derive(Clone)]
pub struct Seq2SeqWeights {
    /// `[V, E]`: target embedding, and the source embedding when shared.
    pub embedding: Tensor,
    /// `[V, E]`: a separate source embedding (`share_embeddings: false`).
    pub source_embedding: Option<Tensor>,
    /// `[3H/2, E]`: input weights of the forward encoder GRU.
    pub encoder_forward_w_ih: Tensor,
    pub encoder_forward: GruCell,
    /// `[3H/2, E]`: input weights of the backward encoder GRU.
    pub encoder_backward_w_ih: Tensor,
    pub encoder_backward: GruCell,
    /// `[H, H]`, `[H]`: decoder initial state `tanh(W · mean h_i + b)`.
    pub bridge_w: Tensor,
    pub bridge_b: Tensor,
    /// `[A, H]`: the decoder-state side `W_s` of the attention.
    pub attention_w_s: Tensor,
    /// `[A, H]`, `[A]`: the annotation side `U_h h_i + b` (precomputed once
    /// per batch as the attention keys).
    pub attention_u_h: Tensor,
    pub attention_b: Tensor,
    /// `[A]`: the scoring vector `v`.
    pub attention_v: Tensor,
    /// `[3H, E]`: decoder GRU input weights for `emb(y_{t−1})`.
    pub decoder_w_ie: Tensor,
    /// `[3H, H]`: decoder GRU input weights for the context `c_t`.
    pub decoder_w_ic: Tensor,
    pub decoder: GruCell,
    /// `[O, 2H + E]`, `[O]`: deep output `tanh(W_d [s_t; c_t; emb(y_{t−1})] + b)`.
    pub deep_w: Tensor,
    pub deep_b: Tensor,
    /// `[V, O]`, `[V]`: the vocabulary projection.
    pub out_w: Tensor,
    pub out_b: Tensor,
}

impl Seq2SeqWeights {
    pub fn new(vb: VarBuilder, vocab: usize, config: &Seq2SeqConfig) -> Result<Self> {
        let (e, h, a, o) = (
            config.embedding_dim,
            config.hidden_dim,
            config.attention_dim,
            config.output_dim,
        );
        let half = h / 2;
        let source_embedding = if config.share_embeddings {
            None
        } else {
            Some(vb.get((vocab, e), "embedding.source")?)
        };
        let embedding_name = if config.share_embeddings {
            "embedding.shared"
        } else {
            "embedding.target"
        };
        let enc = vb.pp("encoder");
        let dec = vb.pp("decoder");
        let att = vb.pp("attention");
        Ok(Seq2SeqWeights {
            embedding: vb.get((vocab, e), embedding_name)?,
            source_embedding,
            encoder_forward_w_ih: enc.get((3 * half, e), "forward.w_ih")?,
            encoder_forward: GruCell::new(enc.pp("forward"), half)?,
            encoder_backward_w_ih: enc.get((3 * half, e), "backward.w_ih")?,
            encoder_backward: GruCell::new(enc.pp("backward"), half)?,
            bridge_w: vb.get((h, h), "bridge.weight")?,
            bridge_b: vb.get(h, "bridge.bias")?,
            attention_w_s: att.get((a, h), "w_s")?,
            attention_u_h: att.get((a, h), "u_h")?,
            attention_b: att.get(a, "bias")?,
            attention_v: att.get(a, "v")?,
            decoder_w_ie: dec.get((3 * h, e), "w_ie")?,
            decoder_w_ic: dec.get((3 * h, h), "w_ic")?,
            decoder: GruCell::new(dec, h)?,
            deep_w: vb.get((o, 2 * h + e), "output.deep.weight")?,
            deep_b: vb.get(o, "output.deep.bias")?,
            out_w: vb.get((vocab, o), "output.weight")?,
            out_b: vb.get(vocab, "output.bias")?,
        })
    }

    /// The embedding table sources are looked up in.
    pub fn source_table(&self) -> &Tensor {
        self.source_embedding.as_ref().unwrap_or(&self.embedding)
    }

    pub fn hidden_dim(&self) -> usize {
        self.bridge_b.dims()[0]
    }
}

/// Whether the variable `name` is a bias (initialised to zero).
pub fn is_bias(name: &str) -> bool {
    name.ends_with("bias") || name.ends_with("b_ih") || name.ends_with("b_hh")
}
