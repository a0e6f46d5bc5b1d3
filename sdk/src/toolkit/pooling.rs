//! Masked pooling over the time axis: padding never reaches the result.

use candle_core::{Result, Tensor};

use super::max_over_time_op::MaxOverTime;

/// Mean over time of `xs: [B, T, F]` at the real positions of
/// `mask: [B, T]` → `[B, F]`; a row without real positions gives zeros.
pub fn masked_mean(xs: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let summed = xs.broadcast_mul(&mask.unsqueeze(2)?)?.sum(1)?;
    let counts = mask.sum_keepdim(1)?.clamp(1.0, f64::INFINITY)?;
    summed.broadcast_div(&counts)
}

/// Maximum over time of `xs: [B, T, F]` → `[B, F]`, whose gradient reaches
/// only the first position that attains it (as PyTorch's and TensorFlow's
/// max-pooling do). Candle's `max` gives every tied position the whole
/// gradient, and ties are common: a token repeated in a row, or padding
/// windows of a convolution. On the CPU one op computes it
/// (`max_over_time_op.rs`); elsewhere tensor ops.
pub fn max_over_time(xs: &Tensor) -> Result<Tensor> {
    if xs.device().is_cpu() && xs.dtype() == candle_core::DType::F32 {
        return xs.contiguous()?.apply_op1(MaxOverTime);
    }
    max_over_time_by_tensor_ops(xs)
}

/// [`max_over_time`] as tensor ops, for any device.
fn max_over_time_by_tensor_ops(xs: &Tensor) -> Result<Tensor> {
    let maximum = xs.max_keepdim(1)?;
    let attains = xs.broadcast_eq(&maximum)?.to_dtype(xs.dtype())?;
    let first = (&attains * attains.cumsum(1)?.eq(1.0)?.to_dtype(xs.dtype())?)?.detach();
    (xs * first)?.sum(1)
}

/// Maximum over time of `xs: [B, T, F]` at the real positions of
/// `mask: [B, T]` → `[B, F]`, its gradient to the first winner
/// ([`max_over_time`]); a row without real positions gives zeros.
pub fn masked_max(xs: &Tensor, mask: &Tensor) -> Result<Tensor> {
    // Padding is pushed far below any real value before the max, then rows
    // with no real position are zeroed.
    let mask3 = mask.unsqueeze(2)?;
    let penalty = ((mask3.ones_like()? - &mask3)? * -1e30)?;
    let maxed = max_over_time(&xs.broadcast_add(&penalty)?)?;
    let any = mask.max_keepdim(1)?;
    maxed.broadcast_mul(&any)
}

/// Each row's value at its last real position: `xs: [B, W]` (one value per
/// position, e.g. a per-token discriminator's logits) and each row's
/// length → `[B]`. The gradient reaches only those positions. A row of
/// length 0 takes position 0.
pub fn last_positions(xs: &Tensor, lengths: &[usize]) -> Result<Tensor> {
    let last: Vec<u32> = lengths
        .iter()
        .map(|&len| len.saturating_sub(1) as u32)
        .collect();
    let last = Tensor::from_vec(last, (lengths.len(), 1), xs.device())?;
    xs.gather(&last, 1)?.squeeze(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn padding_is_ignored_and_empty_rows_are_zero() {
        let xs = Tensor::new(
            &[
                [[1f32, -4.0], [3.0, -2.0], [100.0, 100.0]],
                [[5.0, 6.0], [7.0, 8.0], [9.0, 10.0]],
            ],
            &Device::Cpu,
        )
        .unwrap();
        let mask = Tensor::new(&[[1f32, 1.0, 0.0], [0.0, 0.0, 0.0]], &Device::Cpu).unwrap();
        assert_eq!(
            masked_mean(&xs, &mask).unwrap().to_vec2::<f32>().unwrap(),
            vec![vec![2.0, -3.0], vec![0.0, 0.0]]
        );
        assert_eq!(
            masked_max(&xs, &mask).unwrap().to_vec2::<f32>().unwrap(),
            vec![vec![3.0, -2.0], vec![0.0, 0.0]]
        );
    }

    #[test]
    fn last_positions_take_each_rows_last_real_value_and_its_gradient() {
        let xs = candle_core::Var::new(&[[1f32, 2.0, 3.0], [4.0, 5.0, 6.0]], &Device::Cpu).unwrap();
        let last = last_positions(xs.as_tensor(), &[2, 3]).unwrap();
        assert_eq!(last.to_vec1::<f32>().unwrap(), vec![2.0, 6.0]);
        let gradient = last.sum_all().unwrap().backward().unwrap();
        assert_eq!(
            gradient.get(&xs).unwrap().to_vec2::<f32>().unwrap(),
            vec![vec![0.0, 1.0, 0.0], vec![0.0, 0.0, 1.0]]
        );
        let empty = last_positions(xs.as_tensor(), &[0, 1]).unwrap();
        assert_eq!(empty.to_vec1::<f32>().unwrap(), vec![1.0, 4.0]);
    }

    /// The CPU op gives the tensor formula's values and gradients, bit for
    /// bit, ties, negative values and NaN included: on a small input, and
    /// on one whose rows the op splits among several parallel tasks.
    #[test]
    fn the_cpu_op_is_the_tensor_formula() {
        the_cpu_op_is_the_tensor_formula_at(5, 7, 9);
        the_cpu_op_is_the_tensor_formula_at(70, 13, 40);
    }

    fn the_cpu_op_is_the_tensor_formula_at(b: usize, t: usize, f: usize) {
        let device = Device::Cpu;
        let mut values: Vec<f32> = (0..b * t * f)
            // Seven values, so that most columns tie at their maximum.
            .map(|i| ((i * 7919 % 23 % 7) as f32 - 3.0) / 4.0)
            .collect();
        values[3 * t * f + 2 * f + 4] = f32::NAN;
        // A column of the last row that is NaN throughout: no gradient.
        for step in 0..t {
            values[((b - 1) * t + step) * f + 1] = f32::NAN;
        }
        let xs = candle_core::Var::from_vec(values, (b, t, f), &device).unwrap();
        let weights = Tensor::arange(0f32, (b * f) as f32, &device)
            .unwrap()
            .reshape((b, f))
            .unwrap();
        let run = |pooled: Tensor| {
            let grads = (&pooled * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let grad = grads.get(xs.as_tensor()).unwrap();
            (
                pooled.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                grad.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            )
        };
        let (op_values, op_grad) = run(max_over_time(xs.as_tensor()).unwrap());
        let (values, grad) = run(max_over_time_by_tensor_ops(xs.as_tensor()).unwrap());
        let bits = |v: &[f32]| {
            v.iter()
                .map(|x| if x.is_nan() { u32::MAX } else { x.to_bits() })
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&op_values), bits(&values));
        assert!(op_values[3 * f + 4].is_nan());
        assert!(op_values[(b - 1) * f + 1].is_nan());
        assert_eq!(bits(&op_grad), bits(&grad));
        assert!((0..t).all(|step| op_grad[((b - 1) * t + step) * f + 1] == 0.0));
        // Strided input (a transposed view) reads the same.
        let transposed = xs
            .as_tensor()
            .transpose(1, 2)
            .unwrap()
            .contiguous()
            .unwrap();
        let back = transposed.transpose(1, 2).unwrap();
        assert_eq!(
            bits(
                &max_over_time(&back)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
            ),
            bits(&values)
        );
    }

    /// No positions: an error, as the tensor formula's `max` gives one,
    /// not values from nothing.
    #[test]
    fn pooling_over_no_positions_is_refused() {
        let xs = Tensor::zeros((2, 0, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
        let message = max_over_time(&xs).unwrap_err().to_string();
        assert!(message.contains("no positions"), "{message}");
        assert!(max_over_time_by_tensor_ops(&xs).is_err());
    }

    #[test]
    fn the_gradient_of_a_tied_maximum_reaches_the_first_winner_only() {
        let xs = candle_core::Var::new(&[[[2f32], [5.0], [5.0], [1.0]]], &Device::Cpu).unwrap();
        let mask = Tensor::ones((1, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
        let grads = masked_max(xs.as_tensor(), &mask)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let grad = grads.get(xs.as_tensor()).unwrap();
        assert_eq!(
            grad.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            vec![0.0, 1.0, 0.0, 0.0]
        );
    }
}
