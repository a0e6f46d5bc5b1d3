//! # agon-registry — finding, verifying and loading plugin libraries
//!
//! * [`search_path`] — where libraries are looked for: the directory of the
//!   running `agon` executable (the workspace's build output),
//!   `AGON_PLUGIN_PATH`, and the per-user directory `$AGON_HOME/plugins`.
//! * [`library_file`] — cheap checks of a file *before* it is handed to the
//!   dynamic loader (a truncated ELF would kill the process with SIGBUS).
//! * [`index`] — the index file: path, sha256 and manifest of every library
//!   seen, so a library that changed after it was indexed is refused, and
//!   the reason for every library a scan refused.
//! * [`loader`] — dlopen, abi_stable's version and layout checks, manifest,
//!   with every failure summarised in one sentence (`abi_report`: the
//!   sentence from abi_stable's layout report).
//! * [`requirement`] — `namespace/name@version-req` from configs.
//! * [`registry`] — ties these together: scan, resolve, load.
//!
//! Every library is loaded through its own header
//! (`lib_header_from_path` + `init_root_module`), never through
//! `RootModule::load_from*`, which caches the first library per interface and
//! would silently hand it back for the second; so several libraries
//! implementing the same interface live side by side in one process.

mod abi_report;
pub mod error;
pub mod index;
pub mod library_file;
pub mod loader;
pub mod registry;
pub mod requirement;
pub mod search_path;

pub use error::{Refusal, RegistryError};
pub use index::{Index, IndexEntry, ManifestRecord, RefusalRecord};
pub use loader::LoadedLibrary;
pub use registry::{allow_unverified, LoadingNeeds, Registry, ResolvedComponent, ScanOutcome};
pub use requirement::PluginRequirement;
pub use search_path::{Origin, SearchDir, SearchPath};
