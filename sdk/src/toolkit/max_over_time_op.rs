//! [`super::max_over_time`] on the CPU as one op.
//!
//! As tensor ops the first-winner maximum takes ten passes over `[B, T, F]`
//! (a max along the middle axis, a comparison, a cumulative sum Candle
//! computes as a matmul with a triangular matrix, masks, products, a sum),
//! forward and again backward; after every convolution of a CNN
//! discriminator that was most of its forward pass. Here the forward pass
//! is one pass and the backward pass puts each gradient at its winner.
//! The values and gradients are the tensor formula's, bit for bit.
//!
//! Each row's `[T, F]` block is read position by position, all `F` columns
//! side by side (`agon_kernels::first_winners`, vectorised), rows in
//! parallel; a column sees its values in the order of `T` either way, so
//! the winners, and with them the bits, do not depend on the vector width,
//! the order of the rows or the thread count. The backward pass reads the
//! input in place rather than copying it.

use agon_kernels::first_winners::{first_winners_kernel, FirstWinners, NO_WINNER};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Storage, Tensor};
use rayon::prelude::*;

use super::row_blocks::contiguous;

/// `[B, T, F] → [B, F]`: the maximum over `T`, its gradient to the first
/// position attaining it. As in the tensor formula, NaN anywhere in a
/// column makes the column's value NaN, and its gradient still goes to the
/// first position attaining the maximum of the other values.
pub(super) struct MaxOverTime;

/// Values per parallel task, at least: below it a row block's work is too
/// little to hand to another thread.
const VALUES_PER_TASK: usize = 1 << 14;

/// One parallel task's scan of row blocks: the first winner of each column
/// (`agon_kernels::first_winners`, as wide as the CPU's vectors), its
/// maximum and whether it holds NaN, buffers reused from row to row.
struct Winners {
    scan: FirstWinners,
    winner: Vec<u32>,
    max: Vec<f32>,
    nan: Vec<u32>,
}

impl Winners {
    fn new(scan: FirstWinners, features: usize) -> Winners {
        Winners {
            scan,
            winner: vec![NO_WINNER; features],
            max: vec![f32::NEG_INFINITY; features],
            nan: vec![0; features],
        }
    }

    /// The winners of one row's `[T, F]` block.
    fn scan(&mut self, block: &[f32]) {
        (self.scan)(block, &mut self.winner, &mut self.max, &mut self.nan);
    }

    /// Column `f`'s pooled value: NaN when any value is.
    fn value(&self, f: usize) -> f32 {
        if self.nan[f] != 0 {
            f32::NAN
        } else {
            self.max[f]
        }
    }
}

/// Rows per parallel task for blocks of `block` values.
fn rows_per_task(block: usize) -> usize {
    VALUES_PER_TASK.div_ceil(block.max(1)).max(1)
}

/// `visit(row, winners, out)` for every row block (`block` values) of
/// `values`, with that row's `out_len` values of `out`: rows in parallel
/// tasks, each task scanning its rows with one [`Winners`].
fn for_each_row(
    values: &[f32],
    block: usize,
    features: usize,
    out: &mut [f32],
    out_len: usize,
    visit: impl Fn(usize, &Winners, &mut [f32]) + Sync,
) {
    let per_task = rows_per_task(block);
    let scan = first_winners_kernel();
    out.par_chunks_mut(out_len * per_task)
        .enumerate()
        .for_each(|(task, out)| {
            let mut w = Winners::new(scan, features);
            for (r, out) in out.chunks_exact_mut(out_len).enumerate() {
                let row = task * per_task + r;
                w.scan(&values[row * block..(row + 1) * block]);
                visit(row, &w, out);
            }
        });
}

impl CustomOp1 for MaxOverTime {
    fn name(&self) -> &'static str {
        "max-over-time"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (rows, steps, features) = layout.shape().dims3()?;
        if steps == 0 && rows * features > 0 {
            // As the tensor formula's `max` refuses an empty axis.
            candle_core::bail!("max-over-time: no positions to pool over");
        }
        debug_assert!(steps < NO_WINNER as usize, "positions are stored as u32");
        let values = contiguous(storage, layout, "max-over-time's input")?;
        let mut out = vec![0f32; rows * features];
        if features > 0 {
            for_each_row(
                values,
                steps * features,
                features,
                &mut out,
                features,
                |_, w, out| {
                    for (f, o) in out.iter_mut().enumerate() {
                        *o = w.value(f);
                    }
                },
            );
        }
        Ok((CpuStorage::F32(out), Shape::from((rows, features))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (rows, steps, features) = arg.dims3()?;
        let grad = grad.contiguous()?;
        let (arg_storage, arg_layout) = arg.storage_and_layout();
        let (grad_storage, grad_layout) = grad.storage_and_layout();
        let (values, grad_values) = match (&*arg_storage, &*grad_storage) {
            (Storage::Cpu(a), Storage::Cpu(g)) => (
                contiguous(a, arg_layout, "max-over-time's input")?,
                contiguous(g, grad_layout, "max-over-time's gradient")?,
            ),
            _ => candle_core::bail!("max-over-time: the CPU op's backward takes CPU tensors"),
        };
        let block = steps * features;
        let mut out = vec![0f32; rows * block];
        if block > 0 {
            for_each_row(values, block, features, &mut out, block, |row, w, out| {
                let grad_row = &grad_values[row * features..(row + 1) * features];
                for (f, &t) in w.winner.iter().enumerate() {
                    if t != NO_WINNER {
                        out[t as usize * features + f] = grad_row[f];
                    }
                }
            });
        }
        drop((arg_storage, grad_storage));
        Ok(Some(Tensor::from_vec(
            out,
            (rows, steps, features),
            arg.device(),
        )?))
    }
}
