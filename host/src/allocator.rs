//! Allocator tuning for tensor workloads.
//!
//! Plugins allocate and free tensors of tens of megabytes every step (a
//! 64 × 20 × 5000 logits tensor is 25 MB). With its defaults, glibc serves
//! such blocks with fresh `mmap`s and hands freed heap tops back to the
//! kernel, so every step pays for page faults and page zeroing. Measured on
//! the SeqGAN NLL-oracle evaluation (release build, 2 cores): 22.5 s with
//! 16.7 s of system time by default, 13.2 s with 2.5 s of system time with
//! the settings below. Host and plugins share the process's one allocator.
//!
//! The settings only took effect as environment variables read at process
//! start (the same values passed to `mallopt` from `main` left most of the
//! system time in place), so `agon` re-executes itself once with them set.
//! Values the user set are kept.

/// Marks the re-executed process.
const MARK: &str = "AGON_ALLOCATOR_TUNED";

/// Re-executes the current process with glibc's allocator tuned, once.
/// Returns (without tuning) if it cannot, or on other platforms.
pub fn tune_for_tensors() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os(MARK).is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let mut command = std::process::Command::new(exe);
        command.args(std::env::args_os().skip(1)).env(MARK, "1");
        for (key, value) in [
            ("MALLOC_MMAP_THRESHOLD_", "1073741824"),
            ("MALLOC_TRIM_THRESHOLD_", "4294967296"),
            ("MALLOC_TOP_PAD_", "268435456"),
            // Every rayon worker of every plugin would otherwise get an arena
            // of its own, each keeping freed tensors: two arenas cut the
            // peak RSS of `agon bench` (all workloads) from 1,322 MiB to 946 MiB
            // at the same speed.
            ("MALLOC_ARENA_MAX", "2"),
        ] {
            if std::env::var_os(key).is_none() {
                command.env(key, value);
            }
        }
        // `exec` returns only if it failed; then run untuned.
        let _ = command.exec();
    }
}
