//! What the recurrent kernels ([`super::lstm_recurrence`],
//! [`super::gru_recurrence`]) share: rows split into blocks of a fixed size
//! (so results do not depend on the number of threads), contiguous f32
//! views of an op's inputs, the packed weights and the matmuls every gated
//! recurrent layer makes with them (input projection, recurrent step,
//! weight gradients), and the split of a backward op's one output into the
//! inputs' and the weights' gradients.

use candle_core::{CpuStorage, Layout, Result, Tensor};

use super::block_matmul::{matmul_into, Operand, Write};

/// Rows per parallel task.
pub const ROWS_PER_BLOCK: usize = 16;

/// The values of a contiguous f32 input of a custom op (the toolkit's
/// other CPU ops read theirs with it too); `what` names it in the error.
pub fn contiguous<'a>(storage: &'a CpuStorage, layout: &Layout, what: &str) -> Result<&'a [f32]> {
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg(format!("CPU kernel: {what} is not contiguous")))?;
    Ok(&storage.as_slice::<f32>()?[start..end])
}

/// Rows `first..first + n` of a `[B, T, width]` buffer.
pub fn block_of(values: &[f32], first: usize, n: usize, steps: usize, width: usize) -> &[f32] {
    &values[first * steps * width..(first + n) * steps * width]
}

/// `total += partial` for each partial in order: the blocks' weight
/// gradients, added in block order whatever thread computed them.
pub fn add_in_order(total: &mut [f32], partials: Vec<Vec<f32>>) {
    for partial in partials {
        for (sum, value) in total.iter_mut().zip(partial) {
            *sum += value;
        }
    }
}

/// The sizes of one call of a recurrent kernel: inputs `xs: [B, T, I]` and
/// weights packed as `[W_ih | W_hh | biases]: [G·H, I + H + biases]` for a
/// layer of `G` gates per hidden unit.
#[derive(Clone, Copy)]
pub struct Dims {
    pub rows: usize,
    pub steps: usize,
    pub input: usize,
    pub hidden: usize,
    pub gates: usize,
    pub biases: usize,
}

impl Dims {
    /// The sizes of `xs` and `weights` for `kernel` (named in errors).
    pub fn of(
        kernel: &str,
        xs: &Layout,
        weights: &Layout,
        gates: usize,
        biases: usize,
    ) -> Result<Dims> {
        let (rows, steps, input) = xs.shape().dims3()?;
        let (gate_rows, width) = weights.shape().dims2()?;
        let hidden = gate_rows / gates;
        if gate_rows % gates != 0 || hidden == 0 || input == 0 || width != input + hidden + biases {
            candle_core::bail!(
                "{kernel}: packed weights [{gate_rows}, {width}] do not fit inputs of width {input} (want [{gates}H, {input} + H + {biases}])"
            );
        }
        Ok(Dims {
            rows,
            steps,
            input,
            hidden,
            gates,
            biases,
        })
    }

    /// Columns of the packed weights.
    pub fn width(&self) -> usize {
        self.input + self.hidden + self.biases
    }
}

/// Packed weights in compact buffers: `W_ih: [G·H, I]`, `W_hh: [G·H, H]`
/// and each bias column `[G·H]` (a copy of the weights, small beside one
/// block's work).
pub struct Weights {
    pub w_ih: Vec<f32>,
    pub w_hh: Vec<f32>,
    pub biases: Vec<Vec<f32>>,
}

impl Weights {
    pub fn unpack(packed: &[f32], dims: Dims) -> Weights {
        let (i, h, gate_rows) = (dims.input, dims.hidden, dims.gates * dims.hidden);
        let mut weights = Weights {
            w_ih: Vec::with_capacity(gate_rows * i),
            w_hh: Vec::with_capacity(gate_rows * h),
            biases: vec![Vec::with_capacity(gate_rows); dims.biases],
        };
        for row in packed.chunks(dims.width()) {
            weights.w_ih.extend_from_slice(&row[..i]);
            weights.w_hh.extend_from_slice(&row[i..i + h]);
            for (bias, value) in weights.biases.iter_mut().zip(&row[i + h..]) {
                bias.push(*value);
            }
        }
        weights
    }

    /// `xs · W_ihᵀ` for `positions` rows of inputs `[positions, I]`: every
    /// position's input pre-activations (`[positions, G·H]`) in one matmul.
    pub fn project_inputs(&self, xs: &[f32], positions: usize, dims: Dims) -> Vec<f32> {
        let gate_rows = dims.gates * dims.hidden;
        let mut out = vec![0f32; positions * gate_rows];
        matmul_into(
            &mut out,
            Write::Overwrite,
            xs,
            Operand::Plain,
            &self.w_ih,
            Operand::Transposed,
            (positions, dims.input, gate_rows),
        );
        out
    }

    /// The input projection's backward pass: writes `∂xs = ∂pre · W_ih`
    /// (`[positions, I]`) and returns `∂W_ih = ∂preᵀ · xs`.
    pub fn project_inputs_backward(
        &self,
        grad_pre: &[f32],
        xs: &[f32],
        positions: usize,
        dims: Dims,
        grad_xs: &mut [f32],
    ) -> Vec<f32> {
        let (i, gate_rows) = (dims.input, dims.gates * dims.hidden);
        matmul_into(
            grad_xs,
            Write::Overwrite,
            grad_pre,
            Operand::Plain,
            &self.w_ih,
            Operand::Plain,
            (positions, gate_rows, i),
        );
        let mut grad_w_ih = vec![0f32; gate_rows * i];
        matmul_into(
            &mut grad_w_ih,
            Write::Overwrite,
            grad_pre,
            Operand::Transposed,
            xs,
            Operand::Plain,
            (gate_rows, positions, i),
        );
        grad_w_ih
    }

    /// `∂W_hh = ∂preᵀ · h_{t−1}` over `positions` rows of recurrent
    /// pre-activation gradients and the states before each step.
    pub fn recurrent_weight_gradient(
        grad_pre: &[f32],
        previous: &[f32],
        positions: usize,
        dims: Dims,
    ) -> Vec<f32> {
        let (h, gate_rows) = (dims.hidden, dims.gates * dims.hidden);
        let mut grad_w_hh = vec![0f32; gate_rows * h];
        matmul_into(
            &mut grad_w_hh,
            Write::Overwrite,
            grad_pre,
            Operand::Transposed,
            previous,
            Operand::Plain,
            (gate_rows, positions, h),
        );
        grad_w_hh
    }

    /// `state · W_hhᵀ` into `out` (`[rows, G·H]`), or `∂pre · W_hh` into
    /// `out` (`[rows, H]`) with `backward`: one step of the recurrence.
    pub fn recur(&self, values: &[f32], rows: usize, dims: Dims, backward: bool, out: &mut [f32]) {
        let (h, gate_rows) = (dims.hidden, dims.gates * dims.hidden);
        let (layout, shape) = match backward {
            false => (Operand::Transposed, (rows, h, gate_rows)),
            true => (Operand::Plain, (rows, gate_rows, h)),
        };
        matmul_into(
            out,
            Write::Overwrite,
            values,
            Operand::Plain,
            &self.w_hh,
            layout,
            shape,
        );
    }

    /// The inverse of [`Weights::unpack`]: the packed `[G·H, I + H +
    /// biases]` layout of gradients with the weights' shapes.
    pub fn pack(w_ih: &[f32], w_hh: &[f32], biases: &[Vec<f32>], dims: Dims) -> Vec<f32> {
        let (i, h, gate_rows) = (dims.input, dims.hidden, dims.gates * dims.hidden);
        let mut packed = Vec::with_capacity(gate_rows * dims.width());
        for k in 0..gate_rows {
            packed.extend_from_slice(&w_ih[k * i..(k + 1) * i]);
            packed.extend_from_slice(&w_hh[k * h..(k + 1) * h]);
            packed.extend(biases.iter().map(|bias| bias[k]));
        }
        packed
    }
}

/// The `[∂xs (B·T·I values) | ∂packed weights]` vector a kernel's backward
/// op returns, as `(∂xs: [B, T, I], ∂packed weights)` shaped like `xs` and
/// `weights`.
pub fn split_gradients(grads: &Tensor, xs: &Tensor, weights: &Tensor) -> Result<(Tensor, Tensor)> {
    let n_xs = xs.elem_count();
    let grad_xs = grads.narrow(0, 0, n_xs)?.reshape(xs.shape())?;
    let grad_weights = grads
        .narrow(0, n_xs, weights.elem_count())?
        .reshape(weights.shape())?;
    Ok((grad_xs, grad_weights))
}

/// Column sums of a `[rows, width]` buffer: a bias's gradient.
pub fn column_sums(values: &[f32], width: usize) -> Vec<f32> {
    let mut sums = vec![0f32; width];
    for row in values.chunks(width) {
        for (sum, value) in sums.iter_mut().zip(row) {
            *sum += value;
        }
    }
    sums
}

/// The lock's contents even if a panicking thread poisoned it: what the
/// kernels keep there are plain buffers, whole or absent.
pub fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The forward pass's kept blocks, one per block (taken: a second backward
/// pass over the same graph finds none), or `None` for every block when
/// nothing (or the wrong number) was kept, so each block recomputes.
pub fn take_kept<T>(kept: &std::sync::Mutex<Option<Vec<T>>>, blocks: usize) -> Vec<Option<T>> {
    match lock(kept).take() {
        Some(kept) if kept.len() == blocks => kept.into_iter().map(Some).collect(),
        _ => (0..blocks).map(|_| None).collect(),
    }
}
