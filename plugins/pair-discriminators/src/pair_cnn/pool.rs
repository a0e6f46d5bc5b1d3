//! 2×2 max-pooling of channels-last maps, and its effect on masks.

use candle_core::{Result, Tensor};

/// `[B, H, W, C]` → `[B, H/2, W/2, C]` (H and W even). The four cells of
/// each window are first copied next to each other, so the maximum is a
/// reduction over the last, contiguous dimension: Candle's backward pass of
/// a max over inner dimensions of a strided view (or of `maximum`s of
/// strided views) is several times slower than this copy and reduction.
pub fn max_pool_2x2(xs: &Tensor) -> Result<Tensor> {
    let (rows, height, width, channels) = xs.dims4()?;
    let (h, w) = (height / 2, width / 2);
    xs.reshape((rows * h, 2, w, 2, channels))?
        .permute((0, 2, 4, 1, 3))?
        .contiguous()?
        .reshape((rows * h * w * channels, 4))?
        .max(1)?
        .reshape((rows, h, w, channels))
}

/// `[B, L]` mask → `[B, L/2]`: a pooled position is real when either of
/// its two positions is.
pub fn pool_mask(mask: &Tensor) -> Result<Tensor> {
    let (rows, len) = mask.dims2()?;
    mask.reshape((rows, len / 2, 2))?.max(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn takes_the_maximum_of_each_window() {
        let xs = Tensor::new(&[1f32, 5., 2., 0., 3., 4., 7., 6.], &Device::Cpu)
            .unwrap()
            .reshape((1, 2, 4, 1))
            .unwrap();
        let pooled = max_pool_2x2(&xs).unwrap().flatten_all().unwrap();
        assert_eq!(pooled.to_vec1::<f32>().unwrap(), vec![5., 7.]);
    }
}
