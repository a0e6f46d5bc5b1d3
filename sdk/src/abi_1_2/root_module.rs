//! The root module as it was at ABI 1.2.

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    sabi_types::VersionStrings,
    std_types::{RResult, RStr, RVec},
    StableAbi,
};

use super::discriminator::DiscriminatorBox;
use crate::{
    capabilities::ComponentCapabilities, context::PluginContext, error::PluginError,
    generator::GeneratorBox, manifest::Manifest, reward::RewardBox,
};

/// The functions a plugin library exported at ABI 1.2.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = AgonPluginRef)))]
#[sabi(missing_field(panic))]
pub struct AgonPlugin {
    /// The library's manifest.
    pub manifest: extern "C" fn() -> RResult<Manifest, PluginError>,
    /// Constructs the generator component `name`.
    pub new_generator: extern "C" fn(
        name: RStr<'_>,
        context: &PluginContext,
    ) -> RResult<GeneratorBox, PluginError>,
    /// Constructs the discriminator component `name`.
    pub new_discriminator: extern "C" fn(
        name: RStr<'_>,
        context: &PluginContext,
    ) -> RResult<DiscriminatorBox, PluginError>,
    /// Constructs the reward component `name`.
    #[sabi(last_prefix_field)]
    pub new_reward:
        extern "C" fn(name: RStr<'_>, context: &PluginContext) -> RResult<RewardBox, PluginError>,
    /// Since ABI 1.1. The optional methods each component implements
    /// ([`crate::capabilities`]); absent from libraries built before it,
    /// whose components implement none.
    #[sabi(missing_field(option))]
    pub capabilities: extern "C" fn() -> RResult<RVec<ComponentCapabilities>, PluginError>,
}

impl RootModule for AgonPluginRef {
    declare_root_module_statics! {AgonPluginRef}
    const BASE_NAME: &'static str = "agon_plugin";
    const NAME: &'static str = "agon plugin";
    const VERSION_STRINGS: VersionStrings = VersionStrings::new("1.2.0");
}
