//! The host's handles on plugin components: construction from a config, and
//! calls whose errors say which component failed and whose outputs are
//! checked before the host uses them (a plugin is untrusted input too).

use std::path::Path;

use abi_stable::std_types::{RResult, RSlice, RStr};
use agon_registry::{PluginRequirement, Registry, RegistryError, ResolvedComponent};
use agon_sdk::capabilities::{
    RELAXED_ROWS, RELAXED_SAMPLES, TEMPERED_LOG_LIKELIHOOD, TOKEN_LOGITS,
};
use agon_sdk::ErrorKind;
use agon_sdk::{
    yaml, Batch, ComponentKind, DecodeRequest, DiscriminatorBox, GeneratorBox, MleOptions,
    PluginContext, PluginError, RewardBox, RewardInput, RolloutRequest, SampleRequest, StepOptions,
    StepStats, TokenBatch, VocabInfo,
};
use anyhow::{anyhow, bail};

use crate::config::{locate, ComponentSpec};

mod build_profile;
mod relaxed;

/// What every component of a run is told, besides its own config.
#[derive(Clone, Debug)]
pub struct SharedContext {
    pub device: String,
    pub seed: u64,
    pub vocab: VocabInfo,
    pub max_len: u32,
    pub run_dir: String,
    /// Where the config was read, to place errors in plugin configs.
    pub origin: crate::config::ConfigOrigin,
}

/// Resolves `spec` to a component of `kind`. `place` names the config
/// section for messages (`generator`, `task.oracle`…); a plugin reference
/// that names no library, or a component the library does not have, is
/// told at the line (or `--set`) of `origin` that wrote it.
pub fn resolve(
    registry: &mut Registry,
    spec: &ComponentSpec,
    kind: ComponentKind,
    place: &str,
    device: &str,
    origin: &crate::config::ConfigOrigin,
) -> anyhow::Result<ResolvedComponent> {
    // `FILE line N: place.key: ` (or the `--set` that wrote it).
    let at = |key: &str| {
        let path = format!("{place}.{key}");
        let whence = origin
            .place_of(&path.split('.').collect::<Vec<_>>())
            .map(|whence| format!("{whence}: "))
            .unwrap_or_default();
        format!("{whence}{path}: ")
    };
    let requirement = PluginRequirement::parse(&spec.plugin).map_err(|e| {
        // `cnn-discriminator`: the library of that name, with its namespace.
        let (path, version) = spec
            .plugin
            .split_once('@')
            .map_or((spec.plugin.as_str(), String::new()), |(p, v)| {
                (p, format!("@{v}"))
            });
        let meant: Vec<String> = if path.contains('/') {
            Vec::new()
        } else {
            registry
                .qualified_names(Some(kind))
                .into_iter()
                .filter(|name| name.split_once('/').is_some_and(|(_, n)| n == path))
                .map(|name| format!("`{name}{version}`"))
                .collect()
        };
        match meant.as_slice() {
            [] => anyhow!("{}{e}", at("plugin")),
            meant => anyhow!("{}{e}; did you mean {}?", at("plugin"), meant.join(" or ")),
        }
    })?;
    let resolved = registry
        .resolve(&requirement, kind, spec.component.as_deref())
        .map_err(|e| match e {
            RegistryError::NotFound { .. } | RegistryError::Refused { .. } => {
                anyhow!("{}{e}", at("plugin"))
            }
            // The component the user named, where they named it.
            e @ (RegistryError::UnknownComponent { .. } | RegistryError::WrongKind { .. })
                if spec.component.is_some() =>
            {
                anyhow!("{}{e}", at("component"))
            }
            // The library named has no component of the kind: the reference
            // is the place to change.
            e @ (RegistryError::NoComponentOfKind { .. }
            | RegistryError::AmbiguousComponent { .. }
            | RegistryError::WrongKind { .. }) => anyhow!("{}{e}", at("plugin")),
            e => anyhow!("{place}: {e}"),
        })?;
    let family = device.split(':').next().unwrap_or(device);
    let devices = &resolved.library.manifest.devices;
    if !devices.iter().any(|d| d.as_str() == family) {
        bail!(
            "{place}: {} does not support device `{device}` (it supports: {}); use a build of it with that device, or set `device:` to one it supports",
            resolved.label(),
            devices.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    if !resolved.shadowed.is_empty() {
        // Said once per library, not per config section that uses it.
        let manifest = &resolved.library.manifest;
        let library = format!("{}@{}", manifest.qualified_name(), manifest.version);
        crate::notes::note(&format!(
            "{library} is loaded from {}; {} the same plugin at the same version in another build (the earlier directory on the search path wins: remove the copies you do not want, or put the directory you want first on AGON_PLUGIN_PATH)",
            resolved.library.path.display(),
            match resolved.shadowed.as_slice() {
                [one] => format!("{} also has", one.display()),
                more => format!(
                    "{} also have",
                    more.iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        ));
    }
    // A debug agon is a development build: its plugins are slow alike.
    if !cfg!(debug_assertions) {
        if let Some(debug) = build_profile::cargo_debug_dir(&resolved.library.path) {
            let manifest = &resolved.library.manifest;
            crate::notes::note(&format!(
                "{}@{} is loaded from {}, a build of cargo's debug profile: a Candle plugin built so trains about ten times slower (docs/writing-a-plugin.md); build it with `cargo build --release`, put {} first on AGON_PLUGIN_PATH and run `agon plugins scan`",
                manifest.qualified_name(),
                manifest.version,
                resolved.library.path.display(),
                debug.with_file_name("release").display()
            ));
        }
    }
    for (_, note) in origin
        .plugin_switch_notes
        .iter()
        .filter(|(at, _)| at == place)
    {
        crate::notes::note(note);
    }
    Ok(resolved)
}

/// The component's config: the user's YAML merged over its default.
fn merged_config(
    resolved: &ResolvedComponent,
    spec: &ComponentSpec,
    place: &str,
) -> anyhow::Result<String> {
    let default = resolved.component.default_config_yaml.as_str();
    let mut config = if default.trim().is_empty() {
        yaml::Value::Null
    } else {
        yaml::parse(default)
            .map_err(|e| anyhow!("{place}: the plugin's default config is not YAML: {e}"))?
    };
    if !spec.config.is_null() {
        if config.is_null() {
            bail!(
                "{place}.config: {} takes no configuration; remove `config:`",
                resolved.label()
            );
        }
        yaml::merge(&mut config, spec.config.clone());
    }
    Ok(if config.is_null() {
        String::new()
    } else {
        yaml::to_string(&config)?
    })
}

fn context(shared: &SharedContext, config_yaml: String, seed_offset: u64) -> PluginContext {
    PluginContext {
        device: shared.device.as_str().into(),
        seed: shared.seed.wrapping_add(seed_offset),
        vocab: shared.vocab.clone(),
        max_len: shared.max_len,
        config_yaml: config_yaml.into(),
        run_dir: shared.run_dir.as_str().into(),
    }
}

/// Builds component `resolved` with `constructor` (one of the root module's
/// `new_*` functions); returns its label for messages, the merged config it
/// was built with, and the object.
fn construct<T>(
    resolved: &ResolvedComponent,
    spec: &ComponentSpec,
    place: &str,
    shared: &SharedContext,
    seed_offset: u64,
    constructor: extern "C" fn(RStr<'_>, &PluginContext) -> RResult<T, PluginError>,
) -> anyhow::Result<(String, String, T)> {
    let label = format!("{place} ({})", resolved.label());
    let config = merged_config(resolved, spec, place)?;
    let name = RStr::from_str(resolved.component.name.as_str());
    let inner = match constructor(name, &context(shared, config.clone(), seed_offset)).into_result()
    {
        Ok(inner) => inner,
        Err(e) if e.kind() == ErrorKind::InvalidConfig => {
            bail!(
                "{}",
                config_error(&label, place, &config, e.message(), spec, &shared.origin)
            )
        }
        Err(e) => bail!("{label}: construction failed: {e}"),
    };
    Ok((label, config, inner))
}

/// A plugin's complaint about its config, told at the place the user wrote
/// the offending key (their file's line, or the `--set` that set it), or
/// said to come from the plugin's default config. The plugin saw the merged
/// document, so the line it names is a line of `merged`.
fn config_error(
    label: &str,
    place: &str,
    merged: &str,
    message: &str,
    spec: &ComponentSpec,
    origin: &crate::config::ConfigOrigin,
) -> String {
    let located = message.rfind(" at line ").and_then(|at| {
        let line: usize = message[at + " at line ".len()..]
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        Some((at, line))
    });
    let message = crate::config::suggest::explain_component(match located {
        Some((at, _)) => &message[..at],
        None => message,
    });
    // A complaint without a line (a plugin's own check of a value, not a
    // parse error) is placed at the key of the user's config it names.
    let key = match located {
        Some((_, line)) => locate::key_path_at(merged, line),
        None => key_named_in(&message, &spec.config),
    };
    let home = nested_home(&message, merged, key.as_deref())
        .or_else(|| flattened_home(&message, merged, &spec.config, key.as_deref()));
    let message = match home {
        Some(home) => format!("{message}; {home}"),
        None => message,
    };
    let Some(key) = key else {
        // A check of several keys together: where the user set each.
        let places: Vec<String> = keys_named_in(&message, &spec.config)
            .iter()
            .filter_map(|key| {
                let path = format!("{place}.config.{}", key.join("."));
                let whence = origin.place_of(&path.split('.').collect::<Vec<_>>())?;
                Some(format!("{whence} ({path})"))
            })
            .collect();
        let at = if places.is_empty() {
            String::new()
        } else {
            format!("{}: ", places.join(", "))
        };
        return format!("{at}{label}: invalid config: {message} (the component's config is `{place}.config` merged over the plugin's defaults; `agon plugins show` lists them)");
    };
    let mut path: Vec<&str> = place.split('.').collect();
    path.push("config");
    path.extend(key.iter().map(String::as_str));
    let user_set = spec
        .config
        .as_mapping()
        .is_some_and(|m| m.contains_key(yaml::Value::String(key[0].clone())));
    // serde_yaml starts with the key path itself; the path is said once.
    let dotted = key.join(".");
    let message = message
        .strip_prefix(&format!("{dotted}: "))
        .unwrap_or(&message);
    let path = path.join(".");
    match origin.place_of(&path.split('.').collect::<Vec<_>>()) {
        Some(whence) if user_set => format!("{whence}: {path}: {message}; {label} rejected it"),
        _ if user_set => format!("{path}: {message}; {label} rejected it"),
        _ => format!(
            "{path}: {message}; the value comes from {label}'s default config, not from your config (a bug in the plugin)"
        ),
    }
}

/// For "unknown field `x`" without a close name: where the component's
/// config (`merged`, the plugin's defaults under the user's keys) has `x`
/// elsewhere, deeper, if in exactly one place — the layout of another
/// plugin (`optimizer` at the top, where a kit component has
/// `training.optimizer`).
fn nested_home(message: &str, merged: &str, written_at: Option<&[String]>) -> Option<String> {
    if message.contains("did you mean") {
        return None;
    }
    let start = message.find("unknown field `")? + "unknown field `".len();
    let field = &message[start..start + message[start..].find('`')?];
    fn paths(value: &yaml::Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        for (key, value) in value.as_mapping().into_iter().flatten() {
            let Some(key) = key.as_str() else { continue };
            prefix.push(key.to_string());
            out.push(prefix.clone());
            paths(value, prefix, out);
            prefix.pop();
        }
    }
    let mut all = Vec::new();
    paths(&yaml::parse(merged).ok()?, &mut Vec::new(), &mut all);
    let mut homes = all.into_iter().filter(|path| {
        path.len() >= 2
            && path.last().is_some_and(|last| last == field)
            && Some(path.as_slice()) != written_at
    });
    let home = homes.next()?;
    if homes.next().is_some() {
        return None;
    }
    Some(format!(
        "this component has `{field}` under `{}`: write it as `{}`",
        home[..home.len() - 1].join("."),
        home.join(".")
    ))
}

/// For "unknown field `x`" where the user wrote a section `x` whose keys
/// this component has one level up: the layout of another plugin the other
/// way round (`training.optimizer`, as on a kit component, given to the
/// seq2seq generator, which has `optimizer` at the top). `user` is the
/// user's component config, `written_at` the unknown field's key path.
fn flattened_home(
    message: &str,
    merged: &str,
    user: &yaml::Value,
    written_at: Option<&[String]>,
) -> Option<String> {
    if message.contains("did you mean") {
        return None;
    }
    let (field, parent) = written_at?.split_last()?;
    if !message.contains(&format!("unknown field `{field}`")) {
        return None;
    }
    /// The mapping at `path` under `value`.
    fn mapping_at<'a>(value: &'a yaml::Value, path: &[String]) -> Option<&'a yaml::Mapping> {
        path.iter()
            .try_fold(value, |value, key| value.as_mapping()?.get(key.as_str()))?
            .as_mapping()
    }
    let written: Vec<String> = mapping_at(mapping_at(user, parent)?.get(field.as_str())?, &[])?
        .keys()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    let merged = yaml::parse(merged).ok()?;
    let level = mapping_at(&merged, parent)?;
    if written.is_empty() || !written.iter().all(|k| level.contains_key(k.as_str())) {
        return None;
    }
    let place = match parent.is_empty() {
        true => "at the top of its config".to_string(),
        false => format!("under `{}`", parent.join(".")),
    };
    let from_to: Vec<String> = written
        .iter()
        .map(|k| {
            let mut to = parent.to_vec();
            to.push(k.clone());
            format!("`{field}.{k}` as `{}`", to.join("."))
        })
        .collect();
    Some(format!(
        "this component has `{}` {place}, not under `{field}`: write {}",
        written.join("`, `"),
        from_to.join(", ")
    ))
}

/// The key path, among the leaves of the user's component config, that
/// `message` names as a whole word (`training.optimizer.lr`, or its last
/// segment `lr` where no other key ends so), if it names exactly one; a
/// message naming several is placed at each by the caller.
fn key_named_in(message: &str, config: &yaml::Value) -> Option<Vec<String>> {
    let [key] = <[Vec<String>; 1]>::try_from(keys_named_in(message, config)).ok()?;
    Some(key)
}

/// Every key path among the leaves of the user's component config that
/// `message` names as a whole word (its full path, or a last segment no
/// other key shares), in the config's order.
fn keys_named_in(message: &str, config: &yaml::Value) -> Vec<Vec<String>> {
    fn leaves(value: &yaml::Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        match value.as_mapping() {
            Some(mapping) => {
                for (key, value) in mapping {
                    let Some(key) = key.as_str().filter(|key| !key.is_empty()) else {
                        continue;
                    };
                    prefix.push(key.to_string());
                    leaves(value, prefix, out);
                    prefix.pop();
                }
            }
            None if !prefix.is_empty() => out.push(prefix.clone()),
            None => {}
        }
    }
    /// Whether `word` stands alone somewhere in `message`: not inside a
    /// longer identifier or dotted path (a sentence's closing dot may
    /// follow it).
    fn names(message: &str, word: &str) -> bool {
        let name_char = |c: char| c.is_alphanumeric() || c == '_';
        message.match_indices(word).any(|(at, _)| {
            let starts = !message[..at]
                .chars()
                .next_back()
                .is_some_and(|c| name_char(c) || c == '.');
            let mut after = message[at + word.len()..].chars();
            let ends = match after.next() {
                None => true,
                Some('.') => !after.next().is_some_and(name_char),
                Some(c) => !name_char(c),
            };
            starts && ends
        })
    }
    let mut paths = Vec::new();
    leaves(config, &mut Vec::new(), &mut paths);
    // A last segment stands for its key only where no other key ends so.
    let unique_last = |last: &String| paths.iter().filter(|p| p.last() == Some(last)).count() == 1;
    paths
        .iter()
        .filter(|path| {
            names(message, &path.join("."))
                || path
                    .last()
                    .is_some_and(|last| unique_last(last) && names(message, last))
        })
        .cloned()
        .collect()
}

fn plugin_call<T>(
    label: &str,
    operation: &str,
    result: RResult<T, PluginError>,
) -> anyhow::Result<T> {
    result
        .into_result()
        .map_err(|e| anyhow!("{label}: {operation} failed: {e}"))
}

/// Checks a batch a plugin returned.
fn check_batch(
    label: &str,
    operation: &str,
    batch: &TokenBatch,
    rows: usize,
    vocab: u32,
    max_len: u32,
) -> anyhow::Result<()> {
    if batch.rows() != rows {
        bail!("{label}: {operation} returned {} sequences, {rows} were asked for (a bug in the plugin)", batch.rows());
    }
    if batch.width > max_len {
        bail!("{label}: {operation} returned sequences of width {} > max_len {max_len} (a bug in the plugin)", batch.width);
    }
    batch.validate(vocab, operation).map_err(|e| {
        anyhow!(
            "{label}: {operation} returned a malformed batch (a bug in the plugin): {}",
            e.message()
        )
    })
}

fn check_scores(label: &str, operation: &str, scores: &[f32], rows: usize) -> anyhow::Result<()> {
    if scores.len() != rows {
        bail!(
            "{label}: {operation} returned {} values for {rows} sequences (a bug in the plugin)",
            scores.len()
        );
    }
    if let Some((i, bad)) = scores.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        bail!("{label}: {operation} returned {bad} for sequence {i}; training stops here");
    }
    Ok(())
}

/// A generator component.
pub struct Generator {
    pub label: String,
    /// The config it was built with: the user's merged over the default.
    pub config_yaml: String,
    inner: GeneratorBox,
    vocab: u32,
    max_len: u32,
    /// Whether its library declares `tempered_log_likelihood` (ABI 1.1).
    tempered: bool,
    /// Whether its library declares the relaxed methods (ABI 1.2).
    relaxed: bool,
}

impl Generator {
    pub fn new(
        resolved: &ResolvedComponent,
        spec: &ComponentSpec,
        place: &str,
        shared: &SharedContext,
        seed_offset: u64,
    ) -> anyhow::Result<Self> {
        let (label, config_yaml, inner) = construct(
            resolved,
            spec,
            place,
            shared,
            seed_offset,
            resolved.library.module.new_generator(),
        )?;
        let tempered = resolved.library.declares(
            ComponentKind::Generator,
            &resolved.component.name,
            TEMPERED_LOG_LIKELIHOOD,
        );
        let relaxed = resolved.library.declares(
            ComponentKind::Generator,
            &resolved.component.name,
            RELAXED_SAMPLES,
        );
        Ok(Generator {
            label,
            config_yaml,
            inner,
            vocab: shared.vocab.size,
            max_len: shared.max_len,
            tempered,
            relaxed,
        })
    }

    /// Whether it computes log-likelihoods at a temperature
    /// ([`Self::tempered_log_likelihood`]).
    pub fn supports_tempered_log_likelihood(&self) -> bool {
        self.tempered
    }

    pub fn mle_step(&mut self, batch: &Batch, options: &MleOptions) -> anyhow::Result<StepStats> {
        let stats = plugin_call(&self.label, "MLE step", self.inner.mle_step(batch, options))?;
        check_scores(&self.label, "MLE step loss", &[stats.loss], 1)?;
        Ok(stats)
    }

    pub fn log_likelihood(&mut self, batch: &Batch) -> anyhow::Result<Vec<f32>> {
        let values = plugin_call(
            &self.label,
            "log-likelihood",
            self.inner.log_likelihood(batch),
        )?;
        check_scores(&self.label, "log-likelihood", &values, batch.targets.rows())?;
        Ok(values.into_vec())
    }

    /// Per-sequence log-likelihood under `softmax(logits / temperature)`;
    /// refused, without calling the plugin, when its library does not
    /// declare the capability.
    pub fn tempered_log_likelihood(
        &mut self,
        batch: &Batch,
        temperature: f32,
    ) -> anyhow::Result<Vec<f32>> {
        if !self.tempered {
            bail!(
                "{} does not provide log-likelihoods at a temperature (the `{TEMPERED_LOG_LIKELIHOOD}` capability of plugin ABI 1.1); use a generator that declares it (`agon plugins show` lists capabilities), or evaluate at temperature 1",
                self.label
            );
        }
        let values = plugin_call(
            &self.label,
            "tempered log-likelihood",
            self.inner.tempered_log_likelihood(batch, temperature),
        )?;
        check_scores(
            &self.label,
            "tempered log-likelihood",
            &values,
            batch.targets.rows(),
        )?;
        Ok(values.into_vec())
    }

    pub fn sample(&mut self, request: &SampleRequest) -> anyhow::Result<TokenBatch> {
        let batch = plugin_call(&self.label, "sampling", self.inner.sample(request))?;
        check_batch(
            &self.label,
            "sampling",
            &batch,
            request.count as usize,
            self.vocab,
            self.max_len,
        )?;
        Ok(batch)
    }

    /// Greedy or beam decoding of `request.sources` (conditional tasks).
    pub fn decode(&mut self, request: &DecodeRequest) -> anyhow::Result<TokenBatch> {
        let batch = plugin_call(&self.label, "decoding", self.inner.decode(request))?;
        check_batch(
            &self.label,
            "decoding",
            &batch,
            request.sources.rows(),
            self.vocab,
            self.max_len,
        )?;
        Ok(batch)
    }

    pub fn rollout(&mut self, request: &RolloutRequest) -> anyhow::Result<TokenBatch> {
        let rows = request.jobs.len() * request.rollouts_per_job as usize;
        let batch = plugin_call(&self.label, "rollout", self.inner.rollout(request))?;
        check_batch(
            &self.label,
            "rollout",
            &batch,
            rows,
            self.vocab,
            self.max_len,
        )?;
        Ok(batch)
    }

    pub fn policy_gradient_step(
        &mut self,
        batch: &Batch,
        rewards: &[f32],
        options: &StepOptions,
    ) -> anyhow::Result<StepStats> {
        let stats = plugin_call(
            &self.label,
            "policy-gradient step",
            self.inner
                .policy_gradient_step(batch, RSlice::from_slice(rewards), options),
        )?;
        check_scores(&self.label, "policy-gradient loss", &[stats.loss], 1)?;
        Ok(stats)
    }

    pub fn update_rollout_policy(&mut self, rate: f32) -> anyhow::Result<()> {
        plugin_call(
            &self.label,
            "rollout-policy update",
            self.inner.update_rollout_policy(rate),
        )
    }

    pub fn parameter_count(&self) -> u64 {
        self.inner.parameter_count()
    }

    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        plugin_call(
            &self.label,
            "save",
            self.inner.save(RStr::from_str(&dir.to_string_lossy())),
        )
    }

    pub fn load(&mut self, dir: &Path) -> anyhow::Result<()> {
        plugin_call(
            &self.label,
            "load",
            self.inner.load(RStr::from_str(&dir.to_string_lossy())),
        )
    }
}

/// A discriminator component.
pub struct Discriminator {
    pub label: String,
    /// The config it was built with: the user's merged over the default.
    pub config_yaml: String,
    inner: DiscriminatorBox,
    /// Whether its library declares `token_logits` (ABI 1.1).
    token_logits: bool,
    /// Whether its library declares the relaxed methods (ABI 1.2).
    relaxed: bool,
}

impl Discriminator {
    pub fn new(
        resolved: &ResolvedComponent,
        spec: &ComponentSpec,
        place: &str,
        shared: &SharedContext,
        seed_offset: u64,
    ) -> anyhow::Result<Self> {
        let (label, config_yaml, inner) = construct(
            resolved,
            spec,
            place,
            shared,
            seed_offset,
            resolved.library.module.new_discriminator(),
        )?;
        let token_logits = resolved.library.declares(
            ComponentKind::Discriminator,
            &resolved.component.name,
            TOKEN_LOGITS,
        );
        let relaxed = resolved.library.declares(
            ComponentKind::Discriminator,
            &resolved.component.name,
            RELAXED_ROWS,
        );
        Ok(Discriminator {
            label,
            config_yaml,
            inner,
            token_logits,
            relaxed,
        })
    }

    /// Whether it scores every token ([`Self::token_logits`]).
    pub fn supports_token_logits(&self) -> bool {
        self.token_logits
    }

    /// One logit per real token of `batch`, row after row; refused,
    /// without calling the plugin, when its library does not declare it.
    pub fn token_logits(&mut self, batch: &Batch) -> anyhow::Result<Vec<f32>> {
        if !self.token_logits {
            bail!(
                "{} does not provide per-token scores (the `{TOKEN_LOGITS}` capability of plugin ABI 1.1)",
                self.label
            );
        }
        let values = plugin_call(
            &self.label,
            "per-token scoring",
            self.inner.token_logits(batch),
        )?;
        let tokens = batch.targets.token_count();
        if values.len() != tokens {
            bail!(
                "{}: per-token scoring returned {} values for {tokens} tokens (a bug in the plugin)",
                self.label,
                values.len()
            );
        }
        check_scores(&self.label, "per-token scoring", &values, tokens)?;
        Ok(values.into_vec())
    }

    pub fn train_step(
        &mut self,
        real: &Batch,
        generated: &Batch,
        options: &StepOptions,
    ) -> anyhow::Result<StepStats> {
        let stats = plugin_call(
            &self.label,
            "training step",
            self.inner.train_step(real, generated, options),
        )?;
        check_scores(&self.label, "training loss", &[stats.loss], 1)?;
        Ok(stats)
    }

    pub fn probabilities(&mut self, batch: &Batch) -> anyhow::Result<Vec<f32>> {
        let values = plugin_call(&self.label, "scoring", self.inner.probabilities(batch))?;
        check_scores(&self.label, "scoring", &values, batch.targets.rows())?;
        if let Some((i, bad)) = values
            .iter()
            .enumerate()
            .find(|(_, v)| !(0.0..=1.0).contains(*v))
        {
            bail!("{}: scoring returned probability {bad} for sequence {i}, outside [0, 1] (a bug in the plugin)", self.label);
        }
        Ok(values.into_vec())
    }

    pub fn parameter_count(&self) -> u64 {
        self.inner.parameter_count()
    }

    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        plugin_call(
            &self.label,
            "save",
            self.inner.save(RStr::from_str(&dir.to_string_lossy())),
        )
    }

    pub fn load(&mut self, dir: &Path) -> anyhow::Result<()> {
        plugin_call(
            &self.label,
            "load",
            self.inner.load(RStr::from_str(&dir.to_string_lossy())),
        )
    }
}

/// A reward component.
pub struct Reward {
    pub label: String,
    /// The config it was built with: the user's merged over the default.
    pub config_yaml: String,
    inner: RewardBox,
    pub needs_discriminator: bool,
}

impl Reward {
    pub fn new(
        resolved: &ResolvedComponent,
        spec: &ComponentSpec,
        place: &str,
        shared: &SharedContext,
        seed_offset: u64,
    ) -> anyhow::Result<Self> {
        let (label, config_yaml, inner) = construct(
            resolved,
            spec,
            place,
            shared,
            seed_offset,
            resolved.library.module.new_reward(),
        )?;
        let needs_discriminator = inner.needs_discriminator();
        Ok(Reward {
            label,
            config_yaml,
            inner,
            needs_discriminator,
        })
    }

    pub fn set_corpus(&mut self, corpus: &TokenBatch) -> anyhow::Result<()> {
        plugin_call(&self.label, "set_corpus", self.inner.set_corpus(corpus))
    }

    pub fn rewards(&mut self, input: &RewardInput) -> anyhow::Result<Vec<f32>> {
        let values = plugin_call(&self.label, "reward", self.inner.rewards(input))?;
        check_scores(&self.label, "reward", &values, input.sequences.rows())?;
        Ok(values.into_vec())
    }
}

#[cfg(test)]
mod config_error_tests {
    use super::*;
    use crate::config::ConfigOrigin;

    const MERGED: &str = "embedding_dim: 64\nhidden_dim: 3\noptimizer:\n  lr: fast\n";

    fn spec() -> ComponentSpec {
        ComponentSpec {
            plugin: "lab/d".into(),
            component: None,
            config: yaml::parse("{hidden_dim: 3}").unwrap(),
        }
    }

    fn origin(overrides: &[&str]) -> ConfigOrigin {
        ConfigOrigin {
            file: "exp.yaml".into(),
            text: "name: x\ndiscriminator:\n  plugin: lab/d\n  config:\n    hidden_dim: 3\n".into(),
            overrides: overrides.iter().map(|s| s.to_string()).collect(),
            plugin_switch_notes: Vec::new(),
        }
    }

    /// A serde error by the line it names, and a plugin's own check of a
    /// value (no line) by the one key of the user's it names: both at the
    /// user's line, or their `--set`.
    #[test]
    fn the_users_key_is_placed_in_their_file_or_their_set() {
        for (message, said) in [
            ("hidden_dim: too small at line 2 column 13", "too small"),
            (
                "hidden_dim must be at least 4, got 3",
                "hidden_dim must be at least 4, got 3",
            ),
        ] {
            let text = config_error("D", "discriminator", MERGED, message, &spec(), &origin(&[]));
            assert_eq!(
                text,
                format!("exp.yaml line 5: discriminator.config.hidden_dim: {said}; D rejected it")
            );
            let set = ["discriminator.config.hidden_dim=3"];
            let text = config_error(
                "D",
                "discriminator",
                MERGED,
                message,
                &spec(),
                &origin(&set),
            );
            assert!(
                text.starts_with(&format!(
                    "--set discriminator.config.hidden_dim=3: discriminator.config.hidden_dim: {said}"
                )),
                "{text}"
            );
        }
    }

    /// A plugin's check of two keys together is placed at both.
    #[test]
    fn a_check_of_two_keys_is_placed_at_each() {
        let spec = ComponentSpec {
            config: yaml::parse("{hidden_dim: 3, embedding_dim: 8}").unwrap(),
            ..spec()
        };
        let text = config_error(
            "D",
            "discriminator",
            MERGED,
            "hidden_dim must be below embedding_dim",
            &spec,
            &origin(&["discriminator.config.embedding_dim=8"]),
        );
        assert!(
            text.starts_with("exp.yaml line 5 (discriminator.config.hidden_dim), --set discriminator.config.embedding_dim=8 (discriminator.config.embedding_dim): D: invalid config: hidden_dim must be below embedding_dim"),
            "{text}"
        );
    }

    /// A component's unknown key gets its own layout's hint, not the
    /// host's (where a kit's training key goes among the host's keys).
    #[test]
    fn a_components_unknown_key_gets_its_own_layouts_hint() {
        let merged =
            "hidden_dim: 3\noptimizer:\n  lr: 0.01\ntraining:\n  optimizer:\n    lr: 0.1\n";
        let spec = ComponentSpec {
            config: yaml::parse("{optimizer: {lr: 0.01}}").unwrap(),
            ..spec()
        };
        let text = config_error(
            "D",
            "discriminator",
            merged,
            "unknown field `optimizer`, expected one of `hidden_dim`, `training` at line 2 column 1",
            &spec,
            &origin(&["discriminator.config.optimizer.lr=0.01"]),
        );
        assert!(
            text.starts_with("--set discriminator.config.optimizer.lr=0.01: "),
            "{text}"
        );
        assert!(text.contains("write it as `training.optimizer`"), "{text}");
        assert!(!text.contains("generator.config.training"), "{text}");
    }

    /// A key that only a `--set` below it made (a misplaced
    /// `optimizer.lr`) is that `--set`'s, not the file's.
    #[test]
    fn a_key_made_by_a_set_below_it_is_placed_at_that_set() {
        let set = origin(&["discriminator.config.optimizer.lr=0.01"]);
        assert_eq!(
            set.place_of(&["discriminator", "config", "optimizer"])
                .as_deref(),
            Some("--set discriminator.config.optimizer.lr=0.01")
        );
        assert_eq!(
            set.place_of(&["discriminator", "config", "hidden_dim"])
                .as_deref(),
            Some("exp.yaml line 5")
        );
        // Where the file has the key, the file made it.
        let below = origin(&["discriminator.config.hidden_dim.deeper=1"]);
        assert_eq!(
            below
                .place_of(&["discriminator", "config", "hidden_dim"])
                .as_deref(),
            Some("exp.yaml line 5")
        );
    }

    #[test]
    fn a_named_key_is_a_whole_name_and_the_only_one_named() {
        let config =
            yaml::parse("{hidden_dim: 3, embedding_dim: 8, training: {optimizer: {lr: 2.0}}}")
                .unwrap();
        let named = |message: &str| key_named_in(message, &config).map(|k| k.join("."));
        assert_eq!(
            named("lr must be below 1."),
            Some("training.optimizer.lr".into())
        );
        assert_eq!(
            named("training.optimizer.lr must be below 1"),
            Some("training.optimizer.lr".into())
        );
        assert_eq!(
            named("`embedding_dim` must be even, got 8"),
            Some("embedding_dim".into())
        );
        // Inside longer names, or none of the user's keys: nothing.
        assert_eq!(named("hidden_dims and max_lr are bad; clr too"), None);
        assert_eq!(named("dropout must be below 1"), None);
        // Two of the user's keys named: which one is wrong is not known.
        assert_eq!(named("embedding_dim and hidden_dim must be positive"), None);
        // A last segment two keys share names neither.
        let both = yaml::parse("{optimizer: {lr: 2.0}, adversarial_optimizer: {lr: 3.0}}").unwrap();
        assert_eq!(key_named_in("lr must be below 1", &both), None);
        assert_eq!(
            key_named_in("adversarial_optimizer.lr must be below 1", &both).map(|k| k.join(".")),
            Some("adversarial_optimizer.lr".into())
        );
        let text = config_error(
            "D",
            "discriminator",
            MERGED,
            "dropout must be below 1",
            &spec(),
            &origin(&[]),
        );
        assert!(
            text.starts_with("D: invalid config: dropout must be below 1 (the component's config"),
            "{text}"
        );
    }

    /// A key another plugin takes at the top and this one under a section
    /// (the seq2seq generator's `optimizer`, a kit generator's
    /// `training.optimizer`) is pointed at its place.
    #[test]
    fn an_unknown_key_this_component_has_deeper_is_pointed_there() {
        let merged =
            "hidden_dim: 3\noptimizer:\n  lr: 0.1\ntraining:\n  optimizer:\n    lr: 0.01\n";
        let spec = ComponentSpec {
            plugin: "lab/d".into(),
            component: None,
            config: yaml::parse("{hidden_dim: 3, optimizer: {lr: 0.1}}").unwrap(),
        };
        let message = "unknown field `optimizer`, expected one of `hidden_dim`, `training` at line 2 column 1";
        let text = config_error("D", "discriminator", merged, message, &spec, &origin(&[]));
        assert!(
            text.contains(
                "this component has `optimizer` under `training`: write it as `training.optimizer`"
            ),
            "{text}"
        );
        // A close name is suggested instead; a field found nowhere deeper
        // gets nothing more.
        assert_eq!(
            nested_home(
                "unknown field `traning`, expected one of `training`; did you mean `training`?",
                merged,
                None
            ),
            None
        );
        assert_eq!(
            nested_home(
                "unknown field `momentum`, expected one of `lr`",
                merged,
                None
            ),
            None
        );
    }

    /// The other way round: a kit component's `training:` section given to
    /// a component with its training keys at the top.
    #[test]
    fn a_section_whose_keys_this_component_has_higher_is_pointed_there() {
        let merged = "hidden_dim: 3\noptimizer:\n  lr: 0.001\ngrad_clip: 5.0\ntraining:\n  optimizer:\n    lr: 0.01\n";
        let spec = ComponentSpec {
            plugin: "agon/g".into(),
            component: None,
            config: yaml::parse("{training: {optimizer: {lr: 0.01}}}").unwrap(),
        };
        let message = "training: unknown field `training`, expected one of `hidden_dim`, `optimizer`, `grad_clip` at line 5 column 1";
        let text = config_error("G", "generator", merged, message, &spec, &origin(&[]));
        assert!(
            text.contains("this component has `optimizer` at the top of its config, not under `training`: write `training.optimizer` as `optimizer`"),
            "{text}"
        );
        // A section with a key the component has nowhere gets nothing more.
        let odd = yaml::parse("{training: {momentum: 0.9}}").unwrap();
        assert_eq!(
            flattened_home(
                "unknown field `training`",
                "hidden_dim: 3\ntraining:\n  momentum: 0.9\n",
                &odd,
                Some(&["training".to_string()])
            ),
            None
        );
    }

    #[test]
    fn a_key_the_user_did_not_set_is_blamed_on_the_default() {
        let message =
            "optimizer.lr: invalid type: string \"fast\", expected f32 at line 4 column 7";
        let text = config_error("D", "discriminator", MERGED, message, &spec(), &origin(&[]));
        assert!(
            text.starts_with("discriminator.config.optimizer.lr: invalid type: string \"fast\", expected a number;")
                && text.contains("comes from D's default config, not from your config"),
            "{text}"
        );
    }
}
