//! With a pool of one thread (`RAYON_NUM_THREADS=1`, as a Slurm task of
//! one CPU gets), the main thread does not join the library's rayon pool:
//! as its only worker it would take other threads' jobs only while inside
//! a parallel op of its own, and their calls would never finish. Without
//! libtest's harness, so that it runs on the process's main thread.

use agon_sdk::author::catch_panic;
use rayon::prelude::*;

fn main() {
    std::env::set_var("RAYON_NUM_THREADS", "1");
    let inside = catch_panic(|| Ok(rayon::current_thread_index())).unwrap();
    assert_eq!(inside, None, "the main thread joined a pool of one");
    // Waited for with a limit: the failure this guards against is a call
    // that never returns.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let sum = catch_panic(|| Ok((1..=100_000u64).into_par_iter().sum::<u64>()));
        done.send(sum.unwrap()).unwrap();
    });
    let sum = finished
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("another thread's parallel call did not finish within 60 s");
    assert_eq!(sum, 5_000_050_000);
    assert_eq!(rayon::current_num_threads(), 1);
    println!("worker_pool_of_one: ok");
}
