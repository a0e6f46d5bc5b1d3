//! Sampling one id for each of up to 16 rows, with the rows in the lanes of
//! AVX-512 vectors (see [`crate::toolkit::rows_in_lanes`]).
//!
//! It draws exactly what [`crate::toolkit::sample_from_logits`] draws from
//! each row's logits: the logits are `gemm`'s bits, the exponentials use
//! the same polynomial, and each [`BLOCK`] of words is summed the way the
//! vectorised row kernel sums it (eight running sums over the words'
//! positions mod 8, added in order, then the leftover words one by one),
//! with the same uniform draw and the same walk over the block sums.

use std::arch::x86_64::*;

use crate::toolkit::{
    rows_in_lanes::{logits, transposed_with_one, LANES},
    softmax_kernels::{exp16, exp_nonpositive, inverse_cdf_by, BLOCK},
    SeededRng,
};
use rand::Rng;

/// Buffers a task reuses from block to block.
#[derive(Default)]
pub struct Scratch {
    with_one: Vec<f32>,
    logits: Vec<f32>,
    exps: Vec<f32>,
    /// `[blocks of the vocabulary, 16]`: each row's block sums.
    block_sums: Vec<f32>,
}

/// One id per row of `hidden` (`[rows, H]`, at most 16 rows) from
/// `softmax(logits / temperature)`, drawn with that row's stream; rows
/// whose stream is `None` draw nothing.
///
/// # Safety
/// The CPU must have AVX-512F; `weights` is `[V, H + 1]` and `ids` and
/// `streams` have one entry per row.
#[target_feature(enable = "avx512f")]
pub unsafe fn sample_block(
    weights: &[f32],
    hidden: &[f32],
    (h, v): (usize, usize),
    temperature: f32,
    streams: &mut [Option<&mut SeededRng>],
    ids: &mut [Option<u32>],
    scratch: &mut Scratch,
) {
    let rows = streams.len();
    assert!(rows <= LANES && ids.len() == rows && hidden.len() == rows * h);
    transposed_with_one(hidden.chunks(h), h, &mut scratch.with_one);
    // NaN logits sample as `sample_from_logits` samples them (weight 0).
    let (max, _) = logits(weights, &scratch.with_one, (h + 1, v), &mut scratch.logits);

    // Exponentials and block sums, in the row kernel's order.
    let scale = 1.0 / temperature;
    let (logits, exps) = (&scratch.logits, &mut scratch.exps);
    exps.resize(logits.len(), 0.0);
    let blocks = v.div_ceil(BLOCK);
    scratch.block_sums.resize(blocks * LANES, 0.0);
    let (lp, ep) = (logits.as_ptr(), exps.as_mut_ptr());
    let scale_v = _mm512_set1_ps(scale);
    let mut max_l = [0f32; LANES];
    _mm512_storeu_ps(max_l.as_mut_ptr(), max);
    for block in 0..blocks {
        let (start, end) = (block * BLOCK, (block * BLOCK + BLOCK).min(v));
        let full = start + (end - start) / 8 * 8;
        let mut acc = [_mm512_setzero_ps(); 8];
        for eight in (start..full).step_by(8) {
            for (i, acc) in acc.iter_mut().enumerate() {
                let at = (eight + i) * LANES;
                let e = exp16(_mm512_mul_ps(
                    _mm512_sub_ps(_mm512_loadu_ps(lp.add(at)), max),
                    scale_v,
                ));
                _mm512_storeu_ps(ep.add(at), e);
                *acc = _mm512_add_ps(*acc, e);
            }
        }
        let mut sum = acc[0];
        for a in &acc[1..] {
            sum = _mm512_add_ps(sum, *a);
        }
        let mut sum_l = [0f32; LANES];
        _mm512_storeu_ps(sum_l.as_mut_ptr(), sum);
        for j in full..end {
            for lane in 0..rows {
                let e = exp_nonpositive((logits[j * LANES + lane] - max_l[lane]) * scale);
                exps[j * LANES + lane] = e;
                sum_l[lane] += e;
            }
        }
        scratch.block_sums[block * LANES..(block + 1) * LANES].copy_from_slice(&sum_l);
    }

    let (exps, sums) = (&scratch.exps, &scratch.block_sums);
    for (lane, (stream, id)) in streams.iter_mut().zip(ids.iter_mut()).enumerate() {
        let Some(rng) = stream else { continue };
        let uniform = rng.random::<f64>();
        let total: f64 = (0..blocks).map(|b| f64::from(sums[b * LANES + lane])).sum();
        let found = inverse_cdf_by(
            v,
            |b| sums[b * LANES + lane],
            |j| exps[j * LANES + lane],
            uniform * total,
        );
        // None: rounding left the target a hair above the sum; take the
        // last likely id (as `sample_from_logits` does).
        *id = Some(found.unwrap_or_else(|| {
            (0..v)
                .rev()
                .find(|&j| logits[j * LANES + lane].is_finite())
                .unwrap_or(v - 1)
        }) as u32);
    }
}
