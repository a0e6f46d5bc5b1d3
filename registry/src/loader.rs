//! Opening a library and checking that it speaks this agon's ABI.

use std::path::{Path, PathBuf};

use abi_stable::library::{lib_header_from_path, LibraryError};
use agon_sdk::{AgonPluginRef, Manifest, ABI_VERSION};

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
    /// The root module.
    pub module: AgonPluginRef,
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
    let module = header
        .init_root_module::<AgonPluginRef>()
        .map_err(summarise)?;
    let manifest = (module.manifest())()
        .into_result()
        .map_err(|e| Refusal::BadManifest(e.to_string()))?;
    if !ABI_VERSION.can_load(manifest.sdk_abi) {
        return Err(Refusal::IncompatibleAbi {
            found: manifest.sdk_abi.to_string(),
            expected: ABI_VERSION.to_string(),
            expected_major: ABI_VERSION.major,
        });
    }
    Ok(LoadedLibrary {
        path: path.to_path_buf(),
        sha256,
        size: bytes.len() as u64,
        manifest,
        module,
    })
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
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => Refusal::IncompatibleAbi {
            found: format!("{}.{}", actual_version.major, actual_version.minor),
            expected: ABI_VERSION.to_string(),
            expected_major: expected_version.major,
        },
        LibraryError::RootModule { err, .. } => Refusal::InitFailed(err.to_string()),
        LibraryError::AbiInstability(report) => Refusal::LayoutMismatch {
            version: ABI_VERSION.to_string(),
            summary: first_difference(&report.to_string()),
        },
        LibraryError::InvalidAbiHeader(header) => Refusal::IncompatibleAbi {
            found: format!("abi_stable header {header:?}"),
            expected: format!("{} (abi_stable 0.11)", ABI_VERSION),
            expected_major: ABI_VERSION.major,
        },
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

/// The most telling part of abi_stable's layout report: its first
/// `Error:` line with the expected and found values that follow it.
pub fn first_difference(report: &str) -> String {
    let lines: Vec<&str> = report
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let summary = match lines.iter().position(|l| l.starts_with("Error:")) {
        Some(at) => {
            let what = lines[at].trim_start_matches("Error:").trim();
            let after = |label: &str| {
                lines[at + 1..]
                    .iter()
                    .take(6)
                    .position(|l| *l == label)
                    .and_then(|i| lines.get(at + 2 + i))
                    .map(|v| v.to_string())
            };
            match (after("Expected:"), after("Found:")) {
                (Some(expected), Some(found)) => {
                    format!("{what} (expected {expected}, found {found})")
                }
                _ => what.to_string(),
            }
        }
        None => lines.iter().take(2).copied().collect::<Vec<_>>().join(" "),
    };
    let summary: String = summary.chars().take(300).collect();
    format!("{summary}; run `AGON_LOG_ABI_REPORT=1 agon plugins verify FILE` for abi_stable's full report")
}

/// abi_stable's full report, for `AGON_LOG_ABI_REPORT=1`.
pub fn full_report(path: &Path) -> Option<String> {
    let header = lib_header_from_path(path).ok()?;
    header
        .init_root_module::<AgonPluginRef>()
        .err()
        .map(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_picks_the_error_and_its_values() {
        let report = "Compared <this>:\n  --- Type Layout ---\n\nError:mismatched type\nExpected:\n    AgonPlugin\nFound:\n    ImpostorPlugin\n";
        let summary = first_difference(report);
        assert!(
            summary.starts_with("mismatched type (expected AgonPlugin, found ImpostorPlugin)"),
            "{summary}"
        );
    }
}
