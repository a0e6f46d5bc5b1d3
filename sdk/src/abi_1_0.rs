//! The ABI 1.0 interface, kept so this host can load libraries built
//! against it.
//!
//! abi_stable's layout check refuses a host type with *more* fields than
//! the library's, so a library of ABI 1.0 cannot be checked against the
//! current root module, which has appended fields. The registry checks it
//! against these types instead (the root module and the traits that grew
//! since 1.0; every other type is shared with the current SDK), then uses it
//! through the current types: each minor version only appends after the
//! `#[sabi(last_prefix_field)]` markers, so a method missing from an old
//! vtable answers with its default and an appended root-module function
//! reads as `None`. A unit test checks that the current interface is an
//! append-only extension of this one.
//!
//! abi_stable compares the types' names, package (`agon-sdk`) and package
//! version (for `0.y`, the same `y`), not their module: these copies pass for
//! the originals. Never edit them.

mod discriminator;
mod generator;
mod root_module;

pub use discriminator::{Discriminator, DiscriminatorBox, Discriminator_TO};
pub use generator::{Generator, GeneratorBox, Generator_TO};
pub use root_module::{AgonPlugin, AgonPluginRef};

#[cfg(test)]
mod tests {
    use abi_stable::{
        abi_stability::abi_checking::{check_layout_compatibility_with_globals, CheckingGlobals},
        type_layout::TypeLayout,
        StableAbi,
    };

    /// abi_stable's layout check records every prefix type it has seen in
    /// process-wide globals, so checks in one test binary influence each
    /// other (the order tests run in decided this test's outcome). Each
    /// check here gets fresh globals, as a freshly started host would.
    fn check_in_a_fresh_host(
        host: &'static TypeLayout,
        library: &'static TypeLayout,
    ) -> Result<(), String> {
        check_layout_compatibility_with_globals(host, library, &CheckingGlobals::new())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_current_interface_only_appends_to_abi_1_0() {
        // An ABI 1.0 host accepts a library of the current interface ...
        let old = <super::AgonPluginRef as StableAbi>::LAYOUT;
        let current = <crate::AgonPluginRef as StableAbi>::LAYOUT;
        if let Err(e) = check_in_a_fresh_host(old, current) {
            panic!("the current interface is not an append-only extension of ABI 1.0: {e}");
        }
        // ... while abi_stable refuses the reverse, which is why the
        // registry checks an ABI 1.0 library against the 1.0 types.
        let refused = check_in_a_fresh_host(current, old)
            .expect_err("abi_stable accepted a host type with more fields");
        assert!(refused.contains("too many fields"), "{refused}");
    }
}
