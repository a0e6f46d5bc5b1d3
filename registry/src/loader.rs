//! Opening a library and checking that it speaks this agon's ABI.

use std::path::{Path, PathBuf};

use abi_stable::library::{lib_header_from_path, AbiHeader, LibHeader, LibraryError};
use abi_stable::sabi_types::VersionNumber;
use agon_sdk::{AbiVersion, AgonPluginRef, ComponentCapabilities, Manifest, ABI_VERSION};

pub use crate::abi_report::first_difference;
use crate::{error::Refusal, library_file};

/// A library that passed every check; it stays loaded for the life of the
/// process (plugins are never unloaded: their trait objects may still live).
pub struct LoadedLibrary {
    /// Canonical path.
    pub path: PathBuf,
    /// sha256 of the file that was loaded.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The manifest.
    pub manifest: Manifest,
    /// The optional methods its components declare (ABI 1.1); empty for a
    /// library built before them.
    pub capabilities: Vec<ComponentCapabilities>,
    /// The root module.
    pub module: AgonPluginRef,
}

impl LoadedLibrary {
    /// Whether component `kind`/`name` declares `capability`.
    pub fn declares(&self, kind: agon_sdk::ComponentKind, name: &str, capability: &str) -> bool {
        agon_sdk::capabilities::declares(&self.capabilities, kind, name, capability)
    }
}

impl std::fmt::Debug for LoadedLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedLibrary")
            .field("path", &self.path)
            .field("sha256", &self.sha256)
            .field("manifest", &self.manifest)
            .finish_non_exhaustive()
    }
}

/// Reads, validates and loads the library at `path`; `expected_sha256`, when
/// given, must match the file's before it is handed to the loader.
pub fn load(path: &Path, expected_sha256: Option<&str>) -> Result<LoadedLibrary, Refusal> {
    let bytes = library_file::read(path)?;
    let sha256 = library_file::sha256_hex(&bytes);
    if let Some(indexed) = expected_sha256 {
        if indexed != sha256 {
            return Err(Refusal::ChecksumMismatch {
                indexed: indexed.to_string(),
                actual: sha256,
            });
        }
    }
    library_file::validate(&bytes)?;
    let header = lib_header_from_path(path).map_err(summarise)?;
    let claimed = claimed_abi(header).map_err(summarise)?;
    let module = root_module(header, claimed).map_err(|e| summarise_for(e, claimed))?;
    let manifest = (module.manifest())()
        .into_result()
        .map_err(|e| Refusal::BadManifest(e.to_string()))?;
    if !ABI_VERSION.can_load(manifest.sdk_abi) {
        return Err(Refusal::abi(manifest.sdk_abi, ABI_VERSION));
    }
    if manifest.sdk_abi != claimed {
        return Err(Refusal::BadManifest(format!(
            "its manifest says ABI {} but its root module was exported as ABI {claimed}",
            manifest.sdk_abi
        )));
    }
    let capabilities = match module.capabilities() {
        Some(declared) => declared()
            .into_result()
            .map_err(|e| Refusal::BadManifest(format!("its capabilities: {e}")))?
            .into_vec(),
        None => Vec::new(),
    };
    Ok(LoadedLibrary {
        path: path.to_path_buf(),
        sha256,
        size: bytes.len() as u64,
        manifest,
        capabilities,
        module,
    })
}

/// The ABI the library was exported with (abi_stable's version string,
/// `MAJOR.MINOR.0`).
fn claimed_abi(header: &LibHeader) -> Result<AbiVersion, LibraryError> {
    let version = VersionNumber::new(header.version_strings())?;
    Ok(AbiVersion {
        major: version.major,
        minor: version.minor,
    })
}

/// The root module of a library that claims ABI `claimed`, checked against
/// the interface of that minor version.
///
/// abi_stable's layout check refuses a host type with *more* fields than the
/// library's, so a library of an older minor is checked against the
/// interface it was built with (this host keeps them: [`agon_sdk::abi_1_0`],
/// [`agon_sdk::abi_1_1`], [`agon_sdk::abi_1_2`]),
/// then used through the current types. That is sound because each minor
/// only appends, after the `#[sabi(last_prefix_field)]` markers: an appended
/// trait method missing from an old vtable answers with its default
/// (`Unsupported`, or for ABI 1.3's paired calls the 1.2 calls they stand
/// for), an appended root-module function reads as `None`
/// (docs/abi-compatibility.md).
fn root_module(header: &LibHeader, claimed: AbiVersion) -> Result<AgonPluginRef, LibraryError> {
    if claimed.major != ABI_VERSION.major || claimed.minor >= ABI_VERSION.minor {
        // This minor (abi_stable checks the layout against the current
        // types), or another major or a newer minor (abi_stable or the
        // manifest check refuses it).
        return header.init_root_module::<AgonPluginRef>();
    }
    match claimed.minor {
        0 => {
            header.ensure_layout::<agon_sdk::abi_1_0::AgonPluginRef>()?;
            // SAFETY: the layout is ABI 1.0's, of which the current ABI is
            // an append-only extension (see above).
            unsafe { header.unchecked_layout::<AgonPluginRef>() }
                .map_err(|e| e.into_library_error::<AgonPluginRef>())
        }
        1 => {
            header.ensure_layout::<agon_sdk::abi_1_1::AgonPluginRef>()?;
            // SAFETY: the layout is ABI 1.1's, of which the current ABI is
            // an append-only extension (see above).
            unsafe { header.unchecked_layout::<AgonPluginRef>() }
                .map_err(|e| e.into_library_error::<AgonPluginRef>())
        }
        2 => {
            header.ensure_layout::<agon_sdk::abi_1_2::AgonPluginRef>()?;
            // SAFETY: the layout is ABI 1.2's, of which the current ABI is
            // an append-only extension (see above).
            unsafe { header.unchecked_layout::<AgonPluginRef>() }
                .map_err(|e| e.into_library_error::<AgonPluginRef>())
        }
        // A minor without a kept interface (a maintainer forgot step 1 of
        // docs/abi-compatibility.md's "Adding a method"): abi_stable's own
        // check refuses it, with the field it lacks, rather than a panic.
        _ => header.init_root_module::<AgonPluginRef>(),
    }
}

/// [`summarise`], naming the ABI the layout was checked against.
fn summarise_for(error: LibraryError, claimed: AbiVersion) -> Refusal {
    match summarise(error) {
        Refusal::LayoutMismatch { summary, .. } if claimed.major == ABI_VERSION.major => {
            Refusal::LayoutMismatch {
                version: claimed.min(ABI_VERSION).to_string(),
                summary,
            }
        }
        other => other,
    }
}

/// One sentence for each of abi_stable's errors (its layout report alone
/// runs to hundreds of lines).
fn summarise(error: LibraryError) -> Refusal {
    match error {
        LibraryError::OpenError { err, .. } => Refusal::LoadFailed(err.to_string()),
        LibraryError::GetSymbolError { .. } => Refusal::NotAPlugin,
        LibraryError::ParseVersionError(e) => {
            Refusal::BadManifest(format!("unreadable ABI version: {e}"))
        }
        // abi_stable refuses another major (`check_version`); the host's
        // version is `ABI_VERSION`, whose string abi_stable compared.
        LibraryError::IncompatibleVersionNumber { actual_version, .. } => Refusal::abi(
            AbiVersion {
                major: actual_version.major,
                minor: actual_version.minor,
            },
            ABI_VERSION,
        ),
        LibraryError::RootModule { err, .. } => Refusal::InitFailed(err.to_string()),
        LibraryError::AbiInstability(report) => Refusal::LayoutMismatch {
            version: ABI_VERSION.to_string(),
            summary: first_difference(&report.to_string()),
        },
        LibraryError::InvalidAbiHeader(header) => {
            let ours = AbiHeader::VALUE;
            Refusal::IncompatibleAbiStable {
                found: format!("{}.{}", header.abi_major, header.abi_minor),
                expected: format!("{}.{}", ours.abi_major, ours.abi_minor),
                abi: ABI_VERSION.to_string(),
            }
        }
        LibraryError::InvalidCAbi { .. } => Refusal::LoadFailed(
            "it was compiled for a different C ABI (integer sizes, pointer width)".into(),
        ),
        LibraryError::Many(errors) => errors
            .into_iter()
            .next()
            .map(summarise)
            .unwrap_or_else(|| Refusal::LoadFailed("unknown error".into())),
    }
}

/// abi_stable's full report, for `AGON_LOG_ABI_REPORT=1`.
pub fn full_report(path: &Path) -> Option<String> {
    let header = lib_header_from_path(path).ok()?;
    let claimed = claimed_abi(header).ok()?;
    root_module(header, claimed).err().map(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use abi_stable::sabi_types::VersionNumber;

    use super::*;

    fn version_error(major: u32, minor: u32) -> LibraryError {
        LibraryError::IncompatibleVersionNumber {
            library_name: "agon plugin",
            expected_version: VersionNumber {
                major: ABI_VERSION.major,
                minor: ABI_VERSION.minor,
                patch: 0,
            },
            actual_version: VersionNumber {
                major,
                minor,
                patch: 0,
            },
        }
    }

    #[test]
    fn another_major_is_told_to_rebuild_against_this_exact_abi() {
        let message = summarise(version_error(ABI_VERSION.major + 1, 0)).to_string();
        let host = ABI_VERSION.to_string();
        assert_eq!(
            message,
            format!(
                "built against agon plugin ABI {}.0, but this agon speaks ABI {host}; \
                 rebuild the plugin against an agon-sdk with ABI {host}",
                ABI_VERSION.major + 1
            )
        );
        assert!(!message.contains(".x"), "{message}");
    }

    #[test]
    fn a_newer_minor_is_told_to_upgrade_agon() {
        let newer = AbiVersion {
            major: ABI_VERSION.major,
            minor: ABI_VERSION.minor + 1,
        };
        let host = ABI_VERSION.to_string();
        let expected = format!(
            "built against agon plugin ABI {newer}, newer than this agon's ABI {host}: \
             upgrade agon to one that speaks ABI {newer} or later, or rebuild the plugin \
             against an agon-sdk with ABI {host}"
        );
        // The manifest's check (abi_stable lets a newer minor through) ...
        assert_eq!(Refusal::abi(newer, ABI_VERSION).to_string(), expected);
        // ... and abi_stable's version check say the same.
        assert_eq!(
            summarise(version_error(newer.major, newer.minor)).to_string(),
            expected
        );
    }

    #[test]
    fn an_abi_1_0_host_refuses_this_sdk_by_name() {
        // What an agon of ABI 1.0 says of a library built against this SDK
        // (its rule is the same `can_load`).
        let old_host = AbiVersion { major: 1, minor: 0 };
        assert!(!old_host.can_load(ABI_VERSION));
        assert_eq!(
            Refusal::abi(ABI_VERSION, old_host).to_string(),
            format!(
                "built against agon plugin ABI {ABI_VERSION}, newer than this agon's ABI 1.0: \
                 upgrade agon to one that speaks ABI {ABI_VERSION} or later, or rebuild the \
                 plugin against an agon-sdk with ABI 1.0"
            )
        );
    }

    #[test]
    fn an_older_major_is_not_called_newer() {
        let host = AbiVersion { major: 2, minor: 3 };
        let message = Refusal::abi(AbiVersion { major: 1, minor: 7 }, host).to_string();
        assert!(
            message.contains("but this agon speaks ABI 2.3"),
            "{message}"
        );
        assert!(message.contains("agon-sdk with ABI 2.3"), "{message}");
        assert!(!message.contains("newer"), "{message}");
    }
}
