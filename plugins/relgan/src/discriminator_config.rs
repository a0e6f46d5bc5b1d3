//! Configuration of RelGAN's discriminator.

use agon_sdk::{PluginError, PluginResult};

agon_sdk::discriminator_config! {
    /// Hyper-parameters; the defaults are the paper's.
    pub struct RelganDiscriminatorConfig {
        embedding_dim: usize = 64; "Size of the token embedding, a whole number of at least 1, split evenly into the representations."; dimension,
        representations: usize = 64; "How many representations the embedding is split into (the paper's num_rep), at least 1 and dividing embedding_dim; each gets one logit, and the row's logit is their mean."; dimension,
        filter_sizes: Vec<usize> = vec![2, 3, 4, 5]; "Convolution widths in tokens, each at least 1.",
        filters_per_size: usize = 300; "Filters of each width, at least 1."; dimension,
        hidden_dim: usize = 100; "Size of the layer between the highway layer and the logit, at least 1."; dimension,
    }
    validate = checked;
}

fn checked(config: &RelganDiscriminatorConfig) -> PluginResult<()> {
    if !config
        .embedding_dim
        .is_multiple_of(config.representations.max(1))
    {
        return Err(PluginError::config(format!(
            "representations ({}) must divide embedding_dim ({})",
            config.representations, config.embedding_dim
        )));
    }
    if config.filter_sizes.is_empty() || config.filter_sizes.contains(&0) {
        return Err(PluginError::config(format!(
            "filter_sizes must be non-empty widths of at least 1, got {:?}",
            config.filter_sizes
        )));
    }
    Ok(())
}
