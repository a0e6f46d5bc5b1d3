//! The ABI 1.2 interface, kept so this host can load libraries built
//! against it.
//!
//! abi_stable's layout check refuses a host type with *more* fields than
//! the library's, so a library of ABI 1.2 cannot be checked against the
//! current root module, which reaches a `Discriminator` vtable with
//! appended fields. The registry checks it
//! against these types instead (the root module and the trait that grew
//! since 1.2, `Discriminator`; every other type is shared with the current SDK), then uses it
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
mod root_module;

pub use discriminator::{Discriminator, DiscriminatorBox, Discriminator_TO};
pub use root_module::{AgonPlugin, AgonPluginRef};

#[cfg(test)]
mod tests {
    use abi_stable::StableAbi;

    #[test]
    fn the_current_interface_only_appends_to_abi_1_2() {
        crate::abi_snapshot_check::assert_current_only_appends_to(
            <super::AgonPluginRef as StableAbi>::LAYOUT,
            "1.2",
        );
    }
}
