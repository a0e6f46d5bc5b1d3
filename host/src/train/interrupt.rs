//! Ctrl-C / SIGTERM (or a closed standard output, `output.rs`): finish the
//! current epoch, checkpoint, exit.
//!
//! The first signal sets a flag that the trainer checks after every epoch or
//! round; a second one exits at once (checkpoints are written atomically, so
//! even that leaves the previous checkpoint loadable).

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

/// Raised from inside the process (a sweep cell whose sweep is gone):
/// every [`Interrupt`] reads it, as if a first signal had come.
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

/// Stops the run after its current epoch, as a first Ctrl-C does, saying
/// `why` once.
pub fn request_stop(why: &str) {
    if !STOP_REQUESTED.swap(true, Ordering::SeqCst) {
        eprintln!("\n{why}: stopping after the current epoch");
    }
}

/// A flag raised by SIGINT / SIGTERM.
#[derive(Clone, Debug, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// Installs the signal handler (once per process) and returns its flag.
    pub fn install() -> Self {
        Self::install_with("second interrupt: exiting now; the last checkpoint is intact")
    }

    /// [`Self::install`], saying `second` when a second signal exits at
    /// once.
    pub fn install_with(second: &'static str) -> Self {
        let interrupt = Interrupt::default();
        let flag = interrupt.0.clone();
        let installed = ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::SeqCst) {
                eprintln!("\n{second}");
                std::process::exit(130);
            }
            eprintln!(
                "\ninterrupt: stopping after the current epoch (press Ctrl-C again to exit now)"
            );
        });
        if let Err(e) = installed {
            eprintln!("warning: cannot handle Ctrl-C gracefully ({e}); an interrupt stops the run at once");
        }
        interrupt
    }

    /// Whether a signal arrived, or standard output was closed (an
    /// `agon train … | head` whose reader went away).
    pub fn raised(&self) -> bool {
        self.0.load(Ordering::SeqCst)
            || STOP_REQUESTED.load(Ordering::SeqCst)
            || super::output::closed()
    }
}
