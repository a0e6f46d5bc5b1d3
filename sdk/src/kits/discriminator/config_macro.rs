//! A kit discriminator's config in a few lines: each key with its type,
//! default and one-line doc, and the kit's `training:` block added.

/// Declares a kit discriminator's config struct and implements
/// [`crate::kits::DiscriminatorConfig`] for it.
///
/// Each key is `name: Type = default; "doc"`, followed by `; dimension` for
/// a size the kit checks is at least 1. After the struct, two optional
/// lines: `max_source_len = key;` names the key that caps the source tokens
/// a source-reading model reads per row ([`crate::kits::DiscriminatorConfig::max_source_len`]),
/// and `validate = path;` a `fn(&Config) -> PluginResult<()>` with further
/// checks of the model's keys. The struct gets the keys, a
/// `training: DiscriminatorTraining` block (the kit's dropout, optimiser,
/// clipping and scoring chunk), `Default` from the defaults, serde with
/// unknown keys refused, and `DOCS` from the docs (what `agon plugins show`
/// prints above each key). The doc is the key's rustdoc too.
///
/// ```
/// agon_sdk::discriminator_config! {
///     /// Hyper-parameters of my discriminator.
///     pub struct MyConfig {
///         embedding_dim: usize = 32; "Size of each token's embedding, at least 1."; dimension,
///         bidirectional: bool = false; "true also reads each row backwards.",
///     }
/// }
///
/// use agon_sdk::kits::DiscriminatorConfig;
/// let config = MyConfig::default();
/// assert_eq!(config.embedding_dim, 32);
/// assert_eq!(config.dimensions(), vec![("embedding_dim", 32)]);
/// assert_eq!(MyConfig::DOCS[1], ("bidirectional", "true also reads each row backwards."));
/// assert_eq!(config.training().dropout, 0.25); // the kit's default
/// assert_eq!(config.max_source_len(), None); // reads every source token
/// ```
///
/// With the two optional lines:
///
/// ```
/// use agon_sdk::{PluginError, PluginResult};
///
/// agon_sdk::discriminator_config! {
///     /// A pair discriminator's hyper-parameters.
///     pub struct PairConfig {
///         hidden_dim: usize = 64; "State size, at least 1."; dimension,
///         max_source_len: usize = 50; "Source tokens read per row, at least 1.",
///     }
///     max_source_len = max_source_len;
///     validate = even_hidden;
/// }
///
/// fn even_hidden(config: &PairConfig) -> PluginResult<()> {
///     if config.hidden_dim % 2 == 1 {
///         return Err(PluginError::config("hidden_dim must be even"));
///     }
///     Ok(())
/// }
///
/// use agon_sdk::kits::DiscriminatorConfig;
/// let mut config = PairConfig::default();
/// assert_eq!(config.max_source_len(), Some(50));
/// assert!(config.validate().is_ok());
/// config.hidden_dim = 7;
/// assert!(config.validate().is_err());
/// ```
///
/// Keys are separated by commas (without one, rustc says "no rules
/// expected" at the key after it). A flag other than `dimension` is a
/// compile error (no variant of `KeyFlag` of that name), not a size left
/// unchecked:
///
/// ```compile_fail
/// agon_sdk::discriminator_config! {
///     pub struct MisspeltFlag {
///         embedding_dim: usize = 32; "Size of each token's embedding."; dimensions,
///     }
/// }
/// ```
#[macro_export]
macro_rules! discriminator_config {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $field:ident : $ty:ty = $default:expr ; $doc:literal $(; $dimension:ident)? ),* $(,)?
        }
        $( max_source_len = $max_source_len:ident ; )?
        $( validate = $validate:path ; )?
    ) => {
        $(#[$meta])*
        #[derive(
            Clone,
            Debug,
            PartialEq,
            $crate::reexports::serde::Serialize,
            $crate::reexports::serde::Deserialize,
        )]
        #[serde(crate = "agon_sdk::reexports::serde", default, deny_unknown_fields)]
        $vis struct $name {
            $( #[doc = $doc] pub $field: $ty, )*
            /// The kit's block: dropout, Adam, clipping, scoring chunk.
            pub training: $crate::kits::DiscriminatorTraining,
        }

        impl ::std::default::Default for $name {
            fn default() -> Self {
                $name {
                    $( $field: $default, )*
                    training: $crate::kits::DiscriminatorTraining::default(),
                }
            }
        }

        impl $crate::kits::DiscriminatorConfig for $name {
            const DOCS: &'static [(&'static str, &'static str)] =
                &[ $( (stringify!($field), $doc) ),* ];

            fn training(&self) -> &$crate::kits::DiscriminatorTraining {
                &self.training
            }

            $(
                fn max_source_len(&self) -> ::std::option::Option<usize> {
                    ::std::option::Option::Some(self.$max_source_len)
                }
            )?

            $(
                fn validate(&self) -> $crate::PluginResult<()> {
                    $validate(self)
                }
            )?

            fn dimensions(&self) -> ::std::vec::Vec<(&'static str, usize)> {
                #[allow(unused_mut)]
                let mut sizes = ::std::vec::Vec::new();
                $( $(
                    // `; dimension` is the one flag: another word fails here.
                    let $crate::kits::discriminator::KeyFlag::$dimension =
                        $crate::kits::discriminator::KeyFlag::dimension;
                    sizes.push((stringify!($field), self.$field));
                )? )*
                sizes
            }
        }
    };
}

/// The flags a key of [`discriminator_config!`] may carry after its doc
/// (`; dimension`); a misspelt one is a compile error naming this type.
#[doc(hidden)]
#[allow(non_camel_case_types)]
pub enum KeyFlag {
    /// A size the kit checks is at least 1.
    dimension,
}
