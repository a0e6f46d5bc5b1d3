//! The attentional GRU decoder with a deep output layer.
//!
//! Step `t` reads the previous state `s_{t−1}` and token `y_{t−1}` (BOS
//! first): `c_t = attend(s_{t−1})`, `s_t = GRU([emb(y_{t−1}); c_t], s_{t−1})`,
//! `logits_t = W_o tanh(W_d [s_t; c_t; emb(y_{t−1})] + b_d) + b_o`.
//! The state after step `t` is all a continuation needs (the context is
//! recomputed from it), which is what rollouts cache.

use candle_core::{Result, Tensor};

use crate::{
    attention::{attend, Memory},
    weights::Seq2SeqWeights,
};

/// `[O + 1, V]`: `[W_oᵀ; b_o]`, so the bias rides in the vocabulary matmul
/// and its gradient comes out of the matmul's backward instead of a column
/// sum over the `[N, V]` gradient (a strided reduction, slow on the CPU).
/// Built once per call (it copies `W_o`), not once per decoder step.
pub fn output_matrix(w: &Seq2SeqWeights) -> Result<Tensor> {
    Tensor::cat(&[&w.out_w.t()?, &w.out_b.unsqueeze(0)?], 0)
}

/// Logits `[N, V]` from `s_t`, `c_t` (`[N, H]` each) and `emb(y_{t−1})`
/// (`[N, E]`); `output` is [`output_matrix`].
pub fn output_logits(
    w: &Seq2SeqWeights,
    output: &Tensor,
    s: &Tensor,
    c: &Tensor,
    emb: &Tensor,
) -> Result<Tensor> {
    let features = Tensor::cat(&[s, c, emb], 1)?;
    let deep = features
        .matmul(&w.deep_w.t()?)?
        .broadcast_add(&w.deep_b)?
        .tanh()?;
    let ones = Tensor::ones((deep.dim(0)?, 1), deep.dtype(), deep.device())?;
    Tensor::cat(&[&deep, &ones], 1)?.matmul(output)
}

/// One decoder step for `N` rows: returns `s_t: [N, H]` and `logits: [N, V]`.
pub fn step(
    w: &Seq2SeqWeights,
    output: &Tensor,
    memory: &Memory,
    s_prev: &Tensor,
    inputs: &Tensor,
) -> Result<(Tensor, Tensor)> {
    let emb = w.embedding.index_select(inputs, 0)?;
    let c = attend(w, memory, s_prev)?;
    let projected = (emb.matmul(&w.decoder_w_ie.t()?)? + c.matmul(&w.decoder_w_ic.t()?)?)?;
    let s = w.decoder.step(&projected, s_prev)?;
    let logits = output_logits(w, output, &s, &c, &emb)?;
    Ok((s, logits))
}

/// A teacher-forced pass over `inputs: [B, T]` (BOS, then the targets
/// shifted right).
pub struct Unrolled {
    /// `[B, T, H]`: `s_t` after every step.
    pub states: Tensor,
    /// `[B, T, H]`: `c_t` of every step.
    pub contexts: Tensor,
    /// `[B, T, E]`: `emb(y_{t−1})`.
    pub embedded: Tensor,
}

pub fn unroll(
    w: &Seq2SeqWeights,
    memory: &Memory,
    init_state: &Tensor,
    inputs: &Tensor,
) -> Result<Unrolled> {
    let (rows, steps) = inputs.dims2()?;
    let embedded = w
        .embedding
        .index_select(&inputs.flatten_all()?, 0)?
        .reshape((rows, steps, ()))?;
    let hidden3 = w.decoder_w_ie.dim(0)?;
    // The embedding half of the GRU input projection for every step at once.
    let projected = embedded
        .reshape((rows * steps, ()))?
        .matmul(&w.decoder_w_ie.t()?)?
        .reshape((rows, steps, hidden3))?;
    let mut s = init_state.clone();
    let mut states = Vec::with_capacity(steps);
    let mut contexts = Vec::with_capacity(steps);
    for t in 0..steps {
        let c = attend(w, memory, &s)?;
        let x = (projected.narrow(1, t, 1)?.squeeze(1)? + c.matmul(&w.decoder_w_ic.t()?)?)?;
        s = w.decoder.step(&x, &s)?;
        states.push(s.clone());
        contexts.push(c);
    }
    Ok(Unrolled {
        states: Tensor::stack(&states, 1)?,
        contexts: Tensor::stack(&contexts, 1)?,
        embedded,
    })
}

/// `[B·T, V]` logits of a teacher-forced pass over `inputs` (row `b`'s
/// step `t` at `b·T + t`); `output` is [`output_matrix`].
pub fn teacher_forced_logits(
    w: &Seq2SeqWeights,
    output: &Tensor,
    memory: &Memory,
    init_state: &Tensor,
    inputs: &Tensor,
) -> Result<Tensor> {
    let (rows, steps) = inputs.dims2()?;
    let unrolled = unroll(w, memory, init_state, inputs)?;
    let flat = |t: &Tensor| t.reshape((rows * steps, ()));
    // The deep output and the vocabulary projection for all steps in one matmul each.
    output_logits(
        w,
        output,
        &flat(&unrolled.states)?,
        &flat(&unrolled.contexts)?,
        &flat(&unrolled.embedded)?,
    )
}
