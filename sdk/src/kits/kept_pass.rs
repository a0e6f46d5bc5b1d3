//! A forward pass one boundary call keeps for the call that usually
//! follows it, so that call does not run the pass again.
//!
//! The boundary keeps no state between calls (only arrays cross it), and
//! `algorithm: gumbel` makes its calls in pairs over the same rows: the
//! generator samples relaxed rows, then takes a policy step along their
//! gradient; the discriminator scores a batch, then trains on the same
//! batch with the same dropout. Recomputing the first call's forward pass
//! in the second gives the same values to the last bit, so a kit may keep
//! it instead, with its autograd graph. A kept pass is used only when the
//! second call asks for exactly what the first computed, on exactly the
//! same weights (compared bit for bit, so any change — an optimiser step, a
//! checkpoint load, a test perturbing a variable — discards it); otherwise
//! the call recomputes as if nothing were kept. Either way the result is
//! the same: keeping is invisible except in time and memory. Every other
//! call on the component drops the kept pass first, so it lives only until
//! the component's next call.

use std::sync::{Mutex, MutexGuard};

use candle_nn::VarMap;

use crate::{error::PluginResult, toolkit::sorted_vars};

/// Every variable's values as bits, in name order: what a kept pass was
/// computed on.
pub(crate) fn weight_bits(varmap: &VarMap) -> PluginResult<Vec<u32>> {
    let mut bits = Vec::new();
    for (_, var) in sorted_vars(varmap) {
        let values = var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
        bits.extend(values.iter().map(|v| v.to_bits()));
    }
    Ok(bits)
}

/// At most one kept pass of type `P`, with the weights it was computed on.
pub(crate) struct KeptPass<P> {
    slot: Mutex<Option<(Vec<u32>, P)>>,
    /// Passes taken for use, so the tests can tell a use from a recompute.
    #[cfg(test)]
    uses: std::sync::atomic::AtomicUsize,
}

impl<P> Default for KeptPass<P> {
    fn default() -> Self {
        KeptPass {
            slot: Mutex::new(None),
            #[cfg(test)]
            uses: Default::default(),
        }
    }
}

impl<P> KeptPass<P> {
    fn lock(&self) -> MutexGuard<'_, Option<(Vec<u32>, P)>> {
        // A panic while holding the lock leaves at worst a stale pass,
        // which the weight check and `matches` still guard.
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `pass`, computed on the weights of `varmap`, in place of any
    /// pass kept before.
    pub(crate) fn keep(&self, varmap: &VarMap, pass: P) -> PluginResult<()> {
        let weights = weight_bits(varmap)?;
        *self.lock() = Some((weights, pass));
        Ok(())
    }

    /// Drops the kept pass (its graph and activations), if any.
    pub(crate) fn clear(&self) {
        self.lock().take();
    }

    /// Takes the kept pass if `matches` says it is the one wanted and the
    /// weights of `varmap` are still those it was computed on; the pass is
    /// dropped either way.
    pub(crate) fn take_if(
        &self,
        varmap: &VarMap,
        matches: impl FnOnce(&P) -> bool,
    ) -> PluginResult<Option<P>> {
        let Some((weights, pass)) = self.lock().take() else {
            return Ok(None);
        };
        if !matches(&pass) || weight_bits(varmap)? != weights {
            return Ok(None);
        }
        #[cfg(test)]
        self.uses.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Some(pass))
    }

    /// How many kept passes [`Self::take_if`] has handed out.
    #[cfg(test)]
    pub(crate) fn uses(&self) -> usize {
        self.uses.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether a pass is kept now.
    #[cfg(test)]
    pub(crate) fn holds(&self) -> bool {
        self.lock().is_some()
    }
}

/// Whether two arrays hold the same values bit for bit.
///
/// Relaxed rows are tens of megabytes, compared on every use of a kept
/// pass: blocks are compared with a fold the compiler vectorises (a
/// search that stops at the first difference cannot be), stopping at the
/// first block that differs.
pub(crate) fn same_bits(a: &[f32], b: &[f32]) -> bool {
    const BLOCK: usize = 1024;
    a.len() == b.len()
        && a.chunks(BLOCK).zip(b.chunks(BLOCK)).all(|(a, b)| {
            a.iter()
                .zip(b)
                .fold(0u32, |differ, (x, y)| differ | (x.to_bits() ^ y.to_bits()))
                == 0
        })
}
