//! A kit model as a library's component, and a library of them in a few
//! lines.

use super::{GeneratorConfig, GeneratorModel, KitGenerator};
use crate::{
    author::GeneratorImpl,
    capabilities::{
        ComponentCapabilities, SourceDeclaration, RELAXED_SAMPLES, TEMPERED_LOG_LIKELIHOOD,
    },
    context::PluginContext,
    error::PluginResult,
    kits::SourceUse,
    manifest::{ComponentInfo, ComponentKind},
};

/// The manifest entry of model `M` as generator `name`: its default config,
/// documented by the model's docs and the training keys' docs.
pub fn generator_info<M: GeneratorModel>(name: &str, description: &str) -> ComponentInfo {
    let mut docs = M::Config::DOCS.to_vec();
    for training in M::Config::TRAINING_DOCS {
        docs.extend_from_slice(training);
    }
    ComponentInfo::documented(
        ComponentKind::Generator,
        name,
        description,
        &M::Config::default(),
        &docs,
    )
}

/// What model `M` gives generator `name` to declare: whether it reads
/// sources (from [`GeneratorModel::SOURCES`]), and the tempered
/// log-likelihood every kit generator answers.
pub fn generator_capabilities<M: GeneratorModel>(name: &str) -> Vec<ComponentCapabilities> {
    let sources = match M::SOURCES {
        SourceUse::Never => SourceDeclaration::Never,
        SourceUse::Required => SourceDeclaration::Required,
    };
    vec![ComponentCapabilities::new(
        ComponentKind::Generator,
        name,
        &[
            sources.capability(),
            TEMPERED_LOG_LIKELIHOOD,
            RELAXED_SAMPLES,
        ],
    )]
}

/// A new component of model `M`, for `PluginLibrary::new_generator`.
pub fn new_generator<M: GeneratorModel>(
    context: &PluginContext,
) -> PluginResult<Box<dyn GeneratorImpl>> {
    Ok(Box::new(KitGenerator::<M>::new(context)?))
}

/// A plugin library of kit generators, exported: the whole registration of
/// a lab's generator plugin (see [`GeneratorModel`] for the model).
///
/// ```
/// # use agon_sdk::kits::{GeneratorConfig, GeneratorModel, GeneratorTraining, SourceUse};
/// # use agon_sdk::{PluginContext, PluginResult, TokenBatch};
/// # use candle_core::{DType, Device, Tensor};
/// # use candle_nn::VarBuilder;
/// # #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
/// # pub struct GruLmConfig { training: GeneratorTraining }
/// # impl GeneratorConfig for GruLmConfig {
/// #     const DOCS: &'static [(&'static str, &'static str)] = &[];
/// #     fn training(&self) -> GeneratorTraining { self.training.clone() }
/// # }
/// # pub struct GruLm;
/// # impl GeneratorModel for GruLm {
/// #     type Config = GruLmConfig;
/// #     type Memory = ();
/// #     type State = Tensor;
/// #     const NAME: &'static str = "gru-lm";
/// #     const SOURCES: SourceUse = SourceUse::Never;
/// #     fn new(_: VarBuilder, _: &PluginContext, _: &GruLmConfig) -> PluginResult<Self> { Ok(GruLm) }
/// #     fn start(&self, _: Option<&TokenBatch>, rows: usize, device: &Device) -> PluginResult<((), Tensor)> {
/// #         Ok(((), Tensor::zeros((rows, 1), DType::F32, device)?))
/// #     }
/// #     fn step(&self, _: &(), h: &Tensor, _: &Tensor) -> PluginResult<(Tensor, Tensor)> {
/// #         Ok((h.clone(), h.clone()))
/// #     }
/// # }
/// agon_sdk::generator_library! {
///     /// The library.
///     pub struct MyLibrary;
///     namespace: "my-lab",
///     name: "my-generators",
///     generators: {
///         "gru-lm" => GruLm: "Embedding, GRU and linear output: a recurrent language model",
///     }
/// }
/// # use agon_sdk::PluginLibrary;
/// # assert_eq!(MyLibrary::components().len(), 1);
/// ```
///
/// The library's version is the crate's (`CARGO_PKG_VERSION`).
#[macro_export]
macro_rules! generator_library {
    (
        $(#[$meta:meta])*
        $vis:vis struct $library:ident;
        namespace: $namespace:literal,
        name: $name:literal,
        generators: { $($component:literal => $model:ty : $description:literal),+ $(,)? }
    ) => {
        $crate::__kit_library! {
            $(#[$meta])*
            $vis struct $library;
            namespace: $namespace,
            name: $name,
            kind: Generator,
            kit: (generator_info, generator_capabilities, new_generator, GeneratorImpl),
            components: { $($component => $model : $description),+ }
        }
    };
}
