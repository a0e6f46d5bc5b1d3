//! agon's kernels: loops over `f32` slices, most compiled for the widest
//! vector instructions the CPU has (AVX-512, AVX2 + FMA), chosen at run time,
//! each with a portable fallback (`sum_of_squares` is portable code only).
//! No Candle, no tensors: the toolkit's layers and the plugins' hand-written
//! paths call them on their own buffers.
//! Plugins reach them through agon-sdk (`agon_sdk::toolkit::softmax_kernels`,
//! `agon_sdk::toolkit::activations`, `agon_sdk::kernels`).
//!
//! * [`softmax_kernels`] — row max, shifted exponentials with block sums,
//!   log-sum-exp, the softmax gradient, and the block search of sampling;
//! * [`activations`] — sigmoid and tanh in place;
//! * [`adam_update`] — one Adam step of weights and moments in place;
//! * [`gumbel_noise`] — Gumbel(0, 1) noise from random bits, with a
//!   vectorised logarithm;
//! * [`axpy`] — `y += a·x` and its many-term form, the same bits on every
//!   instruction set;
//! * [`first_winners`] — the first position attaining each column's
//!   maximum in a `[T, F]` block (max-over-time pooling), every column at
//!   once;
//! * `widest` — the macro that compiles one portable loop again for each
//!   wider instruction set and picks the widest version the CPU runs
//!   (`adam_update`, `axpy`, `first_winners` and `gumbel_noise` are
//!   written with it);
//! * [`sum_of_squares`] — `Σ x²` of each chunk of a slice in `f64`, eight
//!   chunks side by side, the bits of summing each alone;
//! * `output_cross_entropy_avx512`, `output_sampling_avx512` (x86-64) — the
//!   output layer's cross-entropy (forward and backward) and its sampling,
//!   a block of rows at a time with the rows in the lanes of AVX-512
//!   vectors (`rows_in_lanes`). agon-sdk's `toolkit::output_cross_entropy`
//!   and `toolkit::output_sampling` pick them when the CPU has AVX-512 and
//!   keep the portable paths.

pub mod activations;
pub mod adam_update;
pub mod axpy;
pub mod first_winners;
pub mod gumbel_noise;
#[cfg(target_arch = "x86_64")]
pub mod output_cross_entropy_avx512;
#[cfg(target_arch = "x86_64")]
pub mod output_sampling_avx512;
#[cfg(target_arch = "x86_64")]
pub mod rows_in_lanes;
pub mod softmax_kernels;
pub mod sum_of_squares;
mod widest;
