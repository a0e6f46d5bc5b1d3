//! [`super::max_over_time`] on the CPU as one op.
//!
//! As tensor ops the first-winner maximum takes ten passes over `[B, T, F]`
//! (a max along the middle axis, a comparison, a cumulative sum Candle
//! computes as a matmul with a triangular matrix, masks, products, a sum),
//! forward and again backward; after every convolution of a CNN
//! discriminator that was most of its forward pass. Here the forward pass
//! is one pass and the backward pass puts each gradient at its winner.
//! The values and gradients are the tensor formula's, bit for bit.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

/// `[B, T, F] → [B, F]`: the maximum over `T`, its gradient to the first
/// position attaining it. As in the tensor formula, NaN anywhere in a
/// column makes the column's value NaN, and its gradient still goes to the
/// first position attaining the maximum of the other values.
pub(super) struct MaxOverTime;

/// Column `f` of row block `block` (`[T, F]`): the first position attaining
/// the maximum of its values other than NaN (`None` when all are NaN), and
/// its value (NaN when any is).
fn first_winner(block: &[f32], steps: usize, features: usize, f: usize) -> (Option<usize>, f32) {
    let (mut winner, mut max, mut nan) = (None, f32::NEG_INFINITY, false);
    for t in 0..steps {
        let v = block[t * features + f];
        if v.is_nan() {
            nan = true;
        } else if winner.is_none() || v > max {
            (winner, max) = (Some(t), v);
        }
    }
    (winner, if nan { f32::NAN } else { max })
}

impl CustomOp1 for MaxOverTime {
    fn name(&self) -> &'static str {
        "max-over-time"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (rows, steps, features) = layout.shape().dims3()?;
        let values = match (storage, layout.contiguous_offsets()) {
            (CpuStorage::F32(values), Some((start, end))) => &values[start..end],
            _ => candle_core::bail!("max-over-time: a contiguous f32 tensor is expected"),
        };
        let mut out = Vec::with_capacity(rows * features);
        for block in values.chunks(steps * features).take(rows) {
            out.extend((0..features).map(|f| first_winner(block, steps, features, f).1));
        }
        Ok((CpuStorage::F32(out), Shape::from((rows, features))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (rows, steps, features) = arg.dims3()?;
        let values = arg.flatten_all()?.to_vec1::<f32>()?;
        let grad = grad.flatten_all()?.to_vec1::<f32>()?;
        let mut out = vec![0f32; rows * steps * features];
        for (r, block) in values.chunks(steps * features).enumerate() {
            for f in 0..features {
                if let (Some(t), _) = first_winner(block, steps, features, f) {
                    out[(r * steps + t) * features + f] = grad[r * features + f];
                }
            }
        }
        Ok(Some(Tensor::from_vec(
            out,
            (rows, steps, features),
            arg.device(),
        )?))
    }
}
