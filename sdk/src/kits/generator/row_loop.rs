//! Step-by-step generation of many rows from their own starting states.
//!
//! One loop serves fresh sampling (every row starts from its initial state
//! and BOS), Monte-Carlo rollouts (each row starts from the cached state
//! after its prefix, with its own source's memory) and greedy decoding.
//! Rows leave the batch when they finish: rows that hit `max_len` first sit
//! at the end when the caller sorts by prefix length, so dropping them
//! keeps the first rows; rows that stopped at EOS are compacted away (one
//! gather) once a quarter of the batch is idle. Compute follows the tokens
//! generated.

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use super::{model::checked_step, GeneratorModel, RowWise};
use crate::{
    error::PluginResult,
    toolkit::{sample_from_logits, softmax_kernels::row_max, SeededRng},
};

/// One row being generated.
pub(super) struct Row {
    /// Tokens so far (the prefix, then what is generated).
    pub tokens: Vec<u32>,
    /// The row's own sampling stream, so results do not depend on batching.
    pub rng: SeededRng,
    /// Whether the row has emitted EOS.
    pub done: bool,
}

/// How the next token is chosen.
#[derive(Clone, Copy, Debug)]
pub(super) enum Choice {
    /// Ancestral sampling at this temperature.
    Sample(f32),
    /// The most likely token (the lowest id among ties).
    Greedy,
}

/// Where the loop runs and when a row ends.
pub(super) struct Limits<'a> {
    pub device: &'a Device,
    pub vocab: usize,
    pub max_len: usize,
    pub eos: Option<u32>,
}

/// Extends every row to `limits.max_len` tokens or to EOS.
///
/// `memory`, `state` (the state before the row's next step) and
/// `next_inputs` (the token each row feeds next: BOS or the last prefix
/// token) hold one entry per row, in the order of `rows`.
pub(super) fn extend_rows<M: GeneratorModel>(
    model: &M,
    mut memory: M::Memory,
    mut state: M::State,
    rows: &mut [Row],
    mut next_inputs: Vec<u32>,
    choice: Choice,
    limits: &Limits,
) -> PluginResult<()> {
    let (vocab, max_len) = (limits.vocab, limits.max_len);
    // `live[p]`: the row at batch position `p` (always increasing).
    let mut live: Vec<usize> = (0..rows.len()).collect();
    let mut position = vec![usize::MAX; rows.len()];
    loop {
        let keep: Vec<usize> = (0..live.len())
            .filter(|&p| {
                let row = &rows[live[p]];
                !row.done && row.tokens.len() < max_len
            })
            .collect();
        let Some(&last) = keep.last() else { break };
        if keep.len() < live.len() {
            if last + 1 == keep.len() {
                memory = memory.first_rows(keep.len())?;
                state = state.first_rows(keep.len())?;
                live.truncate(keep.len());
                next_inputs.truncate(keep.len());
            } else if keep.len() * 4 <= live.len() * 3 {
                let index: Vec<u32> = keep.iter().map(|&p| p as u32).collect();
                let index = Tensor::new(index.as_slice(), limits.device)?;
                memory = memory.select_rows(&index)?;
                state = state.select_rows(&index)?;
                live = keep.iter().map(|&p| live[p]).collect();
                next_inputs = keep.iter().map(|&p| next_inputs[p]).collect();
            }
        }
        let inputs = Tensor::new(next_inputs.as_slice(), limits.device)?;
        let (logits, next) = checked_step(model, &memory, &state, &inputs, vocab)?;
        state = next;
        let logits = logits.flatten_all()?.to_vec1::<f32>()?;
        position.iter_mut().for_each(|p| *p = usize::MAX);
        for (p, &r) in live.iter().enumerate() {
            position[r] = p;
        }
        // Each row draws from its own stream, so the rows can be sampled in
        // parallel without changing any result.
        let picked: Vec<Option<u32>> = rows
            .par_iter_mut()
            .zip(position.par_iter())
            .with_min_len(16)
            .map(|(row, &p)| {
                if p == usize::MAX || row.done || row.tokens.len() >= max_len {
                    return None;
                }
                let logits = &logits[p * vocab..(p + 1) * vocab];
                let id = match choice {
                    Choice::Sample(temperature) => {
                        sample_from_logits(logits, temperature, &mut row.rng)
                    }
                    Choice::Greedy => argmax(logits),
                };
                row.tokens.push(id);
                row.done = Some(id) == limits.eos;
                Some(id)
            })
            .collect();
        for (p, &r) in live.iter().enumerate() {
            if let Some(id) = picked[r] {
                next_inputs[p] = id;
            }
        }
    }
    Ok(())
}

/// The index of the largest logit (the first one among ties).
pub(super) fn argmax(logits: &[f32]) -> u32 {
    let max = row_max(logits);
    logits.iter().position(|&l| l == max).unwrap_or(0) as u32
}
