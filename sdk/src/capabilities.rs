//! Optional methods a component implements, and what it reads, declared by
//! its library (since ABI 1.1).
//!
//! A method appended to a component trait in a minor ABI version is optional:
//! a library built before it lacks it, and a newer library need not
//! implement it. The library says which of its components implement which
//! optional methods, so the host can refuse a config that needs one before it
//! builds anything or creates a run directory. The declaration is checked
//! against behaviour by the `testing` feature's contract: a declared method
//! must answer, an undeclared one must say `Unsupported`.
//!
//! A component also says whether it reads the sources of a conditional task
//! ([`SOURCES_NEVER`], [`SOURCES_OPTIONAL`], [`SOURCES_REQUIRED`]) and, for a
//! reward, whether it needs references ([`REFERENCES_REQUIRED`]): the host
//! checks a config against these before the run directory exists. A component
//! that declares no `sources-*` capability is probed instead (a throwaway
//! instance scores one training example), as libraries built before these
//! names are. The SDK's guard refuses a call whose batch contradicts the
//! declaration, so the component's own code never sees one.
//!
//! ```
//! use agon_sdk::{
//!     capabilities::TEMPERED_LOG_LIKELIHOOD, ComponentCapabilities, ComponentInfo,
//!     ComponentKind, PluginLibrary,
//! };
//!
//! struct MyLibrary;
//!
//! impl PluginLibrary for MyLibrary {
//!     const NAMESPACE: &'static str = "my-lab";
//!     const NAME: &'static str = "my-generators";
//!     const VERSION: &'static str = "0.1.0";
//!     fn components() -> Vec<ComponentInfo> {
//!         Vec::new() // the generator `my-generator`, in a real library
//!     }
//!     fn capabilities() -> Vec<ComponentCapabilities> {
//!         vec![ComponentCapabilities::new(
//!             ComponentKind::Generator,
//!             "my-generator",
//!             &[TEMPERED_LOG_LIKELIHOOD],
//!         )]
//!     }
//! }
//!
//! assert!(MyLibrary::capabilities()[0].has(TEMPERED_LOG_LIKELIHOOD));
//! ```

use abi_stable::{
    std_types::{RString, RVec},
    StableAbi,
};

use crate::manifest::ComponentKind;

/// `Generator::tempered_log_likelihood` (since ABI 1.1): log-likelihood
/// under `softmax(logits / T)`, for NLL-test at a sampling temperature.
pub const TEMPERED_LOG_LIKELIHOOD: &str = "tempered-log-likelihood";

/// `Discriminator::token_logits` (since ABI 1.1): a logit for every real
/// token, for dense per-token rewards (`credit: dense`).
pub const TOKEN_LOGITS: &str = "token-logits";

/// `Generator::relaxed_sample` and `Generator::relaxed_policy_step` (since
/// ABI 1.2): Gumbel-softmax samples and a step along the host loss's
/// gradient with respect to them, for `algorithm: gumbel` (RelGAN).
pub const RELAXED_SAMPLES: &str = "relaxed-samples";

/// `Discriminator::relaxed_logits`, `relaxed_input_gradient` and
/// `relaxed_train_step` (since ABI 1.2): scores of rows given as
/// distributions over the vocabulary, and gradients through them, for
/// `algorithm: gumbel` (RelGAN); and `paired_logits`,
/// `paired_input_gradient` and `paired_train_step` (since ABI 1.3), the
/// same for real rows given as ids, which a library built for 1.2 answers
/// through its 1.2 methods.
pub const RELAXED_ROWS: &str = "relaxed-rows";

/// The component reads no sources: it scores or generates targets alone, and
/// a conditional task (rows with sources) refuses it. One of the three
/// `sources-*` declarations; a component that declares none of them (a
/// library built before they existed) is probed by the host instead.
pub const SOURCES_NEVER: &str = "sources-never";

/// The component works with and without sources.
pub const SOURCES_OPTIONAL: &str = "sources-optional";

/// The component needs row-aligned sources: only a conditional task can use
/// it.
pub const SOURCES_REQUIRED: &str = "sources-required";

/// A reward that scores each sequence against its own reference (the gold
/// target of a conditional task's row); a task without references refuses
/// it.
pub const REFERENCES_REQUIRED: &str = "references-required";

/// What a component declares about the sources of a conditional task's rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceDeclaration {
    /// [`SOURCES_NEVER`].
    Never,
    /// [`SOURCES_OPTIONAL`].
    Optional,
    /// [`SOURCES_REQUIRED`].
    Required,
}

impl SourceDeclaration {
    /// The capability name.
    pub const fn capability(self) -> &'static str {
        match self {
            SourceDeclaration::Never => SOURCES_NEVER,
            SourceDeclaration::Optional => SOURCES_OPTIONAL,
            SourceDeclaration::Required => SOURCES_REQUIRED,
        }
    }

    /// What component `kind`/`name` declares in `declared`, if anything (the
    /// first of the three it names).
    pub fn of(declared: &[ComponentCapabilities], kind: ComponentKind, name: &str) -> Option<Self> {
        [
            SourceDeclaration::Never,
            SourceDeclaration::Optional,
            SourceDeclaration::Required,
        ]
        .into_iter()
        .find(|d| declares(declared, kind, name, d.capability()))
    }

    /// Whether a component with this declaration takes rows that have
    /// sources (`conditional`) or rows that have none.
    pub const fn accepts(self, conditional: bool) -> bool {
        match self {
            SourceDeclaration::Never => !conditional,
            SourceDeclaration::Optional => true,
            SourceDeclaration::Required => conditional,
        }
    }
}

/// The optional methods one component implements.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct ComponentCapabilities {
    /// Generator, discriminator or reward.
    pub kind: ComponentKind,
    /// The component's name, as in the manifest.
    pub name: RString,
    /// Capability names, such as [`TEMPERED_LOG_LIKELIHOOD`]; a host ignores
    /// names it does not know.
    pub capabilities: RVec<RString>,
}

impl ComponentCapabilities {
    /// `capabilities` of the component `kind`/`name`.
    pub fn new(kind: ComponentKind, name: &str, capabilities: &[&str]) -> Self {
        ComponentCapabilities {
            kind,
            name: name.into(),
            capabilities: capabilities.iter().map(|&c| c.into()).collect(),
        }
    }

    /// Whether it declares `capability`.
    pub fn has(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c.as_str() == capability)
    }
}

/// Whether `declared` (a library's declarations) gives component
/// `kind`/`name` the capability `capability`: the one lookup the host, the
/// registry and the contract share.
pub fn declares(
    declared: &[ComponentCapabilities],
    kind: ComponentKind,
    name: &str,
    capability: &str,
) -> bool {
    declared
        .iter()
        .any(|c| c.kind == kind && c.name.as_str() == name && c.has(capability))
}
