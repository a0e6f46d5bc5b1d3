//! What the recurrent kernels ([`super::lstm_recurrence`],
//! [`super::gru_recurrence`]) share: rows split into blocks of a fixed size
//! (so results do not depend on the number of threads) and contiguous f32
//! views of an op's inputs.

use candle_core::{CpuStorage, Layout, Result};

/// Rows per parallel task.
pub const ROWS_PER_BLOCK: usize = 16;

/// The values of a contiguous f32 input of a custom op; `what` names it in
/// the error.
pub fn contiguous<'a>(storage: &'a CpuStorage, layout: &Layout, what: &str) -> Result<&'a [f32]> {
    let (start, end) = layout.contiguous_offsets().ok_or_else(|| {
        candle_core::Error::Msg(format!("recurrent kernel: {what} is not contiguous"))
    })?;
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
