//! Plugin-author toolkit on Candle (feature `candle`).
//!
//! * [`device`] — the Candle device a [`crate::PluginContext`] asks for;
//! * [`compute`] — hand-written CPU kernels or Candle tensor ops, chosen
//!   from the device and a component's `compute:` key;
//! * [`tensors`] — [`crate::TokenBatch`] → input / target / mask tensors;
//! * [`init`] — seeded initialisation of a `VarMap` (PyTorch's defaults by
//!   variable name in [`pytorch_like`]);
//! * [`dropout`](mod@dropout) — seeded dropout for training, none for evaluation
//!   ([`dropout_mask`]: the same mask as plain values, for kernels on slices);
//! * [`gumbel`] — Gumbel noise from seeded streams and the Gumbel-softmax
//!   relaxation of a sample;
//! * [`padder`] — rows of any lengths → padded id and mask tensors;
//! * [`embedding`], [`gru`], [`pooling`] — layers over masked rows: an
//!   embedding zero at padding, a GRU read to each row's last real token,
//!   mean and max over real positions, and each row's value at its last
//!   real position (a per-token model's verdict on the whole row);
//! * [`lstm`] — an LSTM layer returning every position's state, as
//!   Candle's LSTM or, on the CPU, as one op ([`lstm_recurrence`]: input
//!   projection and recurrence, forward and backward through time per block
//!   of rows); [`gru_recurrence`] is the same for [`gru`]'s `MaskedGru`,
//!   and [`row_blocks`] what the two kernels share;
//! * [`rng`] — seeded ChaCha sampling and initialisation (Candle's CPU RNG
//!   cannot be seeded, so every random draw of a plugin goes through here);
//! * [`softmax_kernels`] — fused max / exp / sum row kernels for
//!   sampling and log-softmax over a vocabulary;
//! * [`output_sampling`] — the output layer's matmul and softmax sampling
//!   fused per block of rows;
//! * [`output_cross_entropy`] — the output layer's weighted cross-entropy
//!   with its gradients, forward and backward fused per block of rows;
//!   [`output_layer_nll`](mod@output_layer_nll) the same as one autograd op
//!   from a model's hidden states;
//! * `rows_in_lanes` (x86-64) — blocks of 16 rows in the lanes of AVX-512
//!   vectors, the layout of the output layer's kernels;
//! * [`block_matmul`] — matmuls on slices: single-threaded per block of
//!   rows, for fused kernels that work one block per task, or the whole
//!   product exactly as Candle's matmul computes it (also for a few rows
//!   times a wide weight, without repacking the weight);
//! * `rows_gradient` (crate-internal) — where a backward pass puts the
//!   gradient with respect to relaxed rows: delivered to the kit or skipped;
//! * [`target_log_probs`](mod@target_log_probs) — `log softmax(logits)[target]` as one op with
//!   its own backward pass;
//! * [`activations`] — sigmoid and tanh over slices, vectorised;
//! * [`linear`](mod@linear) — a linear layer whose bias gradient is one pass over
//!   the rows (Candle's `Linear` otherwise, to the bit), at any rank;
//! * [`bias_add`](mod@bias_add) — `xs + bias` over the last axis, its bias
//!   gradient one pass over the rows (Candle's `broadcast_add`, to the bit);
//! * [`loss`] — losses in their numerically stable forms;
//! * [`checkpoint`] — named tensors to and from safetensors files;
//! * [`adam`] — Adam whose moments can be saved and restored;
//! * [`clip`] — gradient clipping by global norm;
//! * [`trainable`] — variables + Adam + clip: one step, save, load;
//! * [`windows`](mod@windows) — a sequence's sliding windows as the rows of one
//!   matrix, for a convolution as one matmul.

/// Sigmoid and tanh in place (crate `agon-kernels`).
pub use agon_kernels::activations;
pub mod adam;
pub mod bias_add;
pub mod block_matmul;
pub mod checkpoint;
pub mod clip;
pub mod compute;
pub mod device;
pub mod dropout;
pub mod embedding;
pub mod gru;
pub mod gru_recurrence;
pub mod gumbel;
pub mod init;
pub mod layer_norm;
pub mod linear;
pub mod loss;
pub mod lstm;
pub mod lstm_recurrence;
mod max_over_time_op;
pub mod output_cross_entropy;
pub mod output_layer_nll;
pub mod output_sampling;
pub mod padder;
pub mod pooling;
mod relaxed_embedding;
pub mod rng;
pub mod row_blocks;
pub(crate) mod rows_gradient;
/// Blocks of rows in the lanes of AVX-512 vectors (crate `agon-kernels`).
#[cfg(target_arch = "x86_64")]
pub use agon_kernels::rows_in_lanes;
/// Softmax row kernels (crate `agon-kernels`).
pub use agon_kernels::softmax_kernels;
pub mod target_log_probs;
pub mod tensors;
#[cfg(test)]
mod test_tensors;
pub mod trainable;
pub mod windows;
pub(crate) mod worker_pool;

pub use adam::{Adam, AdamConfig, ADAM_CONFIG_DOCS, ADVERSARIAL_ADAM_CONFIG_DOCS};
pub use bias_add::bias_add;
pub use checkpoint::{load_tensors, restore_vars, save_tensors, sorted_vars, tensor_like};
pub use clip::clip_grad_norm;
pub use compute::{Compute, ComputePath, COMPUTE_CONFIG_DOCS};
pub use device::device_for;
pub use dropout::Dropout;
pub use embedding::MaskedEmbedding;
pub use gru::MaskedGru;
pub use gumbel::{gumbel_noise, gumbel_softmax, gumbel_softmax_backward, gumbel_softmax_rows};
pub use init::{pytorch_like, reinitialize, SeededInit};
pub use layer_norm::LayerNorm;
pub use linear::{linear, Linear};
pub use loss::bce_with_logits;
pub use lstm::Lstm;
pub use output_cross_entropy::OutputLayerGradients;
pub use output_layer_nll::output_layer_nll;
pub use output_sampling::OutputProjection;
pub use padder::{Padded, Padder};
pub use pooling::{last_positions, masked_max, masked_mean, max_over_time};
pub use rng::{derive_seed, normal_vec, rng_from_seed, sample_from_logits, SeededRng};
pub use target_log_probs::target_log_probs;
pub use tensors::{
    dropout, dropout_mask, labelled_batch, length_mask, padded_id_vec, padded_ids, teacher_forcing,
    LabelledBatch, TeacherForcing,
};
pub use trainable::{OptimizerSlot, Trainable};
pub use windows::windows;
