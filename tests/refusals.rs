//! Every way a plugin library can be unusable gets one clear message and a
//! non-zero exit, never a crash.

use std::path::{Path, PathBuf};

use agon_integration_tests::{fixture_library, plugin_library, Sandbox};

fn verify(sandbox: &Sandbox, file: &Path) -> String {
    sandbox
        .run(&["plugins", "verify", file.to_str().unwrap()], &[])
        .clean_failure()
}

fn copy_into(sandbox: &Sandbox, source: &Path, name: &str) -> PathBuf {
    let target = sandbox.path().join(name);
    std::fs::copy(source, &target).unwrap();
    target
}

#[test]
fn missing_file() {
    let sandbox = Sandbox::new();
    let out = verify(&sandbox, &sandbox.path().join("libnothing.so"));
    assert!(
        out.contains("libnothing.so: the file does not exist"),
        "{out}"
    );
}

#[test]
fn not_a_shared_library() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("libtext.so", "just some text\n");
    let out = verify(&sandbox, &file);
    assert!(out.contains("libtext.so: not a shared library"), "{out}");
}

#[test]
fn truncated_library_is_refused_before_dlopen() {
    let sandbox = Sandbox::new();
    let bytes = std::fs::read(plugin_library("agon_rewards")).unwrap();
    for fraction in [2, 10, 100] {
        let file = sandbox.path().join(format!("libtruncated{fraction}.so"));
        std::fs::write(&file, &bytes[..bytes.len() * (fraction - 1) / fraction]).unwrap();
        let out = verify(&sandbox, &file);
        assert!(out.contains("the file is truncated"), "{out}");
    }
}

#[test]
fn foreign_library_without_agon_root_module() {
    let sandbox = Sandbox::new();
    // A real shared library that is not a plugin: libm, on every Linux machine.
    let libm = [
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/lib/aarch64-linux-gnu/libm.so.6",
        "/usr/lib/libm.so.6",
        "/lib64/libm.so.6",
    ]
    .iter()
    .map(Path::new)
    .find(|p| p.exists())
    .expect("libm.so.6");
    let file = copy_into(&sandbox, libm, "libforeign.so");
    let out = verify(&sandbox, &file);
    assert!(out.contains("libforeign.so: not an agon plugin"), "{out}");
}

#[test]
fn incompatible_sdk_abi_version() {
    let sandbox = Sandbox::new();
    let out = verify(&sandbox, &fixture_library("agon_fixture_future_sdk"));
    assert!(
        out.contains("built against agon plugin ABI 2.0, but this agon speaks ABI 1.0"),
        "{out}"
    );
}

#[test]
fn layout_mismatch_is_summarised_in_one_line() {
    let sandbox = Sandbox::new();
    let out = verify(&sandbox, &fixture_library("agon_fixture_layout_mismatch"));
    assert!(out.contains("ABI layout does not match"), "{out}");
    assert!(
        out.contains("expected AgonPlugin, found ImpostorPlugin"),
        "{out}"
    );
    assert!(
        out.lines().count() <= 3,
        "the 700-line report must be summarised:\n{out}"
    );
}

#[test]
fn tampered_library_fails_its_checksum_and_is_never_loaded() {
    let sandbox = Sandbox::new();
    let plugins = sandbox.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let library = plugins.join("libtampered_rewards.so");
    std::fs::copy(plugin_library("agon_rewards"), &library).unwrap();
    // Not indexed yet: listed as refused, never opened…
    let listing = sandbox.run(&["plugins", "list"], &[&plugins]).success();
    assert!(listing.contains("not in the plugin index"), "{listing}");
    // …indexed deliberately…
    sandbox.run(&["plugins", "scan"], &[&plugins]).success();
    // …then changed behind the index's back (still a valid ELF file).
    let mut bytes = std::fs::read(&library).unwrap();
    bytes.extend_from_slice(b"tampered");
    std::fs::write(&library, bytes).unwrap();
    let out = sandbox
        .run(&["plugins", "verify", library.to_str().unwrap()], &[])
        .clean_failure();
    assert!(out.contains("checksum mismatch"), "{out}");
    assert!(out.contains("agon plugins scan"), "the fix is named: {out}");
    let listing = sandbox.run(&["plugins", "list"], &[&plugins]).success();
    assert!(
        listing.contains("libtampered_rewards.so: checksum mismatch"),
        "{listing}"
    );
    // A deliberate re-scan accepts it again.
    sandbox.run(&["plugins", "scan"], &[&plugins]).success();
    sandbox
        .run(&["plugins", "verify", library.to_str().unwrap()], &[])
        .success();
}

#[test]
fn verify_reports_every_problem_at_once() {
    let sandbox = Sandbox::new();
    let text = sandbox.write("libtext.so", "text");
    let run = sandbox.run(
        &[
            "plugins",
            "verify",
            text.to_str().unwrap(),
            fixture_library("agon_fixture_future_sdk").to_str().unwrap(),
            plugin_library("agon_rewards").to_str().unwrap(),
        ],
        &[],
    );
    let out = run.clean_failure();
    assert!(
        out.contains("not a shared library") && out.contains("ABI 2.0"),
        "{out}"
    );
    assert!(out.contains("ok ") && out.contains("agon/rewards"), "{out}");
    assert!(out.contains("2 of 3 plugin libraries refused"), "{out}");
}
