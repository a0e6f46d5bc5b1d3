//! Why a library was refused, and other registry errors.

use std::path::PathBuf;

use agon_sdk::AbiVersion;
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
    /// A library of this agon's ABI major but a newer minor: it may call
    /// methods this agon does not have.
    #[error("built against agon plugin ABI {found}, newer than this agon's ABI {expected}: upgrade agon to one that speaks ABI {found} or later, or rebuild the plugin against an agon-sdk with ABI {expected}")]
    NewerAbi { found: String, expected: String },
    /// A library of another ABI major.
    #[error("built against agon plugin ABI {found}, but this agon speaks ABI {expected}; rebuild the plugin against an agon-sdk with ABI {expected}")]
    IncompatibleAbi { found: String, expected: String },
    /// abi_stable's own header differs: the library was built with an
    /// abi_stable this agon cannot load (or one that is not abi_stable at all).
    #[error("it was built with an abi_stable this agon cannot load (its header says abi_stable {found}, this agon's says {expected}); rebuild the plugin against an agon-sdk with ABI {abi}")]
    IncompatibleAbiStable {
        found: String,
        expected: String,
        abi: String,
    },
    #[error("its ABI layout does not match plugin ABI {version}, the version it claims: it was built against a different agon-sdk; rebuild it against the agon-sdk of this agon. First difference: {summary}")]
    LayoutMismatch { version: String, summary: String },
    #[error("its root module failed to initialise: {0}")]
    InitFailed(String),
    #[error("its manifest could not be read: {0}")]
    BadManifest(String),
    #[error("not in the plugin index {index}: agon loads a library found through AGON_PLUGIN_PATH or $AGON_HOME/plugins only once it is indexed; after reviewing it, run `agon plugins scan` to index it, or pass --allow-unverified to load it this once")]
    NotIndexed { index: String },
    /// Not in the index, but `agon plugins scan` refused this very file
    /// (same sha256) for `reason`.
    #[error("refused by `agon plugins scan`: {reason}; after fixing that, run `agon plugins scan` again")]
    RefusedByScan { reason: String },
    #[error("checksum mismatch: the file changed since it was indexed (sha256 {actual}, index says {indexed}); if you rebuilt or updated it on purpose, run `agon plugins scan` to re-index it")]
    ChecksumMismatch { indexed: String, actual: String },
}

impl Refusal {
    /// The refusal of a library built against plugin ABI `found` by a host
    /// speaking `host` (which cannot load it): [`Refusal::NewerAbi`] for a
    /// newer minor of the same major, else [`Refusal::IncompatibleAbi`].
    pub fn abi(found: AbiVersion, host: AbiVersion) -> Refusal {
        if found.major == host.major && found.minor > host.minor {
            Refusal::NewerAbi {
                found: found.to_string(),
                expected: host.to_string(),
            }
        } else {
            Refusal::IncompatibleAbi {
                found: found.to_string(),
                expected: host.to_string(),
            }
        }
    }
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
