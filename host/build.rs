//! Records the git commit agon is built from (`AGON_GIT_COMMIT`), which every
//! run's config.yaml names. `-dirty` marks uncommitted changes to tracked
//! files as of the build; `unknown` a build outside a git checkout.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    // No optional locks: `git status` would otherwise refresh and rewrite
    // .git/index, which this script watches, and rebuild agon every time.
    let output = Command::new("git")
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn main() {
    let commit = match git(&["rev-parse", "HEAD"]) {
        Some(commit) if !commit.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{commit}-dirty")
            } else {
                commit
            }
        }
        _ => "unknown".to_string(),
    };
    println!("cargo:rustc-env=AGON_GIT_COMMIT={commit}");
    // A new commit or a change staged moves HEAD, a ref or the index.
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        // Only files that exist: a missing one makes cargo rerun every time.
        for file in ["HEAD", "index", "packed-refs"] {
            if std::path::Path::new(&format!("{git_dir}/{file}")).exists() {
                println!("cargo:rerun-if-changed={git_dir}/{file}");
            }
        }
        if let Some(head_ref) = git(&["symbolic-ref", "-q", "HEAD"]) {
            if std::path::Path::new(&format!("{git_dir}/{head_ref}")).exists() {
                println!("cargo:rerun-if-changed={git_dir}/{head_ref}");
            }
        }
    }
    // An edit to the sources makes the tree dirty without touching git's
    // files: watch them too (cargo compares their modification times).
    for tree in [
        "src",
        "../sdk/src",
        "../registry/src",
        "../plugins",
        "../Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={tree}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
