//! One block of up to 16 rows of the output layer's cross-entropy, forward
//! and backward, with the block's rows in the 16 lanes of AVX-512 vectors.
//!
//! With the rows in lanes, one vector holds one word's logit for every row
//! of the block: the logits are a broadcast-multiply-add per (word, hidden
//! unit), the softmax's max, exponentials and sums are lane-wise (no
//! horizontal reductions, every row at once), and `∂h` accumulates
//! lane-wise over the vocabulary. The weight gradient wants the words in
//! lanes instead, so each 16 × 16 tile of the logits' gradient is
//! transposed in registers. Per row, the sums run over the words in order,
//! so a row's results do not depend on the other rows of its block.
//!
//! Layouts: `weights` is `[V, H + 1]` (each word's output weights, then its
//! bias); the block's buffers are word-major with 16 lanes per word.

use std::arch::x86_64::*;

use crate::toolkit::softmax_kernels::exp16;

/// Rows per block: the lanes of a vector.
pub const LANES: usize = 16;

/// Buffers a task reuses from block to block.
#[derive(Default)]
pub struct Scratch {
    /// `[H + 1, 16]`: the block's `[h, 1]`, transposed (0 past the block).
    with_one: Vec<f32>,
    /// `[V rounded up to 16, 16]`: logits, then their gradient.
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
    with_one.clear();
    with_one.resize(k * LANES, 0.0);
    let mut c = [0f32; LANES];
    for (lane, &r) in block.iter().enumerate() {
        for p in 0..h {
            with_one[p * LANES + lane] = hidden[r * h + p];
        }
        with_one[h * LANES + lane] = 1.0;
        c[lane] = coefficients[r];
    }
    let logits = &mut scratch.logits;
    logits.resize(padded * LANES, 0.0);

    // Logits, and each row's max on the way.
    let mut max = _mm512_set1_ps(f32::NEG_INFINITY);
    let mut j = 0;
    while j + 8 <= v {
        max = _mm512_max_ps(max, logits_tile::<8>(weights, with_one, logits, j, k));
        j += 8;
    }
    while j < v {
        max = _mm512_max_ps(max, logits_tile::<1>(weights, with_one, logits, j, k));
        j += 1;
    }
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
    for j in v..padded {
        _mm512_storeu_ps(lp.add(j * LANES), _mm512_setzero_ps());
    }
    let (mut max_l, mut sum_l) = ([0f32; LANES], [0f32; LANES]);
    _mm512_storeu_ps(max_l.as_mut_ptr(), max);
    _mm512_storeu_ps(sum_l.as_mut_ptr(), sum);

    // Loss; the logits become their gradient c · (softmax − one-hot).
    let mut loss = 0.0;
    let mut scale_l = [0f32; LANES];
    for lane in 0..block.len() {
        let (total, c) = (f64::from(sum_l[lane]), f64::from(c[lane]));
        loss -= c * (f64::from(target_logit[lane] - max_l[lane]) - total.ln());
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

/// Splits `0..len` into tiles of at most `max` and about equal widths
/// (33 → 11 + 11 + 11, not 16 + 16 + 1: a narrow tile is one long chain of
/// dependent multiply-adds, bound by their latency).
fn balanced_tiles(len: usize, max: usize) -> impl Iterator<Item = (usize, usize)> {
    let tiles = len.div_ceil(max).max(1);
    let (base, wider) = (len / tiles, len % tiles);
    (0..tiles).scan(0, move |start, t| {
        let width = base + usize::from(t < wider);
        let tile = (*start, width);
        *start += width;
        Some(tile)
    })
}

/// Calls `$kernel::<W>($args)` for the run-time width `$width` (1 to 16).
macro_rules! with_tile_width {
    ($width:expr, $kernel:ident, ($($arg:expr),*)) => {
        match $width {
            1 => $kernel::<1>($($arg),*),
            2 => $kernel::<2>($($arg),*),
            3 => $kernel::<3>($($arg),*),
            4 => $kernel::<4>($($arg),*),
            5 => $kernel::<5>($($arg),*),
            6 => $kernel::<6>($($arg),*),
            7 => $kernel::<7>($($arg),*),
            8 => $kernel::<8>($($arg),*),
            9 => $kernel::<9>($($arg),*),
            10 => $kernel::<10>($($arg),*),
            11 => $kernel::<11>($($arg),*),
            12 => $kernel::<12>($($arg),*),
            13 => $kernel::<13>($($arg),*),
            14 => $kernel::<14>($($arg),*),
            15 => $kernel::<15>($($arg),*),
            16 => $kernel::<16>($($arg),*),
            other => unreachable!("tile width {other}"),
        }
    };
}
use with_tile_width;

/// Logits of words `j..j + J` for the block's rows; returns their lane-wise max.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn logits_tile<const J: usize>(
    weights: &[f32],
    with_one: &[f32],
    logits: &mut [f32],
    j: usize,
    k: usize,
) -> __m512 {
    let (w, x) = (weights.as_ptr().add(j * k), with_one.as_ptr());
    let mut acc = [_mm512_setzero_ps(); J];
    for p in 0..k {
        let xp = _mm512_loadu_ps(x.add(p * LANES));
        for (jj, acc) in acc.iter_mut().enumerate() {
            *acc = _mm512_fmadd_ps(_mm512_set1_ps(*w.add(jj * k + p)), xp, *acc);
        }
    }
    let mut max = _mm512_set1_ps(f32::NEG_INFINITY);
    for (jj, acc) in acc.iter().enumerate() {
        _mm512_storeu_ps(logits.as_mut_ptr().add((j + jj) * LANES), *acc);
        max = _mm512_max_ps(max, *acc);
    }
    max
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

/// The transpose of a 16 × 16 tile held as 16 row vectors.
#[target_feature(enable = "avx512f")]
#[inline]
pub unsafe fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
    let pd = _mm512_castps_pd;
    let ps = _mm512_castpd_ps;
    // Interleave pairs of rows, then pairs of pairs: in each 128-bit lane
    // L, q[4g + i] holds element 4L + i of rows 4g..4g + 4.
    let mut t = [_mm512_setzero_ps(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    let mut q = [_mm512_setzero_ps(); 16];
    for g in 0..4 {
        let (lo, hi, lo2, hi2) = (t[4 * g], t[4 * g + 1], t[4 * g + 2], t[4 * g + 3]);
        q[4 * g] = ps(_mm512_unpacklo_pd(pd(lo), pd(lo2)));
        q[4 * g + 1] = ps(_mm512_unpackhi_pd(pd(lo), pd(lo2)));
        q[4 * g + 2] = ps(_mm512_unpacklo_pd(pd(hi), pd(hi2)));
        q[4 * g + 3] = ps(_mm512_unpackhi_pd(pd(hi), pd(hi2)));
    }
    // Gather the 128-bit lanes: column 4L + i takes lane L of q[i],
    // q[4 + i], q[8 + i], q[12 + i].
    let mut out = [_mm512_setzero_ps(); 16];
    for i in 0..4 {
        let a = _mm512_shuffle_f32x4::<0x88>(q[i], q[4 + i]);
        let b = _mm512_shuffle_f32x4::<0xDD>(q[i], q[4 + i]);
        let c = _mm512_shuffle_f32x4::<0x88>(q[8 + i], q[12 + i]);
        let d = _mm512_shuffle_f32x4::<0xDD>(q[8 + i], q[12 + i]);
        out[i] = _mm512_shuffle_f32x4::<0x88>(a, c);
        out[8 + i] = _mm512_shuffle_f32x4::<0xDD>(a, c);
        out[4 + i] = _mm512_shuffle_f32x4::<0x88>(b, d);
        out[12 + i] = _mm512_shuffle_f32x4::<0xDD>(b, d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_tiles_cover_the_range_in_near_equal_widths() {
        let tiles = |len, max| balanced_tiles(len, max).collect::<Vec<_>>();
        assert_eq!(tiles(33, 16), [(0, 11), (11, 11), (22, 11)]);
        assert_eq!(tiles(33, 8), [(0, 7), (7, 7), (14, 7), (21, 6), (27, 6)]);
        assert_eq!(tiles(16, 16), [(0, 16)]);
        assert_eq!(tiles(7, 16), [(0, 7)]);
        assert_eq!(tiles(21, 16), [(0, 11), (11, 10)]);
    }

    #[test]
    fn transpose16_transposes() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            eprintln!("skipped: this CPU lacks AVX-512");
            return;
        }
        let values: Vec<f32> = (0..256).map(|i| i as f32).collect();
        let mut got = vec![0f32; 256];
        // SAFETY: the CPU has AVX-512F; every pointer covers 16 floats.
        unsafe {
            let mut rows = [_mm512_setzero_ps(); 16];
            for (i, row) in rows.iter_mut().enumerate() {
                *row = _mm512_loadu_ps(values.as_ptr().add(16 * i));
            }
            for (i, col) in transpose16(rows).iter().enumerate() {
                _mm512_storeu_ps(got.as_mut_ptr().add(16 * i), *col);
            }
        }
        for i in 0..16 {
            for j in 0..16 {
                assert_eq!(got[i * 16 + j], values[j * 16 + i], "({i}, {j})");
            }
        }
    }
}
