//! Step-by-step sampling of many rows from their own starting states.
//!
//! One loop serves both fresh sampling (every row starts empty from the zero
//! state) and Monte-Carlo rollouts (each row starts from the cached state
//! after its prefix). Rows are ordered by how many tokens they already have,
//! so at every step the rows still generating are a prefix of the batch and
//! the batch simply shrinks: compute is proportional to tokens generated.

use agon_sdk::toolkit::{sample_from_logits, OutputProjection, SeededRng};
use candle_core::{Result, Tensor};
use rayon::prelude::*;

use crate::weights::{LstmState, LstmWeights};

/// One row being generated.
pub struct Row {
    /// Tokens so far (the prefix, then what is sampled).
    pub tokens: Vec<u32>,
    /// The row's own sampling stream, so results do not depend on batching.
    pub rng: SeededRng,
    /// Whether the row has emitted EOS.
    pub done: bool,
}

/// Extends every row to `max_len` tokens (or to EOS).
///
/// `rows` must be sorted by `tokens.len()` ascending; `state` holds one row
/// per entry (the state after consuming all but the last prefix token), and
/// `next_inputs` the token each row feeds next (the last prefix token, or BOS).
pub fn extend_rows(
    weights: &LstmWeights,
    mut state: LstmState,
    rows: &mut [Row],
    mut next_inputs: Vec<u32>,
    max_len: usize,
    temperature: f32,
    eos: Option<u32>,
) -> Result<()> {
    debug_assert!(rows
        .windows(2)
        .all(|w| w[0].tokens.len() <= w[1].tokens.len()));
    let device = weights.bias.device().clone();
    let starts: Vec<usize> = rows.iter().map(|r| r.tokens.len()).collect();
    let vocab = weights.out_b.dim(0)?;
    // On the CPU the output layer and the sampling are fused per block of
    // rows (the same ids; see OutputProjection).
    let projection = if device.is_cpu() {
        Some(OutputProjection::new(&weights.output_matrix()?)?)
    } else {
        None
    };
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
        if let Some(projection) = &projection {
            let hidden = state.h.flatten_all()?.to_vec1::<f32>()?;
            let mut streams: Vec<Option<&mut SeededRng>> = rows[..active]
                .iter_mut()
                .map(|row| (!row.done).then_some(&mut row.rng))
                .collect();
            let ids = projection.sample(&hidden, temperature, &mut streams)?;
            for ((row, next_input), id) in rows[..active].iter_mut().zip(&mut next_inputs).zip(ids)
            {
                if let Some(id) = id {
                    row.tokens.push(id);
                    row.done = Some(id) == eos;
                    *next_input = id;
                }
            }
            continue;
        }
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
