//! A 3×3 convolution over channels-last maps, as one matmul over unfolded
//! neighbourhoods (Candle's `conv2d` backward pass — a transposed
//! convolution — is much slower on the CPU than a matmul's).

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

/// Stride 1, zero padding 1, PyTorch's layout `weight: [F, C, 3, 3]`.
pub struct Conv3x3 {
    weight: Tensor,
    bias: Tensor,
}

impl Conv3x3 {
    pub fn new(vb: VarBuilder, channels: usize, filters: usize) -> Result<Self> {
        Ok(Conv3x3 {
            weight: vb.get((filters, channels, 3, 3), "weight")?,
            bias: vb.get(filters, "bias")?,
        })
    }

    /// `[B, H, W, C]` → `[B, H, W, F]`.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (rows, height, width, channels) = xs.dims4()?;
        let filters = self.weight.dim(0)?;
        let padded = xs.pad_with_zeros(1, 1, 1)?.pad_with_zeros(2, 1, 1)?;
        let mut taps = Vec::with_capacity(9);
        for di in 0..3 {
            for dj in 0..3 {
                taps.push(padded.narrow(1, di, height)?.narrow(2, dj, width)?);
            }
        }
        // Rows (di, dj, c) of the kernel match the tap-major unfolding.
        let kernel = self
            .weight
            .permute((2, 3, 1, 0))?
            .contiguous()?
            .reshape((9 * channels, filters))?;
        Tensor::cat(&taps, 3)?
            .reshape((rows * height * width, 9 * channels))?
            .matmul(&kernel)?
            .broadcast_add(&self.bias)?
            .reshape((rows, height, width, filters))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::support::{max_abs_diff, randomize, vars};
    use candle_core::Device;

    #[test]
    fn equals_candles_conv2d() {
        let (varmap, vb) = vars();
        let conv = Conv3x3::new(vb, 3, 5).unwrap();
        randomize(&varmap);
        let xs = Tensor::arange(0f32, 2.0 * 4.0 * 5.0 * 3.0, &Device::Cpu)
            .unwrap()
            .affine(0.13, 0.0)
            .unwrap()
            .sin()
            .unwrap()
            .reshape((2, 4, 5, 3))
            .unwrap();
        let reference = xs
            .permute((0, 3, 1, 2))
            .unwrap()
            .contiguous()
            .unwrap()
            .conv2d(&conv.weight, 1, 1, 1, 1)
            .unwrap()
            .broadcast_add(&conv.bias.reshape((1, 5, 1, 1)).unwrap())
            .unwrap()
            .permute((0, 2, 3, 1))
            .unwrap();
        let diff = max_abs_diff(&conv.forward(&xs).unwrap(), &reference);
        assert!(diff < 1e-4, "largest difference {diff}");
    }
}
