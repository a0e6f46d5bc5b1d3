//! The host's thread as a worker of this library's rayon pool.
//!
//! Every plugin library links its own copy of rayon, so each has a global
//! pool of its own, and the host's thread is none of its workers. Then
//! every parallel op of a call (each `gemm` product, each toolkit kernel
//! over rows) is handed to the pool as an injected job while the host's
//! thread sleeps on a latch until a worker wakes it: a round trip through
//! the scheduler per op, hundreds of them in one RelGAN step, and the
//! calling thread's core idle meanwhile. Registered as worker 0 of the pool
//! (`ThreadPoolBuilder::use_current_thread`), the calling thread runs its
//! own share of each op and steals the rest back, as any worker does, and
//! the pool keeps its size (`RAYON_NUM_THREADS` counts the calling thread).
//!
//! Only the process's main thread registers, on its first call into the
//! library: the host makes every plugin call from it for the life of the
//! process, where a thread that ended (a test's, say) would leave the pool
//! a worker short. Any other thread, or a library whose pool some earlier
//! code already started, keeps rayon's default. Results do not change:
//! the kits' kernels give the same bits on any number of threads, whichever
//! thread runs which part.

use std::{cell::Cell, sync::Once};

/// Makes the calling thread worker 0 of this library's global rayon pool,
/// if it is the process's main thread and the pool has not started yet.
pub(crate) fn join_if_main_thread() {
    static ONCE: Once = Once::new();
    if ONCE.is_completed() || !is_main_thread() {
        return;
    }
    ONCE.call_once(|| {
        // An error means the pool is already built; it keeps working as
        // before.
        let _ = rayon::ThreadPoolBuilder::new()
            .use_current_thread()
            .build_global();
    });
}

/// Whether this is the process's first thread. Asked of the system: this
/// library's copy of `std` never saw the process start, so to it the main
/// thread has no name.
fn is_main_thread() -> bool {
    thread_local! {
        static MAIN: Cell<Option<bool>> = const { Cell::new(None) };
    }
    MAIN.with(|main| {
        *main.get().get_or_insert_with(|| {
            #[cfg(target_os = "linux")]
            // SAFETY: both calls only read the calling thread's ids.
            return unsafe { libc::gettid() == libc::getpid() };
            #[cfg(target_os = "macos")]
            // SAFETY: only reads whether the calling thread is the main one.
            return unsafe { libc::pthread_main_np() == 1 };
            #[allow(unreachable_code)]
            false
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test runs on a thread of its own, never the process's first.
    #[test]
    fn a_spawned_thread_is_not_the_main_one() {
        assert!(!std::thread::spawn(is_main_thread).join().unwrap());
    }
}
