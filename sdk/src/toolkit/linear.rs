//! A linear layer, `x · Wᵀ + b`, whose bias gradient is summed in one
//! pass over the rows.
//!
//! Candle's `broadcast_add` differentiates the bias with a general
//! reduction that divides every index back into coordinates: on the CPU
//! about 3 ns a value, which for a generator's output layer (`[64,
//! 5,000]` logits at every position of every step) made the bias, the
//! cheapest part of the layer, the dearest part of its backward pass. Here
//! the bias is added by one op whose backward pass sums the rows in order
//! into the bias gradient: the same additions, in the same order, as
//! Candle's reduction, so the same values to the bit, in one vectorised
//! pass. Off the CPU, and for inputs of other ranks, it is Candle's
//! `Linear`.

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Module, Result, Shape, Tensor};
use candle_nn::VarBuilder;
use rayon::prelude::*;

use super::row_blocks::contiguous as values;

/// `x · Wᵀ + b` with `W` `[out, in]` and `b` `[out]`: the variables, names
/// and initialisation of `candle_nn::linear`.
#[derive(Clone, Debug)]
pub struct Linear {
    inner: candle_nn::Linear,
}

/// A [`Linear`] from `in_dim` to `out_dim` features with a bias, its
/// variables `weight` and `bias` under `vb` (as `candle_nn::linear`).
pub fn linear(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Linear> {
    Ok(Linear {
        inner: candle_nn::linear(in_dim, out_dim, vb)?,
    })
}

impl Linear {
    /// `[out, in]`.
    pub fn weight(&self) -> &Tensor {
        self.inner.weight()
    }

    /// `[out]`, if the layer has one.
    pub fn bias(&self) -> Option<&Tensor> {
        self.inner.bias()
    }
}

impl Module for Linear {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        match self.inner.bias() {
            Some(bias) if xs.rank() == 2 && xs.device().is_cpu() && xs.dtype() == DType::F32 => xs
                .matmul(&self.inner.weight().t()?)?
                .apply_op2(bias, BiasAdd),
            _ => self.inner.forward(xs),
        }
    }
}

/// `[rows, n] + [n]`, the bias broadcast over the rows.
struct BiasAdd;

impl CustomOp2 for BiasAdd {
    fn name(&self) -> &'static str {
        "bias-add"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xs_layout: &Layout,
        bias: &CpuStorage,
        bias_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (rows, n) = xs_layout.shape().dims2()?;
        if bias_layout.shape().dims1()? != n {
            candle_core::bail!(
                "bias add: {n} features, a bias of {:?}",
                bias_layout.shape()
            );
        }
        let (xs, bias) = (
            values(xs, xs_layout, "bias add: the input")?,
            values(bias, bias_layout, "bias add: the bias")?,
        );
        let mut out = Vec::with_capacity(rows * n);
        out.par_extend(
            xs.par_chunks(n.max(1))
                .flat_map_iter(|row| row.iter().zip(bias).map(|(x, b)| x + b)),
        );
        Ok((CpuStorage::F32(out), Shape::from((rows, n))))
    }

    fn bwd(
        &self,
        _xs: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (_, n) = grad.dims2()?;
        let grad = grad.contiguous()?;
        let bias_grad = {
            let (storage, layout) = grad.storage_and_layout();
            let candle_core::Storage::Cpu(cpu) = &*storage else {
                candle_core::bail!("bias add: a CPU gradient is expected");
            };
            // Row by row from zero: Candle's reduction adds them in this
            // order too.
            let mut sums = vec![0f32; n];
            for row in values(cpu, layout, "bias add: the gradient")?.chunks(n.max(1)) {
                for (s, g) in sums.iter_mut().zip(row) {
                    *s += g;
                }
            }
            sums
        };
        let bias_grad = Tensor::from_vec(bias_grad, n, bias.device())?;
        Ok((Some(grad), Some(bias_grad)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolkit::test_tensors::{bits, weighted_sum_grads};
    use candle_core::{Device, Var};
    use candle_nn::VarMap;

    /// Values and both gradients, to the bit, as `candle_nn::Linear` gives
    /// them.
    #[test]
    fn the_layer_is_candles_linear_to_the_bit() {
        let device = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let layer = linear(7, 300, vb.pp("output")).unwrap();
        let reference = candle_nn::Linear::new(layer.weight().clone(), layer.bias().cloned());
        let xs: Vec<f32> = (0..37 * 7)
            .map(|i| ((i * 29 % 31) as f32 - 15.0) / 7.0)
            .collect();
        let xs = Var::from_vec(xs, (37, 7), &device).unwrap();
        let weights: Vec<f32> = (0..37 * 300)
            .map(|i| ((i * 17 % 23) as f32 - 11.0) / 3.0)
            .collect();
        let weights = Tensor::from_vec(weights, (37, 300), &device).unwrap();
        let (ours, theirs) = (
            layer.forward(xs.as_tensor()).unwrap(),
            reference.forward(xs.as_tensor()).unwrap(),
        );
        assert_eq!(bits(&ours), bits(&theirs));
        let grads = |y: &Tensor| weighted_sum_grads(y, &weights);
        let (ours, theirs) = (grads(&ours), grads(&theirs));
        for var in [xs.as_tensor(), layer.weight(), layer.bias().unwrap()] {
            assert_eq!(
                bits(ours.get(var).unwrap()),
                bits(theirs.get(var).unwrap()),
                "{:?}",
                var.shape()
            );
        }
        assert_eq!(varmap.all_vars().len(), 2);
    }
}
