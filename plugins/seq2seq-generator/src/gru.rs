//! A GRU cell (Cho et al. 2014) in PyTorch's gate layout.
//!
//! The input projection `W_ih x + b_ih` is left to the caller: the encoder
//! and the teacher-forced decoder compute it for every position in one
//! matmul before their loops, so a step only multiplies the state.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

/// Recurrent weights of one GRU: `w_hh: [3H, H]` and both biases `[3H]`,
/// gate order r, z, n. (The input weights live with their user, which may
/// split them by input part.)
#[derive(Clone)]
pub struct GruCell {
    pub w_hh: Tensor,
    pub b_ih: Tensor,
    pub b_hh: Tensor,
}

impl GruCell {
    pub fn new(vb: VarBuilder, hidden: usize) -> Result<Self> {
        Ok(GruCell {
            w_hh: vb.get((3 * hidden, hidden), "w_hh")?,
            b_ih: vb.get(3 * hidden, "b_ih")?,
            b_hh: vb.get(3 * hidden, "b_hh")?,
        })
    }

    pub fn hidden_dim(&self) -> usize {
        self.w_hh.dims()[1]
    }

    /// One step from `input_projection: [N, 3H]` (`W_ih x`, without bias)
    /// and the state `h: [N, H]`:
    /// `r, z = σ(…)`, `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`,
    /// `h' = (1 − z) ⊙ n + z ⊙ h`.
    pub fn step(&self, input_projection: &Tensor, h: &Tensor) -> Result<Tensor> {
        let hidden = self.hidden_dim();
        let gi = input_projection.broadcast_add(&self.b_ih)?;
        let gh = h.matmul(&self.w_hh.t()?)?.broadcast_add(&self.b_hh)?;
        // r and z in one sigmoid over the first 2H columns.
        let rz = candle_nn::ops::sigmoid(
            &(gi.narrow(1, 0, 2 * hidden)? + gh.narrow(1, 0, 2 * hidden)?)?,
        )?;
        let r = rz.narrow(1, 0, hidden)?;
        let z = rz.narrow(1, hidden, hidden)?;
        let n = (gi.narrow(1, 2 * hidden, hidden)? + (r * gh.narrow(1, 2 * hidden, hidden)?)?)?
            .tanh()?;
        // h' = n + z ⊙ (h − n): one multiplication fewer than the textbook form.
        n.clone() + (z * (h - &n)?)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    #[test]
    fn step_matches_the_textbook_equations() {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let cell = GruCell::new(vb, 1).unwrap();
        let set = |t: &Tensor, v: &[f32]| {
            let var = varmap
                .data()
                .lock()
                .unwrap()
                .values()
                .find(|var| var.as_tensor().id() == t.id())
                .unwrap()
                .clone();
            var.set(
                &Tensor::new(v, &Device::Cpu)
                    .unwrap()
                    .reshape(t.dims())
                    .unwrap(),
            )
            .unwrap();
        };
        set(&cell.w_hh, &[0.5, -0.3, 0.2]);
        set(&cell.b_ih, &[0.1, 0.0, -0.2]);
        set(&cell.b_hh, &[0.0, 0.3, 0.1]);
        let x = Tensor::new(&[[0.4f32, -0.6, 0.9]], &Device::Cpu).unwrap();
        let h = Tensor::new(&[[0.7f32]], &Device::Cpu).unwrap();
        let out = cell.step(&x, &h).unwrap().to_vec2::<f32>().unwrap()[0][0];
        let sig = |v: f32| 1.0 / (1.0 + (-v).exp());
        let r = sig(0.4 + 0.1 + 0.5 * 0.7);
        let z = sig(-0.6 + 0.0 + -0.3 * 0.7 + 0.3);
        let n = (0.9 - 0.2 + r * (0.2 * 0.7 + 0.1)).tanh();
        let expected = (1.0 - z) * n + z * 0.7;
        assert!((out - expected).abs() < 1e-6, "{out} vs {expected}");
    }
}
