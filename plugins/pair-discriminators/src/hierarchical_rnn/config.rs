//! Configuration of `hierarchical-rnn`.

agon_sdk::discriminator_config! {
    /// Hyper-parameters.
    pub struct HierarchicalRnnConfig {
        embedding_dim: usize = 64; "Size of each token's embedding vector, one table for contexts and responses, a whole number of at least 1."; dimension,
        utterance_hidden_dim: usize = 64; "State size of the utterance-level GRU, which encodes each context turn and the response, at least 1."; dimension,
        turn_hidden_dim: usize = 64; "State size of the turn-level GRU, which reads the utterance vectors in order, at least 1."; dimension,
        turn_separator: Option<u32> = None; "Token id that splits a context into turns, each encoded on its own; null reads the whole context as one utterance (DailyDialog's single-turn pairs).",
        max_source_len: usize = 50; "Context tokens read per row (the first ones, separators included), at least 1.",
    }
    max_source_len = max_source_len;
}
