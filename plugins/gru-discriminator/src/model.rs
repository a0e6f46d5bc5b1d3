//! Embedding → GRU → logistic output.

use candle_core::{Module, Result, Tensor, D};
use candle_nn::{Linear, VarBuilder};

/// The network; the output layer is separate so dropout can precede it.
pub struct GruNetwork {
    embedding: Tensor,
    /// `[3H, E]`, gate order r, z, n.
    w_ih: Tensor,
    /// `[3H, H]`.
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    pub output: Linear,
}

impl GruNetwork {
    pub fn new(vb: VarBuilder, vocab: usize, embedding: usize, hidden: usize) -> Result<Self> {
        Ok(GruNetwork {
            embedding: vb.get((vocab, embedding), "embedding")?,
            w_ih: vb.get((3 * hidden, embedding), "gru.w_ih")?,
            w_hh: vb.get((3 * hidden, hidden), "gru.w_hh")?,
            b_ih: vb.get(3 * hidden, "gru.b_ih")?,
            b_hh: vb.get(3 * hidden, "gru.b_hh")?,
            output: Linear::new(
                vb.get((1, hidden), "output.weight")?,
                Some(vb.get(1, "output.bias")?),
            ),
        })
    }

    /// Final hidden state `[B, H]` of ids `[B, T]`: rows stop updating after
    /// their last real token (`mask: [B, T]`), so padding never reaches it.
    pub fn encode(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (rows, steps) = ids.dims2()?;
        let hidden = self.w_hh.dim(1)?;
        let x = self.embedding.index_select(&ids.flatten_all()?, 0)?;
        let projected = x
            .matmul(&self.w_ih.t()?)?
            .broadcast_add(&self.b_ih)?
            .reshape((rows, steps, 3 * hidden))?;
        let mut h = Tensor::zeros((rows, hidden), x.dtype(), x.device())?;
        for t in 0..steps {
            let xi = projected.narrow(1, t, 1)?.squeeze(1)?.chunk(3, D::Minus1)?;
            let hh = h
                .matmul(&self.w_hh.t()?)?
                .broadcast_add(&self.b_hh)?
                .chunk(3, D::Minus1)?;
            let r = candle_nn::ops::sigmoid(&(&xi[0] + &hh[0])?)?;
            let z = candle_nn::ops::sigmoid(&(&xi[1] + &hh[1])?)?;
            let n = (&xi[2] + (r * &hh[2])?)?.tanh()?;
            let updated = ((z.ones_like()? - &z)? * n)?.add(&(z * &h)?)?;
            let m = mask.narrow(1, t, 1)?;
            h = (updated.broadcast_mul(&m)? + h.broadcast_mul(&(m.ones_like()? - &m)?)?)?;
        }
        Ok(h)
    }

    /// Logit of `P(real)` per row: `[B]`.
    pub fn logits(&self, features: &Tensor) -> Result<Tensor> {
        self.output.forward(features)?.squeeze(1)
    }
}
