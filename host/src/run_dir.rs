//! The run directory, and writing files into it atomically.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{anyhow, bail};

/// Picks the run directory: `out` if given (it must not exist or be empty),
/// else `runs/<name>`, numbered `-2`, `-3`… if taken. Creates nothing.
pub fn choose(out: Option<&Path>, name: &str) -> anyhow::Result<PathBuf> {
    if let Some(out) = out {
        if out.exists()
            && std::fs::read_dir(out)
                .map(|mut d| d.next().is_some())
                .unwrap_or(true)
        {
            bail!(
                "run directory {} already exists and is not empty; choose another --out or remove it",
                out.display()
            );
        }
        return Ok(out.to_path_buf());
    }
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let base = Path::new("runs").join(&safe);
    if !base.exists() {
        return Ok(base);
    }
    (2..10_000)
        .map(|n| Path::new("runs").join(format!("{safe}-{n}")))
        .find(|p| !p.exists())
        .ok_or_else(|| anyhow!("runs/ holds 10,000 runs named {safe}; pass --out"))
}

/// Writes `bytes` to `path` so that a reader (or a crash) sees the old file
/// or the new one, never a mixture: temporary file, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let temporary = temporary_sibling(path);
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        sync_parent(path);
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        anyhow!("cannot write {}: {e}", path.display())
    })
}

/// `path` with a `.tmp-<pid>` suffix, in the same directory (so the rename
/// stays on one file system).
pub fn temporary_sibling(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

/// Makes a rename durable by syncing its directory (best effort).
pub fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent() {
        if let Ok(dir) = std::fs::File::open(parent) {
            let _ = dir.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_existing_non_empty_out_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x"), "1").unwrap();
        let err = choose(Some(dir.path()), "n").unwrap_err().to_string();
        assert!(err.contains("already exists"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(choose(Some(empty.path()), "n").unwrap(), empty.path());
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.txt");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
