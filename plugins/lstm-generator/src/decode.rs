//! Step-by-step sampling of many rows from their own starting states.
//!
//! One loop serves both fresh sampling (every row starts empty from the zero
//! state) and Monte-Carlo rollouts (each row starts from the cached state
//! after its prefix). Rows are ordered by how many tokens they already have,
//! so at every step the rows still generating are a prefix of the batch and
//! the batch simply shrinks: compute is proportional to tokens generated.

use agon_sdk::toolkit::{sample_from_logits, ComputePath, OutputProjection, SeededRng};
use candle_core::{Result, Tensor};
use rayon::prelude::*;

use crate::{
    lstm_by_hand::HostLstm,
    weights::{LstmState, LstmWeights},
};

/// One row being generated.
pub struct Row {
    /// Tokens so far (the prefix, then what is sampled).
    pub tokens: Vec<u32>,
    /// The row's own sampling stream, so results do not depend on batching.
    pub rng: SeededRng,
    /// Whether the row has emitted EOS.
    pub done: bool,
}

/// How far and how rows are extended.
#[derive(Clone, Copy, Debug)]
pub struct Extension {
    /// Rows stop at this many tokens (or at EOS).
    pub max_len: usize,
    pub temperature: f32,
    pub eos: Option<u32>,
    /// Host-vector stepping (kernels) or Candle tensor ops.
    pub path: ComputePath,
}

/// Extends every row to `extension.max_len` tokens (or to EOS).
///
/// `rows` must be sorted by `tokens.len()` ascending; `state` holds one row
/// per entry (the state after consuming all but the last prefix token), and
/// `next_inputs` the token each row feeds next (the last prefix token, or BOS).
pub fn extend_rows(
    weights: &LstmWeights,
    mut state: LstmState,
    rows: &mut [Row],
    mut next_inputs: Vec<u32>,
    extension: Extension,
) -> Result<()> {
    let Extension {
        max_len,
        temperature,
        eos,
        path,
    } = extension;
    debug_assert!(rows
        .windows(2)
        .all(|w| w[0].tokens.len() <= w[1].tokens.len()));
    let device = weights.bias.device().clone();
    let starts: Vec<usize> = rows.iter().map(|r| r.tokens.len()).collect();
    if path == ComputePath::Kernels {
        return extend_rows_on_host(
            weights,
            state,
            rows,
            next_inputs,
            &starts,
            (max_len, temperature, eos),
        );
    }
    let vocab = weights.out_b.dim(0)?;
    for step in 0.. {
        let active = starts.partition_point(|&start| start + step < max_len);
        if active == 0 {
            break;
        }
        if active < state.h.dim(0)? {
            state = LstmState {
                h: state.h.narrow(0, 0, active)?,
                c: state.c.narrow(0, 0, active)?,
            };
            next_inputs.truncate(active);
        }
        let inputs = Tensor::new(next_inputs.as_slice(), &device)?;
        state = weights.step(&weights.input_projection(&inputs)?, &state)?;
        let logits = weights.logits(&state.h)?.flatten_all()?.to_vec1::<f32>()?;
        // Each row draws from its own stream, so the rows can be sampled in
        // parallel without changing any result.
        rows[..active]
            .par_iter_mut()
            .zip(logits.par_chunks(vocab))
            .zip(next_inputs.par_iter_mut())
            .with_min_len(16)
            .for_each(|((row, logits), next_input)| {
                if row.done {
                    return;
                }
                let id = sample_from_logits(logits, temperature, &mut row.rng);
                row.tokens.push(id);
                row.done = Some(id) == eos;
                *next_input = id;
            });
    }
    Ok(())
}

/// [`extend_rows`] on the CPU: the LSTM steps on host vectors
/// ([`HostLstm::step`]) and the output layer fused with the sampling
/// ([`OutputProjection::sample`]); no tensor op per step.
fn extend_rows_on_host(
    weights: &LstmWeights,
    state: LstmState,
    rows: &mut [Row],
    mut next_inputs: Vec<u32>,
    starts: &[usize],
    (max_len, temperature, eos): (usize, f32, Option<u32>),
) -> Result<()> {
    let lstm = HostLstm::new(weights)?;
    let projection = OutputProjection::from_layer(&weights.out_w, &weights.out_b)?;
    let hidden_dim = weights.hidden_dim();
    let mut h = state.h.flatten_all()?.to_vec1::<f32>()?;
    let mut c = state.c.flatten_all()?.to_vec1::<f32>()?;
    for step in 0.. {
        let active = starts.partition_point(|&start| start + step < max_len);
        if active == 0 {
            break;
        }
        h.truncate(active * hidden_dim);
        c.truncate(active * hidden_dim);
        next_inputs.truncate(active);
        lstm.step(&next_inputs, &mut h, &mut c)?;
        let mut streams: Vec<Option<&mut SeededRng>> = rows[..active]
            .iter_mut()
            .map(|row| (!row.done).then_some(&mut row.rng))
            .collect();
        let ids = projection.sample(&h, temperature, &mut streams)?;
        for ((row, next_input), id) in rows[..active].iter_mut().zip(&mut next_inputs).zip(ids) {
            if let Some(id) = id {
                row.tokens.push(id);
                row.done = Some(id) == eos;
                *next_input = id;
            }
        }
    }
    Ok(())
}
