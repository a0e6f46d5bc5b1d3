//! Configuration of `pair-cnn`: sizes follow Wu et al. (2017), 3×3
//! convolutions of 64 filters and 2×2 max-pooling.

agon_sdk::discriminator_config! {
    /// Hyper-parameters.
    pub struct PairCnnConfig {
        embedding_dim: usize = 64; "Size of each token's embedding vector, one table for sources and targets, a whole number of at least 1."; dimension,
        conv1_filters: usize = 64; "Number of filters of the first 3x3 convolution over the source-by-target grid, at least 1; the costliest part (8 is about six times faster than 64)."; dimension,
        conv2_filters: usize = 64; "Number of filters of the second 3x3 convolution, after the 2x2 max-pool, at least 1."; dimension,
        max_source_len: usize = 50; "Source tokens read per row (the first ones), at least 1; the grid has source-by-target cells, so this bounds the cost of long sources.",
    }
    max_source_len = max_source_len;
}
