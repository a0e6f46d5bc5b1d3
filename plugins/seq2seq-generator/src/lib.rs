//! `agon/seq2seq-generator` — an attention encoder–decoder (RNNsearch,
//! Bahdanau, Cho & Bengio, ICLR 2015) as the generator of conditional
//! adversarial training: Adversarial-NMT's generator (Wu et al. 2017), the
//! seq2seq G of adversarial dialogue generation (Li et al. 2017) and of GAN
//! summarisation (Liu et al. 2018).
//!
//! # The task it expects
//!
//! One joint vocabulary for sources and targets, with the host's specials
//! (pad 0, BOS 1, EOS 2, unk 3). Every call comes with sources
//! (`Batch::sources`, `SampleRequest::sources`, `RolloutRequest::sources`
//! row-aligned with `sequences`, `DecodeRequest::sources`); a call without
//! them is refused with an invalid-input error naming the problem. Source
//! rows end with EOS and may be longer than the task's `max_len` (documents
//! of ~150 tokens); targets end with EOS when they finish early. Decoding
//! starts from BOS and a row stops after EOS (shorter rows are padded).
//!
//! # Model
//!
//! With `E = embedding_dim`, `H = hidden_dim`, `A = attention_dim`,
//! `O = output_dim`:
//!
//! * **Embeddings** `[V, E]`: one table for sources and targets when
//!   `share_embeddings` (the vocabulary is joint), else two.
//! * **Encoder**: a bidirectional GRU with `H/2` units per direction, so an
//!   annotation `h_i = [→h_i; ←h_i]` has `H` entries. It is masked to each
//!   row's length: the forward direction holds its state over padding, the
//!   backward one starts at the row's last real token; padding never
//!   influences anything and its annotations are zero.
//! * **Initial decoder state**: `s_0 = tanh(W_b · mean_i h_i + b_b)` over the
//!   real positions.
//! * **Attention** (additive): `e_{t,i} = vᵀ tanh(W_s s_{t−1} + U_h h_i + b)`
//!   with `U_h h_i + b` computed once per batch, a softmax over the real
//!   positions, `c_t = Σ_i α_{t,i} h_i`.
//! * **Decoder**: a GRU over `[emb(y_{t−1}); c_t]`; the deep output
//!   `logits_t = W_o tanh(W_d [s_t; c_t; emb(y_{t−1})] + b_d) + b_o`.
//! * **Training**: Adam, global gradient-norm clip, weights U(−0.08, 0.08)
//!   and zero biases from the toolkit's seeded initialisation (every random
//!   draw goes through seeded ChaCha streams: same seed and calls, same
//!   results).
//!
//! # Configuration (defaults sized for the CPU)
//!
//! | key | default | |
//! |---|---|---|
//! | `embedding_dim` | 128 | |
//! | `hidden_dim` | 256 | decoder state and annotation size (128 per encoder direction) |
//! | `attention_dim` | 256 | |
//! | `output_dim` | 256 | deep-output layer |
//! | `share_embeddings` | true | |
//! | `init_scale` | 0.08 | U(−s, s) for weights |
//! | `optimizer` | Adam, lr 1e-3 | MLE steps |
//! | `adversarial_optimizer` | Adam, lr 1e-3 | policy-gradient steps, moments of their own |
//! | `grad_clip` | 5.0 | 0 disables |
//!
//! # The operations
//!
//! * `mle_step`: teacher forcing, loss = mean NLL per real target token;
//!   `scheduled_sampling > 0` feeds the model's own sample instead of the
//!   truth with that probability at each position (one decoder step at a
//!   time, as lstm-generator does).
//! * `log_likelihood`: `Σ_t log p(y_t | y_<t, x)` per row, in nats.
//! * `tempered_log_likelihood`: the same under `softmax(logits / T)` (the
//!   kit's; `agon eval --temperatures` reports NLL-test at each `T`).
//! * `sample`: ancestral sampling with temperature; row `r` draws from a
//!   stream derived from the seed and `r`; current or rollout weights.
//! * `rollout`: each source is encoded once and the sequences are decoded
//!   once, teacher-forced, with the rollout weights, caching the decoder
//!   state after every prefix; all `(job, rollout)` rows then continue from
//!   their cached state in one batched loop, attending to their own source
//!   (gathered by row). Rollout `first_rollout + n` of a job samples from a
//!   stream derived from the job's seed and that number, so the completions
//!   do not depend on how the host splits jobs into calls.
//! * `policy_gradient_step`: minimises `−Σ_t r_t log p(y_t | y_<t, x)`
//!   averaged over rows.
//! * `update_rollout_policy`: `rollout ← rate · rollout + (1 − rate) · generator`.
//! * `decode`: `beam_size` 1 is greedy; larger is beam search with scores
//!   `log p / len^length_penalty`, all rows' beams in one decoder call per step.
//! * `save` / `load`: one safetensors file, `seq2seq-generator.safetensors`,
//!   holding the weights, the rollout weights and Adam's state; a missing or
//!   mis-shaped tensor is an error naming the file.
//!
//! # Files
//!
//! `config.rs` (hyper-parameters), `weights.rs` (every parameter by name),
//! `gru.rs` (the GRU cell), `encoder.rs`, `attention.rs`, `decoder.rs`
//! (step and teacher-forced unroll), `model.rs` (the model as the SDK's
//! generator kit sees it: start a call by encoding its sources, take a
//! decoder step). Training, sampling, rollouts, greedy and beam decoding
//! and checkpoints are the kit's ([`agon_sdk::kits::KitGenerator`]).

mod attention;
mod config;
mod decoder;
mod encoder;
mod gru;
mod model;
mod weights;

pub use config::Seq2SeqConfig;
pub use model::{Seq2Seq, Seq2SeqMemory};

/// The component: the model on the SDK's generator kit.
pub type Seq2SeqGenerator = agon_sdk::kits::KitGenerator<Seq2Seq>;

agon_sdk::generator_library! {
    /// The library.
    pub struct Seq2SeqGeneratorLibrary;
    namespace: "agon",
    name: "seq2seq-generator",
    generators: {
        "seq2seq" => Seq2Seq: "attention encoder-decoder (RNNsearch: bidirectional GRU encoder, additive attention, GRU decoder with deep output) for conditional tasks",
    }
}

#[cfg(test)]
#[path = "generator_tests.rs"]
mod generator_tests;

#[cfg(test)]
mod config_docs_tests {
    use super::*;
    use agon_sdk::PluginLibrary;

    #[test]
    fn every_key_of_every_default_config_is_documented() {
        for component in Seq2SeqGeneratorLibrary::components() {
            assert_eq!(component.check_config_docs(), Ok(()));
        }
    }
}
