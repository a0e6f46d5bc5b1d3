//! The ABI version of the plugin boundary and the compatibility rule.
//!
//! # The rule
//! The boundary has a version `MAJOR.MINOR`, independent of this crate's
//! semver version.
//!
//! * The **major** version changes when anything existing changes: a type's
//!   layout, a method's signature or meaning, a removed method. A host refuses
//!   every library whose major version differs from its own.
//! * The **minor** version changes when something is *appended*: a new method
//!   at the end of a component trait (after the method marked
//!   `#[sabi(last_prefix_field)]`), a new constructor at the end of the root
//!   module. The root module and the trait objects' vtables are abi_stable
//!   *prefix types*, so a library built against an older minor simply lacks the
//!   appended entries; abi_stable's layout check accepts it.
//! * A host of minor `m` loads libraries of any minor `≤ m` of its major. Before
//!   calling a method introduced in minor `k`, the host checks that the
//!   library's manifest says minor `≥ k` (see [`AbiVersion::supports`]); for
//!   older libraries it falls back or reports `Unsupported`. A library newer
//!   than the host (minor `> m`) is refused by the registry's manifest check
//!   ([`AbiVersion::can_load`]), since the host cannot know what it expects
//!   (abi_stable's own version check lets a newer minor through), with a
//!   message that says to upgrade agon or rebuild the plugin.
//! * Existing structs that cross the boundary are never extended in place;
//!   a minor version that needs more data adds a new method taking a new
//!   struct.
//!
//! Methods introduced after 1.0 carry a `/// Since ABI 1.k` line in their docs.

use abi_stable::StableAbi;

/// A `MAJOR.MINOR` version of the plugin boundary.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AbiVersion {
    /// Changes on any incompatible change.
    pub major: u32,
    /// Changes when methods or constructors are appended.
    pub minor: u32,
}

/// The ABI version this SDK implements.
pub const ABI_VERSION: AbiVersion = AbiVersion { major: 1, minor: 3 };

/// [`ABI_VERSION`] as the `MAJOR.MINOR.0` string abi_stable checks at load time.
pub const ABI_VERSION_STRING: &str = "1.3.0";

impl AbiVersion {
    /// Whether a host implementing `self` can load a library built against
    /// `library` (same major, library minor not newer than the host's).
    pub fn can_load(self, library: AbiVersion) -> bool {
        self.major == library.major && library.minor <= self.minor
    }

    /// Whether a library built against `self` has the methods of `since`.
    pub fn supports(self, since: AbiVersion) -> bool {
        self.major == since.major && self.minor >= since.minor
    }
}

impl std::fmt::Display for AbiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_host_loads_older_minor_but_not_newer_or_other_major() {
        let host = AbiVersion { major: 1, minor: 3 };
        assert!(host.can_load(AbiVersion { major: 1, minor: 0 }));
        assert!(host.can_load(AbiVersion { major: 1, minor: 3 }));
        assert!(!host.can_load(AbiVersion { major: 1, minor: 4 }));
        assert!(!host.can_load(AbiVersion { major: 2, minor: 0 }));
    }

    #[test]
    fn version_string_matches_constant() {
        assert_eq!(
            ABI_VERSION_STRING,
            format!("{}.{}.0", ABI_VERSION.major, ABI_VERSION.minor)
        );
    }
}
