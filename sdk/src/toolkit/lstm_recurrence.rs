//! An LSTM layer over a whole sequence as one op — input projection,
//! recurrence and their gradients — on the CPU.
//!
//! Stepped with Candle tensor ops, an LSTM of 64 over 20 positions is about
//! a dozen small operations per position forward and again backward, each
//! with its own allocation and its own hand-off to the thread pool, and
//! Candle's backward pass of the input projection (a broadcast bias summed
//! over every row and position, a matmul with a transposed operand) costs
//! more than the whole recurrence. Here each block of rows runs its input
//! projection and its whole recurrence on one thread, in buffers that stay
//! in cache: per block one `[rows·T, I] · [I, 4H]` matmul, then per position
//! one `[rows, H] · [H, 4H]` matmul (Candle's `gemm` kernel,
//! single-threaded) and the gate arithmetic.
//!
//! Rows are independent in an LSTM, so the blocks run in parallel. Blocks
//! have a fixed number of rows ([`ROWS_PER_BLOCK`]), not one per thread,
//! and the weight gradients of the blocks are added in block order, so the
//! results do not depend on the number of threads.
//!
//! When a gradient will be asked for (an input tracks the graph), the
//! forward pass keeps each block's gates and cell states in the op for its
//! backward pass (7H floats per row and position); a backward pass that
//! finds none — a second one over the same graph — recomputes them.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp2, DType, Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::activations::{sigmoid_in_place, tanh_in_place};
use super::row_blocks::{
    add_in_order, block_of, column_sums, contiguous, lock, split_gradients, take_kept, Dims,
    Weights, ROWS_PER_BLOCK,
};

/// Hidden states `[B, T, H]` of an LSTM (PyTorch's equations, gate order
/// i, f, g, o; zero initial state) over inputs `xs: [B, T, I]`, with its
/// weights packed as `[W_ih | W_hh | b]: [4H, I + H + 1]` (`b = b_ih +
/// b_hh`); differentiable with respect to both. CPU and f32 only: the
/// caller ([`super::lstm::Lstm`]) takes Candle's tensor ops elsewhere.
pub fn lstm_states(xs: &Tensor, packed_weights: &Tensor) -> Result<Tensor> {
    if !matches!(xs.device(), Device::Cpu) || xs.dtype() != DType::F32 {
        candle_core::bail!("the LSTM kernel runs on f32 CPU tensors only");
    }
    let keep = xs.track_op() || packed_weights.track_op();
    xs.contiguous()?.apply_op2(
        &packed_weights.contiguous()?,
        LstmForward {
            kept: keep.then(Mutex::default),
        },
    )
}

/// What one block's forward pass leaves for its backward pass, per row `r`
/// and position `t` (row `r·T + t` of each buffer): the activated gates
/// (`gates: [n·T, 4H]`: i, f, g, o), the cell state and its tanh (`cells`,
/// `tanh_cells`: `[n·T, H]`).
struct Activations {
    gates: Vec<f32>,
    cells: Vec<f32>,
    tanh_cells: Vec<f32>,
}

/// One block's forward pass over `rows` rows; writes the hidden states into
/// `hs: [n·T, H]`.
fn block_forward(
    xs: &[f32],
    weights: &Weights,
    dims: Dims,
    rows: usize,
    hs: &mut [f32],
) -> Activations {
    let (steps, h) = (dims.steps, dims.hidden);
    // Every position's input projection at once.
    let mut gates = weights.project_inputs(xs, rows * steps, dims);
    let mut cells = vec![0f32; rows * steps * h];
    let mut tanh_cells = vec![0f32; rows * steps * h];
    let mut state = vec![0f32; rows * h];
    let mut recurrent = vec![0f32; rows * 4 * h];
    for t in 0..steps {
        if t > 0 {
            weights.recur(&state, rows, dims, false, &mut recurrent);
        }
        for r in 0..rows {
            let at = r * steps + t;
            let g = &mut gates[at * 4 * h..(at + 1) * 4 * h];
            for (value, bias) in g.iter_mut().zip(&weights.biases[0]) {
                *value += bias;
            }
            if t > 0 {
                for (value, add) in g.iter_mut().zip(&recurrent[r * 4 * h..(r + 1) * 4 * h]) {
                    *value += add;
                }
            }
            sigmoid_in_place(&mut g[..2 * h]);
            tanh_in_place(&mut g[2 * h..3 * h]);
            sigmoid_in_place(&mut g[3 * h..]);
            let g = &gates[at * 4 * h..(at + 1) * 4 * h];
            let (earlier, rest) = cells.split_at_mut(at * h);
            let cell = &mut rest[..h];
            for j in 0..h {
                cell[j] = g[j] * g[2 * h + j];
            }
            if t > 0 {
                let previous = &earlier[(at - 1) * h..];
                for j in 0..h {
                    cell[j] += g[h + j] * previous[j];
                }
            }
            let tanh_cell = &mut tanh_cells[at * h..(at + 1) * h];
            tanh_cell.copy_from_slice(cell);
            tanh_in_place(tanh_cell);
            let out = &mut hs[at * h..(at + 1) * h];
            for j in 0..h {
                out[j] = g[3 * h + j] * tanh_cell[j];
            }
            state[r * h..(r + 1) * h].copy_from_slice(out);
        }
    }
    Activations {
        gates,
        cells,
        tanh_cells,
    }
}

/// One block's forward pass as its backward pass needs it: the
/// activations and the hidden states (`[n·T, H]`).
struct KeptBlock {
    activations: Activations,
    hs: Vec<f32>,
}

struct LstmForward {
    /// Each block's forward pass, in block order, when a backward pass will
    /// follow.
    kept: Option<Mutex<Option<Vec<KeptBlock>>>>,
}

impl CustomOp2 for LstmForward {
    fn name(&self) -> &'static str {
        "lstm-states"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dims = Dims::of("LSTM kernel", l1, l2, 4, 1)?;
        let (steps, h) = (dims.steps, dims.hidden);
        let xs = contiguous(s1, l1, "the inputs")?;
        let weights = Weights::unpack(contiguous(s2, l2, "the weights")?, dims);
        let mut hs = vec![0f32; dims.rows * steps * h];
        if !hs.is_empty() {
            let blocks: Vec<Option<KeptBlock>> = hs
                .par_chunks_mut(ROWS_PER_BLOCK * steps * h)
                .enumerate()
                .map(|(block, hs)| {
                    let n = hs.len() / (steps * h);
                    let xs = block_of(xs, block * ROWS_PER_BLOCK, n, steps, dims.input);
                    let activations = block_forward(xs, &weights, dims, n, hs);
                    self.kept.is_some().then(|| KeptBlock {
                        activations,
                        hs: hs.to_vec(),
                    })
                })
                .collect();
            if let Some(kept) = &self.kept {
                *lock(kept) = blocks.into_iter().collect();
            }
        }
        Ok((CpuStorage::F32(hs), Shape::from((dims.rows, steps, h))))
    }

    fn bwd(
        &self,
        xs: &Tensor,
        packed_weights: &Tensor,
        _hs: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grads = xs.detach().apply_op2_no_bwd(
            &packed_weights.detach(),
            &LstmBackward {
                grad_hs: grad.detach().contiguous()?,
                kept: Mutex::new(self.kept.as_ref().and_then(|kept| lock(kept).take())),
            },
        )?;
        let (grad_xs, grad_weights) = split_gradients(&grads, xs, packed_weights)?;
        Ok((Some(grad_xs), Some(grad_weights)))
    }
}

/// The gradients `[∂xs (B·T·I values) | ∂packed weights (4H·(I + H + 1))]`
/// from `(xs, packed weights)` and the hidden states' gradient.
struct LstmBackward {
    grad_hs: Tensor,
    /// The forward pass's blocks, if it kept them.
    kept: Mutex<Option<Vec<KeptBlock>>>,
}

impl CustomOp2 for LstmBackward {
    fn name(&self) -> &'static str {
        "lstm-states-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dims = Dims::of("LSTM kernel", l1, l2, 4, 1)?;
        let (rows, steps, i, h) = (dims.rows, dims.steps, dims.input, dims.hidden);
        let xs = contiguous(s1, l1, "the inputs")?;
        let weights = Weights::unpack(contiguous(s2, l2, "the weights")?, dims);
        let grad_hs = self.grad_hs.flatten_all()?.to_vec1::<f32>()?;
        if grad_hs.len() != rows * steps * h {
            candle_core::bail!("LSTM kernel backward: the gradient is not [{rows}, {steps}, {h}]");
        }
        let mut out = vec![0f32; rows * steps * i + 4 * h * dims.width()];
        let (grad_xs, grad_weights) = out.split_at_mut(rows * steps * i);
        if rows * steps > 0 {
            let blocks = rows.div_ceil(ROWS_PER_BLOCK);
            let kept = take_kept(&self.kept, blocks);
            // Each block's weight gradient, then their sum in block order.
            let partials: Vec<Vec<f32>> = grad_xs
                .par_chunks_mut(ROWS_PER_BLOCK * steps * i)
                .zip(kept.into_par_iter())
                .enumerate()
                .map(|(block, (grad_xs, kept))| {
                    let first = block * ROWS_PER_BLOCK;
                    let n = (rows - first).min(ROWS_PER_BLOCK);
                    let block_xs = block_of(xs, first, n, steps, i);
                    let kept = kept.unwrap_or_else(|| {
                        let mut hs = vec![0f32; n * steps * h];
                        let activations = block_forward(block_xs, &weights, dims, n, &mut hs);
                        KeptBlock { activations, hs }
                    });
                    let block_grad_hs = block_of(&grad_hs, first, n, steps, h);
                    block_backward(block_xs, &weights, dims, kept, block_grad_hs, grad_xs)
                })
                .collect();
            add_in_order(grad_weights, partials);
        }
        let len = out.len();
        Ok((CpuStorage::F32(out), Shape::from(len)))
    }
}

/// Back-propagation through time for one block, from its forward pass: writes the
/// inputs' gradient into `grad_xs: [n·T, I]` and returns the block's part of
/// the packed weights' gradient (`[4H, I + H + 1]`).
fn block_backward(
    xs: &[f32],
    weights: &Weights,
    dims: Dims,
    forward: KeptBlock,
    grad_hs: &[f32],
    grad_xs: &mut [f32],
) -> Vec<f32> {
    let (steps, h) = (dims.steps, dims.hidden);
    let rows = forward.hs.len() / (steps * h);
    let KeptBlock {
        activations:
            Activations {
                gates,
                cells,
                tanh_cells,
            },
        hs,
    } = forward;

    // ∂loss/∂(pre-activation gates) of every row and position.
    let mut grad_gates = vec![0f32; rows * steps * 4 * h];
    // ∂loss/∂h and ∂loss/∂c carried from position t + 1 to t, and the
    // gates' gradient of one position.
    let mut grad_h = vec![0f32; rows * h];
    let mut grad_c = vec![0f32; rows * h];
    let mut grad_gates_t = vec![0f32; rows * 4 * h];
    for t in (0..steps).rev() {
        for r in 0..rows {
            let at = r * steps + t;
            let g = &gates[at * 4 * h..(at + 1) * 4 * h];
            let tanh_c = &tanh_cells[at * h..(at + 1) * h];
            let dg = &mut grad_gates_t[r * 4 * h..(r + 1) * 4 * h];
            let (grad_h, grad_c) = (&grad_h[r * h..(r + 1) * h], &mut grad_c[r * h..(r + 1) * h]);
            let from_output = &grad_hs[at * h..(at + 1) * h];
            for j in 0..h {
                let (input_gate, forget_gate) = (g[j], g[h + j]);
                let (candidate, output_gate) = (g[2 * h + j], g[3 * h + j]);
                let previous = if t > 0 { cells[(at - 1) * h + j] } else { 0.0 };
                let dh = grad_h[j] + from_output[j];
                let dc = grad_c[j] + dh * output_gate * (1.0 - tanh_c[j] * tanh_c[j]);
                dg[j] = dc * candidate * input_gate * (1.0 - input_gate);
                dg[h + j] = dc * previous * forget_gate * (1.0 - forget_gate);
                dg[2 * h + j] = dc * input_gate * (1.0 - candidate * candidate);
                dg[3 * h + j] = dh * tanh_c[j] * output_gate * (1.0 - output_gate);
                grad_c[j] = dc * forget_gate;
            }
            grad_gates[at * 4 * h..(at + 1) * 4 * h].copy_from_slice(dg);
        }
        if t > 0 {
            weights.recur(&grad_gates_t, rows, dims, true, &mut grad_h);
        }
    }

    // ∂xs = ∂gates · W_ih and ∂W_ih = ∂gatesᵀ · xs, every position at once;
    // ∂W_hh = ∂gatesᵀ · h_{t−1}; ∂b = Σ ∂gates.
    let grad_w_ih = weights.project_inputs_backward(&grad_gates, xs, rows * steps, dims, grad_xs);
    let mut previous_hs = vec![0f32; rows * steps * h];
    for r in 0..rows {
        for t in 1..steps {
            let at = r * steps + t;
            previous_hs[at * h..(at + 1) * h].copy_from_slice(&hs[(at - 1) * h..at * h]);
        }
    }
    let grad_w_hh =
        Weights::recurrent_weight_gradient(&grad_gates, &previous_hs, rows * steps, dims);
    let grad_bias = column_sums(&grad_gates, 4 * h);
    Weights::pack(&grad_w_ih, &grad_w_hh, &[grad_bias], dims)
}
