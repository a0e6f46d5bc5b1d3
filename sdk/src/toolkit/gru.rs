//! A GRU that reads each row of a padded batch to its last real token.

use candle_core::{Result, Tensor, D};
use candle_nn::VarBuilder;

/// One GRU layer (PyTorch's equations, gate order r, z, n) over masked
/// rows. Its variables are named `w_ih`, `w_hh`, `b_ih`, `b_hh` under the
/// builder's prefix, which is what [`super::init::pytorch_like`] recognises.
pub struct MaskedGru {
    /// `[3H, I]`.
    w_ih: Tensor,
    /// `[3H, H]`.
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
}

impl MaskedGru {
    pub fn new(vb: VarBuilder, input: usize, hidden: usize) -> Result<Self> {
        Ok(MaskedGru {
            w_ih: vb.get((3 * hidden, input), "w_ih")?,
            w_hh: vb.get((3 * hidden, hidden), "w_hh")?,
            b_ih: vb.get(3 * hidden, "b_ih")?,
            b_hh: vb.get(3 * hidden, "b_hh")?,
        })
    }

    /// Hidden size.
    pub fn hidden(&self) -> Result<usize> {
        self.w_hh.dim(1)
    }

    /// Final state `[B, H]` of inputs `[B, T, I]` under `mask: [B, T]`.
    ///
    /// A row's state stops changing after its last real step
    /// (`h ← h + m·(h' − h)`), so the padding of the batch — however wide —
    /// never reaches it. A row with no real step keeps the zero state.
    pub fn encode(&self, xs: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (rows, steps, input) = xs.dims3()?;
        let hidden = self.hidden()?;
        // All input projections in one matmul, laid out step-major so each
        // step's slice is contiguous.
        let projected = xs
            .reshape((rows * steps, input))?
            .matmul(&self.w_ih.t()?)?
            .broadcast_add(&self.b_ih)?
            .reshape((rows, steps, 3 * hidden))?
            .transpose(0, 1)?
            .contiguous()?;
        let mask = mask.t()?.contiguous()?.unsqueeze(2)?;
        let w_hh = self.w_hh.t()?;
        let mut h = Tensor::zeros((rows, hidden), xs.dtype(), xs.device())?;
        for t in 0..steps {
            let xi = projected.get(t)?.chunk(3, D::Minus1)?;
            let hh = h
                .matmul(&w_hh)?
                .broadcast_add(&self.b_hh)?
                .chunk(3, D::Minus1)?;
            let r = candle_nn::ops::sigmoid(&(&xi[0] + &hh[0])?)?;
            let z = candle_nn::ops::sigmoid(&(&xi[1] + &hh[1])?)?;
            let n = (&xi[2] + (r * &hh[2])?)?.tanh()?;
            // h' = (1 − z)·n + z·h = n + z·(h − n)
            let updated = (&n + (z * (&h - &n)?)?)?;
            h = (&h + (updated - &h)?.broadcast_mul(&mask.get(t)?)?)?;
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolkit::{reinitialize, SeededInit};
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    #[test]
    fn padding_steps_leave_the_state_unchanged() {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let gru = MaskedGru::new(vb, 3, 4).unwrap();
        reinitialize(&varmap, 5, |_, _| SeededInit::Normal(0.5)).unwrap();
        let xs = Tensor::arange(0f32, 12.0, &Device::Cpu)
            .unwrap()
            .affine(0.1, -0.5)
            .unwrap()
            .reshape((1, 4, 3))
            .unwrap();
        let short = gru
            .encode(
                &xs.narrow(1, 0, 2).unwrap(),
                &Tensor::ones((1, 2), DType::F32, &Device::Cpu).unwrap(),
            )
            .unwrap();
        let mask = Tensor::new(&[[1f32, 1.0, 0.0, 0.0]], &Device::Cpu).unwrap();
        let padded = gru.encode(&xs, &mask).unwrap();
        assert_eq!(
            short.to_vec2::<f32>().unwrap(),
            padded.to_vec2::<f32>().unwrap()
        );
    }
}
