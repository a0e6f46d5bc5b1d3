//! The training settings every component's config carries.

use agon_sdk::{toolkit::AdamConfig, PluginError, PluginResult};
use serde::{de::DeserializeOwned, Serialize};

/// The settings the shared component reads from a model's config.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingSettings {
    /// Probability of zeroing a feature before the output layers (0 disables).
    pub dropout: f32,
    /// Adam.
    pub optimizer: AdamConfig,
    /// Global gradient-norm clip (0 disables).
    pub grad_clip: f32,
    /// Source tokens read per row; longer sources are truncated to their
    /// first `max_source_len` tokens.
    pub max_source_len: usize,
}

/// A component's config: serde with defaults, plus the shared settings.
pub trait PairConfig: Serialize + DeserializeOwned + Default + Clone + Send + 'static {
    /// The shared settings.
    fn training(&self) -> TrainingSettings;
    /// Sizes that must be positive, by name.
    fn dimensions(&self) -> Vec<(&'static str, usize)>;

    /// Checks the config is usable.
    fn validate(&self) -> PluginResult<()> {
        for (name, value) in self.dimensions() {
            if value == 0 {
                return Err(PluginError::config(format!("{name} must be positive")));
            }
        }
        let training = self.training();
        if !(0.0..1.0).contains(&training.dropout) {
            return Err(PluginError::config(format!(
                "dropout must be in [0, 1), got {}",
                training.dropout
            )));
        }
        if training.max_source_len == 0 {
            return Err(PluginError::config("max_source_len must be positive"));
        }
        Ok(())
    }
}
