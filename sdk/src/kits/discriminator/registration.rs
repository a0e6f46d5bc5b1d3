//! A kit model as a library's component, and a library of them in a few
//! lines.

use super::{
    DiscriminatorConfig, DiscriminatorModel, KitDiscriminator, SourceUse,
    DISCRIMINATOR_TRAINING_DOCS,
};
use crate::{
    author::DiscriminatorImpl,
    capabilities::{ComponentCapabilities, SourceDeclaration, RELAXED_ROWS, TOKEN_LOGITS},
    context::PluginContext,
    error::PluginResult,
    manifest::{ComponentInfo, ComponentKind},
};

/// The manifest entry of model `M` as discriminator `name`: its default
/// config, documented by the model's docs and the kit's `training` docs.
pub fn discriminator_info<M: DiscriminatorModel>(name: &str, description: &str) -> ComponentInfo {
    ComponentInfo::documented(
        ComponentKind::Discriminator,
        name,
        description,
        &M::Config::default(),
        &[M::Config::DOCS, DISCRIMINATOR_TRAINING_DOCS].concat(),
    )
}

/// What model `M` gives discriminator `name` to declare: whether it reads
/// sources (from [`DiscriminatorModel::SOURCES`]), per-token logits for a
/// [`DiscriminatorModel::PER_TOKEN`] model, relaxed rows for a
/// [`DiscriminatorModel::RELAXED`] one.
pub fn discriminator_capabilities<M: DiscriminatorModel>(name: &str) -> Vec<ComponentCapabilities> {
    let sources = match M::SOURCES {
        SourceUse::Never => SourceDeclaration::Never,
        SourceUse::Required => SourceDeclaration::Required,
    };
    let mut declared = vec![sources.capability()];
    if M::PER_TOKEN {
        declared.push(TOKEN_LOGITS);
    }
    if M::RELAXED {
        declared.push(RELAXED_ROWS);
    }
    vec![ComponentCapabilities::new(
        ComponentKind::Discriminator,
        name,
        &declared,
    )]
}

/// A new component of model `M`, for `PluginLibrary::new_discriminator`.
pub fn new_discriminator<M: DiscriminatorModel>(
    context: &PluginContext,
) -> PluginResult<Box<dyn DiscriminatorImpl>> {
    Ok(Box::new(KitDiscriminator::<M>::new(context)?))
}

/// A plugin library of kit discriminators, exported: the whole
/// registration of a lab's plugin.
///
/// ```
/// # use agon_sdk::kits::{DiscriminatorConfig, DiscriminatorModel, DiscriminatorTraining, Pass, Rows, SourceUse};
/// # use agon_sdk::{PluginContext, PluginResult};
/// # use candle_core::Tensor;
/// # use candle_nn::VarBuilder;
/// # #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
/// # pub struct MeanPoolConfig { training: DiscriminatorTraining }
/// # impl DiscriminatorConfig for MeanPoolConfig {
/// #     const DOCS: &'static [(&'static str, &'static str)] = &[];
/// #     fn training(&self) -> &DiscriminatorTraining { &self.training }
/// # }
/// # pub struct MeanPool;
/// # impl DiscriminatorModel for MeanPool {
/// #     type Config = MeanPoolConfig;
/// #     const NAME: &'static str = "mean-pool";
/// #     const SOURCES: SourceUse = SourceUse::Never;
/// #     fn new(_: VarBuilder, _: &PluginContext, _: &MeanPoolConfig) -> PluginResult<Self> { Ok(MeanPool) }
/// #     fn logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Tensor> {
/// #         Ok(Tensor::zeros(rows.len(), candle_core::DType::F32, pass.device())?)
/// #     }
/// # }
/// agon_sdk::discriminator_library! {
///     /// The library.
///     pub struct MyLibrary;
///     namespace: "my-lab",
///     name: "my-discriminators",
///     discriminators: {
///         "mean-pool" => MeanPool: "Mean of the token embeddings, then a logistic output",
///     }
/// }
/// # use agon_sdk::PluginLibrary;
/// # assert_eq!(MyLibrary::components().len(), 1);
/// ```
///
/// The library's version is the crate's (`CARGO_PKG_VERSION`).
#[macro_export]
macro_rules! discriminator_library {
    (
        $(#[$meta:meta])*
        $vis:vis struct $library:ident;
        namespace: $namespace:literal,
        name: $name:literal,
        discriminators: { $($component:literal => $model:ty : $description:literal),+ $(,)? }
    ) => {
        $crate::__kit_library! {
            $(#[$meta])*
            $vis struct $library;
            namespace: $namespace,
            name: $name,
            kind: Discriminator,
            kit: (discriminator_info, discriminator_capabilities, new_discriminator, DiscriminatorImpl),
            components: { $($component => $model : $description),+ }
        }
    };
}

/// The `PluginLibrary` of a library of kit components, exported: what
/// [`discriminator_library!`](crate::discriminator_library) and
/// [`generator_library!`](crate::generator_library) expand to.
#[doc(hidden)]
#[macro_export]
macro_rules! __kit_library {
    (
        $(#[$meta:meta])*
        $vis:vis struct $library:ident;
        namespace: $namespace:literal,
        name: $name:literal,
        kind: $kind:ident,
        kit: ($info:ident, $capabilities:ident, $new:ident, $impl_trait:ident),
        components: { $($component:literal => $model:ty : $description:literal),+ }
    ) => {
        $(#[$meta])*
        $vis struct $library;

        impl $crate::PluginLibrary for $library {
            const NAMESPACE: &'static str = $namespace;
            const NAME: &'static str = $name;
            const VERSION: &'static str = env!("CARGO_PKG_VERSION");

            fn components() -> ::std::vec::Vec<$crate::ComponentInfo> {
                vec![$($crate::kits::$info::<$model>($component, $description)),+]
            }

            fn capabilities() -> ::std::vec::Vec<$crate::ComponentCapabilities> {
                let mut all = ::std::vec::Vec::new();
                $(all.extend($crate::kits::$capabilities::<$model>($component));)+
                all
            }

            fn $new(
                name: &str,
                context: &$crate::PluginContext,
            ) -> $crate::PluginResult<::std::boxed::Box<dyn $crate::$impl_trait>> {
                match name {
                    $($component => $crate::kits::$new::<$model>(context),)+
                    other => Err($crate::author::unknown_component::<Self>(
                        $crate::ComponentKind::$kind,
                        other,
                    )),
                }
            }
        }

        $crate::export_plugin!($library);
    };
}
