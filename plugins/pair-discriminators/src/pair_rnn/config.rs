//! Configuration of `pair-rnn`.

agon_sdk::discriminator_config! {
    /// Hyper-parameters.
    pub struct PairRnnConfig {
        embedding_dim: usize = 64; "Size of each token's embedding vector, one table for documents and summaries, a whole number of at least 1."; dimension,
        hidden_dim: usize = 64; "State size of both GRUs, the document's and the summary's, at least 1 (equal, for the product and difference of their vectors)."; dimension,
        mlp_dim: usize = 64; "Size of the tanh layer over the document vector, the summary vector, their product and their absolute difference, at least 1."; dimension,
        max_source_len: usize = 200; "Document tokens read per row (the first ones: news leads carry most of a summary's content), at least 1; the GRU's cost grows with it.",
    }
    max_source_len = max_source_len;
}
