//! `agon plugins list | show | verify | scan | new`.

use std::path::PathBuf;

use agon_registry::{
    index::ManifestRecord, loader, LoadingNeeds, PluginRequirement, Registry, RegistryError,
    ScanOutcome,
};
use agon_sdk::yaml;
use anyhow::{bail, Context};

use super::plugins_new::{self, Form, NewKind, SdkSource};
use crate::cli::PluginsCommand;

pub fn run(command: PluginsCommand) -> anyhow::Result<()> {
    if let PluginsCommand::New {
        kind,
        name,
        dir,
        conditional,
        per_token,
        sdk,
        sdk_git,
    } = command
    {
        let form = Form::from_flags(conditional, per_token);
        return new(kind, form, &name, dir, sdk, sdk_git);
    }
    let mut registry = Registry::from_environment();
    for warning in &registry.index().warnings {
        eprintln!("warning: {warning}");
    }
    // Silently skipped otherwise, and the likeliest reason a library built
    // a moment ago is not listed.
    for dir in registry.search_path().missing_named_dirs() {
        let absolute = std::path::absolute(&dir.path).unwrap_or_else(|_| dir.path.clone());
        eprintln!(
            "note: AGON_PLUGIN_PATH names {}, which is not a directory (is CARGO_TARGET_DIR set where the plugin was built? its library is then in $CARGO_TARGET_DIR/release)",
            absolute.display()
        );
    }
    match command {
        PluginsCommand::List { json } => list(&mut registry, json),
        PluginsCommand::Show { name } => show(&mut registry, &name),
        PluginsCommand::Verify { paths } => verify(&mut registry, paths),
        PluginsCommand::Scan => {
            let outcomes = registry.scan()?;
            let accepted = outcomes
                .iter()
                .filter(|(_, _, o)| matches!(o, ScanOutcome::Accepted(_)))
                .count();
            println!(
                "indexed {accepted} of {} libraries in {}",
                outcomes.len(),
                registry.index().path().display()
            );
            print_refusals(&outcomes);
            Ok(())
        }
        PluginsCommand::New { .. } => unreachable!("handled above"),
    }
}

fn new(
    kind: NewKind,
    form: Form,
    full_name: &str,
    dir: Option<PathBuf>,
    sdk: Option<PathBuf>,
    sdk_git: Option<String>,
) -> anyhow::Result<()> {
    let (namespace, name) = plugins_new::parse_name(full_name)?;
    plugins_new::check_kind(kind, form)?;
    let explicit_sdk = sdk.is_some() || sdk_git.is_some();
    let sdk = match (sdk, sdk_git) {
        (_, Some(url)) => SdkSource::Git(url),
        (Some(path), None) => {
            if !path.join("Cargo.toml").is_file() {
                bail!(
                    "--sdk {}: not agon's sdk/ directory (it has no Cargo.toml); give the path of sdk/ in a checkout of agon",
                    path.display()
                );
            }
            SdkSource::Path(
                path.canonicalize()
                    .with_context(|| format!("--sdk {}", path.display()))?,
            )
        }
        (None, None) => {
            let here = std::env::current_dir()
                .ok()
                .and_then(|dir| plugins_new::enclosing_checkout_sdk(&dir));
            let built_from = plugins_new::default_sdk().ok_or_else(|| match &here {
                Some(here) => anyhow::anyhow!(
                    "the sdk/ of the checkout this agon was built from is gone; pass --sdk {} (the checkout you are in) or another agon sdk/ directory, or --sdk-git URL",
                    here.display()
                ),
                None => anyhow::anyhow!(
                    "the sdk/ of the checkout this agon was built from is gone; pass --sdk PATH (agon's sdk/ directory) or --sdk-git URL"
                ),
            })?;
            if let Some(here) = here.filter(|here| *here != built_from) {
                // An agon binary copied from another checkout: say which
                // SDK the crate gets, before the user builds against it.
                let checkout = here.parent().unwrap_or(&here);
                // A binary inside this checkout came from another's build.
                let copied_here = std::env::current_exe()
                    .ok()
                    .and_then(|exe| exe.canonicalize().ok())
                    .is_some_and(|exe| exe.starts_with(checkout));
                crate::notes::note(&format!(
                    "you are in the agon checkout of {}, but this agon was built from {}: the crate depends on the second's SDK; for this checkout's, pass --sdk {} ({})",
                    checkout.display(),
                    built_from.parent().unwrap_or(&built_from).display(),
                    here.display(),
                    if copied_here {
                        "this agon was copied into this checkout: `cargo build --release` here builds one of its own"
                    } else {
                        "or run this checkout's own target/release/agon"
                    }
                ));
            }
            SdkSource::Path(built_from)
        }
    };
    let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
    let files = plugins_new::files(kind, form, &namespace, &name, &sdk)?;
    plugins_new::write(&dir, &files)?;
    println!("wrote {namespace}/{name} in {}", dir.display());
    println!(
        "  its agon-sdk: {} ({})",
        match &sdk {
            SdkSource::Path(path) => path.display().to_string(),
            SdkSource::Git(url) => url.clone(),
        },
        if explicit_sdk {
            "as given"
        } else {
            "the checkout this agon was built from; --sdk PATH or --sdk-git URL for another"
        }
    );
    println!(
        // One profile: Candle compiles once, not once for tests and again
        // for the library.
        "  cd {} && cargo test --release && cargo build --release",
        dir.display()
    );
    // Cargo puts the library where CARGO_TARGET_DIR says, if it is set (a
    // relative one from where cargo runs: the crate, after the `cd`).
    let release = match std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        Some(target) if target.is_absolute() => format!("{}/release", target.display()),
        Some(target) if !target.as_os_str().is_empty() => {
            format!("$PWD/{}/release", target.display())
        }
        // Unset here, it may still be set where the user builds.
        _ => "${CARGO_TARGET_DIR:-$PWD/target}/release".to_string(),
    };
    println!(
        "  then `export AGON_PLUGIN_PATH={release}` (or copy the library into $AGON_HOME/plugins) and run `agon plugins scan`"
    );
    Ok(())
}

fn list(registry: &mut Registry, json: bool) -> anyhow::Result<()> {
    let libraries = registry.load_all();
    if json {
        let entries: Vec<serde_json::Value> = libraries
            .iter()
            .map(|(path, origin, result)| match result {
                Ok(library) => serde_json::json!({
                    "path": path, "origin": origin, "sha256": library.sha256,
                    "manifest": ManifestRecord::of(&library.manifest),
                }),
                Err(error) => serde_json::json!({
                    "path": path, "origin": origin, "refused": error.to_string(),
                }),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    if libraries.is_empty() {
        println!("no plugin libraries found; searched:");
        for dir in &registry.search_path().dirs {
            println!("  {} ({:?})", dir.path.display(), dir.origin);
        }
        println!("build the workspace's plugins with `cargo build`, or add a directory to AGON_PLUGIN_PATH");
        return Ok(());
    }
    for (path, _, result) in &libraries {
        if let Ok(library) = result {
            let m = ManifestRecord::of(&library.manifest);
            println!(
                "{} {}  devices: {}  ABI {}",
                m.qualified_name(),
                m.version,
                m.devices.join(", "),
                m.sdk_abi
            );
            for c in &m.components {
                println!("  {:<14} {:<20} {}", c.kind, c.name, c.description);
            }
            println!("  sha256 {}", library.sha256);
            println!("  {}", path.display());
        }
    }
    for (_, _, result) in &libraries {
        if let Err(error) = result {
            println!("refused: {error}");
        }
    }
    Ok(())
}

fn print_refusals(outcomes: &[(PathBuf, agon_registry::Origin, ScanOutcome)]) {
    for (path, _, outcome) in outcomes {
        if let ScanOutcome::Refused(refusal) = outcome {
            println!("refused {}: {refusal}", path.display());
        }
    }
}

fn show(registry: &mut Registry, name: &str) -> anyhow::Result<()> {
    let requirement = PluginRequirement::parse(name)?;
    // The same search as `agon train`'s, with the same refusals when
    // nothing matches (unindexed, changed or incompatible libraries).
    let library = registry.find_library(&requirement)?;
    let m = &library.manifest;
    println!("{} {}", m.qualified_name(), m.version);
    println!("  path    {}", library.path.display());
    println!("  sha256  {}", library.sha256);
    println!("  ABI     {}", m.sdk_abi);
    println!(
        "  devices {}",
        m.devices
            .iter()
            .map(|d| d.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for c in m.components.iter() {
        println!("\n{} `{}` — {}", c.kind, c.name, c.description);
        let capabilities: Vec<&str> = library
            .capabilities
            .iter()
            .filter(|d| d.kind == c.kind && d.name == c.name)
            .flat_map(|d| d.capabilities.iter().map(|x| x.as_str()))
            .collect();
        if !capabilities.is_empty() {
            // Unindented: the indented lines below are the config, as YAML.
            println!("capabilities: {}", capabilities.join(", "));
        }
        let config = c.default_config_yaml.trim();
        if config.is_empty() || config == "null" {
            println!("  (no configuration)");
        } else {
            // As the plugin wrote it: its `# …` lines document each key.
            yaml::parse(config).with_context(|| format!("default config of `{}`", c.name))?;
            for line in c.default_config_yaml.lines() {
                println!("  {line}");
            }
        }
    }
    Ok(())
}

fn verify(registry: &mut Registry, paths: Vec<PathBuf>) -> anyhow::Result<()> {
    let paths: Vec<PathBuf> = if paths.is_empty() {
        registry
            .search_path()
            .candidates()
            .into_iter()
            .map(|(path, _)| path)
            .collect()
    } else {
        paths
    };
    let checks: Vec<(PathBuf, Result<String, RegistryError>)> = paths
        .into_iter()
        .map(|path| {
            let result = registry.verify(&path).map(|l| l.manifest.qualified_name());
            (path, result)
        })
        .collect();
    let mut problems = 0;
    for (path, result) in &checks {
        match result {
            Ok(name) => match registry.loading_needs(path) {
                LoadingNeeds::Nothing => println!("ok      {} ({name})", path.display()),
                LoadingNeeds::Scan => println!(
                    "ok      {} ({name}); not indexed yet: run `agon plugins scan` to use it",
                    path.display()
                ),
                LoadingNeeds::SearchPathAndScan => println!(
                    "ok      {} ({name}); not on the plugin search path: copy it into $AGON_HOME/plugins (or add its directory to AGON_PLUGIN_PATH) and run `agon plugins scan` to use it",
                    path.display()
                ),
            },
            Err(error) => {
                problems += 1;
                println!("refused {error}");
                if std::env::var_os("AGON_LOG_ABI_REPORT").is_some() {
                    if let Some(report) = loader::full_report(path) {
                        println!("{report}");
                    }
                }
            }
        }
    }
    if checks.is_empty() {
        println!("no plugin libraries found on the search path");
    }
    if problems > 0 {
        bail!("{problems} of {} plugin libraries refused", checks.len());
    }
    Ok(())
}
