//! agon's SIMD kernels: loops over `f32` slices compiled for the widest
//! vector instructions the CPU has (AVX-512, AVX2 + FMA), chosen at run time,
//! each with a portable fallback. No Candle, no tensors: the toolkit's layers
//! and the plugins' hand-written paths call them on their own buffers.
//! Plugins reach them through agon-sdk (`agon_sdk::toolkit::softmax_kernels`,
//! `agon_sdk::toolkit::activations`, `agon_sdk::kernels`).
//!
//! * [`softmax_kernels`] — row max, shifted exponentials with block sums,
//!   log-sum-exp, the softmax gradient, and the block search of sampling;
//! * [`activations`] — sigmoid and tanh in place;
//! * [`axpy`] — `y += a·x`, the same bits on every instruction set.

pub mod activations;
pub mod axpy;
pub mod softmax_kernels;
