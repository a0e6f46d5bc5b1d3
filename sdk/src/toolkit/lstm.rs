//! A left-to-right LSTM layer that returns the hidden state at every
//! position, with the recurrence as one CPU kernel or as Candle's LSTM.

use candle_core::{Result, Tensor};
use candle_nn::{
    rnn::{LSTMState, RNN},
    LSTMConfig, VarBuilder, LSTM,
};

use super::compute::ComputePath;
use super::lstm_recurrence::lstm_states;

/// One LSTM layer (PyTorch's equations and variable names:
/// `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0` under the
/// builder's prefix, as `candle_nn::lstm` names them, so checkpoints of
/// either load into the other).
///
/// [`ComputePath::Tensor`] steps `candle_nn::LSTM` position by position
/// (any device; the reference). [`ComputePath::Kernels`] runs the input
/// projection and the recurrence, forward and backward, as one CPU op
/// ([`super::lstm_recurrence`]); several times faster, and equal up to
/// float rounding.
pub struct Lstm {
    reference: LSTM,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    path: ComputePath,
}

impl Lstm {
    /// The kernel on the CPU, Candle's `LSTM` on other devices.
    pub fn new(vb: VarBuilder, input: usize, hidden: usize) -> Result<Self> {
        let path = ComputePath::auto(vb.device());
        Self::on_path(vb, input, hidden, path)
    }

    /// The implementation `path` (a component's `compute:` key, resolved).
    pub fn on_path(vb: VarBuilder, input: usize, hidden: usize, path: ComputePath) -> Result<Self> {
        let reference = candle_nn::lstm(input, hidden, LSTMConfig::default(), vb.clone())?;
        // The same variables `candle_nn::lstm` just created.
        Ok(Lstm {
            reference,
            w_ih: vb.get((4 * hidden, input), "weight_ih_l0")?,
            w_hh: vb.get((4 * hidden, hidden), "weight_hh_l0")?,
            b_ih: vb.get(4 * hidden, "bias_ih_l0")?,
            b_hh: vb.get(4 * hidden, "bias_hh_l0")?,
            path,
        })
    }

    /// Hidden size.
    pub fn hidden(&self) -> Result<usize> {
        self.w_hh.dim(1)
    }

    /// The implementation [`Self::states`] runs.
    pub fn path(&self) -> ComputePath {
        self.path
    }

    /// One position from `state`: Candle's `LSTM::step` on either path.
    /// The kernel's gain is a whole sequence in one op; a model that must
    /// step (sampling, feeding its own outputs back) steps here.
    pub fn step(&self, x: &Tensor, state: &LSTMState) -> Result<LSTMState> {
        self.reference.step(x, state)
    }

    /// `[B, T, H]`: the hidden state after each position of `xs: [B, T, I]`,
    /// from a zero state. Position `t` has seen positions `0..=t` only, so
    /// padding after a row's last token never reaches that row's earlier
    /// states.
    pub fn states(&self, xs: &Tensor) -> Result<Tensor> {
        let (rows, steps, _) = xs.dims3()?;
        let hidden = self.hidden()?;
        match self.path {
            ComputePath::Tensor => {
                if steps == 0 {
                    return Tensor::zeros((rows, 0, hidden), xs.dtype(), xs.device());
                }
                let states = self.reference.seq(xs)?;
                self.reference.states_to_tensor(&states)
            }
            ComputePath::Kernels => {
                let bias = (&self.b_ih + &self.b_hh)?.unsqueeze(1)?;
                let packed = Tensor::cat(&[&self.w_ih, &self.w_hh, &bias], 1)?;
                lstm_states(xs, &packed)
            }
        }
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

    /// `[B, T, I]` inputs with values in about ±1.3.
    fn inputs(rows: usize, steps: usize, input: usize) -> Tensor {
        spread_values(rows, steps, input)
    }

    fn model(path: ComputePath, input: usize, hidden: usize) -> (VarMap, Lstm) {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let lstm = Lstm::on_path(vb, input, hidden, path).unwrap();
        reinitialize(&varmap, 11, |_, _| SeededInit::Normal(0.4)).unwrap();
        (varmap, lstm)
    }

    /// The loss both paths are differentiated through: every position's
    /// state, weighted unevenly so each position's gradient differs.
    fn loss(states: &Tensor) -> Tensor {
        let weights = states
            .ones_like()
            .unwrap()
            .cumsum(1)
            .unwrap()
            .affine(0.1, -0.3)
            .unwrap();
        (states * weights).unwrap().sum_all().unwrap()
    }

    #[test]
    fn the_kernel_matches_candles_lstm_forward_and_backward() {
        // 37 rows: two full blocks and a partial one; 9 positions.
        let (rows, steps, input, hidden) = (37, 9, 5, 6);
        let (varmap, reference) = model(ComputePath::Tensor, input, hidden);
        let (kernel_map, kernel) = model(ComputePath::Kernels, input, hidden);
        let xs = Var::from_tensor(&inputs(rows, steps, input)).unwrap();
        let want = reference.states(xs.as_tensor()).unwrap();
        let got = kernel.states(xs.as_tensor()).unwrap();
        assert_eq!(got.dims(), &[rows, steps, hidden]);
        assert!(
            max_difference(&got, &want) < 1e-5,
            "{}",
            max_difference(&got, &want)
        );

        let want_grads = loss(&want).backward().unwrap();
        let got_grads = loss(&got).backward().unwrap();
        let (vars, kernel_vars) = (
            varmap.data().lock().unwrap(),
            kernel_map.data().lock().unwrap(),
        );
        for (name, var) in vars.iter() {
            let want = want_grads.get(var.as_tensor()).unwrap();
            let got = got_grads.get(kernel_vars[name].as_tensor()).unwrap();
            let scale = want.abs().unwrap().max_keepdim(0).unwrap().max(0).unwrap();
            let scale = scale
                .flatten_all()
                .unwrap()
                .max(0)
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            let error = max_difference(got, want);
            assert!(
                error <= 2e-5 * scale.max(1.0),
                "{name}: {error} (scale {scale})"
            );
        }
        let error = max_difference(
            got_grads.get(xs.as_tensor()).unwrap(),
            want_grads.get(xs.as_tensor()).unwrap(),
        );
        assert!(error < 2e-5, "inputs: {error}");
    }

    #[test]
    fn the_kernels_states_and_gradients_do_not_depend_on_the_thread_count() {
        let (varmap, lstm) = model(ComputePath::Kernels, 4, 8);
        let xs = inputs(40, 7, 4);
        let run = || {
            let states = lstm.states(&xs).unwrap();
            let grads = loss(&states).backward().unwrap();
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
        let (varmap, lstm) = model(ComputePath::Kernels, 3, 5);
        let xs = inputs(19, 6, 3);
        let total = loss(&lstm.states(&xs).unwrap());
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
    fn no_positions_give_no_states_on_both_paths() {
        for path in [ComputePath::Tensor, ComputePath::Kernels] {
            let (_varmap, lstm) = model(path, 3, 4);
            let xs = Tensor::zeros((2, 0, 3), DType::F32, &Device::Cpu).unwrap();
            assert_eq!(lstm.states(&xs).unwrap().dims(), &[2, 0, 4], "{path:?}");
        }
    }
}
