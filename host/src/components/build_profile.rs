//! Whether a plugin library is a debug build, told by where cargo put it:
//! the manifest does not say (a field for it would be an ABI change), and a
//! debug build of a Candle plugin runs about ten times slower, silently.

use std::path::{Path, PathBuf};

/// The `debug` profile directory of a cargo target directory that holds
/// `library` (`target/debug/`, `target/debug/deps/` or
/// `target/<triple>/debug/`), when it is one: a directory named `debug`
/// whose parent, or grandparent for a target triple, is marked as cargo's
/// (its `CACHEDIR.TAG` or `.rustc_info.json`). Its sibling `release` is
/// where `cargo build --release` puts the same library.
pub fn cargo_debug_dir(library: &Path) -> Option<PathBuf> {
    let mut dir = library.parent()?;
    if dir.file_name()? == "deps" {
        dir = dir.parent()?;
    }
    if dir.file_name()? != "debug" {
        return None;
    }
    let is_target =
        |d: &Path| d.join("CACHEDIR.TAG").is_file() || d.join(".rustc_info.json").is_file();
    let parent = dir.parent()?;
    [Some(parent), parent.parent()]
        .into_iter()
        .flatten()
        .any(is_target)
        .then(|| dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_library_in_cargos_debug_directory_is_told_apart() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("target");
        for dir in ["debug/deps", "release", "x86_64-unknown-linux-gnu/debug"] {
            std::fs::create_dir_all(target.join(dir)).unwrap();
        }
        std::fs::write(
            target.join("CACHEDIR.TAG"),
            "Signature: 8a477f597d28d172789f06886806bc55",
        )
        .unwrap();
        let library = |dir: &str| target.join(dir).join("libmy_plugin.so");
        assert_eq!(
            cargo_debug_dir(&library("debug")),
            Some(target.join("debug"))
        );
        assert_eq!(
            cargo_debug_dir(&library("debug/deps")),
            Some(target.join("debug"))
        );
        let triple = target.join("x86_64-unknown-linux-gnu/debug");
        assert_eq!(
            cargo_debug_dir(&library("x86_64-unknown-linux-gnu/debug")),
            Some(triple.clone())
        );
        // The note's advice: the release directory beside it.
        assert_eq!(
            triple.with_file_name("release"),
            target.join("x86_64-unknown-linux-gnu/release")
        );
        assert_eq!(cargo_debug_dir(&library("release")), None);
        // A directory named `debug` that is not in a cargo target directory.
        let plain = root.path().join("plugins/debug");
        std::fs::create_dir_all(&plain).unwrap();
        assert_eq!(cargo_debug_dir(&plain.join("libmy_plugin.so")), None);
    }
}
