//! Where plugin libraries are looked for.

use std::path::{Path, PathBuf};

/// Why a directory is on the search path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Named on the command line or by a test.
    Explicit,
    /// From the `AGON_PLUGIN_PATH` environment variable.
    Environment,
    /// The running `agon` executable's own directory (the workspace's
    /// build output): trusted as the executable is, whatever the library.
    BuildOutput,
    /// The per-user plugin directory, `$AGON_HOME/plugins`.
    User,
}

/// One directory of the search path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchDir {
    pub path: PathBuf,
    pub origin: Origin,
}

/// The ordered list of directories; earlier ones win ties.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchPath {
    pub dirs: Vec<SearchDir>,
}

/// The file-name suffix of shared libraries on this platform.
pub const LIBRARY_SUFFIX: &str = std::env::consts::DLL_SUFFIX;

/// The agon home directory: `$AGON_HOME`, else `$XDG_DATA_HOME/agon`, else
/// `~/.local/share/agon`.
pub fn agon_home() -> PathBuf {
    if let Some(home) = std::env::var_os("AGON_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home);
    }
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(data).join("agon");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/agon")
}

impl SearchPath {
    /// `AGON_PLUGIN_PATH` (colon-separated), the directory of the running
    /// executable, then `$AGON_HOME/plugins`.
    pub fn from_environment() -> Self {
        let mut dirs = Vec::new();
        if let Some(paths) = std::env::var_os("AGON_PLUGIN_PATH") {
            for path in std::env::split_paths(&paths).filter(|p| !p.as_os_str().is_empty()) {
                dirs.push(SearchDir {
                    path,
                    origin: Origin::Environment,
                });
            }
        }
        if let Some(dir) = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
        {
            dirs.push(SearchDir {
                path: dir,
                origin: Origin::BuildOutput,
            });
        }
        dirs.push(SearchDir {
            path: agon_home().join("plugins"),
            origin: Origin::User,
        });
        SearchPath { dirs }
    }

    /// Only the given directories.
    pub fn explicit(paths: impl IntoIterator<Item = PathBuf>) -> Self {
        SearchPath {
            dirs: paths
                .into_iter()
                .map(|path| SearchDir {
                    path,
                    origin: Origin::Explicit,
                })
                .collect(),
        }
    }

    /// The directories from `AGON_PLUGIN_PATH` that do not exist (or are
    /// not directories): skipped by the search, so worth a note.
    pub fn missing_named_dirs(&self) -> Vec<&SearchDir> {
        self.dirs
            .iter()
            .filter(|d| d.origin == Origin::Environment && !d.path.is_dir())
            .collect()
    }

    /// Every file that looks like a shared library in the search path, in
    /// search order (and by name within a directory), each once.
    pub fn candidates(&self) -> Vec<(PathBuf, Origin)> {
        let mut seen = std::collections::HashSet::new();
        let mut found = Vec::new();
        for dir in &self.dirs {
            let Ok(entries) = std::fs::read_dir(&dir.path) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_library_name(p))
                .collect();
            files.sort();
            for file in files {
                let key = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
                if seen.insert(key.clone()) {
                    found.push((key, dir.origin));
                }
            }
        }
        found
    }
}

fn is_library_name(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(LIBRARY_SUFFIX))
}
