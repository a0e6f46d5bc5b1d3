//! The plugins' thread pools: Candle's element-wise ops stay on the thread
//! that calls them.
//!
//! Each plugin library carries its own Candle, and Candle (0.11) starts a
//! pool of its own for element-wise ops on large tensors (threads named
//! `candle-bp-*`: `CANDLE_NUM_THREADS`, else `RAYON_NUM_THREADS`, else the
//! physical cores, less one for the calling thread), beside rayon's. Its
//! workers spin for 25,000 rounds after each op before they sleep, and in a
//! training step such ops come every few milliseconds, so they spin most of
//! the time, on cores that rayon's workers need for the products and the
//! toolkit's kernels, where the heavy work is. Measured on 2 cores
//! (docs/performance.md): `gumbel-step` 1.13× faster with the ops kept on
//! the calling thread. Results do not change: an element-wise op computes
//! each value alone, whichever thread runs it.
//!
//! So agon sets `CANDLE_NUM_THREADS=1` (Candle's size for that pool,
//! counting the calling thread) for itself and its plugins, unless the user
//! set it.

/// The variable Candle sizes its element-wise pool from.
const CANDLE_NUM_THREADS: &str = "CANDLE_NUM_THREADS";

/// Sets `CANDLE_NUM_THREADS=1` unless it is set. Call it first thing in
/// `main`, before any thread exists (the environment is process-wide) and
/// before any plugin runs (each Candle reads it once, at its first large
/// element-wise op).
pub fn keep_candle_ops_on_calling_threads() {
    if let Some(value) = candle_threads_to_set(std::env::var_os(CANDLE_NUM_THREADS).as_deref()) {
        std::env::set_var(CANDLE_NUM_THREADS, value);
    }
}

/// What to set `CANDLE_NUM_THREADS` to, given its value now: nothing if the
/// user set it (even to something Candle will not parse: Candle then falls
/// back to `RAYON_NUM_THREADS`, as the user's setting asks of it).
fn candle_threads_to_set(current: Option<&std::ffi::OsStr>) -> Option<&'static str> {
    current.is_none().then_some("1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_users_setting_is_kept() {
        assert_eq!(candle_threads_to_set(None), Some("1"));
        for users in ["4", "1", "", "all"] {
            assert_eq!(
                candle_threads_to_set(Some(users.as_ref())),
                None,
                "{users:?}"
            );
        }
    }
}
