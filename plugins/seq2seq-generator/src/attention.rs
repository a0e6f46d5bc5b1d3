//! Bahdanau additive attention over the encoder's annotations.
//!
//! `e_{t,i} = vᵀ tanh(W_s s_{t−1} + U_h h_i + b)`, `α_t = softmax(e_t)` over
//! the real source positions, `c_t = Σ_i α_{t,i} h_i`. The `U_h h_i + b` half
//! does not depend on the decoder, so it is computed once per batch (the
//! [`Memory::keys`]) and a step costs one `[N, H] × [H, A]` matmul plus the
//! element-wise work over `[N, S, A]`.

use candle_core::{Result, Tensor, D};

use crate::weights::Seq2SeqWeights;

/// Added to the scores of padding positions: `exp` of it is exactly 0, and
/// unlike `-inf` it cannot turn a row into NaN.
pub const MASKED: f32 = -1e9;

/// What the decoder attends to, one row per decoder row.
#[derive(Clone)]
pub struct Memory {
    /// `[N, S, H]`: annotations `h_i = [→h_i; ←h_i]` (0 at padding).
    pub values: Tensor,
    /// `[N, S, A]`: `U_h h_i + b`.
    pub keys: Tensor,
    /// `[N, S]`: 0 at real positions, [`MASKED`] at padding.
    pub mask_bias: Tensor,
}

impl Memory {
    /// Rows `index` (`[M]` u32) of the memory, e.g. one per rollout.
    pub fn gather(&self, index: &Tensor) -> Result<Memory> {
        Ok(Memory {
            values: self.values.index_select(index, 0)?,
            keys: self.keys.index_select(index, 0)?,
            mask_bias: self.mask_bias.index_select(index, 0)?,
        })
    }

    /// The first `rows` rows (a view, no copy).
    pub fn narrow(&self, rows: usize) -> Result<Memory> {
        Ok(Memory {
            values: self.values.narrow(0, 0, rows)?,
            keys: self.keys.narrow(0, 0, rows)?,
            mask_bias: self.mask_bias.narrow(0, 0, rows)?,
        })
    }
}

/// The context `c_t: [N, H]` for the previous decoder states `s: [N, H]`.
pub fn attend(w: &Seq2SeqWeights, memory: &Memory, s: &Tensor) -> Result<Tensor> {
    let (rows, steps, attention) = memory.keys.dims3()?;
    let query = s.matmul(&w.attention_w_s.t()?)?.unsqueeze(1)?;
    let energy = memory.keys.broadcast_add(&query)?.tanh()?;
    let scores = energy
        .reshape((rows * steps, attention))?
        .matmul(&w.attention_v.unsqueeze(1)?)?
        .reshape((rows, steps))?;
    // Candle's fused softmax has no backward; the composed one does, and
    // [N, S] is small next to the [N, S, A] energies.
    let alpha = candle_nn::ops::softmax(&(scores + &memory.mask_bias)?, D::Minus1)?;
    alpha.unsqueeze(1)?.matmul(&memory.values)?.squeeze(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Seq2SeqConfig;
    use candle_core::{DType, Device};
    use candle_nn::{VarBuilder, VarMap};

    #[test]
    fn padding_gets_no_weight() {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let config = Seq2SeqConfig {
            embedding_dim: 2,
            hidden_dim: 2,
            attention_dim: 3,
            output_dim: 2,
            ..Seq2SeqConfig::default()
        };
        let w = Seq2SeqWeights::new(vb, 5, &config).unwrap();
        let device = Device::Cpu;
        // One row of three positions, the last one padding holding a huge value.
        let values = Tensor::new(&[[[1.0f32, 0.0], [0.0, 1.0], [100.0, 100.0]]], &device).unwrap();
        let keys = Tensor::zeros((1, 3, 3), DType::F32, &device).unwrap();
        let mask_bias = Tensor::new(&[[0.0f32, 0.0, MASKED]], &device).unwrap();
        let memory = Memory {
            values,
            keys,
            mask_bias,
        };
        let s = Tensor::zeros((1, 2), DType::F32, &device).unwrap();
        let c = attend(&w, &memory, &s).unwrap().to_vec2::<f32>().unwrap();
        // Equal scores over the two real positions: the mean of them.
        assert!(
            (c[0][0] - 0.5).abs() < 1e-6 && (c[0][1] - 0.5).abs() < 1e-6,
            "{c:?}"
        );
    }
}
