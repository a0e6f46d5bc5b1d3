//! Configuration of the GRU discriminator.

agon_sdk::discriminator_config! {
    /// Hyper-parameters.
    pub struct GruDiscriminatorConfig {
        embedding_dim: usize = 64; "Size of each token's embedding vector, a whole number of at least 1."; dimension,
        hidden_dim: usize = 64; "Size of the GRU's hidden state, a whole number of at least 1; the state at each sequence's last real token is what gets scored."; dimension,
        bidirectional: bool = false; "true adds a second GRU that reads each sequence from its last real token back to the first; the logit then sees both final states.",
        compute: agon_sdk::toolkit::Compute = agon_sdk::toolkit::Compute::Auto; "Which implementation runs the GRU: auto (on the CPU its input projection and recurrence as one hand-written op, forward and backward through time per block of rows; Candle tensor ops elsewhere), kernels (CPU only) or tensor (Candle tensor ops stepped per position, on any device: the path a GPU runs). Both give the same numbers up to float rounding.",
    }
}
