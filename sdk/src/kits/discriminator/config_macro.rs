//! A kit discriminator's config in a few lines: each key with its type,
//! default and one-line doc, and the kit's `training:` block added.

/// Declares a kit discriminator's config struct and implements
/// [`crate::kits::DiscriminatorConfig`] for it.
///
/// Each key is `name: Type = default; "doc"`, followed by `; dimension` for
/// a size the kit checks is at least 1. The struct gets the keys, a
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
/// ```
#[macro_export]
macro_rules! discriminator_config {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $field:ident : $ty:ty = $default:expr ; $doc:literal $(; $dimension:ident)? ),* $(,)?
        }
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

            fn dimensions(&self) -> ::std::vec::Vec<(&'static str, usize)> {
                #[allow(unused_mut)]
                let mut sizes = ::std::vec::Vec::new();
                $( $(
                    let _ = stringify!($dimension);
                    sizes.push((stringify!($field), self.$field));
                )? )*
                sizes
            }
        }
    };
}
