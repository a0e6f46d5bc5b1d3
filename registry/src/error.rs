//! Why a library was refused, and other registry errors.

use std::path::PathBuf;

use thiserror::Error;

/// Why one library file cannot be used. Each variant's message names the
/// reason and, where there is one, the fix; [`RegistryError::Refused`] adds
/// the file.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("the file does not exist")]
    Missing,
    #[error("cannot read the file: {0}")]
    Unreadable(String),
    #[error("not a shared library: {0}")]
    NotASharedLibrary(String),
    #[error("the file is truncated: {0}; rebuild or reinstall the plugin")]
    Truncated(String),
    #[error("the dynamic loader refused it: {0}")]
    LoadFailed(String),
    #[error("not an agon plugin: it exports no agon root module (is it a plugin built with agon_sdk::export_plugin!?)")]
    NotAPlugin,
    #[error("built against agon plugin ABI {found}, but this agon speaks ABI {expected}; rebuild the plugin against an agon-sdk with ABI {expected_major}.x")]
    IncompatibleAbi {
        found: String,
        expected: String,
        expected_major: u32,
    },
    #[error("its ABI layout does not match this agon's SDK although both claim ABI {version}: it was built against a different agon-sdk; rebuild it against the agon-sdk of this agon. First difference: {summary}")]
    LayoutMismatch { version: String, summary: String },
    #[error("its root module failed to initialise: {0}")]
    InitFailed(String),
    #[error("its manifest could not be read: {0}")]
    BadManifest(String),
    #[error("not in the plugin index {index}: agon loads a library found through AGON_PLUGIN_PATH or $AGON_HOME/plugins only once it is indexed; after reviewing it, run `agon plugins scan` to index it, or pass --allow-unverified to load it this once")]
    NotIndexed { index: String },
    #[error("checksum mismatch: the file changed since it was indexed (sha256 {actual}, index says {indexed}); if you rebuilt or updated it on purpose, run `agon plugins scan` to re-index it")]
    ChecksumMismatch { indexed: String, actual: String },
}

/// A registry operation failed.
#[derive(Debug, Error)]
pub enum RegistryError {
    #[error("plugin library {path}: {refusal}")]
    Refused { path: PathBuf, refusal: Refusal },
    #[error("invalid plugin reference `{text}`: {reason} (expected `namespace/name`, `namespace/name@1.2`, or `namespace/name@^0.1`)")]
    BadRequirement { text: String, reason: String },
    #[error("no plugin library provides `{requirement}`{found}{refused}")]
    NotFound {
        requirement: String,
        found: String,
        refused: String,
    },
    #[error("{library} has no {kind} named `{name}`; its {kind} components are: {available}")]
    UnknownComponent {
        library: String,
        kind: String,
        name: String,
        available: String,
    },
    #[error("{library}'s `{name}` is a {actual}, not a {expected}")]
    WrongKind {
        library: String,
        name: String,
        actual: String,
        expected: String,
    },
    #[error("{library} has no {kind} component{hint}")]
    NoComponentOfKind {
        library: String,
        kind: String,
        hint: String,
    },
    #[error("{library} has several {kind} components ({available}); name one with `component:`")]
    AmbiguousComponent {
        library: String,
        kind: String,
        available: String,
    },
    #[error("{library} does not support device `{device}` (it supports: {supported}); use a build of it with that device, or set `device:` to one it supports")]
    UnsupportedDevice {
        library: String,
        device: String,
        supported: String,
    },
    #[error("cannot write the plugin index {path}: {reason}")]
    IndexWrite { path: PathBuf, reason: String },
}
