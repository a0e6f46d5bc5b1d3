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
        out.contains(&format!(
            "built against agon plugin ABI 2.0, but this agon speaks ABI {}",
            agon_sdk::ABI_VERSION
        )),
        "{out}"
    );
    // The fix names the exact ABI to rebuild against (a 2.0 plugin gains
    // nothing from "1.x"); a newer minor of this major is told to upgrade
    // agon instead (loader.rs's unit tests: no fixture claims a newer minor).
    assert!(
        out.contains(&format!(
            "rebuild the plugin against an agon-sdk with ABI {}",
            agon_sdk::ABI_VERSION
        )),
        "{out}"
    );
    assert!(!out.contains("1.x"), "{out}");
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
    // The summary names the first field that differs (abi_report.rs's unit
    // tests: a grown struct is named with its type and extra field).
    assert!(
        out.contains("mismatched type (field `greeting` where this agon has `manifest`)"),
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

/// A library rebuilt in a directory trusted on first use (the `agon`
/// executable's own, or one named explicitly) is loaded and indexed again,
/// as the executable beside it would be: a rebuilt workspace runs without
/// a scan. The same change on the plugin path is refused (above).
#[test]
fn a_library_rebuilt_beside_agon_is_indexed_again() {
    use agon_registry::{Index, Registry, SearchPath};
    let sandbox = Sandbox::new();
    let build = sandbox.path().join("build");
    std::fs::create_dir_all(&build).unwrap();
    let library = build.join(agon_integration_tests::library_file("agon_rewards"));
    std::fs::copy(plugin_library("agon_rewards"), &library).unwrap();
    let index = sandbox.home().join("plugins-index.json");
    let open = || Registry::new(SearchPath::explicit([build.clone()]), &index);
    let first = open().load(&library).unwrap().sha256.clone();
    // A new file in its place: writing into the loaded one would change
    // the code this process runs.
    rebuild(&library, b"rebuilt");
    let mut registry = open();
    let again = registry.load(&library).unwrap().sha256.clone();
    assert_ne!(again, first);
    let canonical = std::fs::canonicalize(&library).unwrap();
    assert_eq!(Index::load(&index).get(&canonical).unwrap().sha256, again);
}

/// Replaces `library` with a copy of it that has other bytes (a new file
/// in its place, as cargo writes a rebuilt one).
fn rebuild(library: &Path, salt: &[u8]) {
    let mut bytes = std::fs::read(library).unwrap();
    bytes.extend_from_slice(salt);
    let fresh = library.with_extension("fresh");
    std::fs::write(&fresh, bytes).unwrap();
    std::fs::rename(&fresh, library).unwrap();
}

/// Through the CLI, beside a copy of `agon`: a library rebuilt there is
/// found by name without a scan, with a note, and indexed again; one that
/// others may write is refused when it changes, as on the plugin path.
#[test]
fn a_library_rebuilt_beside_the_agon_executable_runs_without_a_scan() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let bin = sandbox.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let agon = bin.join(format!("agon{}", std::env::consts::EXE_SUFFIX));
    std::fs::copy(
        agon_integration_tests::build_dir().join(format!("agon{}", std::env::consts::EXE_SUFFIX)),
        &agon,
    )
    .unwrap();
    let library = bin.join(agon_integration_tests::library_file("agon_rewards"));
    std::fs::copy(plugin_library("agon_rewards"), &library).unwrap();
    std::fs::set_permissions(&library, std::fs::Permissions::from_mode(0o755)).unwrap();
    let show = || {
        std::process::Command::new(&agon)
            .args(["plugins", "show", "agon/rewards"])
            .env("AGON_HOME", sandbox.home())
            .env_remove("AGON_PLUGIN_PATH")
            .output()
            .unwrap()
    };
    let first = show();
    assert!(first.status.success(), "{first:?}");
    rebuild(&library, b"rebuilt");
    let again = show();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{again:?}");
    assert!(
        stderr.contains("changed since it was indexed") && stderr.contains("indexed again"),
        "{stderr}"
    );
    // Indexed: the next run says nothing.
    let quiet = show();
    assert!(
        quiet.status.success() && quiet.stderr.is_empty(),
        "{quiet:?}"
    );
    // A file others may write is not vouched for by the directory.
    rebuild(&library, b"rebuilt again");
    std::fs::set_permissions(&library, std::fs::Permissions::from_mode(0o777)).unwrap();
    let refused = show();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("checksum mismatch"),
        "{stderr}"
    );
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

/// A directory, for AGON_PLUGIN_PATH, holding a copy of `library`.
fn plugin_dir_with(sandbox: &Sandbox, library: &Path) -> (PathBuf, PathBuf) {
    let dir = sandbox.path().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join(library.file_name().unwrap());
    std::fs::copy(library, &copy).unwrap();
    (dir, copy)
}

#[test]
fn a_library_refused_by_scan_is_reported_with_its_reason_afterwards() {
    let sandbox = Sandbox::new();
    let (plugins, library) = plugin_dir_with(&sandbox, &fixture_library("agon_fixture_future_sdk"));
    let host = agon_sdk::ABI_VERSION;
    let abi_reason = format!(
        "built against agon plugin ABI 2.0, but this agon speaks ABI {host}; \
         rebuild the plugin against an agon-sdk with ABI {host}"
    );
    let scanned = sandbox.run(&["plugins", "scan"], &[&plugins]).success();
    assert!(scanned.contains(&abi_reason), "{scanned}");
    let by_scan = format!(
        "{}: refused by `agon plugins scan`: {abi_reason}",
        library.display()
    );
    for round in 0..2 {
        // `list` and `train` give the scan's reason, not "run agon plugins
        // scan" (which would only repeat it), however often it is run.
        let listing = sandbox.run(&["plugins", "list"], &[&plugins]).success();
        assert!(listing.contains(&by_scan), "round {round}:\n{listing}");
        assert!(
            !listing.contains("not in the plugin index"),
            "round {round}:\n{listing}"
        );
        let out = sandbox.path().join("run");
        let trained = sandbox
            .run(
                &[
                    "train",
                    &agon_integration_tests::config("smoke.yaml"),
                    "--out",
                    out.to_str().unwrap(),
                    "--set",
                    "generator={plugin: agon-testing/future-sdk}",
                ],
                &[&plugins],
            )
            .clean_failure();
        assert!(
            trained.contains(&format!(
                "{} (refused by `agon plugins scan`: {abi_reason}",
                library.display()
            )),
            "round {round}:\n{trained}"
        );
        assert!(
            !trained.contains("not in the plugin index"),
            "round {round}:\n{trained}"
        );
        assert!(!out.exists());
        let rescanned = sandbox.run(&["plugins", "scan"], &[&plugins]).success();
        assert!(rescanned.contains(&abi_reason), "{rescanned}");
    }

    // The refusal was this agon's: an index written by another agon (which
    // may well accept the file) is not taken at its word.
    let index_path = sandbox.home().join("plugins-index.json");
    let index = std::fs::read_to_string(&index_path).unwrap();
    let mut document: serde_json::Value = serde_json::from_str(&index).unwrap();
    let recorded = document["refused"]
        .as_array()
        .unwrap()
        .iter()
        .position(|r| r["path"] == library.to_str().unwrap())
        .expect("the refusal is in the index");
    document["refused"][recorded]["checked_by"] = "agon 9.0.0 (plugin ABI 2.0)".into();
    std::fs::write(&index_path, document.to_string()).unwrap();
    let listing = sandbox.run(&["plugins", "list"], &[&plugins]).success();
    assert!(
        listing.contains("not in the plugin index") && !listing.contains("refused by"),
        "{listing}"
    );
    std::fs::write(&index_path, index).unwrap();

    // A changed file is a new library: unopened until it is scanned.
    let mut bytes = std::fs::read(&library).unwrap();
    bytes.extend_from_slice(b"changed");
    std::fs::write(&library, bytes).unwrap();
    let listing = sandbox.run(&["plugins", "list"], &[&plugins]).success();
    assert!(
        listing.contains(&format!("{}: not in the plugin index", library.display())),
        "{listing}"
    );
    assert!(!listing.contains("refused by"), "{listing}");
}

#[test]
fn plugins_show_of_an_unindexed_library_says_so_like_train() {
    let sandbox = Sandbox::new();
    let (plugins, library) =
        plugin_dir_with(&sandbox, &fixture_library("agon_fixture_fault_injector"));
    let shown = sandbox
        .run(
            &["plugins", "show", "agon-testing/fault-injector"],
            &[&plugins],
        )
        .clean_failure();
    let out = sandbox.path().join("run");
    let trained = sandbox
        .run(
            &[
                "train",
                &agon_integration_tests::config("smoke.yaml"),
                "--out",
                out.to_str().unwrap(),
                "--set",
                "reward={plugin: agon-testing/fault-injector, component: panics}",
            ],
            &[&plugins],
        )
        .clean_failure();
    let refusal = format!("{} (not in the plugin index", library.display());
    for message in [&shown, &trained] {
        assert!(message.contains(&refusal), "{message}");
        assert!(message.contains("run `agon plugins scan`"), "{message}");
        assert!(message.contains("--allow-unverified"), "{message}");
    }
    // Indexed deliberately, it is shown.
    sandbox.run(&["plugins", "scan"], &[&plugins]).success();
    let shown = sandbox
        .run(
            &["plugins", "show", "agon-testing/fault-injector"],
            &[&plugins],
        )
        .success();
    assert!(shown.starts_with("agon-testing/fault-injector "), "{shown}");
    assert!(shown.contains("reward `panics`"), "{shown}");
}
