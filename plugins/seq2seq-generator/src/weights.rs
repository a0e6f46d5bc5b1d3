//! Every parameter of the encoder–decoder, by name.
//!
//! The same struct holds the trained weights (tensors of the `VarMap`'s
//! variables, so Adam's in-place updates show through) and the rollout
//! policy (detached copies). The names are the variables' names, which makes
//! the rollout copy's checkpoint entries (`rollout.<name>`) self-describing.

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

    /// Every tensor with its variable name, in a fixed order.
    pub fn named_mut(&mut self) -> Vec<(&'static str, &mut Tensor)> {
        let shared = self.source_embedding.is_none();
        let mut named: Vec<(&'static str, &mut Tensor)> = vec![(
            if shared {
                "embedding.shared"
            } else {
                "embedding.target"
            },
            &mut self.embedding,
        )];
        if let Some(source) = &mut self.source_embedding {
            named.push(("embedding.source", source));
        }
        named.extend([
            ("encoder.forward.w_ih", &mut self.encoder_forward_w_ih),
            ("encoder.forward.w_hh", &mut self.encoder_forward.w_hh),
            ("encoder.forward.b_ih", &mut self.encoder_forward.b_ih),
            ("encoder.forward.b_hh", &mut self.encoder_forward.b_hh),
            ("encoder.backward.w_ih", &mut self.encoder_backward_w_ih),
            ("encoder.backward.w_hh", &mut self.encoder_backward.w_hh),
            ("encoder.backward.b_ih", &mut self.encoder_backward.b_ih),
            ("encoder.backward.b_hh", &mut self.encoder_backward.b_hh),
            ("bridge.weight", &mut self.bridge_w),
            ("bridge.bias", &mut self.bridge_b),
            ("attention.w_s", &mut self.attention_w_s),
            ("attention.u_h", &mut self.attention_u_h),
            ("attention.bias", &mut self.attention_b),
            ("attention.v", &mut self.attention_v),
            ("decoder.w_ie", &mut self.decoder_w_ie),
            ("decoder.w_ic", &mut self.decoder_w_ic),
            ("decoder.w_hh", &mut self.decoder.w_hh),
            ("decoder.b_ih", &mut self.decoder.b_ih),
            ("decoder.b_hh", &mut self.decoder.b_hh),
            ("output.deep.weight", &mut self.deep_w),
            ("output.deep.bias", &mut self.deep_b),
            ("output.weight", &mut self.out_w),
            ("output.bias", &mut self.out_b),
        ]);
        named
    }

    /// Every tensor with its variable name (clones share storage).
    pub fn named(&self) -> Vec<(&'static str, Tensor)> {
        let mut copy = self.clone();
        copy.named_mut()
            .into_iter()
            .map(|(name, t)| (name, t.clone()))
            .collect()
    }

    /// The same weights with `f` applied to every tensor.
    pub fn map(&self, mut f: impl FnMut(&str, &Tensor) -> Result<Tensor>) -> Result<Self> {
        let mut out = self.clone();
        for (name, t) in out.named_mut() {
            *t = f(name, t)?;
        }
        Ok(out)
    }

    /// The same storage without autograd tracking: inference through it
    /// records no graph, and later optimiser steps show through.
    pub fn detached(&self) -> Result<Self> {
        self.map(|_, t| Ok(t.detach()))
    }

    /// A copy that shares no storage and records no gradients (the rollout policy).
    pub fn detached_copy(&self) -> Result<Self> {
        self.map(|_, t| t.detach().copy())
    }

    /// The embedding table sources are looked up in.
    pub fn source_table(&self) -> &Tensor {
        self.source_embedding.as_ref().unwrap_or(&self.embedding)
    }

    pub fn hidden_dim(&self) -> usize {
        self.bridge_b.dims()[0]
    }

    pub fn vocab_size(&self) -> usize {
        self.out_b.dims()[0]
    }
}

/// Whether the variable `name` is a bias (initialised to zero).
pub fn is_bias(name: &str) -> bool {
    name.ends_with("bias") || name.ends_with("b_ih") || name.ends_with("b_hh")
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    #[test]
    fn names_match_the_variables_of_the_varmap() {
        for share in [true, false] {
            let varmap = VarMap::new();
            let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
            let config = Seq2SeqConfig {
                embedding_dim: 3,
                hidden_dim: 4,
                attention_dim: 5,
                output_dim: 6,
                share_embeddings: share,
                ..Seq2SeqConfig::default()
            };
            let weights = Seq2SeqWeights::new(vb, 7, &config).unwrap();
            let mut names: Vec<&str> = weights.named().into_iter().map(|(n, _)| n).collect();
            names.sort_unstable();
            let mut vars: Vec<String> = varmap.data().lock().unwrap().keys().cloned().collect();
            vars.sort_unstable();
            assert_eq!(names, vars);
        }
    }
}
