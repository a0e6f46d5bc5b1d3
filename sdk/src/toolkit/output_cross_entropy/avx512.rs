//! One block of up to 16 rows of the output layer's cross-entropy, forward
//! and backward, with the block's rows in the lanes of AVX-512 vectors (see
//! [`crate::toolkit::rows_in_lanes`]): the softmax is lane-wise and `∂h`
//! accumulates lane-wise over the vocabulary. The weight gradient wants the
//! words in lanes instead, so each 16 × 16 tile of the logits' gradient is
//! transposed in registers.

use std::arch::x86_64::*;

use crate::toolkit::{
    rows_in_lanes::{
        balanced_tiles, logits, transpose16, transposed_with_one, with_tile_width, LANES,
    },
    softmax_kernels::exp16,
};

/// Buffers a task reuses from block to block.
#[derive(Default)]
pub struct Scratch {
    /// `[H + 1, 16]`: the block's `[h, 1]`, transposed (0 past the block).
    with_one: Vec<f32>,
    /// `[V rounded up to 16, 16]`: logits, then their gradient (0 past V).
    logits: Vec<f32>,
    /// `[H + 1, 16]`: `∂[h, 1]`, transposed.
    d_with_one: Vec<f32>,
}

/// Rows `block` (at most 16 indices into `hidden`, `[N, H]`): returns their
/// weighted loss `Σ c · (−log p(target))`, writes their `∂[h, 1]` rows into
/// `d_with_one` (`[block.len(), H + 1]`) and adds their `∂[Wᵀ; b]` into
/// `d_matrix` (`[H + 1, V]`).
///
/// # Safety
/// The CPU must have AVX-512F; slices must have the lengths above, and
/// every target of the block must be below `V`.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn block_gradients(
    weights: &[f32],
    hidden: &[f32],
    (h, v): (usize, usize),
    block: &[usize],
    targets: &[u32],
    coefficients: &[f32],
    scratch: &mut Scratch,
    d_with_one: &mut [f32],
    d_matrix: &mut [f32],
) -> f64 {
    let k = h + 1;
    let padded = v.div_ceil(LANES) * LANES;
    assert!(block.len() <= LANES && weights.len() == v * k && d_matrix.len() == k * v);
    assert!(d_with_one.len() >= block.len() * k);

    let with_one = &mut scratch.with_one;
    transposed_with_one(
        block.iter().map(|&r| &hidden[r * h..(r + 1) * h]),
        h,
        with_one,
    );
    let mut c = [0f32; LANES];
    for (lane, &r) in block.iter().enumerate() {
        c[lane] = coefficients[r];
    }
    // Logits, and each row's max on the way.
    let logits = &mut scratch.logits;
    let (max, nan) = self::logits(weights, with_one, (k, v), logits);
    let mut target_logit = [0f32; LANES];
    for (lane, &r) in block.iter().enumerate() {
        target_logit[lane] = logits[targets[r] as usize * LANES + lane];
    }

    // Exponentials and their per-row sums.
    let lp = logits.as_mut_ptr();
    let mut sum = _mm512_setzero_ps();
    for j in 0..v {
        let e = exp16(_mm512_sub_ps(_mm512_loadu_ps(lp.add(j * LANES)), max));
        _mm512_storeu_ps(lp.add(j * LANES), e);
        sum = _mm512_add_ps(sum, e);
    }
    let (mut max_l, mut sum_l) = ([0f32; LANES], [0f32; LANES]);
    _mm512_storeu_ps(max_l.as_mut_ptr(), max);
    _mm512_storeu_ps(sum_l.as_mut_ptr(), sum);

    // Loss; the logits become their gradient c · (softmax − one-hot).
    let mut loss = 0.0;
    let mut scale_l = [0f32; LANES];
    for lane in 0..block.len() {
        let (total, c) = (f64::from(sum_l[lane]), f64::from(c[lane]));
        // A NaN logit makes the row's loss NaN (the exponentials would
        // weigh it 0), so a diverged model is refused, not trained on.
        let log_p = if nan & (1 << lane) != 0 {
            f64::NAN
        } else {
            f64::from(target_logit[lane] - max_l[lane]) - total.ln()
        };
        loss -= c * log_p;
        scale_l[lane] = (c / total) as f32;
    }
    let scale = _mm512_loadu_ps(scale_l.as_ptr());
    for j in 0..v {
        let at = lp.add(j * LANES);
        _mm512_storeu_ps(at, _mm512_mul_ps(_mm512_loadu_ps(at), scale));
    }
    for (lane, &r) in block.iter().enumerate() {
        logits[targets[r] as usize * LANES + lane] -= c[lane];
    }

    // ∂[h, 1] = ∂logits · [W, b], up to sixteen hidden units at a time.
    let d_t = &mut scratch.d_with_one;
    d_t.resize(k * LANES, 0.0);
    for (p, width) in balanced_tiles(k, 16) {
        with_tile_width!(width, d_hidden_tile, (weights, logits, d_t, p, (k, v)));
    }
    for lane in 0..block.len() {
        for p in 0..k {
            d_with_one[lane * k + p] = d_t[p * LANES + lane];
        }
    }

    // ∂[Wᵀ; b] += [h, 1]ᵀ · ∂logits, sixteen words at a time.
    for chunk in 0..padded / LANES {
        d_matrix_chunk(logits, with_one, d_matrix, chunk * LANES, (k, v));
    }
    loss
}

/// `∂[h, 1]` of hidden units `p..p + P` for the block's rows.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn d_hidden_tile<const P: usize>(
    weights: &[f32],
    d_logits: &[f32],
    d_t: &mut [f32],
    p: usize,
    (k, v): (usize, usize),
) {
    let (w, d) = (weights.as_ptr().add(p), d_logits.as_ptr());
    let mut acc = [_mm512_setzero_ps(); P];
    for j in 0..v {
        let dj = _mm512_loadu_ps(d.add(j * LANES));
        for (pp, acc) in acc.iter_mut().enumerate() {
            *acc = _mm512_fmadd_ps(_mm512_set1_ps(*w.add(j * k + pp)), dj, *acc);
        }
    }
    for (pp, acc) in acc.iter().enumerate() {
        _mm512_storeu_ps(d_t.as_mut_ptr().add((p + pp) * LANES), *acc);
    }
}

/// `∂[Wᵀ; b][:, j..j + 16] += [h, 1]ᵀ · ∂logits[:, j..j + 16]`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn d_matrix_chunk(
    d_logits: &[f32],
    with_one: &[f32],
    d_matrix: &mut [f32],
    j: usize,
    (k, v): (usize, usize),
) {
    let mut rows = [_mm512_setzero_ps(); LANES];
    for (i, row) in rows.iter_mut().enumerate() {
        *row = _mm512_loadu_ps(d_logits.as_ptr().add((j + i) * LANES));
    }
    // Now rows[r] holds row r's gradient for words j..j + 16.
    let rows = transpose16(rows);
    let lanes = (v - j).min(LANES);
    let mask: __mmask16 = if lanes == LANES {
        0xFFFF
    } else {
        (1 << lanes) - 1
    };
    for (p, width) in balanced_tiles(k, 8) {
        with_tile_width!(
            width,
            d_matrix_tile,
            (&rows, with_one, d_matrix, (p, j), mask, v)
        );
    }
}

/// Rows `p..p + P` of [`d_matrix_chunk`]: `P` independent accumulators.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn d_matrix_tile<const P: usize>(
    rows: &[__m512; LANES],
    with_one: &[f32],
    d_matrix: &mut [f32],
    (p, j): (usize, usize),
    mask: __mmask16,
    v: usize,
) {
    let (x, out) = (
        with_one.as_ptr().add(p * LANES),
        d_matrix.as_mut_ptr().add(p * v + j),
    );
    let mut acc = [_mm512_setzero_ps(); P];
    for (pp, acc) in acc.iter_mut().enumerate() {
        *acc = _mm512_maskz_loadu_ps(mask, out.add(pp * v));
    }
    for (r, row) in rows.iter().enumerate() {
        for (pp, acc) in acc.iter_mut().enumerate() {
            *acc = _mm512_fmadd_ps(_mm512_set1_ps(*x.add(pp * LANES + r)), *row, *acc);
        }
    }
    for (pp, acc) in acc.iter().enumerate() {
        _mm512_mask_storeu_ps(out.add(pp * v), mask, *acc);
    }
}
