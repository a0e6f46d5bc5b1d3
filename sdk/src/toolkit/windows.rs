//! The sliding windows of a sequence, for convolutions as one matmul.

use candle_core::{Result, Tensor};

/// Every window of `width` consecutive positions of `xs` (`[B, T, C]`,
/// `T ≥ width`), as rows `[B · P, width · C]` with `P = T + 1 − width`: row
/// `b · P + p` holds positions `p … p + width − 1` of row `b`, tap-major
/// (the `C` channels of position `p`, then of `p + 1`, …). A convolution of
/// `n` filters is then one matmul with an `[width · C, n]` matrix.
///
/// One gather of whole positions: as `Tensor::cat` of `width` shifted
/// views along the channels it was several times slower than the matmul
/// that follows, forward and backward (the gradient is a scatter-add).
pub fn windows(xs: &Tensor, width: usize) -> Result<Tensor> {
    let (rows, steps, channels) = xs.dims3()?;
    if width == 0 || width > steps {
        candle_core::bail!("windows of width {width} over {steps} positions");
    }
    let positions = steps + 1 - width;
    let index: Vec<u32> = (0..rows)
        .flat_map(|b| {
            (0..positions).flat_map(move |p| (0..width).map(move |j| (b * steps + p + j) as u32))
        })
        .collect();
    let index = Tensor::from_vec(index, rows * positions * width, xs.device())?;
    xs.reshape((rows * steps, channels))?
        .index_select(&index, 0)?
        .reshape((rows * positions, width * channels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// The gather gives the concatenation of shifted views, and the same
    /// gradient.
    #[test]
    fn windows_are_the_concatenated_shifted_views() {
        let device = Device::Cpu;
        let (b, t, c) = (3, 7, 4);
        let values: Vec<f32> = (0..b * t * c).map(|i| (i as f32 * 0.37).sin()).collect();
        let xs = Var::from_vec(values, (b, t, c), &device).unwrap();
        // Large enough for every width's [b · p, width · c].
        let weights = Tensor::arange(0f32, 21.0 * 28.0, &device)
            .unwrap()
            .reshape((21, 28))
            .unwrap();
        for width in [1, 3, 7] {
            let p = t + 1 - width;
            let taps: Vec<Tensor> = (0..width)
                .map(|j| xs.as_tensor().narrow(1, j, p).unwrap())
                .collect();
            let expected = Tensor::cat(&taps, 2)
                .unwrap()
                .reshape((b * p, width * c))
                .unwrap();
            let got = windows(xs.as_tensor(), width).unwrap();
            assert_eq!(
                got.to_vec2::<f32>().unwrap(),
                expected.to_vec2::<f32>().unwrap()
            );
            let weights = weights
                .narrow(0, 0, b * p)
                .unwrap()
                .narrow(1, 0, width * c)
                .unwrap();
            let grad = |y: &Tensor| {
                let grads = (y * &weights)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                let g = grads.get(xs.as_tensor()).unwrap();
                g.flatten_all().unwrap().to_vec1::<f32>().unwrap()
            };
            assert_eq!(grad(&got), grad(&expected), "width {width}");
        }
        assert!(windows(xs.as_tensor(), 8).is_err());
        assert!(windows(xs.as_tensor(), 0).is_err());
    }
}
