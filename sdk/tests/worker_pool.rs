//! The thread that calls into a plugin library joins the library's rayon
//! pool when it is the process's main thread, and only then
//! (`toolkit::worker_pool`). Without libtest's harness (`harness = false`):
//! libtest runs each test on a thread of its own, and this one has to run
//! on the process's first thread.

use agon_sdk::author::catch_panic;
use rayon::prelude::*;

/// Where a guarded call made from the current thread runs its code: its
/// index in this library's rayon pool, if it is one of its workers.
fn worker_index_inside_a_call() -> Option<usize> {
    catch_panic(|| Ok(rayon::current_thread_index())).unwrap()
}

fn from_another_thread() -> Option<usize> {
    std::thread::spawn(worker_index_inside_a_call)
        .join()
        .unwrap()
}

/// A guarded call from a thread of its own that sums 1..=100,000 in
/// parallel.
fn parallel_sum_from_another_thread() -> u64 {
    std::thread::spawn(|| {
        catch_panic(|| Ok((1..=100_000u64).into_par_iter().sum::<u64>())).unwrap()
    })
    .join()
    .unwrap()
}

fn main() {
    // The pool's size counts the calling thread; set before any thread
    // exists, and before the pool is built.
    std::env::set_var("RAYON_NUM_THREADS", "3");
    assert_eq!(rayon::current_thread_index(), None);

    // A call from another thread first: it stays outside the pool, and
    // leaves the pool unbuilt for the main thread.
    assert_eq!(from_another_thread(), None);

    assert_eq!(
        worker_index_inside_a_call(),
        Some(0),
        "the main thread's call did not make it worker 0 of the pool"
    );
    assert_eq!(rayon::current_thread_index(), Some(0));
    assert_eq!(rayon::current_num_threads(), 3);

    // Parallel work from the main thread runs inside the pool and is
    // complete.
    let indices: Vec<Option<usize>> = (0..100_000u32)
        .into_par_iter()
        .map(|_| rayon::current_thread_index())
        .collect();
    assert_eq!(indices.len(), 100_000);
    assert!(indices.iter().all(|index| matches!(index, Some(0..=2))));
    let sum: u64 = (1..=100_000u64).into_par_iter().sum();
    assert_eq!(sum, 5_000_050_000);

    // Later calls from other threads still run outside it, and their
    // parallel work completes on the other workers while the main thread
    // is outside the library.
    assert_eq!(from_another_thread(), None);
    assert_eq!(parallel_sum_from_another_thread(), 5_000_050_000);
    println!("worker_pool: ok");
}
