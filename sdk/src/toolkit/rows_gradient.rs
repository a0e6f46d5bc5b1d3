//! What one backward pass does with the gradient with respect to a
//! discriminator's relaxed rows.
//!
//! That gradient is `[rows × width × vocabulary]` f32 (51 MB for the 128
//! rows of a RelGAN step at the oracle's 20 × 5,000). Through Candle's
//! autograd it is computed into one buffer, summed onto a zeroed one and
//! copied twice more before the kit can hand it to the host: five passes
//! over 51 MB for one that matters. And when a kit trains on a pass whose
//! rows it tracked (to answer a gradient request from the same pass),
//! autograd would compute the rows' gradient for nothing.
//!
//! So a kit registers the rows' tensor for the length of one backward
//! pass ([`RowsGradientRequest`]), and the toolkit's relaxed embedding
//! (`MaskedEmbedding::relaxed`, the op in `relaxed_embedding.rs`) reads
//! the request by the tensor's id:
//! - [`RowsGradient::Deliver`]: it computes the rows' gradient straight
//!   into a buffer the kit takes ([`RowsGradientRequest::take`]), leaves
//!   the rows out of autograd, and skips the embedding table's gradient
//!   (the caller wants the rows' gradient only); from a given row on, so
//!   that a batch's real rows, whose gradient nobody needs, are not handed
//!   back (computed for those rows alone where that keeps the bits the
//!   whole product gives them, `block_matmul::last_rows_alone_have_the_bits`;
//!   else whole, and the rows before dropped);
//! - [`RowsGradient::Skip`]: it computes no gradient for the rows.
//!
//! Rows nobody registered, and rows a model reads some other way, are
//! differentiated by autograd like any tensor: the kit falls back to
//! autograd's gradient when nothing was delivered. Requests live in one
//! process-wide table keyed by tensor id (ids are unique per process), so
//! concurrent passes on other tensors do not interfere.

use std::sync::{Mutex, MutexGuard};

use candle_core::{Tensor, TensorId};

/// What a backward pass does with a registered tensor of relaxed rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RowsGradient {
    /// Compute the gradient of rows `from_row..` into the request (not
    /// into autograd's store), and no gradient for the embedding table.
    Deliver {
        /// The first row (of the tensor's first dimension) delivered.
        from_row: usize,
    },
    /// Compute no gradient for the rows.
    Skip,
}

struct Entry {
    id: TensorId,
    mode: RowsGradient,
    delivered: Option<Vec<f32>>,
}

static REQUESTS: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

fn requests() -> MutexGuard<'static, Vec<Entry>> {
    // An entry is only ever pushed, filled or removed whole: a panic
    // elsewhere cannot leave one half-written.
    REQUESTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A registration of one tensor of relaxed rows, removed when dropped.
pub(crate) struct RowsGradientRequest {
    id: TensorId,
}

impl RowsGradientRequest {
    /// Registers `rows` with `mode` until the request is dropped.
    pub(crate) fn new(rows: &Tensor, mode: RowsGradient) -> Self {
        let id = rows.id();
        let mut requests = requests();
        requests.retain(|entry| entry.id != id);
        requests.push(Entry {
            id,
            mode,
            delivered: None,
        });
        RowsGradientRequest { id }
    }

    /// The gradient delivered for the rows, if the backward pass reached
    /// them through the toolkit's relaxed embedding.
    pub(crate) fn take(&self) -> Option<Vec<f32>> {
        requests()
            .iter_mut()
            .find(|entry| entry.id == self.id)
            .and_then(|entry| entry.delivered.take())
    }
}

impl Drop for RowsGradientRequest {
    fn drop(&mut self) {
        requests().retain(|entry| entry.id != self.id);
    }
}

/// The mode `rows` is registered with, if any.
pub(super) fn mode_of(rows: &Tensor) -> Option<RowsGradient> {
    requests()
        .iter()
        .find(|entry| entry.id == rows.id())
        .map(|entry| entry.mode)
}

/// Hands `gradient` to the request for `rows` (added to what was
/// delivered before, should the rows be read twice).
pub(super) fn deliver(rows: &Tensor, gradient: Vec<f32>) {
    let mut requests = requests();
    let Some(entry) = requests.iter_mut().find(|entry| entry.id == rows.id()) else {
        return;
    };
    entry.delivered = Some(match entry.delivered.take() {
        None => gradient,
        Some(mut sum) => {
            for (s, g) in sum.iter_mut().zip(&gradient) {
                *s += g;
            }
            sum
        }
    });
}
