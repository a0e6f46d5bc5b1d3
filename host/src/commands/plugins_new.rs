//! `agon plugins new KIND NAMESPACE/NAME [DIR] [--conditional | --per-token]`: a plugin
//! crate that builds against the SDK, passes its own tests and trains as it
//! is. The files are the guide's example crates (docs/examples/), renamed,
//! so the scaffold is the code docs/writing-a-plugin.md shows and the tests
//! build.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::ValueEnum;

/// What kind of component the new crate provides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum NewKind {
    /// A discriminator on the SDK's kit (docs/examples/mean-pool-discriminator;
    /// with `--conditional`, pair-pool-discriminator; with `--per-token`,
    /// causal-conv-discriminator).
    Discriminator,
    /// A generator on the SDK's kit (docs/examples/gru-lm-generator; with
    /// `--conditional`, gru-seq2seq-generator).
    Generator,
    /// A reward (docs/examples/distinct-tokens-reward).
    Reward,
}

/// Which form of the kind: the language-model example, the conditional
/// one (`--conditional`) or the per-token one (`--per-token`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    Plain,
    /// Reads a source per row (translation, summarization, dialogue).
    Conditional,
    /// Scores every token (the host's `credit: dense`).
    PerToken,
}

impl Form {
    /// The form the command line's flags ask for (clap refuses both).
    pub fn from_flags(conditional: bool, per_token: bool) -> Form {
        match (conditional, per_token) {
            (true, _) => Form::Conditional,
            (false, true) => Form::PerToken,
            (false, false) => Form::Plain,
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Form::Plain => "",
            Form::Conditional => " --conditional",
            Form::PerToken => " --per-token",
        }
    }
}

/// Where the crate's `agon-sdk` dependency comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SdkSource {
    Path(PathBuf),
    Git(String),
}

const DISCRIMINATOR_MANIFEST: &str =
    include_str!("../../../docs/examples/mean-pool-discriminator/Cargo.toml");
const DISCRIMINATOR_LIB: &str =
    include_str!("../../../docs/examples/mean-pool-discriminator/src/lib.rs");
const DISCRIMINATOR_TESTS: &str =
    include_str!("../../../docs/examples/mean-pool-discriminator/src/tests.rs");
const GENERATOR_MANIFEST: &str = include_str!("../../../docs/examples/gru-lm-generator/Cargo.toml");
const GENERATOR_LIB: &str = include_str!("../../../docs/examples/gru-lm-generator/src/lib.rs");
const GENERATOR_TESTS: &str = include_str!("../../../docs/examples/gru-lm-generator/src/tests.rs");
const PAIR_DISCRIMINATOR_MANIFEST: &str =
    include_str!("../../../docs/examples/pair-pool-discriminator/Cargo.toml");
const PAIR_DISCRIMINATOR_LIB: &str =
    include_str!("../../../docs/examples/pair-pool-discriminator/src/lib.rs");
const PAIR_DISCRIMINATOR_TESTS: &str =
    include_str!("../../../docs/examples/pair-pool-discriminator/src/tests.rs");
const PER_TOKEN_DISCRIMINATOR_MANIFEST: &str =
    include_str!("../../../docs/examples/causal-conv-discriminator/Cargo.toml");
const PER_TOKEN_DISCRIMINATOR_LIB: &str =
    include_str!("../../../docs/examples/causal-conv-discriminator/src/lib.rs");
const PER_TOKEN_DISCRIMINATOR_TESTS: &str =
    include_str!("../../../docs/examples/causal-conv-discriminator/src/tests.rs");
const SEQ2SEQ_MANIFEST: &str =
    include_str!("../../../docs/examples/gru-seq2seq-generator/Cargo.toml");
const SEQ2SEQ_LIB: &str = include_str!("../../../docs/examples/gru-seq2seq-generator/src/lib.rs");
const SEQ2SEQ_TESTS: &str =
    include_str!("../../../docs/examples/gru-seq2seq-generator/src/tests.rs");
const REWARD_MANIFEST: &str =
    include_str!("../../../docs/examples/distinct-tokens-reward/Cargo.toml");
const REWARD_LIB: &str = include_str!("../../../docs/examples/distinct-tokens-reward/src/lib.rs");
/// The dependency versions agon was built and tested with, so the new crate
/// builds against the same Candle and serde.
const LOCKFILE: &str = include_str!("../../../Cargo.lock");

/// `text` with every `from` replaced; an error if `from` is absent (the
/// example changed and the scaffold would silently keep its old name).
fn replaced(text: &str, from: &str, to: &str) -> anyhow::Result<String> {
    if !text.contains(from) {
        bail!("internal: the plugin template no longer contains `{from}`");
    }
    Ok(text.replace(from, to))
}

/// The manifest's header comment (every line before `[package]`) replaced.
fn with_header(manifest: &str, header: &str) -> String {
    let body = &manifest[manifest.find("[package]").unwrap_or(0)..];
    format!("{header}\n{body}")
}

fn dependency(sdk: &SdkSource, features: &str) -> String {
    let source = match sdk {
        SdkSource::Path(path) => format!("path = {:?}", path.display().to_string()),
        SdkSource::Git(url) => format!("git = {url:?}"),
    };
    format!("agon-sdk = {{ {source}{features} }}")
}

/// Refuses a kind that has no such form.
pub fn check_kind(kind: NewKind, form: Form) -> anyhow::Result<()> {
    match (kind, form) {
        (NewKind::Reward, Form::Conditional) => bail!(
            "a reward has no conditional form: every reward gets a conditional task's sources in `RewardInput::sources`; run `agon plugins new reward` without --conditional"
        ),
        (NewKind::Reward | NewKind::Generator, Form::PerToken) => bail!(
            "--per-token is a discriminator's form: per-token rewards (`credit: dense`) come from a discriminator that scores every token; run `agon plugins new discriminator NAMESPACE/NAME --per-token`"
        ),
        _ => Ok(()),
    }
}

/// The files of the new crate, by path relative to its directory: a model
/// for a conditional task (translation, summarization, dialogue: it reads
/// a source per row) for [`Form::Conditional`], a discriminator that
/// scores every token for [`Form::PerToken`].
pub fn files(
    kind: NewKind,
    form: Form,
    namespace: &str,
    name: &str,
    sdk: &SdkSource,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let header = format!(
        "# `{namespace}/{name}`, made by `agon plugins new {}{}` from the example\n\
         # of docs/writing-a-plugin.md. Build: `cargo build --release`; then\n\
         # `export AGON_PLUGIN_PATH=${{CARGO_TARGET_DIR:-$PWD/target}}/release` (from this\n\
         # directory) and `agon plugins scan`.",
        match kind {
            NewKind::Discriminator => "discriminator",
            NewKind::Generator => "generator",
            NewKind::Reward => "reward",
        },
        form.flag()
    );
    check_kind(kind, form)?;
    let mut files = match (kind, form) {
        (NewKind::Reward, Form::Conditional | Form::PerToken)
        | (NewKind::Generator, Form::PerToken) => unreachable!("refused by check_kind"),
        (NewKind::Discriminator, Form::PerToken) => kit_crate(
            KitTemplate {
                manifest: PER_TOKEN_DISCRIMINATOR_MANIFEST,
                lib: PER_TOKEN_DISCRIMINATOR_LIB,
                tests: PER_TOKEN_DISCRIMINATOR_TESTS,
                crate_name: "causal-conv-discriminator",
                model_type: "CausalConv",
                component: "causal-conv",
                library_type: "MyLabPerTokenDiscriminators",
            },
            &header,
            namespace,
            name,
            sdk,
        )?,
        (NewKind::Discriminator, Form::Conditional) => kit_crate(
            KitTemplate {
                manifest: PAIR_DISCRIMINATOR_MANIFEST,
                lib: PAIR_DISCRIMINATOR_LIB,
                tests: PAIR_DISCRIMINATOR_TESTS,
                crate_name: "pair-pool-discriminator",
                model_type: "PairPool",
                component: "pair-pool",
                library_type: "MyLabPairDiscriminators",
            },
            &header,
            namespace,
            name,
            sdk,
        )?,
        (NewKind::Generator, Form::Conditional) => kit_crate(
            KitTemplate {
                manifest: SEQ2SEQ_MANIFEST,
                lib: SEQ2SEQ_LIB,
                tests: SEQ2SEQ_TESTS,
                crate_name: "gru-seq2seq-generator",
                model_type: "GruSeq2Seq",
                component: "gru-seq2seq",
                library_type: "MyLabSeq2SeqGenerators",
            },
            &header,
            namespace,
            name,
            sdk,
        )?,
        (NewKind::Discriminator, Form::Plain) => kit_crate(
            KitTemplate {
                manifest: DISCRIMINATOR_MANIFEST,
                lib: DISCRIMINATOR_LIB,
                tests: DISCRIMINATOR_TESTS,
                crate_name: "mean-pool-discriminator",
                model_type: "MeanPool",
                component: "mean-pool",
                library_type: "MyLabLibrary",
            },
            &header,
            namespace,
            name,
            sdk,
        )?,
        (NewKind::Generator, Form::Plain) => kit_crate(
            KitTemplate {
                manifest: GENERATOR_MANIFEST,
                lib: GENERATOR_LIB,
                tests: GENERATOR_TESTS,
                crate_name: "gru-lm-generator",
                model_type: "GruLm",
                component: "gru-lm",
                library_type: "MyLabGenerators",
            },
            &header,
            namespace,
            name,
            sdk,
        )?,
        (NewKind::Reward, Form::Plain) => {
            let manifest = with_header(REWARD_MANIFEST, &header);
            let manifest = replaced(
                &manifest,
                "name = \"distinct-tokens-reward\"",
                &format!("name = \"{name}\""),
            )?;
            let manifest = replaced(&manifest, "version = \"0.3.1\"", "version = \"0.1.0\"")?;
            let manifest = replaced(
                &manifest,
                "# In your own repository: a git or path dependency on agon's sdk/ (the SDK is\n\
                 # not on crates.io).\n\
                 agon-sdk = { path = \"../../../sdk\" }",
                &dependency(sdk, ""),
            )?;
            let manifest = replaced(
                &manifest,
                "agon-sdk = { path = \"../../../sdk\", features = [\"testing\"] }",
                &dependency(sdk, ", features = [\"testing\"]"),
            )?;
            let lib = replaced(
                REWARD_LIB,
                "`acme/distinct-tokens`",
                &format!("`{namespace}/{name}`"),
            )?;
            let lib = replaced(&lib, "\"acme\"", &format!("\"{namespace}\""))?;
            let lib = replaced(&lib, "\"distinct-tokens\"", &format!("\"{name}\""))?;
            let lib = replaced(
                &lib,
                "AcmeRewards",
                &format!("{}Rewards", type_prefix(namespace)),
            )?;
            vec![("Cargo.toml", manifest), ("src/lib.rs", lib)]
        }
    };
    files.push(("Cargo.lock", LOCKFILE.to_string()));
    files.push((".gitignore", "/target\n".to_string()));
    Ok(files)
}

/// One of the guide's kit examples, and the names to replace in it.
struct KitTemplate {
    manifest: &'static str,
    lib: &'static str,
    tests: &'static str,
    /// The example's crate (and plugin) name.
    crate_name: &'static str,
    /// Its one component's name.
    component: &'static str,
    /// Its library type (`MyLab` + what it holds).
    library_type: &'static str,
    /// Its model type (the config type is this + `Config`).
    model_type: &'static str,
}

/// Said first in a scaffold's `src/lib.rs`: its model and module doc are
/// the example's until the author writes theirs.
const SCAFFOLD_NOTICE: &str =
    "//! Made by `agon plugins new` from an example of docs/writing-a-plugin.md:\n\
//! the model below, and the description that follows, are the example's\n\
//! until you replace them with yours.\n//!\n";

/// The places where `text` uses `ident` as a whole identifier.
fn identifier_at(text: &str, ident: &str) -> Vec<usize> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(ident)
        .filter(|(at, _)| {
            let before = text[..*at].chars().next_back();
            let after = text[at + ident.len()..].chars().next();
            !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
        })
        .map(|(at, _)| at)
        .collect()
}

/// Whether `text` uses `ident` as a whole identifier.
fn mentions_identifier(text: &str, ident: &str) -> bool {
    !identifier_at(text, ident).is_empty()
}

/// `text` with the whole identifier `from` replaced by `to` (not inside
/// longer identifiers).
fn replace_identifier(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for at in identifier_at(text, from) {
        out.push_str(&text[copied..at]);
        out.push_str(to);
        copied = at + from.len();
    }
    out.push_str(&text[copied..]);
    out
}

/// The model type of a scaffold named `name`: `attn-summarizer` →
/// `AttnSummarizer` (its config `AttnSummarizerConfig`), unless the
/// example already uses that name (`embedding` → `Embedding`, candle's;
/// `self` → `Self`), or it is the library type: then the example's.
fn model_type(template: &KitTemplate, name: &str, library_type: &str) -> String {
    let wanted = type_prefix(name);
    let taken = |ident: &str| {
        ident == library_type
            || mentions_identifier(template.lib, ident)
            || mentions_identifier(template.tests, ident)
    };
    if taken(&wanted) || taken(&format!("{wanted}Config")) {
        template.model_type.to_string()
    } else {
        wanted
    }
}

/// `namespace` as the start of a Rust type name: `my-lab.x` → `MyLabX`
/// (`Lab` first where it would start with a digit).
fn type_prefix(namespace: &str) -> String {
    let camel: String = namespace
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    if camel.starts_with(|c: char| c.is_ascii_digit()) {
        format!("Lab{camel}")
    } else {
        camel
    }
}

/// A kit example crate as `namespace/name`, with one component `name`,
/// depending on `sdk`, in a workspace of its own.
fn kit_crate(
    template: KitTemplate,
    header: &str,
    namespace: &str,
    name: &str,
    sdk: &SdkSource,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let manifest = with_header(template.manifest, header);
    let manifest = replaced(
        &manifest,
        &format!("name = \"{}\"", template.crate_name),
        &format!("name = \"{name}\""),
    )?;
    let manifest = replaced(
        &manifest,
        "# In your own repository: a git or path dependency on agon's sdk/.\n\
         agon-sdk = { path = \"../../../sdk\", features = [\"candle\"] }",
        &dependency(sdk, ", features = [\"candle\"]"),
    )?;
    let manifest = replaced(
        &manifest,
        "agon-sdk = { path = \"../../../sdk\", features = [\"testing\"] }",
        &dependency(sdk, ", features = [\"testing\"]"),
    )?;
    let manifest = format!("{manifest}\n# A workspace of its own.\n[workspace]\n");
    let lib = replaced(
        template.lib,
        &format!("my-lab/{}", template.crate_name),
        &format!("{namespace}/{name}"),
    )?;
    let lib = replaced(&lib, "\"my-lab\"", &format!("\"{namespace}\""))?;
    let lib = replaced(
        &lib,
        &format!("\"{}\"", template.crate_name),
        &format!("\"{name}\""),
    )?;
    let lib = replaced(
        &lib,
        &format!("\"{}\"", template.component),
        &format!("\"{name}\""),
    )?;
    let lib = replaced(
        &lib,
        &format!("`{}`", template.component),
        &format!("`{name}`"),
    )?;
    let tests = replaced(
        template.tests,
        &format!("\"{}\"", template.component),
        &format!("\"{name}\""),
    )?;
    // `MyLabLibrary` → `AcmeLibrary` for namespace `acme`.
    let library_type = template
        .library_type
        .replacen("MyLab", &type_prefix(namespace), 1);
    let lib = replaced(&lib, template.library_type, &library_type)?;
    let tests = replaced(&tests, template.library_type, &library_type)?;
    // `GruSeq2Seq` → `AttnSummarizer`, `GruSeq2SeqConfig` →
    // `AttnSummarizerConfig`: whole identifiers only, so a library type
    // that contains the model's name (namespace `gru-lm`: `GruLmGenerators`)
    // keeps it.
    let model_type = model_type(&template, name, &library_type);
    let config_type = (
        format!("{}Config", template.model_type),
        format!("{model_type}Config"),
    );
    let rename = |text: &str| {
        let text = replace_identifier(text, template.model_type, &model_type);
        replace_identifier(&text, &config_type.0, &config_type.1)
    };
    anyhow::ensure!(
        mentions_identifier(&lib, template.model_type),
        "the example has no type {}: a bug in agon",
        template.model_type
    );
    let lib = format!("{SCAFFOLD_NOTICE}{}", rename(&lib));
    let tests = rename(&tests);
    Ok(vec![
        ("Cargo.toml", manifest),
        ("src/lib.rs", lib),
        ("src/tests.rs", tests),
    ])
}

/// `namespace/name` checked: a namespace the registry accepts, and a name
/// that is also a Cargo package name.
pub fn parse_name(full: &str) -> anyhow::Result<(String, String)> {
    let Some((namespace, name)) = full.split_once('/') else {
        bail!("`{full}`: give the plugin as NAMESPACE/NAME, e.g. `my-lab/bilstm-discriminator`");
    };
    let ok = |part: &str, extra: &[char]| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || extra.contains(&c))
    };
    if !ok(namespace, &['.']) {
        bail!("namespace `{namespace}`: use letters, digits, `-`, `_` and `.` only");
    }
    if !ok(name, &[]) || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        bail!(
            "name `{name}`: it is also the crate's name, so start with a letter and use letters, digits, `-` and `_` only"
        );
    }
    Ok((namespace.to_string(), name.to_string()))
}

/// The SDK of the checkout this agon was built from, if it is still there.
pub fn default_sdk() -> Option<PathBuf> {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    sdk.join("Cargo.toml")
        .is_file()
        .then(|| sdk.canonicalize().ok())
        .flatten()
}

/// The sdk/ of the agon checkout `dir` is in (itself or an ancestor holding
/// `sdk/Cargo.toml` of package `agon-sdk`), if any: a user who runs an
/// agon built elsewhere from inside a checkout may mean that checkout's.
pub fn enclosing_checkout_sdk(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().find_map(|ancestor| {
        let sdk = ancestor.join("sdk");
        let manifest = std::fs::read_to_string(sdk.join("Cargo.toml")).ok()?;
        manifest
            .lines()
            .any(|line| line.replace(' ', "") == "name=\"agon-sdk\"")
            .then(|| sdk.canonicalize().ok())
            .flatten()
    })
}

/// Writes the crate into `dir` (which must not exist, or be empty): into a
/// sibling first, renamed when complete, so a failure leaves nothing behind.
pub fn write(dir: &Path, files: &[(&str, String)]) -> anyhow::Result<()> {
    if dir.exists() {
        let empty = dir.is_dir()
            && std::fs::read_dir(dir)
                .with_context(|| format!("cannot read {}", dir.display()))?
                .next()
                .is_none();
        if !empty {
            bail!(
                "{} already exists and is not empty; choose another directory (the last argument)",
                dir.display()
            );
        }
        std::fs::remove_dir(dir).with_context(|| format!("cannot replace {}", dir.display()))?;
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let leaf = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into());
    let staging = parent.join(format!(".{leaf}.agon-plugins-new-{}", std::process::id()));
    let staged = (|| -> anyhow::Result<()> {
        for (path, text) in files {
            let file = staging.join(path);
            if let Some(folder) = file.parent() {
                std::fs::create_dir_all(folder)
                    .with_context(|| format!("cannot create {}", folder.display()))?;
            }
            std::fs::write(&file, text)
                .with_context(|| format!("cannot write {}", file.display()))?;
        }
        std::fs::rename(&staging, dir).with_context(|| format!("cannot create {}", dir.display()))
    })();
    if staged.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    staged?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_of_the_examples_is_replaced() {
        let sdk = SdkSource::Path("/opt/agon/sdk".into());
        for (kind, form) in [
            (NewKind::Discriminator, Form::Plain),
            (NewKind::Generator, Form::Plain),
            (NewKind::Reward, Form::Plain),
            (NewKind::Discriminator, Form::Conditional),
            (NewKind::Generator, Form::Conditional),
            (NewKind::Discriminator, Form::PerToken),
        ] {
            let files = files(kind, form, "lab", "x-disc", &sdk).unwrap();
            for (path, text) in &files {
                if *path == "Cargo.lock" {
                    continue;
                }
                for old in [
                    "my-lab",
                    "MyLab",
                    "Acme",
                    "mean-pool-discriminator",
                    "\"mean-pool\"",
                    "gru-lm-generator",
                    "\"gru-lm\"",
                    "pair-pool",
                    "gru-seq2seq",
                    "causal-conv",
                    "acme",
                    "distinct-tokens",
                    "../../../sdk",
                ] {
                    assert!(
                        !text.contains(old),
                        "{kind:?} {path} still has {old}:\n{text}"
                    );
                }
            }
            let manifest = &files[0].1;
            assert!(
                manifest.contains("name = \"x-disc\"")
                    && manifest.contains("path = \"/opt/agon/sdk\""),
                "{manifest}"
            );
            assert!(manifest.contains("[workspace]"), "{manifest}");
            let lib = &files[1].1;
            let sources = lib.contains("SourceUse::Required");
            assert_eq!(sources, form == Form::Conditional, "{kind:?}: {lib}");
            let per_token = lib.contains("const PER_TOKEN: bool = true");
            assert_eq!(per_token, form == Form::PerToken, "{kind:?}: {lib}");
            let flag = format!(
                "agon plugins new {}{}`",
                format!("{kind:?}").to_lowercase(),
                form.flag()
            );
            assert!(
                manifest_header(&files[0].1).contains(&flag),
                "{flag}: {}",
                files[0].1
            );
        }
        let refused = files(NewKind::Reward, Form::Conditional, "lab", "x", &sdk).unwrap_err();
        assert!(
            refused.to_string().contains("RewardInput::sources"),
            "{refused}"
        );
        for kind in [NewKind::Reward, NewKind::Generator] {
            let refused = files(kind, Form::PerToken, "lab", "x", &sdk).unwrap_err();
            assert!(
                refused
                    .to_string()
                    .contains("new discriminator NAMESPACE/NAME --per-token"),
                "{refused}"
            );
        }
        let git = files(
            NewKind::Discriminator,
            Form::Plain,
            "lab",
            "x",
            &SdkSource::Git("https://example.org/agon".into()),
        )
        .unwrap();
        assert!(
            git[0].1.contains(
                "agon-sdk = { git = \"https://example.org/agon\", features = [\"candle\"] }"
            ),
            "{}",
            git[0].1
        );
    }

    #[test]
    fn the_library_type_takes_the_namespace() {
        assert_eq!(type_prefix("acme"), "Acme");
        assert_eq!(type_prefix("outsider-lab.v2"), "OutsiderLabV2");
        assert_eq!(type_prefix("9lab"), "Lab9lab");
        let files = files(
            NewKind::Discriminator,
            Form::Plain,
            "outsider-lab",
            "x",
            &SdkSource::Path("/opt/agon/sdk".into()),
        )
        .unwrap();
        for (path, text) in &files[1..3] {
            assert!(text.contains("OutsiderLabLibrary"), "{path}:\n{text}");
        }
    }

    /// The library type never takes a model type's name (`GruSeq2Seq`,
    /// `PairPool`, `MeanPool`, `GruLm`, `CausalConv`), whatever the namespace.
    #[test]
    fn the_library_type_is_never_a_models_name() {
        for (kind, form) in [
            (NewKind::Discriminator, Form::Plain),
            (NewKind::Generator, Form::Plain),
            (NewKind::Discriminator, Form::Conditional),
            (NewKind::Generator, Form::Conditional),
            (NewKind::Discriminator, Form::PerToken),
        ] {
            for namespace in ["gru", "pair", "mean", "gru-lm", "causal"] {
                let files = files(
                    kind,
                    form,
                    namespace,
                    "x",
                    &SdkSource::Path("/opt/agon/sdk".into()),
                )
                .unwrap();
                let lib = &files[1].1;
                for model in ["GruSeq2Seq", "PairPool", "MeanPool", "GruLm", "CausalConv"] {
                    let defined = [" ", ";", "<"]
                        .iter()
                        .map(|end| lib.matches(&format!("struct {model}{end}")).count())
                        .sum::<usize>();
                    assert!(
                        defined <= 1,
                        "{kind:?} {namespace}: two types named {model}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_model_type_takes_the_plugins_name_unless_it_is_taken() {
        let sdk = SdkSource::Path("/opt/agon/sdk".into());
        let written = files(
            NewKind::Generator,
            Form::Conditional,
            "lab",
            "attn-summarizer",
            &sdk,
        )
        .unwrap();
        let (lib, tests) = (&written[1].1, &written[2].1);
        assert!(lib.contains("pub struct AttnSummarizer {"), "{lib}");
        assert!(lib.contains("pub struct AttnSummarizerConfig {"), "{lib}");
        assert!(!lib.contains("GruSeq2Seq") && !tests.contains("GruSeq2Seq"));
        assert!(lib.starts_with(SCAFFOLD_NOTICE), "{lib}");
        // Names the example already uses keep the example's type.
        for taken in ["embedding", "self", "generator-model"] {
            let written = files(NewKind::Generator, Form::Conditional, "lab", taken, &sdk).unwrap();
            assert!(
                written[1].1.contains("pub struct GruSeq2Seq {"),
                "{taken}: {}",
                written[1].1
            );
        }
        // A namespace that contains the model's name keeps it in the
        // library type.
        let written = files(NewKind::Generator, Form::Plain, "gru-lm", "foo", &sdk).unwrap();
        assert!(written[1].1.contains("GruLmGenerators"), "{}", written[1].1);
        assert!(
            written[1].1.contains("pub struct Foo {"),
            "{}",
            written[1].1
        );
        assert_eq!(replace_identifier("A AB A_ A", "A", "C"), "C AB A_ C");
        assert!(mentions_identifier("use x::Embedding;", "Embedding"));
        assert!(!mentions_identifier("EmbeddingDim", "Embedding"));
        assert!(!mentions_identifier("MyEmbedding", "Embedding"));
    }

    /// The manifest's lines before `[package]`.
    fn manifest_header(manifest: &str) -> &str {
        &manifest[..manifest.find("[package]").unwrap()]
    }

    #[test]
    fn the_checkout_around_a_directory_is_found() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(enclosing_checkout_sdk(&deep), None);
        std::fs::create_dir_all(root.path().join("sdk")).unwrap();
        std::fs::write(
            root.path().join("sdk/Cargo.toml"),
            "[package]\nname = \"agon-sdk\"\n",
        )
        .unwrap();
        assert_eq!(
            enclosing_checkout_sdk(&deep),
            Some(root.path().join("sdk").canonicalize().unwrap())
        );
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(
            parse_name("lab.x/bi-lstm").unwrap(),
            ("lab.x".into(), "bi-lstm".into())
        );
        for bad in ["nolab", "lab/", "lab/x.y", "lab/9x", "la b/x"] {
            assert!(parse_name(bad).is_err(), "{bad}");
        }
    }
}
