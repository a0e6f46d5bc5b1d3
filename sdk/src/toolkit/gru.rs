//! A GRU that reads each row of a padded batch to its last real token.

use candle_core::{Result, Tensor, D};
use candle_nn::VarBuilder;

use super::compute::ComputePath;
use super::gru_recurrence::gru_final_states;

/// One GRU layer (PyTorch's equations, gate order r, z, n) over masked
/// rows. Its variables are named `w_ih`, `w_hh`, `b_ih`, `b_hh` under the
/// builder's prefix, which is what [`super::init::pytorch_like`] recognises.
///
/// [`ComputePath::Tensor`] steps Candle tensor ops position by position
/// (any device; the reference). [`ComputePath::Kernels`] runs the input
/// projection and the recurrence, forward and backward, as one CPU op
/// ([`super::gru_recurrence`]); several times faster, and equal up to
/// float rounding.
pub struct MaskedGru {
    /// `[3H, I]`.
    w_ih: Tensor,
    /// `[3H, H]`.
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    path: ComputePath,
}

impl MaskedGru {
    /// The kernels on the CPU, tensor ops on other devices.
    pub fn new(vb: VarBuilder, input: usize, hidden: usize) -> Result<Self> {
        let path = ComputePath::auto(vb.device());
        Self::on_path(vb, input, hidden, path)
    }

    /// The implementation `path` (a component's `compute:` key, resolved).
    pub fn on_path(vb: VarBuilder, input: usize, hidden: usize, path: ComputePath) -> Result<Self> {
        Ok(MaskedGru {
            w_ih: vb.get((3 * hidden, input), "w_ih")?,
            w_hh: vb.get((3 * hidden, hidden), "w_hh")?,
            b_ih: vb.get(3 * hidden, "b_ih")?,
            b_hh: vb.get(3 * hidden, "b_hh")?,
            path,
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
        if self.path == ComputePath::Kernels {
            let packed = Tensor::cat(
                &[
                    &self.w_ih,
                    &self.w_hh,
                    &self.b_ih.unsqueeze(1)?,
                    &self.b_hh.unsqueeze(1)?,
                ],
                1,
            )?;
            return gru_final_states(xs, mask, &packed);
        }
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
    use crate::toolkit::test_tensors::{
        assert_thread_count_independent, max_difference, spread_values,
    };
    use crate::toolkit::{reinitialize, SeededInit};
    use candle_core::{DType, Device, Var};
    use candle_nn::VarMap;

    fn model(path: ComputePath, input: usize, hidden: usize) -> (VarMap, MaskedGru) {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let gru = MaskedGru::on_path(vb, input, hidden, path).unwrap();
        reinitialize(&varmap, 5, |_, _| SeededInit::Normal(0.5)).unwrap();
        (varmap, gru)
    }

    /// `[B, T, I]` inputs in about ±1.3 and a mask whose rows end at
    /// lengths 0..=T (some rows with no real token).
    fn inputs(rows: usize, steps: usize, input: usize) -> (Tensor, Tensor) {
        let mask: Vec<f32> = (0..rows * steps)
            .map(|k| f32::from(u8::from(k % steps < (k / steps) % (steps + 1))))
            .collect();
        (
            spread_values(rows, steps, input),
            Tensor::from_vec(mask, (rows, steps), &Device::Cpu).unwrap(),
        )
    }

    #[test]
    fn the_kernel_matches_the_tensor_ops_forward_and_backward() {
        // 37 rows: two full blocks and a partial one.
        let (rows, steps, input, hidden) = (37, 9, 5, 6);
        let (varmap, reference) = model(ComputePath::Tensor, input, hidden);
        let (kernel_map, kernel) = model(ComputePath::Kernels, input, hidden);
        let (xs, mask) = inputs(rows, steps, input);
        let xs = Var::from_tensor(&xs).unwrap();
        let want = reference.encode(xs.as_tensor(), &mask).unwrap();
        let got = kernel.encode(xs.as_tensor(), &mask).unwrap();
        assert_eq!(got.dims(), &[rows, hidden]);
        assert!(
            max_difference(&got, &want) < 1e-5,
            "{}",
            max_difference(&got, &want)
        );
        // A loss that weighs each state differently.
        let weights = Tensor::arange(0f32, (rows * hidden) as f32, &Device::Cpu)
            .unwrap()
            .reshape((rows, hidden))
            .unwrap()
            .affine(0.01, -0.5)
            .unwrap();
        let loss = |states: &Tensor| (states * &weights).unwrap().sum_all().unwrap();
        let (want_grads, got_grads) = (
            loss(&want).backward().unwrap(),
            loss(&got).backward().unwrap(),
        );
        let (vars, kernel_vars) = (
            varmap.data().lock().unwrap(),
            kernel_map.data().lock().unwrap(),
        );
        for (name, var) in vars.iter() {
            let want = want_grads.get(var.as_tensor()).unwrap();
            let got = got_grads.get(kernel_vars[name].as_tensor()).unwrap();
            let error = max_difference(got, want);
            assert!(error < 1e-4, "{name}: {error}");
        }
        let error = max_difference(
            got_grads.get(xs.as_tensor()).unwrap(),
            want_grads.get(xs.as_tensor()).unwrap(),
        );
        assert!(error < 1e-5, "inputs: {error}");
    }

    #[test]
    fn the_kernels_results_do_not_depend_on_the_thread_count() {
        let (varmap, gru) = model(ComputePath::Kernels, 4, 8);
        let (xs, mask) = inputs(40, 7, 4);
        let run = || {
            let states = gru.encode(&xs, &mask).unwrap();
            let grads = states.sqr().unwrap().sum_all().unwrap().backward().unwrap();
            let mut values = states.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            for var in varmap.all_vars() {
                let grad = grads.get(var.as_tensor()).unwrap();
                values.extend(grad.flatten_all().unwrap().to_vec1::<f32>().unwrap());
            }
            values
        };
        assert_thread_count_independent(run);
    }

    #[test]
    fn a_second_backward_pass_over_the_same_graph_recomputes_the_same_gradients() {
        // The first backward pass uses the activations the forward pass
        // kept; the second finds none and recomputes them.
        let (varmap, gru) = model(ComputePath::Kernels, 3, 5);
        let (xs, mask) = inputs(19, 6, 3);
        let total = gru
            .encode(&xs, &mask)
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap();
        let (first, second) = (total.backward().unwrap(), total.backward().unwrap());
        for var in varmap.all_vars() {
            let grad = |store: &candle_core::backprop::GradStore| {
                let grad = store.get(var.as_tensor()).unwrap();
                grad.flatten_all().unwrap().to_vec1::<f32>().unwrap()
            };
            assert_eq!(grad(&first), grad(&second));
        }
    }

    #[test]
    fn padding_steps_leave_the_state_unchanged() {
        for path in [ComputePath::Tensor, ComputePath::Kernels] {
            padding_steps_leave_the_state_unchanged_on(path);
        }
    }

    fn padding_steps_leave_the_state_unchanged_on(path: ComputePath) {
        let (_varmap, gru) = model(path, 3, 4);
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
