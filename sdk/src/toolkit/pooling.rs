//! Masked pooling over the time axis: padding never reaches the result.

use candle_core::{Result, Tensor};

/// Mean over time of `xs: [B, T, F]` at the real positions of
/// `mask: [B, T]` → `[B, F]`; a row without real positions gives zeros.
pub fn masked_mean(xs: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let summed = xs.broadcast_mul(&mask.unsqueeze(2)?)?.sum(1)?;
    let counts = mask.sum_keepdim(1)?.clamp(1.0, f64::INFINITY)?;
    summed.broadcast_div(&counts)
}

/// Maximum over time of `xs: [B, T, F]` at the real positions of
/// `mask: [B, T]` → `[B, F]`; a row without real positions gives zeros.
pub fn masked_max(xs: &Tensor, mask: &Tensor) -> Result<Tensor> {
    // Padding is pushed far below any real value before the max, then rows
    // with no real position are zeroed.
    let mask3 = mask.unsqueeze(2)?;
    let penalty = ((mask3.ones_like()? - &mask3)? * -1e30)?;
    let maxed = xs.broadcast_add(&penalty)?.max(1)?;
    let any = mask.max_keepdim(1)?;
    maxed.broadcast_mul(&any)
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
}
