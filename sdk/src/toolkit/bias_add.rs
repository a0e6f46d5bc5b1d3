//! `xs + bias`, the bias (`[n]`) broadcast over every row of `xs`
//! (`[…, n]`), whose bias gradient is summed in one pass over the rows.
//!
//! Candle's `broadcast_add` differentiates the bias with a general
//! reduction that divides every index back into coordinates, about 3 ns a
//! value on the CPU. Its reduction adds the gradient's rows in order,
//! from zero, into the bias's; so does this op's backward pass, as one
//! vectorised pass: the same additions in the same order, so the same
//! values to the bit (the forward values are one addition each either
//! way). A layer's bias, or a convolution's over every window of every
//! row, costs a pass over its output instead of a reduction. Off the CPU,
//! and for other dtypes, it is Candle's `broadcast_add`.

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::row_blocks::contiguous as values;

/// `xs + bias` for `xs` `[…, n]` and `bias` `[n]`, differentiable with
/// respect to both; the values and gradients of `xs.broadcast_add(bias)`,
/// to the bit.
pub fn bias_add(xs: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let n = bias.dims1()?;
    let cpu_f32 = xs.device().is_cpu() && xs.dtype() == DType::F32 && bias.dtype() == DType::F32;
    if !cpu_f32 || xs.rank() == 0 || xs.dim(candle_core::D::Minus1)? != n || n == 0 {
        return xs.broadcast_add(bias);
    }
    let shape = xs.shape().clone();
    xs.contiguous()?
        .reshape((shape.elem_count() / n, n))?
        .apply_op2(&bias.contiguous()?, BiasAdd)?
        .reshape(shape)
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

    /// Values and both gradients as `broadcast_add` gives them, to the bit,
    /// at ranks 2 and 3 (a convolution's windows), the latter also from a
    /// strided view.
    #[test]
    fn the_op_is_candles_broadcast_add_to_the_bit() {
        let device = Device::Cpu;
        for dims in [vec![37, 300], vec![41, 19, 64], vec![3, 1, 70]] {
            let count: usize = dims.iter().product();
            let n = *dims.last().unwrap();
            let xs: Vec<f32> = (0..count)
                .map(|i| ((i * 29 % 31) as f32 - 15.0) / 7.0 + 1e-3 * i as f32)
                .collect();
            let xs = Var::from_vec(xs, dims.clone(), &device).unwrap();
            let bias: Vec<f32> = (0..n).map(|i| (i as f32 - 9.5) / 3.0).collect();
            let bias = Var::from_vec(bias, n, &device).unwrap();
            let weights: Vec<f32> = (0..count)
                .map(|i| ((i * 17 % 23) as f32 - 11.0) / 3.0 + 1e-4 * i as f32)
                .collect();
            let weights = Tensor::from_vec(weights, dims.clone(), &device).unwrap();
            let ours = bias_add(xs.as_tensor(), bias.as_tensor()).unwrap();
            let theirs = xs.as_tensor().broadcast_add(bias.as_tensor()).unwrap();
            assert_eq!(bits(&ours), bits(&theirs), "{dims:?}");
            let (ours, theirs) = (
                weighted_sum_grads(&ours, &weights),
                weighted_sum_grads(&theirs, &weights),
            );
            for var in [xs.as_tensor(), bias.as_tensor()] {
                assert_eq!(
                    bits(ours.get(var).unwrap()),
                    bits(theirs.get(var).unwrap()),
                    "{dims:?}, {:?}",
                    var.shape()
                );
            }
        }
        // A strided input reads as its values.
        let xs = Tensor::arange(0f32, 24.0, &device)
            .unwrap()
            .reshape((2, 4, 3))
            .unwrap()
            .transpose(0, 1)
            .unwrap();
        let bias = Tensor::new(&[0.5f32, -1.0], &device).unwrap();
        let xs = xs.transpose(1, 2).unwrap(); // [4, 3, 2], strided
        assert_eq!(
            bits(&bias_add(&xs, &bias).unwrap()),
            bits(&xs.broadcast_add(&bias).unwrap())
        );
    }

    /// Where the op does not apply, it is `broadcast_add` itself (a bias
    /// of another length is refused by it).
    #[test]
    fn other_shapes_are_candles_broadcast_add() {
        let device = Device::Cpu;
        let xs = Tensor::ones((2, 3), DType::F32, &device).unwrap();
        let wrong = Tensor::ones(4, DType::F32, &device).unwrap();
        assert!(bias_add(&xs, &wrong).is_err());
        let one = Tensor::ones(1, DType::F32, &device).unwrap();
        assert_eq!(
            bits(&bias_add(&xs, &one).unwrap()),
            bits(&xs.broadcast_add(&one).unwrap())
        );
    }
}
