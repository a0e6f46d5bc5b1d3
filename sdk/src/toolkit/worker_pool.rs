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
//! library, and only into a pool of two threads or more. The host makes
//! every plugin call from its main thread, for the life of the process,
//! where a thread that ended (a test's, say) would leave the pool a worker
//! short. Worker 0 takes jobs only while it waits inside a parallel op of
//! its own, so a call from another thread still works, on the pool's other
//! workers while the main thread is outside the library; a pool of one
//! would have none, and is left to rayon's default (one thread of its own).
//! A library whose pool some earlier code already started keeps it as it
//! is. Results do not change: the kits' kernels give the same bits on any
//! number of threads, whichever thread runs which part.

use std::{cell::Cell, num::NonZeroUsize, sync::Once};

/// Makes the calling thread worker 0 of this library's global rayon pool,
/// if it is the process's main thread, the pool has not started yet and
/// it will have two threads or more.
pub(crate) fn join_if_main_thread() {
    static ONCE: Once = Once::new();
    if ONCE.is_completed() || !is_main_thread() {
        return;
    }
    ONCE.call_once(|| {
        let threads = pool_size();
        if threads < 2 {
            return;
        }
        // An error means the pool is already built; it keeps working as
        // before.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .use_current_thread()
            .build_global();
    });
}

/// The size rayon gives its global pool by default: `RAYON_NUM_THREADS`
/// if it is a positive number, else the logical CPUs.
fn pool_size() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|threads| threads.parse::<usize>().ok())
        .filter(|&threads| threads > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
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
            // SAFETY: both calls only read the calling thread's ids. The raw
            // system call, not `libc::gettid`: that wrapper needs glibc 2.30,
            // newer than some clusters' (RHEL 8 has 2.28).
            return unsafe {
                libc::syscall(libc::SYS_gettid) == libc::c_long::from(libc::getpid())
            };
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
