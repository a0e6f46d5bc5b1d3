//! The manifest every plugin library exports.

use abi_stable::{
    std_types::{RString, RVec},
    StableAbi,
};

use crate::abi_version::AbiVersion;

/// The three kinds of component.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ComponentKind {
    /// Produces sequences; trained by MLE and policy gradient.
    Generator,
    /// Tells real sequences from generated ones.
    Discriminator,
    /// Turns generated sequences into rewards.
    Reward,
}

impl ComponentKind {
    /// `generator`, `discriminator` or `reward`.
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Generator => "generator",
            ComponentKind::Discriminator => "discriminator",
            ComponentKind::Reward => "reward",
        }
    }
}

impl std::fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One component a library provides.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct ComponentInfo {
    /// Generator, discriminator or reward.
    pub kind: ComponentKind,
    /// Name used in configs, unique per kind within the library.
    pub name: RString,
    /// One line for `agon plugins show`.
    pub description: RString,
    /// The full default configuration, as YAML; the host merges the user's
    /// config over it and shows it in `agon plugins show`.
    pub default_config_yaml: RString,
}

/// Who made a library, what it is and what it holds.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct Manifest {
    /// The team or lab (`seqgan-lab`); configs address plugins as
    /// `namespace/name@version-req`.
    pub namespace: RString,
    /// The library's name (`cnn-discriminator`).
    pub name: RString,
    /// The library's semver version.
    pub version: RString,
    /// The ABI the library was built against.
    pub sdk_abi: AbiVersion,
    /// Devices it can run on: `cpu`, `cuda`.
    pub devices: RVec<RString>,
    /// Its components.
    pub components: RVec<ComponentInfo>,
}

impl Manifest {
    /// `namespace/name`.
    pub fn qualified_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}
