//! What a plugin author implements, and the guards that make it ABI-safe.
//!
//! Implement [`GeneratorImpl`], [`DiscriminatorImpl`] and/or [`RewardImpl`]
//! with ordinary Rust types, describe the library with [`PluginLibrary`] and
//! export it with [`crate::export_plugin!`]. The SDK then:
//!
//! * catches every panic inside your code and returns it to the host as a
//!   [`PluginError`] of kind [`ErrorKind::Panic`] (an uncaught panic crossing
//!   an `extern "C"` boundary would abort the host);
//! * *poisons* a component after it panicked: its later calls return
//!   [`ErrorKind::Poisoned`], because its state may be half-updated;
//! * validates every incoming batch (shapes, ids inside the vocabulary,
//!   reward lengths, rollout jobs), so your code can index without checks.

use std::{
    any::Any,
    cell::{Cell, RefCell},
    panic::{catch_unwind, AssertUnwindSafe},
    path::Path,
    sync::{Mutex, Once},
};

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{RBox, ROption, RResult, RSlice, RStr, RVec},
};

use crate::{
    abi_version::ABI_VERSION,
    batch::{Batch, TokenBatch},
    capabilities::{self, ComponentCapabilities, SourceDeclaration},
    context::PluginContext,
    discriminator::{Discriminator, DiscriminatorBox, Discriminator_TO},
    error::{ErrorKind, PluginError, PluginResult},
    generator::{
        DecodeRequest, Generator, GeneratorBox, Generator_TO, MleOptions, RolloutRequest,
        SampleRequest,
    },
    manifest::{ComponentInfo, ComponentKind, Manifest},
    relaxed::{PairedRows, RelaxedBatch, RelaxedSampleRequest, RelaxedSamples},
    reward::{Reward, RewardBox, RewardInput, Reward_TO},
    root_module::{AgonPlugin, AgonPluginRef},
    stats::{StepOptions, StepStats},
};

/// A generator, in plain Rust. See [`crate::Generator`] for each method's contract.
pub trait GeneratorImpl: Send + 'static {
    /// Teacher-forced MLE step; returns the mean per-token NLL as the loss.
    fn mle_step(&mut self, batch: &Batch, options: &MleOptions) -> PluginResult<StepStats>;
    /// Per-sequence log-likelihood in nats.
    fn log_likelihood(&mut self, batch: &Batch) -> PluginResult<Vec<f32>>;
    /// Ancestral sampling.
    fn sample(&mut self, request: &SampleRequest) -> PluginResult<TokenBatch>;
    /// Greedy / beam decoding. Unconditional generators need not implement it.
    fn decode(&mut self, _request: &DecodeRequest) -> PluginResult<TokenBatch> {
        Err(PluginError::unsupported(
            "this generator does not implement decoding; conditional tasks (translation, summarization, dialogue) need a generator that decodes sources, e.g. agon/seq2seq-generator",
        ))
    }
    /// Monte-Carlo completion of prefixes; `jobs × rollouts` rows, job-major.
    fn rollout(&mut self, request: &RolloutRequest) -> PluginResult<TokenBatch>;
    /// REINFORCE step from per-token rewards (`rows × width`).
    fn policy_gradient_step(
        &mut self,
        batch: &Batch,
        rewards: &[f32],
        options: &StepOptions,
    ) -> PluginResult<StepStats>;
    /// `rollout ← rate · rollout + (1 − rate) · generator`.
    fn update_rollout_policy(&mut self, rate: f32) -> PluginResult<()>;
    /// Number of trainable parameters.
    fn parameter_count(&self) -> u64;
    /// Saves weights and optimiser state into the directory `dir`.
    fn save(&self, dir: &Path) -> PluginResult<()>;
    /// Loads what `save` wrote.
    fn load(&mut self, dir: &Path) -> PluginResult<()>;
    /// Per-sequence log-likelihood under `softmax(logits / temperature)`
    /// (since ABI 1.1). Optional: implement it and declare
    /// [`crate::capabilities::TEMPERED_LOG_LIKELIHOOD`] in
    /// [`PluginLibrary::capabilities`]; `agon eval` then reports NLL-test at
    /// each sampling temperature.
    fn tempered_log_likelihood(
        &mut self,
        _batch: &Batch,
        _temperature: f32,
    ) -> PluginResult<Vec<f32>> {
        Err(PluginError::unsupported(
            "this generator does not implement tempered_log_likelihood; NLL-test at a temperature needs it (declare the `tempered-log-likelihood` capability when you implement it)",
        ))
    }
    /// Gumbel-softmax samples (since ABI 1.2); see
    /// [`crate::Generator::relaxed_sample`]. Optional: implement it with
    /// [`Self::relaxed_policy_step`] and declare
    /// [`crate::capabilities::RELAXED_SAMPLES`]; `algorithm: gumbel` then
    /// trains the generator through the discriminator. The generator kit
    /// does all three for every model.
    fn relaxed_sample(&mut self, _request: &RelaxedSampleRequest) -> PluginResult<RelaxedSamples> {
        Err(PluginError::unsupported(
            "this generator does not implement relaxed_sample; `algorithm: gumbel` needs it (declare the `relaxed-samples` capability when you implement it)",
        ))
    }
    /// A step along the host loss's gradient with respect to the relaxed
    /// rows `request` draws (since ABI 1.2); see
    /// [`crate::Generator::relaxed_policy_step`].
    fn relaxed_policy_step(
        &mut self,
        _request: &RelaxedSampleRequest,
        _gradient: &[f32],
        _options: &StepOptions,
    ) -> PluginResult<StepStats> {
        Err(PluginError::unsupported(
            "this generator does not implement relaxed_policy_step; `algorithm: gumbel` needs it (declare the `relaxed-samples` capability when you implement it)",
        ))
    }
}

/// A discriminator, in plain Rust. See [`crate::Discriminator`].
pub trait DiscriminatorImpl: Send + 'static {
    /// One step on real (label 1) vs generated (label 0).
    fn train_step(
        &mut self,
        real: &Batch,
        generated: &Batch,
        options: &StepOptions,
    ) -> PluginResult<StepStats>;
    /// `P(real)` per row, evaluation mode.
    fn probabilities(&mut self, batch: &Batch) -> PluginResult<Vec<f32>>;
    /// Number of trainable parameters.
    fn parameter_count(&self) -> u64;
    /// Saves weights and optimiser state into the directory `dir`.
    fn save(&self, dir: &Path) -> PluginResult<()>;
    /// Loads what `save` wrote.
    fn load(&mut self, dir: &Path) -> PluginResult<()>;
    /// One logit per real token, row after row (since ABI 1.1). Optional:
    /// implement it and declare [`crate::capabilities::TOKEN_LOGITS`] in
    /// [`PluginLibrary::capabilities`]; the host's `credit: dense` then
    /// rewards every token with it. The kit does both for a model with
    /// per-token logits.
    fn token_logits(&mut self, _batch: &Batch) -> PluginResult<Vec<f32>> {
        Err(PluginError::unsupported(
            "this discriminator scores whole sequences only: it does not implement token_logits (declare the `token-logits` capability when you implement it)",
        ))
    }
    /// Whether this discriminator's relaxed methods check every value of
    /// each batch they take themselves, refusing one that is not finite
    /// with [`crate::relaxed::check_finite`]'s error (a
    /// [`PluginError::numerical`]). The SDK checks each batch's shape
    /// either way, and its values too unless this says `true`: a batch is
    /// tens of megabytes, and a method that copies or compares it anyway
    /// can check it in the same pass. Default `false`. The kit checks
    /// them itself.
    fn checks_relaxed_values(&self) -> bool {
        false
    }
    /// Logits of relaxed rows (since ABI 1.2); see
    /// [`crate::Discriminator::relaxed_logits`]. Optional: implement it with
    /// [`Self::relaxed_input_gradient`] and [`Self::relaxed_train_step`] and
    /// declare [`crate::capabilities::RELAXED_ROWS`]; `algorithm: gumbel`
    /// then trains with this discriminator. The kit does all four for a
    /// model with `relaxed_logits`.
    fn relaxed_logits(
        &mut self,
        _batch: &RelaxedBatch,
        _dropout_seed: Option<u64>,
    ) -> PluginResult<Vec<f32>> {
        Err(PluginError::unsupported(
            "this discriminator reads ids only: it does not implement relaxed_logits; `algorithm: gumbel` needs it (declare the `relaxed-rows` capability when you implement it)",
        ))
    }
    /// The host loss's gradient with respect to the relaxed rows (since ABI
    /// 1.2); see [`crate::Discriminator::relaxed_input_gradient`].
    fn relaxed_input_gradient(
        &mut self,
        _batch: &RelaxedBatch,
        _upstream: &[f32],
        _dropout_seed: Option<u64>,
    ) -> PluginResult<Vec<f32>> {
        Err(PluginError::unsupported(
            "this discriminator reads ids only: it does not implement relaxed_input_gradient; `algorithm: gumbel` needs it (declare the `relaxed-rows` capability when you implement it)",
        ))
    }
    /// A step along the host loss's gradient with respect to the logits
    /// (since ABI 1.2); see [`crate::Discriminator::relaxed_train_step`].
    fn relaxed_train_step(
        &mut self,
        _batch: &RelaxedBatch,
        _upstream: &[f32],
        _options: &StepOptions,
    ) -> PluginResult<StepStats> {
        Err(PluginError::unsupported(
            "this discriminator reads ids only: it does not implement relaxed_train_step; `algorithm: gumbel` needs it (declare the `relaxed-rows` capability when you implement it)",
        ))
    }
    /// Logits of a step's paired rows, real ones first (since ABI 1.3); see
    /// [`crate::Discriminator::paired_logits`]. Default: the rows joined
    /// into one relaxed batch ([`PairedRows::joined`]) and
    /// [`Self::relaxed_logits`], which is always right; override the three
    /// `paired_*` methods to spare that batch's one-hot real rows. The kit
    /// does.
    fn paired_logits(
        &mut self,
        rows: &PairedRows,
        dropout_seed: Option<u64>,
    ) -> PluginResult<Vec<f32>> {
        let joined = rows.joined_over_own_vocab()?;
        self.relaxed_logits(&joined, dropout_seed)
    }
    /// The host loss's gradient with respect to the generated rows of a
    /// step's paired rows (since ABI 1.3); see
    /// [`crate::Discriminator::paired_input_gradient`]. Default: the
    /// generated rows' part of [`Self::relaxed_input_gradient`] on the
    /// joined rows.
    fn paired_input_gradient(
        &mut self,
        rows: &PairedRows,
        upstream: &[f32],
        dropout_seed: Option<u64>,
    ) -> PluginResult<Vec<f32>> {
        let joined = rows.joined_over_own_vocab()?;
        let gradient = self.relaxed_input_gradient(&joined, upstream, dropout_seed)?;
        rows.generated_part(gradient)
    }
    /// A step along the host loss's gradient with respect to the logits of
    /// a step's paired rows (since ABI 1.3); see
    /// [`crate::Discriminator::paired_train_step`]. Default:
    /// [`Self::relaxed_train_step`] on the joined rows.
    fn paired_train_step(
        &mut self,
        rows: &PairedRows,
        upstream: &[f32],
        options: &StepOptions,
    ) -> PluginResult<StepStats> {
        let joined = rows.joined_over_own_vocab()?;
        self.relaxed_train_step(&joined, upstream, options)
    }
}

/// A reward function, in plain Rust. See [`crate::Reward`].
pub trait RewardImpl: Send + 'static {
    /// Whether `input.discriminator` must be filled in.
    fn needs_discriminator(&self) -> bool;
    /// Receives the training corpus once before training. Default: ignore it.
    fn set_corpus(&mut self, _corpus: &TokenBatch) -> PluginResult<()> {
        Ok(())
    }
    /// One reward per row.
    fn rewards(&mut self, input: &RewardInput) -> PluginResult<Vec<f32>>;
}

/// Describes a plugin library: who made it and how to build its components.
///
/// ```text
/// struct MyLibrary;
/// impl agon_sdk::PluginLibrary for MyLibrary {
///     const NAMESPACE: &'static str = "my-lab";
///     const NAME: &'static str = "my-discriminators";
///     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
///     fn components() -> Vec<agon_sdk::ComponentInfo> { /* … */ }
///     fn new_discriminator(name: &str, ctx: &agon_sdk::PluginContext)
///         -> agon_sdk::PluginResult<Box<dyn agon_sdk::DiscriminatorImpl>> { /* … */ }
/// }
/// agon_sdk::export_plugin!(MyLibrary);
/// ```
pub trait PluginLibrary {
    /// Team or lab, e.g. `seqgan-lab`.
    const NAMESPACE: &'static str;
    /// Library name, e.g. `cnn-discriminator`.
    const NAME: &'static str;
    /// Semver version; usually `env!("CARGO_PKG_VERSION")`.
    const VERSION: &'static str;

    /// The components this library provides.
    fn components() -> Vec<ComponentInfo>;

    /// Builds the generator `name`.
    fn new_generator(name: &str, _context: &PluginContext) -> PluginResult<Box<dyn GeneratorImpl>> {
        Err(unknown_component::<Self>(ComponentKind::Generator, name))
    }

    /// Builds the discriminator `name`.
    fn new_discriminator(
        name: &str,
        _context: &PluginContext,
    ) -> PluginResult<Box<dyn DiscriminatorImpl>> {
        Err(unknown_component::<Self>(
            ComponentKind::Discriminator,
            name,
        ))
    }

    /// Builds the reward `name`.
    fn new_reward(name: &str, _context: &PluginContext) -> PluginResult<Box<dyn RewardImpl>> {
        Err(unknown_component::<Self>(ComponentKind::Reward, name))
    }
    /// The optional methods each component implements (since ABI 1.1), e.g.
    /// `ComponentCapabilities::new(ComponentKind::Generator, "lstm",
    /// &[capabilities::TEMPERED_LOG_LIKELIHOOD])`. Default: none.
    fn capabilities() -> Vec<ComponentCapabilities> {
        Vec::new()
    }
}

/// The error for a component name the library does not have.
pub fn unknown_component<L: PluginLibrary + ?Sized>(
    kind: ComponentKind,
    name: &str,
) -> PluginError {
    let known: Vec<String> = L::components()
        .into_iter()
        .filter(|c| c.kind == kind)
        .map(|c| c.name.into_string())
        .collect();
    PluginError::config(format!(
        "{}/{} has no {kind} named `{name}` (it has: {})",
        L::NAMESPACE,
        L::NAME,
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    ))
}

impl ComponentInfo {
    /// Describes a component whose default config is `default_config`
    /// (serialised to YAML).
    pub fn new<C: serde::Serialize>(
        kind: ComponentKind,
        name: &str,
        description: &str,
        default_config: &C,
    ) -> Self {
        ComponentInfo {
            kind,
            name: name.into(),
            description: description.into(),
            default_config_yaml: crate::yaml::to_string(default_config)
                .unwrap_or_default()
                .into(),
        }
    }

    /// Like [`ComponentInfo::new`], with one line of documentation per key of
    /// the default config: `docs` maps a dotted key path (`hidden_dim`,
    /// `optimizer.lr`) to its text, written as a `# …` comment line above
    /// the key (see [`crate::config_docs`]). `agon plugins show` prints
    /// them; parsers ignore them.
    ///
    /// Nothing fails here: test every component with
    /// [`ComponentInfo::check_config_docs`], which reports keys without a
    /// doc and docs for keys the config does not have.
    pub fn documented<C: serde::Serialize>(
        kind: ComponentKind,
        name: &str,
        description: &str,
        default_config: &C,
        docs: &[(&str, &str)],
    ) -> Self {
        let mut info = Self::new(kind, name, description, default_config);
        info.default_config_yaml = crate::config_docs::document(&info.default_config_yaml, docs)
            .text
            .into();
        info
    }

    /// `Ok` when every key of the default config has a doc line and every
    /// doc names a key; otherwise a message naming the component and each
    /// problem. For plugins' tests:
    /// `for c in MyLibrary::components() { c.check_config_docs().unwrap() }`.
    pub fn check_config_docs(&self) -> Result<(), String> {
        crate::config_docs::check(&self.default_config_yaml)
            .map_err(|problems| format!("{} `{}`: {problems}", self.kind, self.name))
    }
}

// ---------------------------------------------------------------------------
// Panic guard

thread_local! {
    static LAST_PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
    /// How many guarded calls this thread is inside.
    static GUARDED_CALLS: Cell<u32> = const { Cell::new(0) };
}

/// Replaces the panic hook (of this library's copy of std) with one that,
/// inside a guarded call, records the location instead of printing: the
/// message reaches the user through the host, once, as an error. Panics
/// outside guarded calls (a failed assertion of a plugin's own tests, or
/// of the contract in [`crate::testing`]) go to the hook that was there
/// before, so they print as usual.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARDED_CALLS.with(Cell::get) == 0 {
                return previous(info);
            }
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()));
            LAST_PANIC_LOCATION.with(|slot| *slot.borrow_mut() = location);
        }));
    });
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    };
    match LAST_PANIC_LOCATION.with(|slot| slot.borrow_mut().take()) {
        Some(location) => format!("plugin panicked at {location}: {text}"),
        None => format!("plugin panicked: {text}"),
    }
}

/// Runs `f`, turning a panic into a [`ErrorKind::Panic`] error.
pub fn catch_panic<R>(f: impl FnOnce() -> PluginResult<R>) -> PluginResult<R> {
    install_panic_hook();
    // A location left by a panic caught elsewhere on this thread (a job of
    // another caller's that this thread ran as a rayon worker) is not this
    // call's.
    LAST_PANIC_LOCATION.with(|slot| slot.borrow_mut().take());
    GUARDED_CALLS.with(|calls| calls.set(calls.get() + 1));
    let caught = catch_unwind(AssertUnwindSafe(|| {
        #[cfg(feature = "candle")]
        crate::toolkit::worker_pool::join_if_main_thread();
        f()
    }));
    GUARDED_CALLS.with(|calls| calls.set(calls.get() - 1));
    match caught {
        Ok(result) => result,
        Err(payload) => Err(PluginError::new(ErrorKind::Panic, panic_message(payload))),
    }
}

/// A component behind the panic guard, with a poison flag, holding it to
/// what its library declares it reads.
struct Guarded<T: ?Sized> {
    poisoned: Mutex<Option<String>>,
    vocab_size: u32,
    /// Its `sources-*` declaration, if it has one.
    sources: Option<SourceDeclaration>,
    /// It declares `references-required`.
    references_required: bool,
    inner: Box<T>,
}

impl<T: ?Sized> Guarded<T> {
    /// A component that declares nothing about what it reads.
    fn new(inner: Box<T>, vocab_size: u32) -> Self {
        Guarded {
            poisoned: Mutex::new(None),
            vocab_size,
            sources: None,
            references_required: false,
            inner,
        }
    }

    /// Component `kind`/`name` of library `L`, held to `L`'s declarations.
    fn declared<L: PluginLibrary>(
        inner: Box<T>,
        kind: ComponentKind,
        name: &str,
        vocab_size: u32,
    ) -> Self {
        let declared = L::capabilities();
        Guarded {
            sources: SourceDeclaration::of(&declared, kind, name),
            references_required: capabilities::declares(
                &declared,
                kind,
                name,
                capabilities::REFERENCES_REQUIRED,
            ),
            ..Guarded::new(inner, vocab_size)
        }
    }

    /// Refuses rows whose `sources` (present or not) contradict the
    /// declaration, so the component's own code never sees them.
    fn check_sources<S>(&self, sources: &ROption<S>) -> PluginResult<()> {
        let present = sources.is_some();
        match self.sources {
            Some(declared) if !declared.accepts(present) => Err(PluginError::input(format!(
                "this component declares `{}`, but the rows {} sources",
                declared.capability(),
                if present { "have" } else { "have no" }
            ))),
            _ => Ok(()),
        }
    }

    fn check_poison(&self) -> PluginResult<()> {
        match &*self.poisoned.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(message) => Err(PluginError::new(
                ErrorKind::Poisoned,
                format!("this component panicked earlier and its state cannot be trusted ({message}); construct it again"),
            )),
            None => Ok(()),
        }
    }

    fn poison_on_panic<R>(&self, result: PluginResult<R>) -> RResult<R, PluginError> {
        if let Err(e) = &result {
            if e.kind() == ErrorKind::Panic {
                *self.poisoned.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(e.message().to_string());
            }
        }
        result.into()
    }

    fn call<R>(
        &mut self,
        f: impl FnOnce(&mut T, u32) -> PluginResult<R>,
    ) -> RResult<R, PluginError> {
        if let Err(e) = self.check_poison() {
            return RResult::RErr(e);
        }
        let vocab = self.vocab_size;
        let inner = &mut *self.inner;
        let result = catch_panic(|| f(inner, vocab));
        self.poison_on_panic(result)
    }

    /// [`Self::call`] for rows with `sources`, checked against the
    /// declaration first.
    fn call_with_sources<R, S>(
        &mut self,
        sources: &ROption<S>,
        f: impl FnOnce(&mut T, u32) -> PluginResult<R>,
    ) -> RResult<R, PluginError> {
        match self.check_sources(sources) {
            Ok(()) => self.call(f),
            Err(e) => RResult::RErr(e),
        }
    }

    fn call_ref<R>(&self, f: impl FnOnce(&T) -> PluginResult<R>) -> RResult<R, PluginError> {
        if let Err(e) = self.check_poison() {
            return RResult::RErr(e);
        }
        let result = catch_panic(|| f(&self.inner));
        self.poison_on_panic(result)
    }
}

fn validate_rewards(batch: &Batch, rewards: &[f32]) -> PluginResult<()> {
    let expected = batch.targets.ids.len();
    if rewards.len() != expected {
        return Err(PluginError::input(format!(
            "{} rewards for a {}×{} batch (one per token position expected)",
            rewards.len(),
            batch.targets.rows(),
            batch.targets.width
        )));
    }
    Ok(())
}

fn validate_sources(sources: &ROption<TokenBatch>, rows: usize, vocab: u32) -> PluginResult<()> {
    if let ROption::RSome(sources) = sources {
        sources.validate(vocab, "sources")?;
        if sources.rows() != rows {
            return Err(PluginError::input(format!(
                "{} source rows for {rows} requested sequences",
                sources.rows()
            )));
        }
    }
    Ok(())
}

fn validate_rollout(request: &RolloutRequest, vocab: u32) -> PluginResult<()> {
    request.sequences.validate(vocab, "rollout sequences")?;
    validate_sources(&request.sources, request.sequences.rows(), vocab)?;
    if request.rollouts_per_job == 0 {
        return Err(PluginError::input("rollouts_per_job must be at least 1"));
    }
    for (i, job) in request.jobs.iter().enumerate() {
        let row = job.row as usize;
        if row >= request.sequences.rows() {
            return Err(PluginError::input(format!(
                "rollout job {i} names row {row} of a {}-row batch",
                request.sequences.rows()
            )));
        }
        let len = request.sequences.lengths[row];
        if job.prefix_len == 0 || job.prefix_len > len || job.prefix_len > request.max_len {
            return Err(PluginError::input(format!(
                "rollout job {i}: prefix length {} not in 1..={len}",
                job.prefix_len
            )));
        }
    }
    Ok(())
}

fn validate_temperature(temperature: f32) -> PluginResult<()> {
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err(PluginError::input(format!(
            "temperature must be a positive finite number, got {temperature}"
        )));
    }
    Ok(())
}

fn validate_relaxed_request(request: &RelaxedSampleRequest, vocab: u32) -> PluginResult<()> {
    let beta = request.inverse_temperature;
    if !(beta.is_finite() && beta > 0.0) {
        return Err(PluginError::input(format!(
            "inverse temperature must be a positive finite number, got {beta}"
        )));
    }
    validate_sources(&request.sources, request.count as usize, vocab)
}

/// A relaxed batch from the host: its shape and sources, and its values
/// unless `values_checked_by_plugin`
/// ([`DiscriminatorImpl::checks_relaxed_values`]).
fn validate_relaxed_batch(
    batch: &RelaxedBatch,
    vocab: u32,
    values_checked_by_plugin: bool,
) -> PluginResult<()> {
    if values_checked_by_plugin {
        batch.validate_shape(vocab)?;
    } else {
        batch.validate(vocab)?;
    }
    validate_sources(&batch.sources, batch.rows(), vocab)
}

/// A step's paired rows from the host: their shape and sources, and the
/// generated rows' values unless `values_checked_by_plugin`.
fn validate_paired_rows(
    rows: &PairedRows,
    vocab: u32,
    values_checked_by_plugin: bool,
) -> PluginResult<()> {
    rows.validate_shape(vocab)?;
    if !values_checked_by_plugin {
        crate::relaxed::check_finite(&rows.generated.soft)?;
    }
    validate_sources(&rows.generated.sources, rows.pairs(), vocab)
}

/// A gradient from the host: `expected` finite values, one per `what`.
fn validate_gradient(gradient: &[f32], expected: usize, what: &str) -> PluginResult<()> {
    if gradient.len() != expected {
        return Err(PluginError::input(format!(
            "{} gradient values, {expected} expected (one per {what})",
            gradient.len()
        )));
    }
    if let Some((_, bad)) = crate::relaxed::first_non_finite(gradient) {
        return Err(PluginError::numerical(format!(
            "gradient value {bad} is not finite; nothing was computed"
        )));
    }
    Ok(())
}

impl Generator for Guarded<dyn GeneratorImpl> {
    fn mle_step(&mut self, batch: &Batch, options: &MleOptions) -> RResult<StepStats, PluginError> {
        self.call_with_sources(&batch.sources, |g, vocab| {
            batch.validate(vocab)?;
            g.mle_step(batch, options)
        })
    }

    fn log_likelihood(&mut self, batch: &Batch) -> RResult<RVec<f32>, PluginError> {
        self.call_with_sources(&batch.sources, |g, vocab| {
            batch.validate(vocab)?;
            g.log_likelihood(batch).map(RVec::from)
        })
    }

    fn sample(&mut self, request: &SampleRequest) -> RResult<TokenBatch, PluginError> {
        self.call_with_sources(&request.sources, |g, vocab| {
            validate_temperature(request.temperature)?;
            validate_sources(&request.sources, request.count as usize, vocab)?;
            g.sample(request)
        })
    }

    fn decode(&mut self, request: &DecodeRequest) -> RResult<TokenBatch, PluginError> {
        self.call(|g, vocab| {
            request.sources.validate(vocab, "sources")?;
            if request.beam_size == 0 {
                return Err(PluginError::input("beam_size must be at least 1"));
            }
            g.decode(request)
        })
    }

    fn rollout(&mut self, request: &RolloutRequest) -> RResult<TokenBatch, PluginError> {
        self.call_with_sources(&request.sources, |g, vocab| {
            validate_temperature(request.temperature)?;
            validate_rollout(request, vocab)?;
            g.rollout(request)
        })
    }

    fn policy_gradient_step(
        &mut self,
        batch: &Batch,
        rewards: RSlice<'_, f32>,
        options: &StepOptions,
    ) -> RResult<StepStats, PluginError> {
        self.call_with_sources(&batch.sources, |g, vocab| {
            batch.validate(vocab)?;
            validate_rewards(batch, rewards.as_slice())?;
            g.policy_gradient_step(batch, rewards.as_slice(), options)
        })
    }

    fn update_rollout_policy(&mut self, rate: f32) -> RResult<(), PluginError> {
        self.call(|g, _| {
            if !(0.0..=1.0).contains(&rate) {
                return Err(PluginError::input(format!(
                    "rollout update rate must be in [0, 1], got {rate}"
                )));
            }
            g.update_rollout_policy(rate)
        })
    }

    fn parameter_count(&self) -> u64 {
        self.call_ref(|g| Ok(g.parameter_count())).unwrap_or(0)
    }

    fn save(&self, dir: RStr<'_>) -> RResult<(), PluginError> {
        self.call_ref(|g| g.save(Path::new(dir.as_str())))
    }

    fn load(&mut self, dir: RStr<'_>) -> RResult<(), PluginError> {
        self.call(|g, _| g.load(Path::new(dir.as_str())))
    }

    fn tempered_log_likelihood(
        &mut self,
        batch: &Batch,
        temperature: f32,
    ) -> RResult<RVec<f32>, PluginError> {
        self.call_with_sources(&batch.sources, |g, vocab| {
            batch.validate(vocab)?;
            validate_temperature(temperature)?;
            g.tempered_log_likelihood(batch, temperature)
                .map(RVec::from)
        })
    }

    fn relaxed_sample(
        &mut self,
        request: &RelaxedSampleRequest,
    ) -> RResult<RelaxedSamples, PluginError> {
        self.call_with_sources(&request.sources, |g, vocab| {
            validate_relaxed_request(request, vocab)?;
            let samples = g.relaxed_sample(request)?;
            let expected = request.count as usize * request.max_len as usize * vocab as usize;
            if samples.ids.rows() != request.count as usize || samples.soft.len() != expected {
                return Err(PluginError::other(format!(
                    "relaxed_sample returned {} rows and {} relaxed values for {} rows × {} positions × {vocab} ids",
                    samples.ids.rows(),
                    samples.soft.len(),
                    request.count,
                    request.max_len
                )));
            }
            Ok(samples)
        })
    }

    fn relaxed_policy_step(
        &mut self,
        request: &RelaxedSampleRequest,
        gradient: RSlice<'_, f32>,
        options: &StepOptions,
    ) -> RResult<StepStats, PluginError> {
        self.call_with_sources(&request.sources, |g, vocab| {
            validate_relaxed_request(request, vocab)?;
            let expected = request.count as usize * request.max_len as usize * vocab as usize;
            validate_gradient(gradient.as_slice(), expected, "relaxed value")?;
            g.relaxed_policy_step(request, gradient.as_slice(), options)
        })
    }
}

impl Discriminator for Guarded<dyn DiscriminatorImpl> {
    fn train_step(
        &mut self,
        real: &Batch,
        generated: &Batch,
        options: &StepOptions,
    ) -> RResult<StepStats, PluginError> {
        if let Err(e) = self.check_sources(&generated.sources) {
            return RResult::RErr(e);
        }
        self.call_with_sources(&real.sources, |d, vocab| {
            real.validate(vocab)?;
            generated.validate(vocab)?;
            d.train_step(real, generated, options)
        })
    }

    fn probabilities(&mut self, batch: &Batch) -> RResult<RVec<f32>, PluginError> {
        self.call_with_sources(&batch.sources, |d, vocab| {
            batch.validate(vocab)?;
            d.probabilities(batch).map(RVec::from)
        })
    }

    fn parameter_count(&self) -> u64 {
        self.call_ref(|d| Ok(d.parameter_count())).unwrap_or(0)
    }

    fn save(&self, dir: RStr<'_>) -> RResult<(), PluginError> {
        self.call_ref(|d| d.save(Path::new(dir.as_str())))
    }

    fn load(&mut self, dir: RStr<'_>) -> RResult<(), PluginError> {
        self.call(|d, _| d.load(Path::new(dir.as_str())))
    }

    fn token_logits(&mut self, batch: &Batch) -> RResult<RVec<f32>, PluginError> {
        self.call_with_sources(&batch.sources, |d, vocab| {
            batch.validate(vocab)?;
            let logits = d.token_logits(batch)?;
            let tokens = batch.targets.token_count();
            if logits.len() != tokens {
                return Err(PluginError::other(format!(
                    "token_logits returned {} values for {tokens} real tokens",
                    logits.len()
                )));
            }
            Ok(RVec::from(logits))
        })
    }

    fn relaxed_logits(
        &mut self,
        batch: &RelaxedBatch,
        dropout_seed: ROption<u64>,
    ) -> RResult<RVec<f32>, PluginError> {
        self.call_with_sources(&batch.sources, |d, vocab| {
            validate_relaxed_batch(batch, vocab, d.checks_relaxed_values())?;
            let logits = d.relaxed_logits(batch, dropout_seed.into_option())?;
            if logits.len() != batch.rows() {
                return Err(PluginError::other(format!(
                    "relaxed_logits returned {} values for {} rows",
                    logits.len(),
                    batch.rows()
                )));
            }
            Ok(RVec::from(logits))
        })
    }

    fn relaxed_input_gradient(
        &mut self,
        batch: &RelaxedBatch,
        upstream: RSlice<'_, f32>,
        dropout_seed: ROption<u64>,
    ) -> RResult<RVec<f32>, PluginError> {
        self.call_with_sources(&batch.sources, |d, vocab| {
            validate_relaxed_batch(batch, vocab, d.checks_relaxed_values())?;
            validate_gradient(upstream.as_slice(), batch.rows(), "row's logit")?;
            let gradient =
                d.relaxed_input_gradient(batch, upstream.as_slice(), dropout_seed.into_option())?;
            if gradient.len() != batch.soft.len() {
                return Err(PluginError::other(format!(
                    "relaxed_input_gradient returned {} values for {} relaxed values",
                    gradient.len(),
                    batch.soft.len()
                )));
            }
            Ok(RVec::from(gradient))
        })
    }

    fn relaxed_train_step(
        &mut self,
        batch: &RelaxedBatch,
        upstream: RSlice<'_, f32>,
        options: &StepOptions,
    ) -> RResult<StepStats, PluginError> {
        self.call_with_sources(&batch.sources, |d, vocab| {
            validate_relaxed_batch(batch, vocab, d.checks_relaxed_values())?;
            validate_gradient(upstream.as_slice(), batch.rows(), "row's logit")?;
            d.relaxed_train_step(batch, upstream.as_slice(), options)
        })
    }

    fn paired_logits(
        &mut self,
        rows: &PairedRows,
        dropout_seed: ROption<u64>,
    ) -> RResult<RVec<f32>, PluginError> {
        self.call_with_sources(&rows.generated.sources, |d, vocab| {
            validate_paired_rows(rows, vocab, d.checks_relaxed_values())?;
            let logits = d.paired_logits(rows, dropout_seed.into_option())?;
            let expected = 2 * rows.pairs();
            if logits.len() != expected {
                return Err(PluginError::other(format!(
                    "paired_logits returned {} values for {expected} rows",
                    logits.len(),
                )));
            }
            Ok(RVec::from(logits))
        })
    }

    fn paired_input_gradient(
        &mut self,
        rows: &PairedRows,
        upstream: RSlice<'_, f32>,
        dropout_seed: ROption<u64>,
    ) -> RResult<RVec<f32>, PluginError> {
        self.call_with_sources(&rows.generated.sources, |d, vocab| {
            validate_paired_rows(rows, vocab, d.checks_relaxed_values())?;
            validate_gradient(upstream.as_slice(), 2 * rows.pairs(), "row's logit")?;
            let gradient =
                d.paired_input_gradient(rows, upstream.as_slice(), dropout_seed.into_option())?;
            if gradient.len() != rows.generated.soft.len() {
                return Err(PluginError::other(format!(
                    "paired_input_gradient returned {} values for {} generated relaxed values",
                    gradient.len(),
                    rows.generated.soft.len()
                )));
            }
            Ok(RVec::from(gradient))
        })
    }

    fn paired_train_step(
        &mut self,
        rows: &PairedRows,
        upstream: RSlice<'_, f32>,
        options: &StepOptions,
    ) -> RResult<StepStats, PluginError> {
        self.call_with_sources(&rows.generated.sources, |d, vocab| {
            validate_paired_rows(rows, vocab, d.checks_relaxed_values())?;
            validate_gradient(upstream.as_slice(), 2 * rows.pairs(), "row's logit")?;
            d.paired_train_step(rows, upstream.as_slice(), options)
        })
    }
}

impl Reward for Guarded<dyn RewardImpl> {
    fn needs_discriminator(&self) -> bool {
        self.call_ref(|r| Ok(r.needs_discriminator()))
            .unwrap_or(false)
    }

    fn set_corpus(&mut self, corpus: &TokenBatch) -> RResult<(), PluginError> {
        self.call(|r, vocab| {
            corpus.validate(vocab, "corpus")?;
            r.set_corpus(corpus)
        })
    }

    fn rewards(&mut self, input: &RewardInput) -> RResult<RVec<f32>, PluginError> {
        if self.references_required && input.references.is_none() {
            return RResult::RErr(PluginError::input(
                "this reward declares `references-required`, but the request has no references",
            ));
        }
        self.call_with_sources(&input.sources, |r, vocab| {
            input.sequences.validate(vocab, "sequences")?;
            let rows = input.sequences.rows();
            validate_sources(&input.sources, rows, vocab)?;
            if let ROption::RSome(references) = &input.references {
                references.validate(vocab, "references")?;
            }
            if let ROption::RSome(scores) = &input.discriminator {
                if scores.len() != rows {
                    return Err(PluginError::input(format!(
                        "{} discriminator scores for {rows} sequences",
                        scores.len()
                    )));
                }
            }
            r.rewards(input).map(RVec::from)
        })
    }
}

// ---------------------------------------------------------------------------
// Root module

extern "C" fn manifest_fn<L: PluginLibrary>() -> RResult<Manifest, PluginError> {
    catch_panic(|| {
        Ok(Manifest {
            namespace: L::NAMESPACE.into(),
            name: L::NAME.into(),
            version: L::VERSION.into(),
            sdk_abi: ABI_VERSION,
            devices: crate::supported_devices()
                .into_iter()
                .map(Into::into)
                .collect(),
            components: L::components().into(),
        })
    })
    .into()
}

extern "C" fn capabilities_fn<L: PluginLibrary>(
) -> RResult<RVec<ComponentCapabilities>, PluginError> {
    catch_panic(|| Ok(RVec::from(L::capabilities()))).into()
}

extern "C" fn new_generator_fn<L: PluginLibrary>(
    name: RStr<'_>,
    context: &PluginContext,
) -> RResult<GeneratorBox, PluginError> {
    catch_panic(|| L::new_generator(name.as_str(), context))
        .map(|inner| {
            let guarded: Guarded<dyn GeneratorImpl> = Guarded::declared::<L>(
                inner,
                ComponentKind::Generator,
                name.as_str(),
                context.vocab.size,
            );
            Generator_TO::from_ptr(RBox::new(guarded), TD_Opaque)
        })
        .into()
}

extern "C" fn new_discriminator_fn<L: PluginLibrary>(
    name: RStr<'_>,
    context: &PluginContext,
) -> RResult<DiscriminatorBox, PluginError> {
    catch_panic(|| L::new_discriminator(name.as_str(), context))
        .map(|inner| {
            let guarded: Guarded<dyn DiscriminatorImpl> = Guarded::declared::<L>(
                inner,
                ComponentKind::Discriminator,
                name.as_str(),
                context.vocab.size,
            );
            Discriminator_TO::from_ptr(RBox::new(guarded), TD_Opaque)
        })
        .into()
}

extern "C" fn new_reward_fn<L: PluginLibrary>(
    name: RStr<'_>,
    context: &PluginContext,
) -> RResult<RewardBox, PluginError> {
    catch_panic(|| L::new_reward(name.as_str(), context))
        .map(|inner| {
            let guarded: Guarded<dyn RewardImpl> = Guarded::declared::<L>(
                inner,
                ComponentKind::Reward,
                name.as_str(),
                context.vocab.size,
            );
            Reward_TO::from_ptr(RBox::new(guarded), TD_Opaque)
        })
        .into()
}

/// The root module of library `L`; called by [`crate::export_plugin!`].
pub fn root_module<L: PluginLibrary>() -> AgonPluginRef {
    use abi_stable::prefix_type::PrefixTypeTrait;
    AgonPlugin {
        manifest: manifest_fn::<L>,
        new_generator: new_generator_fn::<L>,
        new_discriminator: new_discriminator_fn::<L>,
        new_reward: new_reward_fn::<L>,
        capabilities: capabilities_fn::<L>,
    }
    .leak_into_prefix()
}

/// The exported symbol name abi_stable looks up (its mangled
/// `lib_header.root module loader`), spelled out so that plugin crates need
/// no direct abi_stable dependency. A unit test checks it against abi_stable.
#[doc(hidden)]
pub const ROOT_MODULE_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

/// Exports a [`PluginLibrary`] as an agon plugin library.
///
/// Use once, at the crate root of a `cdylib` crate:
/// `agon_sdk::export_plugin!(MyLibrary);`
#[macro_export]
macro_rules! export_plugin {
    ($library:ty) => {
        // What abi_stable's `#[export_root_module]` expands to, with paths
        // through agon_sdk so the plugin needs no abi_stable dependency.
        #[no_mangle]
        #[allow(non_upper_case_globals)]
        pub static _1as_0lib_1header_0root_bmodule_bloader:
            $crate::reexports::abi_stable::library::LibHeader = {
            extern "C" fn __agon_root_module(
            ) -> $crate::reexports::abi_stable::library::RootModuleResult {
                $crate::reexports::abi_stable::library::__call_root_module_loader(
                    $crate::author::root_module::<$library>,
                )
            }
            unsafe {
                $crate::reexports::abi_stable::library::LibHeader::from_constructor::<
                    $crate::AgonPluginRef,
                >(
                    __agon_root_module,
                    $crate::reexports::abi_stable::library::CheckTypeLayout::Yes,
                )
            }
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_module_symbol_matches_abi_stable() {
        assert_eq!(
            ROOT_MODULE_SYMBOL,
            abi_stable::library::ROOT_MODULE_LOADER_NAME
        );
    }

    #[test]
    fn catch_panic_turns_panics_into_errors_with_location() {
        let err = catch_panic::<()>(|| panic!("boom {}", 7)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Panic);
        assert!(err.message().contains("boom 7"), "{err}");
        assert!(err.message().contains("author.rs"), "{err}");
    }

    struct Exploding;
    impl RewardImpl for Exploding {
        fn needs_discriminator(&self) -> bool {
            false
        }
        fn rewards(&mut self, input: &RewardInput) -> PluginResult<Vec<f32>> {
            if input.sequences.rows() == 2 {
                panic!("two rows");
            }
            Ok(vec![1.0; input.sequences.rows()])
        }
    }

    #[test]
    fn a_panicking_component_is_poisoned_afterwards() {
        let mut guarded: Guarded<dyn RewardImpl> = Guarded::new(Box::new(Exploding), 10);
        let input = |rows: usize| RewardInput {
            sequences: TokenBatch::from_rows(&vec![vec![1u32, 2]; rows], 0),
            sources: ROption::RNone,
            references: ROption::RNone,
            discriminator: ROption::RNone,
        };
        assert_eq!(guarded.rewards(&input(1)).unwrap().len(), 1);
        let err = guarded.rewards(&input(2)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Panic);
        let err = guarded.rewards(&input(1)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Poisoned);
    }

    #[test]
    fn out_of_vocabulary_input_is_refused_before_the_component_runs() {
        let mut guarded: Guarded<dyn RewardImpl> = Guarded::new(Box::new(Exploding), 3);
        let err = guarded
            .rewards(&RewardInput {
                sequences: TokenBatch::from_rows(&[vec![1u32, 7]], 0),
                sources: ROption::RNone,
                references: ROption::RNone,
                discriminator: ROption::RNone,
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    /// Declares `pairs` (sources required, references required) and
    /// `plain` (sources never); builds nothing.
    struct Declaring;
    impl PluginLibrary for Declaring {
        const NAMESPACE: &'static str = "test";
        const NAME: &'static str = "declaring";
        const VERSION: &'static str = "0.1.0";
        fn components() -> Vec<ComponentInfo> {
            Vec::new()
        }
        fn capabilities() -> Vec<ComponentCapabilities> {
            vec![
                ComponentCapabilities::new(
                    ComponentKind::Reward,
                    "pairs",
                    &[
                        capabilities::SOURCES_REQUIRED,
                        capabilities::REFERENCES_REQUIRED,
                    ],
                ),
                ComponentCapabilities::new(
                    ComponentKind::Reward,
                    "plain",
                    &[capabilities::SOURCES_NEVER],
                ),
            ]
        }
    }

    #[test]
    fn the_guard_refuses_rows_that_contradict_the_declaration() {
        let rows = TokenBatch::from_rows(&[vec![1u32, 2]], 0);
        let input = |sources: bool, references: bool| RewardInput {
            sequences: rows.clone(),
            sources: if sources {
                ROption::RSome(rows.clone())
            } else {
                ROption::RNone
            },
            references: if references {
                ROption::RSome(rows.clone())
            } else {
                ROption::RNone
            },
            discriminator: ROption::RNone,
        };
        let guard = |name: &str| -> Guarded<dyn RewardImpl> {
            Guarded::declared::<Declaring>(Box::new(Exploding), ComponentKind::Reward, name, 10)
        };
        let mut pairs = guard("pairs");
        assert_eq!(pairs.rewards(&input(true, true)).unwrap().len(), 1);
        let err = pairs.rewards(&input(false, true)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(
            err.message()
                .contains("declares `sources-required`, but the rows have no sources"),
            "{err}"
        );
        let err = pairs.rewards(&input(true, false)).unwrap_err();
        assert!(
            err.message().contains("declares `references-required`"),
            "{err}"
        );

        let mut plain = guard("plain");
        assert_eq!(plain.rewards(&input(false, false)).unwrap().len(), 1);
        let err = plain.rewards(&input(true, false)).unwrap_err();
        assert!(
            err.message()
                .contains("declares `sources-never`, but the rows have sources"),
            "{err}"
        );

        // A component its library declares nothing for takes either.
        let mut undeclared = guard("other");
        assert!(undeclared.rewards(&input(true, false)).is_ok());
        assert!(undeclared.rewards(&input(false, false)).is_ok());
    }
}
