//! The test that a kept ABI snapshot (`abi_1_0`, `abi_1_1`, `abi_1_2`) is a prefix of
//! the current interface, shared by the snapshots' tests.

use abi_stable::{
    abi_stability::abi_checking::{check_layout_compatibility_with_globals, CheckingGlobals},
    type_layout::TypeLayout,
    StableAbi,
};

/// abi_stable's layout check records every prefix type it has seen in
/// process-wide globals, so checks in one test binary influence each
/// other (the order tests ran in once decided a test's outcome). Each
/// check here gets fresh globals, as a freshly started host would.
fn check_in_a_fresh_host(
    host: &'static TypeLayout,
    library: &'static TypeLayout,
) -> Result<(), String> {
    check_layout_compatibility_with_globals(host, library, &CheckingGlobals::new())
        .map_err(|e| e.to_string())
}

/// Panics unless a host of the snapshot's root module (`old`, ABI
/// `version`) accepts a library of the current interface, and abi_stable
/// refuses the reverse (which is why the registry checks a library of an
/// older minor against that minor's types).
pub(crate) fn assert_current_only_appends_to(old: &'static TypeLayout, version: &str) {
    let current = <crate::AgonPluginRef as StableAbi>::LAYOUT;
    if let Err(e) = check_in_a_fresh_host(old, current) {
        panic!("the current interface is not an append-only extension of ABI {version}: {e}");
    }
    let refused = check_in_a_fresh_host(current, old)
        .expect_err("abi_stable accepted a host type with more fields");
    assert!(refused.contains("too many fields"), "{refused}");
}
