//! Every key of every bundled component's default config has a doc line
//! (`ComponentInfo::documented`), `agon plugins show` prints them, and
//! every file the docs and configs point a reader to exists.

use std::path::Path;

use agon_integration_tests::{build_dir, plugin_library, Sandbox};
use agon_registry::{Registry, SearchPath};
use agon_sdk::config_docs;

/// The bundled plugin libraries: crate file name and `namespace/name`.
const BUNDLED: [(&str, &str); 8] = [
    ("agon_lstm_generator", "agon/lstm-generator"),
    ("agon_cnn_discriminator", "seqgan-lab/cnn-discriminator"),
    ("agon_gru_discriminator", "rnn-lab/gru-discriminator"),
    (
        "agon_lstm_discriminator",
        "scratchgan-lab/lstm-discriminator",
    ),
    ("agon_rewards", "agon/rewards"),
    ("agon_seq2seq_generator", "agon/seq2seq-generator"),
    ("agon_pair_discriminators", "pair-lab/pair-discriminators"),
    ("agon_relgan", "relgan-lab/relgan"),
];

fn registry(dirs: &[&Path], sandbox: &Sandbox) -> Registry {
    Registry::new(
        SearchPath::explicit(dirs.iter().map(|d| d.to_path_buf())),
        &sandbox.home().join("plugins-index.json"),
    )
}

#[test]
fn every_key_of_every_bundled_components_default_config_is_documented() {
    let sandbox = Sandbox::new();
    let mut registry = registry(&[build_dir()], &sandbox);
    let mut problems = Vec::new();
    let mut components = 0;
    let mut documented_keys = 0;
    for (crate_name, qualified) in BUNDLED {
        let library = registry.load(&plugin_library(crate_name)).unwrap();
        assert_eq!(library.manifest.qualified_name(), qualified);
        for component in library.manifest.components.iter() {
            components += 1;
            documented_keys += config_docs::key_paths(&component.default_config_yaml).len();
            if let Err(problem) = component.check_config_docs() {
                problems.push(format!("{qualified}: {problem}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // 1 + 1 + 1 + 1 + 7 + 1 + 3 + 2 components; keys in all but the three
    // rewards that take no configuration.
    assert_eq!(components, 17);
    assert!(documented_keys > 60, "{documented_keys} keys");
}

/// Any other library built beside `agon` (a plugin added to the workspace
/// later) documents its configs too.
#[test]
fn every_library_beside_agon_documents_its_configs() {
    let sandbox = Sandbox::new();
    let mut registry = registry(&[build_dir()], &sandbox);
    let mut loaded = Vec::new();
    let mut problems = Vec::new();
    for (path, _, result) in registry.load_all() {
        let Ok(library) = result else { continue };
        loaded.push(library.manifest.qualified_name());
        for component in library.manifest.components.iter() {
            if let Err(problem) = component.check_config_docs() {
                problems.push(format!("{}: {problem}", path.display()));
            }
        }
    }
    for (_, qualified) in BUNDLED {
        assert!(
            loaded.iter().any(|q| q == qualified),
            "{qualified} not loaded: {loaded:?}"
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The config blocks of `agon plugins show`'s output, by component header
/// (`discriminator `cnn-highway` — …`), with the two-space indent removed.
fn shown_configs(shown: &str) -> Vec<(String, String)> {
    let mut sections: Vec<(String, String)> = Vec::new();
    for line in shown.lines() {
        let is_header = !line.starts_with(' ') && line.contains(" `") && line.contains("` — ");
        if is_header {
            sections.push((line.to_string(), String::new()));
        } else if line.is_empty() {
            continue;
        } else if let (Some(config), Some((_, text))) =
            (line.strip_prefix("  "), sections.last_mut())
        {
            text.push_str(config);
            text.push('\n');
        }
    }
    sections
}

#[test]
fn plugins_show_prints_the_doc_line_above_each_key() {
    let sandbox = Sandbox::new();
    let shown = sandbox
        .run(&["plugins", "show", "seqgan-lab/cnn-discriminator"], &[])
        .success();
    assert!(
        shown.contains(
            "  # Convolution widths in tokens, one per filter bank, each at least 1 (SeqGAN: 1 to 10, 15 and 20).\n  filter_sizes:\n  - 1\n"
        ),
        "no doc line above filter_sizes (does `show` print the default config as written?):\n{shown}"
    );
    assert!(
        shown.contains(
            "  optimizer:\n    # Learning rate of Adam (SeqGAN: 0.0001).\n    lr: 0.0001\n"
        ),
        "{shown}"
    );
    assert!(shown.contains("  l2_lambda: 0.2\n"), "{shown}");

    // The optional methods a component declares (plugin ABI 1.1), and
    // whether it reads sources, are shown beside its config, not in it.
    let lstm = sandbox
        .run(&["plugins", "show", "agon/lstm-generator"], &[])
        .success();
    assert!(
        lstm.contains("\ncapabilities: tempered-log-likelihood, sources-never\n"),
        "{lstm}"
    );
    assert!(
        shown.contains("\ncapabilities: sources-never, relaxed-rows\n"),
        "the CNN reads no sources and scores relaxed rows:\n{shown}"
    );

    // Every library, every component: the text `show` prints passes the
    // SDK's check, so no doc line is lost on the way.
    for (_, qualified) in BUNDLED {
        let shown = sandbox.run(&["plugins", "show", qualified], &[]).success();
        let sections = shown_configs(&shown);
        assert!(!sections.is_empty(), "{shown}");
        for (header, config) in sections {
            if config.trim() == "(no configuration)" {
                continue;
            }
            assert_eq!(
                config_docs::check(&config),
                Ok(()),
                "{qualified}, {header}:\n{config}"
            );
        }
    }
}

/// The repository's files a reader follows from the docs and configs: the
/// markdown links `](path)` of every doc, and each `docs/….md` a doc, a
/// bundled config or a source file (a message, a plugin's doc line) names.
#[test]
fn every_file_the_docs_and_configs_point_to_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    // The docs and configs, and the sources whose messages and doc lines
    // (`agon plugins show`) point users to a doc.
    let mut dirs: Vec<std::path::PathBuf> = [
        "docs",
        "configs",
        "configs/sweeps",
        "benches",
        "host/src",
        "sdk/src",
        "registry/src",
    ]
    .into_iter()
    .map(|dir| root.join(dir))
    .collect();
    for entry in std::fs::read_dir(root.join("plugins")).unwrap() {
        dirs.push(entry.unwrap().path().join("src"));
    }
    let sources = ["host/src", "sdk/src", "plugins"].map(|dir| root.join(dir));
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let extension = path.extension().and_then(|e| e.to_str());
            if path.is_dir() && sources.iter().any(|s| path.starts_with(s)) {
                dirs.push(path);
            } else if matches!(extension, Some("md" | "yaml" | "rs")) {
                files.push(path);
            }
        }
    }
    let path_char = |c: char| c.is_ascii_alphanumeric() || "._/-".contains(c);
    let mut missing = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        // Markdown links, relative to the file (not Rust's `](`, nor links
        // to another site or scheme).
        for (at, _) in text.match_indices("](") {
            let link = text[at + 2..].split(')').next().unwrap_or_default();
            let target: String = link.chars().take_while(|&c| path_char(c)).collect();
            let elsewhere = link.starts_with('/') || link.contains(':');
            if target.is_empty() || elsewhere || file.extension().is_some_and(|e| e == "rs") {
                continue;
            }
            if !file.parent().unwrap().join(&target).exists() {
                missing.push(format!("{}: ]({target})", file.display()));
            }
        }
        // `docs/….md` in prose, comments and messages, relative to the
        // repository.
        for (at, _) in text.match_indices("docs/") {
            if text[..at].chars().next_back().is_some_and(path_char) {
                continue; // part of a longer path (a link's is checked above)
            }
            let name: String = text[at..].chars().take_while(|&c| path_char(c)).collect();
            let name = name.trim_end_matches('.');
            if name.ends_with(".md") && !root.join(name).exists() {
                missing.push(format!("{}: {name}", file.display()));
            }
        }
    }
    assert!(files.len() > 100, "found only {} files", files.len());
    assert!(
        missing.is_empty(),
        "files named but missing:\n{}",
        missing.join("\n")
    );
}
