//! The bidirectional GRU encoder, masked to each row's real length.
//!
//! Rows are padded to the batch's longest source. The forward GRU keeps its
//! state unchanged over padding (its annotations there are zeroed and never
//! attended to); the backward GRU runs from the last column but stays at its
//! zero initial state until it reaches a row's last real token, so that is
//! where it effectively starts. Padding therefore never influences anything,
//! and a row encodes the same whatever it is batched with.

use agon_sdk::{PluginError, PluginResult, TokenBatch};
use candle_core::{Device, Result, Tensor};

use crate::{
    attention::{Memory, MASKED},
    gru::GruCell,
    weights::Seq2SeqWeights,
};

/// The encoded sources: what the decoder attends to and where it starts.
pub struct Encoded {
    pub memory: Memory,
    /// `[B, H]`: `tanh(W · mean_i h_i + b)` over each row's real positions.
    pub init_state: Tensor,
}

/// Checks what the encoder needs beyond the SDK's validation: every source
/// row has at least one token.
pub fn check_sources(sources: &TokenBatch) -> PluginResult<()> {
    if let Some(r) = sources.lengths.iter().position(|&len| len == 0) {
        return Err(PluginError::input(format!(
            "source row {r} is empty; every source needs at least one token (its EOS)"
        )));
    }
    Ok(())
}

/// Encodes `sources` (rows padded with `pad`).
pub fn encode(
    w: &Seq2SeqWeights,
    sources: &TokenBatch,
    pad: u32,
    device: &Device,
) -> PluginResult<Encoded> {
    check_sources(sources)?;
    Ok(encode_checked(w, sources, pad, device)?)
}

fn encode_checked(
    w: &Seq2SeqWeights,
    sources: &TokenBatch,
    pad: u32,
    device: &Device,
) -> Result<Encoded> {
    let rows = sources.rows();
    // Only as many columns as the longest row: the batch may be wider.
    let steps = sources.lengths.iter().copied().max().unwrap_or(0) as usize;
    let min_len = sources.lengths.iter().copied().min().unwrap_or(0) as usize;
    let mut ids = Vec::with_capacity(rows * steps);
    let mut mask = Vec::with_capacity(rows * steps);
    for row in sources.iter_rows() {
        ids.extend_from_slice(row);
        ids.resize(ids.len() + steps - row.len(), pad);
        mask.extend((0..steps).map(|t| if t < row.len() { 1.0f32 } else { 0.0 }));
    }
    let mask_bias: Vec<f32> = mask.iter().map(|&m| (1.0 - m) * MASKED).collect();
    let ids = Tensor::from_vec(ids, rows * steps, device)?;
    let mask = Tensor::from_vec(mask, (rows, steps, 1), device)?;
    let x = w.source_table().index_select(&ids, 0)?;

    let run = |w_ih: &Tensor, cell: &GruCell, backward: bool| -> Result<Tensor> {
        let half = cell.hidden_dim();
        let projected = x.matmul(&w_ih.t()?)?.reshape((rows, steps, 3 * half))?;
        let mut h = Tensor::zeros((rows, half), x.dtype(), device)?;
        let mut outputs = vec![None; steps];
        let order: Vec<usize> = if backward {
            (0..steps).rev().collect()
        } else {
            (0..steps).collect()
        };
        for t in order {
            let next = cell.step(&projected.narrow(1, t, 1)?.squeeze(1)?, &h)?;
            h = if t < min_len {
                // Every row is real here: no masking needed.
                next
            } else {
                // m·new + (1 − m)·old is exactly `old` where m = 0 and
                // exactly `new` where m = 1.
                let m = mask.narrow(1, t, 1)?.squeeze(1)?;
                (next.broadcast_mul(&m)? + h.broadcast_mul(&(1.0 - &m)?)?)?
            };
            outputs[t] = Some(h.clone());
        }
        let outputs: Vec<Tensor> = outputs.into_iter().flatten().collect();
        Tensor::stack(&outputs, 1)
    };
    let forward = run(&w.encoder_forward_w_ih, &w.encoder_forward, false)?;
    let backward = run(&w.encoder_backward_w_ih, &w.encoder_backward, true)?;
    // Zero the forward direction's padding (it holds the last real state).
    let values = Tensor::cat(&[forward, backward], 2)?.broadcast_mul(&mask)?;

    let hidden = w.hidden_dim();
    let lengths: Vec<f32> = sources.lengths.iter().map(|&l| l as f32).collect();
    let lengths = Tensor::from_vec(lengths, (rows, 1), device)?;
    let mean = values.sum(1)?.broadcast_div(&lengths)?;
    let init_state = mean
        .matmul(&w.bridge_w.t()?)?
        .broadcast_add(&w.bridge_b)?
        .tanh()?;
    let attention = w.attention_b.dims()[0];
    let keys = values
        .reshape((rows * steps, hidden))?
        .matmul(&w.attention_u_h.t()?)?
        .broadcast_add(&w.attention_b)?
        .reshape((rows, steps, attention))?;
    Ok(Encoded {
        memory: Memory {
            values,
            keys,
            mask_bias: Tensor::from_vec(mask_bias, (rows, steps), device)?,
        },
        init_state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Seq2SeqConfig;
    use agon_sdk::toolkit::{reinitialize, SeededInit};
    use candle_core::DType;
    use candle_nn::{VarBuilder, VarMap};

    #[test]
    fn a_row_encodes_the_same_alone_and_padded_in_a_batch() {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let config = Seq2SeqConfig {
            embedding_dim: 3,
            hidden_dim: 4,
            attention_dim: 5,
            output_dim: 6,
            ..Seq2SeqConfig::default()
        };
        let w = Seq2SeqWeights::new(vb, 9, &config).unwrap();
        reinitialize(&varmap, 1, |_, _| SeededInit::Uniform(0.5)).unwrap();
        let alone = encode(
            &w,
            &TokenBatch::from_rows(&[vec![4u32, 5, 2]], 0),
            0,
            &Device::Cpu,
        )
        .unwrap();
        let batch =
            TokenBatch::from_rows_with_width(&[vec![6u32, 7, 8, 5, 2], vec![4, 5, 2]], 0, 7);
        let together = encode(&w, &batch, 0, &Device::Cpu).unwrap();
        let row = |t: &Tensor, r: usize, n: usize| -> Vec<f32> {
            t.get(r)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()[..n]
                .to_vec()
        };
        let close = |a: Vec<f32>, b: Vec<f32>| {
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-6, "{a:?} vs {b:?}");
            }
        };
        close(
            row(&alone.memory.values, 0, 12),
            row(&together.memory.values, 1, 12),
        );
        close(
            row(&alone.init_state, 0, 4),
            row(&together.init_state, 1, 4),
        );
        // Padding positions of the annotations are zero.
        assert!(row(&together.memory.values, 1, 20)[12..]
            .iter()
            .all(|&v| v == 0.0));
        let err = encode(
            &w,
            &TokenBatch::from_rows(&[vec![2u32], vec![]], 0),
            0,
            &Device::Cpu,
        );
        assert!(err.err().unwrap().message().contains("row 1 is empty"));
    }
}
