//! What a component is told when it is constructed.

use abi_stable::{
    std_types::{ROption, RString},
    StableAbi,
};

/// Facts about the vocabulary the component works with.
///
/// Ids are dense in `0..size`. Special ids are optional: the SeqGAN oracle
/// task has a start token (id 0, also an ordinary token) and no EOS or padding.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct VocabInfo {
    /// Number of ids.
    pub size: u32,
    /// The id fed as the first input when generating.
    pub bos: u32,
    /// End of sequence; generation of a row stops after it.
    pub eos: ROption<u32>,
    /// Padding; never a real token.
    pub pad: ROption<u32>,
    /// Unknown word.
    pub unk: ROption<u32>,
}

/// Everything a component needs at construction.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct PluginContext {
    /// `cpu` or `cuda:N`.
    pub device: RString,
    /// Seed for weight initialisation (sampling seeds come with each request).
    pub seed: u64,
    /// The vocabulary.
    pub vocab: VocabInfo,
    /// Longest sequence the task produces (tokens, EOS included).
    pub max_len: u32,
    /// The component's configuration: the YAML the user wrote, already merged
    /// over the component's default config by the host.
    pub config_yaml: RString,
    /// The run directory (for logs or caches the component wants to keep).
    pub run_dir: RString,
}

impl PluginContext {
    /// A CPU context with an empty config, for tests and examples.
    pub fn for_tests(vocab_size: u32, max_len: u32) -> Self {
        PluginContext {
            device: "cpu".into(),
            seed: 0,
            vocab: VocabInfo {
                size: vocab_size,
                bos: 0,
                eos: ROption::RNone,
                pad: ROption::RNone,
                unk: ROption::RNone,
            },
            max_len,
            config_yaml: RString::new(),
            run_dir: RString::new(),
        }
    }

    /// The config deserialised into `T` (missing keys take `T`'s defaults when
    /// it is `#[serde(default)]`; unknown keys are errors when it is
    /// `#[serde(deny_unknown_fields)]`).
    pub fn config<T: serde::de::DeserializeOwned + Default>(
        &self,
    ) -> Result<T, crate::PluginError> {
        crate::yaml::component_config(self.config_yaml.as_str())
    }
}
