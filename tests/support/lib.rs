//! Helpers for agon's integration tests: build the plugins and the `agon`
//! binary once, and run `agon` in an isolated home directory.
//!
//! `cargo test` builds no cdylibs, so the first test that needs them runs
//! `cargo build` (the workspace's default members: host and plugins) and,
//! for the refusal tests, builds the deliberately broken fixture plugins
//! into their own target directory, `target/fixtures`, so the tests never
//! find them beside the real plugins. (`cargo test --workspace` itself also
//! compiles the fixture crates, workspace members, into the profile's
//! directory beside `agon`; the README says so.)

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::OnceLock,
};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn target_root() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                workspace_root().join(p)
            }
        })
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn cargo(args: &[&str]) {
    let output = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("cannot run cargo");
    assert!(
        output.status.success(),
        "cargo {} failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Builds `agon` and the plugins (once per test process); returns the
/// directory holding them.
pub fn build_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        cargo(&["build"]);
        target_root().join("debug")
    })
}

/// Builds the fixture plugins (once per test process); returns their directory.
pub fn fixtures_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = target_root().join("fixtures");
        cargo(&[
            "build",
            "-p",
            "agon-fixture-fault-injector",
            "-p",
            "agon-fixture-future-sdk",
            "-p",
            "agon-fixture-layout-mismatch",
            "-p",
            "agon-fixture-formula-reward",
            "-p",
            "mean-pool-discriminator",
            "-p",
            "gru-lm-generator",
            "-p",
            "gru-seq2seq-generator",
            "-p",
            "pair-pool-discriminator",
            "-p",
            "causal-conv-discriminator",
            "--target-dir",
            target.to_str().expect("UTF-8 target path"),
        ]);
        // Built against snapshots of agon-sdk at ABI 1.0, 1.1 and 1.2,
        // outside the workspace (each snapshot's package is named agon-sdk
        // too), with their own Cargo.lock.
        for fixture in [
            "abi-1-0-generator",
            "abi-1-1-discriminator",
            "abi-1-2-discriminator",
        ] {
            cargo(&[
                "build",
                "--locked",
                "--manifest-path",
                &format!("tests/fixtures/{fixture}/Cargo.toml"),
                "--target-dir",
                target.to_str().expect("UTF-8 target path"),
            ]);
        }
        target.join("debug")
    })
}

/// The file name of a library built from crate `name` (`agon_rewards` →
/// `libagon_rewards.so` on Linux).
pub fn library_file(name: &str) -> String {
    format!(
        "{}{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// A built plugin library of this workspace.
pub fn plugin_library(name: &str) -> PathBuf {
    build_dir().join(library_file(name))
}

/// A built fixture library.
pub fn fixture_library(name: &str) -> PathBuf {
    fixtures_dir().join(library_file(name))
}

/// An isolated agon home (index, user plugins) and scratch space.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.path().join("agon-home")
    }

    /// `agon` with this sandbox's home, no inherited plugin path, run from
    /// the workspace root (so config paths like `data/...` resolve).
    pub fn agon(&self) -> Command {
        let mut command =
            Command::new(build_dir().join(format!("agon{}", std::env::consts::EXE_SUFFIX)));
        command
            .current_dir(workspace_root())
            .env("AGON_HOME", self.home())
            .env_remove("AGON_PLUGIN_PATH")
            .env_remove("AGON_LOG_ABI_REPORT");
        command
    }

    /// Runs `agon args…` with extra plugin directories.
    pub fn run(&self, args: &[&str], plugin_path: &[&Path]) -> Run {
        let mut command = self.agon();
        command.args(args);
        if !plugin_path.is_empty() {
            command.env(
                "AGON_PLUGIN_PATH",
                std::env::join_paths(plugin_path).expect("joinable paths"),
            );
        }
        Run(command.output().expect("cannot run agon"))
    }

    /// `agon train CONFIG --out <sandbox>/NAME EXTRA…`, which must succeed;
    /// returns the run directory.
    pub fn train(&self, config: &str, name: &str, extra: &[&str]) -> PathBuf {
        let out = self.path().join(name);
        let mut args = vec!["train", config, "--out", out.to_str().expect("UTF-8 path")];
        args.extend_from_slice(extra);
        self.run(&args, &[]).success();
        out
    }

    /// `agon train CONFIG --out <sandbox>/NAME --set S…` for each `S` of
    /// `sets`, which must be refused cleanly without leaving a run
    /// directory; returns the message.
    pub fn refused_train(&self, config: &str, sets: &[&str], name: &str) -> String {
        let out = self.path().join(name);
        let mut args = vec!["train", config, "--out", out.to_str().expect("UTF-8 path")];
        for set in sets {
            args.extend(["--set", set]);
        }
        let message = self.run(&args, &[]).clean_failure();
        assert!(!out.exists(), "{sets:?} left a run directory: {message}");
        message
    }

    /// `agon compare RUN… --out <sandbox>/OUT --json`, parsed.
    pub fn compare_json(&self, runs: &[&Path], out: &str) -> serde_json::Value {
        let out = self.path().join(out);
        let mut args = vec!["compare"];
        args.extend(runs.iter().map(|r| r.to_str().expect("UTF-8 path")));
        args.extend(["--out", out.to_str().expect("UTF-8 path"), "--json"]);
        serde_json::from_str(&self.run(&args, &[]).success()).expect("compare JSON")
    }

    /// `agon sweep status DIR --json`: each cell's state and progress.
    pub fn sweep_status(&self, dir: &Path) -> Vec<serde_json::Value> {
        let out = self
            .run(
                &[
                    "sweep",
                    "status",
                    dir.to_str().expect("UTF-8 path"),
                    "--json",
                ],
                &[],
            )
            .success();
        serde_json::from_str(&out).expect("sweep status JSON")
    }

    /// Writes `text` to `name` in the sandbox; returns the path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&path, text).expect("write file");
        path
    }
}

/// A run's metrics.jsonl rows without the wall-clock column: what two runs
/// of one config and seed must agree on exactly.
pub fn trajectory(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .expect("metrics.jsonl")
        .lines()
        .map(|line| {
            let mut row: serde_json::Value = serde_json::from_str(line).expect("a JSON row");
            row.as_object_mut()
                .expect("an object")
                .remove("elapsed_seconds");
            row
        })
        .collect()
}

/// The path of a bundled config, e.g. `config("smoke.yaml")`.
pub fn config(name: &str) -> String {
    workspace_root()
        .join("configs")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Compares `rows` (a [`trajectory`]) with the pinned fixture
/// `tests/fixtures/<pin>` to 1e-4 relative: a regression pin produced by
/// this implementation, like TRL's loss-trajectory tests, not an external
/// reference. `AGON_UPDATE_PINS=1` rewrites the fixture first (deliberately:
/// run only the test that owns the pin).
///
/// Runs are bit-identical on one class of CPU only: the pins were made on
/// x86-64 with AVX-512, where agon's output-layer kernels and Candle's
/// matmuls (gemm) run AVX-512 code; a CPU without it sums in other orders
/// and can drift past the tolerance over a run. Where it does, the pin has
/// a second fixture made on such a CPU, `<name>.avx2.json`, which this
/// compares with instead (and `AGON_UPDATE_PINS=1` writes there).
pub fn assert_matches_pin(rows: &[serde_json::Value], pin: &str) {
    let fixtures = workspace_root().join("tests/fixtures");
    let mut path = fixtures.join(pin);
    let without_avx512 = fixtures.join(pin.replace(".json", ".avx2.json"));
    if !cpu_has_avx512()
        && (without_avx512.exists() || std::env::var_os("AGON_UPDATE_PINS").is_some())
    {
        path = without_avx512;
    }
    if std::env::var_os("AGON_UPDATE_PINS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(rows).unwrap()).unwrap();
    }
    let expected: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("the pin")).unwrap();
    assert_eq!(rows.len(), expected.len(), "rows: {rows:#?}");
    for (got, want) in rows.iter().zip(&expected) {
        for (key, value) in want.as_object().unwrap() {
            match (value.as_f64(), got[key].as_f64()) {
                (Some(w), Some(g)) => assert!(
                    (w - g).abs() <= 1e-4 * w.abs().max(1.0),
                    "{key}: {g} vs pinned {w}\nrow {got}"
                ),
                _ => assert_eq!(&got[key], value, "{key} in {got}"),
            }
        }
    }
}

/// Whether this CPU runs agon's AVX-512 kernels (see [`assert_matches_pin`]).
fn cpu_has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The outcome of one `agon` run.
pub struct Run(pub Output);

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    /// Asserts success; returns stdout.
    pub fn success(&self) -> String {
        assert!(
            self.0.status.success(),
            "agon failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
            self.0.status,
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }

    /// Asserts success; returns stdout and stderr together (what a user
    /// sees: notes go to stderr).
    pub fn success_all(&self) -> String {
        let stdout = self.success();
        stdout + &self.stderr()
    }

    /// Asserts a clean failure: exit code 1 (not a signal, not a panic) and
    /// one `error:` message; returns stdout and stderr together.
    pub fn clean_failure(&self) -> String {
        let all = format!("{}{}", self.stdout(), self.stderr());
        assert_eq!(
            self.0.status.code(),
            Some(1),
            "expected exit code 1, got {:?}:\n{all}",
            self.0.status
        );
        assert!(!all.contains("internal error"), "agon panicked:\n{all}");
        assert!(
            !all.contains("RUST_BACKTRACE"),
            "a panic message reached the user:\n{all}"
        );
        assert_eq!(
            self.stderr()
                .lines()
                .filter(|l| l.starts_with("error:"))
                .count(),
            1,
            "expected one error message:\n{all}"
        );
        all
    }
}

/// Host components built in-process from component specs, through a
/// registry over plugin directories (indexed first, as `agon plugins scan`
/// does) — for tests that drive the trainer's pieces directly.
pub struct ComponentBuilder {
    registry: agon_registry::Registry,
    shared: agon::components::SharedContext,
    _sandbox: Sandbox,
}

impl ComponentBuilder {
    pub fn new(dirs: &[&Path], shared: agon::components::SharedContext) -> Self {
        let sandbox = Sandbox::new();
        let mut registry = agon_registry::Registry::new(
            agon_registry::SearchPath::explicit(dirs.iter().map(|d| d.to_path_buf())),
            &sandbox.home().join("plugins-index.json"),
        );
        registry.scan().expect("scan the plugin directories");
        ComponentBuilder {
            registry,
            shared,
            _sandbox: sandbox,
        }
    }

    /// A spec from a plugin reference, an optional component and config YAML.
    pub fn spec(
        plugin: &str,
        component: Option<&str>,
        config: &str,
    ) -> agon::config::ComponentSpec {
        agon::config::ComponentSpec {
            plugin: plugin.into(),
            component: component.map(Into::into),
            config: agon_sdk::yaml::parse(config).expect("config YAML"),
        }
    }

    fn resolve(
        &mut self,
        spec: &agon::config::ComponentSpec,
        kind: agon_sdk::ComponentKind,
    ) -> agon_registry::ResolvedComponent {
        agon::components::resolve(
            &mut self.registry,
            spec,
            kind,
            "test",
            "cpu",
            &Default::default(),
        )
        .expect("resolve the component")
    }

    pub fn generator(&mut self, spec: &agon::config::ComponentSpec) -> agon::components::Generator {
        let resolved = self.resolve(spec, agon_sdk::ComponentKind::Generator);
        agon::components::Generator::new(&resolved, spec, "generator", &self.shared, 1)
            .expect("build the generator")
    }

    pub fn discriminator(
        &mut self,
        spec: &agon::config::ComponentSpec,
    ) -> agon::components::Discriminator {
        let resolved = self.resolve(spec, agon_sdk::ComponentKind::Discriminator);
        agon::components::Discriminator::new(&resolved, spec, "discriminator", &self.shared, 2)
            .expect("build the discriminator")
    }

    pub fn reward(&mut self, spec: &agon::config::ComponentSpec) -> agon::components::Reward {
        let resolved = self.resolve(spec, agon_sdk::ComponentKind::Reward);
        agon::components::Reward::new(&resolved, spec, "reward", &self.shared, 3)
            .expect("build the reward")
    }
}
