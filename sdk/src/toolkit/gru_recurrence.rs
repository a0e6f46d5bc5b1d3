//! A masked GRU layer read to each row's last real token as one op — input
//! projection, recurrence and their gradients — on the CPU.
//!
//! The same scheme as [`super::lstm_recurrence`]: each block of
//! [`ROWS_PER_BLOCK`] rows runs its input projection (one matmul) and its
//! whole recurrence (one `[rows, H] · [H, 3H]` matmul per position and the
//! gate arithmetic) on one thread; the blocks run in parallel and their
//! weight gradients are added in block order, so the results do not depend
//! on the number of threads. When a gradient will be asked for, the forward
//! pass keeps each block's activations for the backward pass (7H floats per
//! row and position); a backward pass that finds none recomputes them.
//!
//! The equations are [`super::gru::MaskedGru`]'s (PyTorch's, gate order r,
//! z, n): `n = tanh(x·W_in + b_in + r ⊙ (h·W_hn + b_hn))`, `h' = n + z ⊙ (h −
//! n)`, and the state moves only at real tokens: `h ← h + m·(h' − h)`.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, DType, Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::activations::{sigmoid_in_place, tanh_in_place};
use super::row_blocks::{
    add_in_order, block_of, column_sums, contiguous, lock, split_gradients, take_kept, Dims,
    Weights, ROWS_PER_BLOCK,
};

/// Final states `[B, H]` of a GRU over inputs `xs: [B, T, I]` under `mask:
/// [B, T]` (1 at real tokens), from a zero state, with its weights packed
/// as `[W_ih | W_hh | b_ih | b_hh]: [3H, I + H + 2]`; differentiable with
/// respect to `xs` and the weights. CPU and f32 only.
pub fn gru_final_states(xs: &Tensor, mask: &Tensor, packed_weights: &Tensor) -> Result<Tensor> {
    if !matches!(xs.device(), Device::Cpu) || xs.dtype() != DType::F32 {
        candle_core::bail!("the GRU kernel runs on f32 CPU tensors only");
    }
    let keep = xs.track_op() || packed_weights.track_op();
    xs.contiguous()?.apply_op3(
        &mask.to_dtype(DType::F32)?.contiguous()?,
        &packed_weights.contiguous()?,
        GruForward {
            kept: keep.then(Mutex::default),
        },
    )
}

/// The sizes of `xs`, `mask` and the packed weights.
fn dims_of(xs: &Layout, mask: &Layout, weights: &Layout) -> Result<Dims> {
    let dims = Dims::of("GRU kernel", xs, weights, 3, 2)?;
    if mask.shape().dims2()? != (dims.rows, dims.steps) {
        candle_core::bail!(
            "GRU kernel: the mask is not [{}, {}]",
            dims.rows,
            dims.steps
        );
    }
    Ok(dims)
}

/// What one block's forward pass leaves for its backward pass, per row `r`
/// and position `t` (row `r·T + t`): the gates `r, z, n` (`[n·T, 3H]`), the
/// recurrent pre-activations `h·W_hhᵀ + b_hh` (`[n·T, 3H]`: the n gate's
/// part is needed for `∂r`) and the state before the step (`[n·T, H]`).
struct Activations {
    gates: Vec<f32>,
    recurrent: Vec<f32>,
    previous: Vec<f32>,
}

/// One block's forward pass; writes the final states into `out: [n, H]`.
fn block_forward(
    xs: &[f32],
    mask: &[f32],
    weights: &Weights,
    dims: Dims,
    rows: usize,
    out: &mut [f32],
) -> Activations {
    let (steps, h) = (dims.steps, dims.hidden);
    let mut gates = weights.project_inputs(xs, rows * steps, dims);
    let mut recurrent = vec![0f32; rows * steps * 3 * h];
    let mut previous = vec![0f32; rows * steps * h];
    let mut state = vec![0f32; rows * h];
    let mut recurrent_t = vec![0f32; rows * 3 * h];
    for t in 0..steps {
        weights.recur(&state, rows, dims, false, &mut recurrent_t);
        for r in 0..rows {
            let at = r * steps + t;
            let hh = &mut recurrent[at * 3 * h..(at + 1) * 3 * h];
            hh.copy_from_slice(&recurrent_t[r * 3 * h..(r + 1) * 3 * h]);
            for (value, bias) in hh.iter_mut().zip(&weights.biases[1]) {
                *value += bias;
            }
            let g = &mut gates[at * 3 * h..(at + 1) * 3 * h];
            for (value, bias) in g.iter_mut().zip(&weights.biases[0]) {
                *value += bias;
            }
            for k in 0..2 * h {
                g[k] += hh[k];
            }
            sigmoid_in_place(&mut g[..2 * h]);
            for j in 0..h {
                g[2 * h + j] += g[j] * hh[2 * h + j];
            }
            tanh_in_place(&mut g[2 * h..]);
            let h_row = &mut state[r * h..(r + 1) * h];
            previous[at * h..(at + 1) * h].copy_from_slice(h_row);
            let m = mask[at];
            for j in 0..h {
                let (z, n) = (g[h + j], g[2 * h + j]);
                let updated = n + z * (h_row[j] - n);
                h_row[j] += (updated - h_row[j]) * m;
            }
        }
    }
    out.copy_from_slice(&state);
    Activations {
        gates,
        recurrent,
        previous,
    }
}

struct GruForward {
    /// Each block's activations, in block order, when a backward pass will
    /// follow.
    kept: Option<Mutex<Option<Vec<Activations>>>>,
}

impl CustomOp3 for GruForward {
    fn name(&self) -> &'static str {
        "gru-final-states"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dims = dims_of(l1, l2, l3)?;
        let (steps, i, h) = (dims.steps, dims.input, dims.hidden);
        let xs = contiguous(s1, l1, "the inputs")?;
        let mask = contiguous(s2, l2, "the mask")?;
        let weights = Weights::unpack(contiguous(s3, l3, "the weights")?, dims);
        let mut out = vec![0f32; dims.rows * h];
        if !out.is_empty() && steps > 0 {
            let blocks: Vec<Option<Activations>> = out
                .par_chunks_mut(ROWS_PER_BLOCK * h)
                .enumerate()
                .map(|(block, out)| {
                    let (first, n) = (block * ROWS_PER_BLOCK, out.len() / h);
                    let xs = block_of(xs, first, n, steps, i);
                    let mask = block_of(mask, first, n, steps, 1);
                    let activations = block_forward(xs, mask, &weights, dims, n, out);
                    self.kept.is_some().then_some(activations)
                })
                .collect();
            if let Some(kept) = &self.kept {
                *lock(kept) = blocks.into_iter().collect();
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((dims.rows, h))))
    }

    fn bwd(
        &self,
        xs: &Tensor,
        mask: &Tensor,
        packed_weights: &Tensor,
        _out: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grads = xs.detach().apply_op3_no_bwd(
            mask,
            &packed_weights.detach(),
            &GruBackward {
                grad_out: grad.detach().contiguous()?,
                kept: Mutex::new(self.kept.as_ref().and_then(|kept| lock(kept).take())),
            },
        )?;
        let (grad_xs, grad_weights) = split_gradients(&grads, xs, packed_weights)?;
        Ok((Some(grad_xs), None, Some(grad_weights)))
    }
}

/// `[∂xs (B·T·I values) | ∂packed weights (3H·(I + H + 2))]` from `(xs,
/// mask, packed weights)` and the final states' gradient.
struct GruBackward {
    grad_out: Tensor,
    /// The forward pass's blocks, if it kept them.
    kept: Mutex<Option<Vec<Activations>>>,
}

impl CustomOp3 for GruBackward {
    fn name(&self) -> &'static str {
        "gru-final-states-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dims = dims_of(l1, l2, l3)?;
        let (rows, steps, i, h) = (dims.rows, dims.steps, dims.input, dims.hidden);
        let xs = contiguous(s1, l1, "the inputs")?;
        let mask = contiguous(s2, l2, "the mask")?;
        let weights = Weights::unpack(contiguous(s3, l3, "the weights")?, dims);
        let grad_out = self.grad_out.flatten_all()?.to_vec1::<f32>()?;
        if grad_out.len() != rows * h {
            candle_core::bail!("GRU kernel backward: the gradient is not [{rows}, {h}]");
        }
        let mut out = vec![0f32; rows * steps * i + 3 * h * dims.width()];
        let (grad_xs, grad_weights) = out.split_at_mut(rows * steps * i);
        if rows * steps > 0 {
            let blocks = rows.div_ceil(ROWS_PER_BLOCK);
            let kept = take_kept(&self.kept, blocks);
            let partials: Vec<Vec<f32>> = grad_xs
                .par_chunks_mut(ROWS_PER_BLOCK * steps * i)
                .zip(kept.into_par_iter())
                .enumerate()
                .map(|(block, (grad_xs, kept))| {
                    let first = block * ROWS_PER_BLOCK;
                    let n = (rows - first).min(ROWS_PER_BLOCK);
                    let block = Block {
                        xs: block_of(xs, first, n, steps, i),
                        mask: block_of(mask, first, n, steps, 1),
                        grad_out: &grad_out[first * h..(first + n) * h],
                        rows: n,
                    };
                    let forward = kept.unwrap_or_else(|| {
                        let mut states = vec![0f32; n * h];
                        block_forward(block.xs, block.mask, &weights, dims, n, &mut states)
                    });
                    block_backward(&block, forward, &weights, dims, grad_xs)
                })
                .collect();
            add_in_order(grad_weights, partials);
        }
        let len = out.len();
        Ok((CpuStorage::F32(out), Shape::from(len)))
    }
}

/// One block's inputs to the backward pass.
struct Block<'a> {
    xs: &'a [f32],
    mask: &'a [f32],
    grad_out: &'a [f32],
    rows: usize,
}

/// Back-propagation through time for one block, from its forward pass'
/// activations: writes the inputs'
/// gradient into `grad_xs: [n·T, I]` and returns the block's part of the
/// packed weights' gradient (`[3H, I + H + 2]`).
fn block_backward(
    block: &Block,
    forward: Activations,
    weights: &Weights,
    dims: Dims,
    grad_xs: &mut [f32],
) -> Vec<f32> {
    let (rows, steps, h) = (block.rows, dims.steps, dims.hidden);
    let Activations {
        gates,
        recurrent,
        previous,
    } = forward;

    // ∂loss/∂(input pre-activations) and ∂loss/∂(recurrent
    // pre-activations) of every row and position.
    let mut grad_input = vec![0f32; rows * steps * 3 * h];
    let mut grad_recurrent = vec![0f32; rows * steps * 3 * h];
    let mut grad_h = block.grad_out.to_vec();
    let mut grad_recurrent_t = vec![0f32; rows * 3 * h];
    let mut carried = vec![0f32; rows * h];
    for t in (0..steps).rev() {
        for r in 0..rows {
            let at = r * steps + t;
            let m = block.mask[at];
            let g = &gates[at * 3 * h..(at + 1) * 3 * h];
            let hh = &recurrent[at * 3 * h..(at + 1) * 3 * h];
            let h_before = &previous[at * h..(at + 1) * h];
            let dx = &mut grad_input[at * 3 * h..(at + 1) * 3 * h];
            let dhh = &mut grad_recurrent_t[r * 3 * h..(r + 1) * 3 * h];
            let dh = &mut grad_h[r * h..(r + 1) * h];
            for j in 0..h {
                let (reset, update, candidate) = (g[j], g[h + j], g[2 * h + j]);
                // h_t = h_{t−1} + m·(h' − h_{t−1}), h' = n + z·(h_{t−1} − n).
                let d_updated = dh[j] * m;
                let d_candidate = d_updated * (1.0 - update);
                let d_update = d_updated * (h_before[j] - candidate);
                let da_n = d_candidate * (1.0 - candidate * candidate);
                let d_reset = da_n * hh[2 * h + j];
                let da_r = d_reset * reset * (1.0 - reset);
                let da_z = d_update * update * (1.0 - update);
                dx[j] = da_r;
                dx[h + j] = da_z;
                dx[2 * h + j] = da_n;
                dhh[j] = da_r;
                dhh[h + j] = da_z;
                dhh[2 * h + j] = da_n * reset;
                // The state's own paths to h_{t−1}: past a padding step,
                // and through z.
                dh[j] = dh[j] * (1.0 - m) + d_updated * update;
            }
            grad_recurrent[at * 3 * h..(at + 1) * 3 * h].copy_from_slice(dhh);
        }
        if t > 0 {
            weights.recur(&grad_recurrent_t, rows, dims, true, &mut carried);
            for (dh, add) in grad_h.iter_mut().zip(&carried) {
                *dh += add;
            }
        }
    }

    let grad_w_ih =
        weights.project_inputs_backward(&grad_input, block.xs, rows * steps, dims, grad_xs);
    let grad_w_hh =
        Weights::recurrent_weight_gradient(&grad_recurrent, &previous, rows * steps, dims);
    let grad_b_ih = column_sums(&grad_input, 3 * h);
    let grad_b_hh = column_sums(&grad_recurrent, 3 * h);
    Weights::pack(&grad_w_ih, &grad_w_hh, &[grad_b_ih, grad_b_hh], dims)
}
