//! The first convolution: 3×3 over the image whose cell `(i, j)` is
//! `[emb(x_i); emb(y_j)]`, computed without building the image.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

/// A 3×3 convolution (stride 1, zero padding 1) with PyTorch's layout
/// `weight: [F, 2E, 3, 3]`, over `2E` input channels: the source embedding
/// of the row, then the target embedding of the column. Cells where the
/// source or the target position is padding are zero.
///
/// Each tap sees a source half that depends on `i` only and a target half
/// that depends on `j` only, so
/// `out[i, j] = Σ_dj vy[j+dj] · A[i, dj] + Σ_di vx[i+di] · B[j, di] + bias`,
/// where `A[i, dj] = Σ_di W_x[di, dj] · emb(x)[i+di]` is a 1-D convolution of
/// the source (and `B` of the target) and `vx`, `vy` are the validity masks.
/// This is the same function as the 2-D convolution of the image (a test
/// checks it against Candle's `conv2d`), at `2E` times fewer operations: the
/// dense form would be `B·S·T·9·2E·F` multiply-adds.
pub struct PairConv {
    weight: Tensor,
    bias: Tensor,
}

impl PairConv {
    pub fn new(vb: VarBuilder, embedding: usize, filters: usize) -> Result<Self> {
        Ok(PairConv {
            weight: vb.get((filters, 2 * embedding, 3, 3), "weight")?,
            bias: vb.get(filters, "bias")?,
        })
    }

    /// Pre-activations `[B, S, T, F]` from masked source embeddings
    /// `ex: [B, S, E]` (zero at padding) with mask `vx: [B, S]`, and target
    /// ones `ey: [B, T, E]` with `vy: [B, T]`.
    pub fn forward(&self, ex: &Tensor, vx: &Tensor, ey: &Tensor, vy: &Tensor) -> Result<Tensor> {
        let (rows, s, e) = ex.dims3()?;
        let t = ey.dim(1)?;
        let filters = self.weight.dim(0)?;
        // W_x as [(di, e), (dj, f)] and W_y as [(dj, e), (di, f)].
        let w_x = self
            .weight
            .narrow(1, 0, e)?
            .permute((2, 1, 3, 0))?
            .contiguous()?
            .reshape((3 * e, 3 * filters))?;
        let w_y = self
            .weight
            .narrow(1, e, e)?
            .permute((3, 1, 2, 0))?
            .contiguous()?
            .reshape((3 * e, 3 * filters))?;
        // A: [B, S, (dj, f)] → [B, dj, (S, f)]; likewise B over the target.
        let a = windows(ex)?
            .reshape((rows * s, 3 * e))?
            .matmul(&w_x)?
            .reshape((rows, s, 3, filters))?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((rows, 3, s * filters))?;
        let b = windows(ey)?
            .reshape((rows * t, 3 * e))?
            .matmul(&w_y)?
            .reshape((rows, t, 3, filters))?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((rows, 3, t * filters))?;
        // Σ_dj vy[j+dj]·A[i, dj]: [B, T, 3] × [B, 3, S·F] → [B, T, S, F].
        let from_source = windows(&vy.unsqueeze(2)?)?
            .matmul(&a)?
            .reshape((rows, t, s, filters))?
            .transpose(1, 2)?;
        // Σ_di vx[i+di]·B[j, di]: [B, S, 3] × [B, 3, T·F] → [B, S, T, F].
        let from_target = windows(&vx.unsqueeze(2)?)?
            .matmul(&b)?
            .reshape((rows, s, t, filters))?;
        (from_source + from_target)?.broadcast_add(&self.bias)
    }
}

/// `[B, L, C]` → `[B, L, 3C]`: each position's neighbours `l−1, l, l+1`
/// (zero outside the sequence), tap-major.
fn windows(xs: &Tensor) -> Result<Tensor> {
    let len = xs.dim(1)?;
    let padded = xs.pad_with_zeros(1, 1, 1)?;
    let taps = (0..3)
        .map(|d| padded.narrow(1, d, len))
        .collect::<Result<Vec<_>>>()?;
    Tensor::cat(&taps, 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::support::{max_abs_diff, randomize, vars};
    use candle_core::Device;

    #[test]
    fn equals_candles_conv2d_over_the_masked_pair_image() {
        let (rows, s, t, e, f) = (2, 5, 4, 3, 6);
        let (varmap, vb) = vars();
        let conv = PairConv::new(vb, e, f).unwrap();
        randomize(&varmap);
        let dev = Device::Cpu;
        let vx = Tensor::new(&[[1f32, 1., 1., 0., 0.], [1., 1., 1., 1., 1.]], &dev).unwrap();
        let vy = Tensor::new(&[[1f32, 1., 1., 1.], [1., 1., 0., 0.]], &dev).unwrap();
        let ex = Tensor::arange(0f32, (rows * s * e) as f32, &dev)
            .unwrap()
            .affine(0.37, -1.0)
            .unwrap()
            .sin()
            .unwrap()
            .reshape((rows, s, e))
            .unwrap()
            .broadcast_mul(&vx.unsqueeze(2).unwrap())
            .unwrap();
        let ey = Tensor::arange(0f32, (rows * t * e) as f32, &dev)
            .unwrap()
            .affine(0.71, 0.3)
            .unwrap()
            .cos()
            .unwrap()
            .reshape((rows, t, e))
            .unwrap()
            .broadcast_mul(&vy.unsqueeze(2).unwrap())
            .unwrap();
        // The explicit image [B, 2E, S, T], zero at every padded cell.
        let cells = vx
            .unsqueeze(2)
            .unwrap()
            .broadcast_mul(&vy.unsqueeze(1).unwrap())
            .unwrap();
        let image = Tensor::cat(
            &[
                ex.unsqueeze(2)
                    .unwrap()
                    .broadcast_as((rows, s, t, e))
                    .unwrap(),
                ey.unsqueeze(1)
                    .unwrap()
                    .broadcast_as((rows, s, t, e))
                    .unwrap(),
            ],
            3,
        )
        .unwrap()
        .broadcast_mul(&cells.unsqueeze(3).unwrap())
        .unwrap()
        .permute((0, 3, 1, 2))
        .unwrap()
        .contiguous()
        .unwrap();
        let reference = image
            .conv2d(&conv.weight, 1, 1, 1, 1)
            .unwrap()
            .broadcast_add(&conv.bias.reshape((1, f, 1, 1)).unwrap())
            .unwrap()
            .permute((0, 2, 3, 1))
            .unwrap();
        let ours = conv.forward(&ex, &vx, &ey, &vy).unwrap();
        let diff = max_abs_diff(&ours, &reference);
        assert!(diff < 1e-4, "largest difference {diff}");
    }
}
