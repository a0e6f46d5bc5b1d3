//! Blocks of rows held with the rows in the 16 lanes of AVX-512 vectors, in
//! lane groups of 16 rows: the layout of the output layer's CPU kernels
//! ([`crate::output_cross_entropy_avx512`], [`crate::output_sampling_avx512`];
//! agon-sdk's `toolkit::output_cross_entropy` and `toolkit::output_sampling`
//! call them).
//!
//! With the rows in lanes, one vector holds one word's logit for every row
//! of the block: the logits are a broadcast-multiply-add per (word, hidden
//! unit), and the softmax's max, exponentials and sums are lane-wise, every
//! row at once with no horizontal reductions. Per row, every sum runs over
//! the words in order, so a row's results do not depend on the other rows
//! of its block, and the logits are `gemm`'s bits (multiply-adds from zero
//! over the hidden units in order, as in its micro-kernel).
//!
//! Layouts: the output layer is word-major, `[V, H + 1]` (each word's
//! weights, then its bias); a block's buffers are `[·, G, 16]`, one vector
//! per word or hidden unit and lane group.

use std::arch::x86_64::*;

/// Rows per lane group: the lanes of a vector.
pub const LANES: usize = 16;

/// `[h, 1]ᵀ` of up to `groups × 16` rows of `h` values, one lane group of
/// 16 rows after the other: `[groups, H + 1, 16]`, 0 in the lanes past the
/// rows.
pub fn transposed_with_one<'a>(
    rows: impl Iterator<Item = &'a [f32]>,
    h: usize,
    groups: usize,
    out: &mut Vec<f32>,
) {
    let k = h + 1;
    out.clear();
    out.resize(groups * k * LANES, 0.0);
    for (r, row) in rows.enumerate() {
        assert!(r < groups * LANES && row.len() == h);
        let (group, lane) = (r / LANES, r % LANES);
        let at = |p: usize| (group * k + p) * LANES + lane;
        for (p, &x) in row.iter().enumerate() {
            out[at(p)] = x;
        }
        out[at(h)] = 1.0;
    }
}

/// Logits of words `j..j + J` for the rows of `G` lane groups, into `out`
/// (`[·, G, 16]`) from its word `at`, folded into each group's lane-wise
/// `max` (NaN skipped: `max(NaN, m)` is `m`). Each sum is `gemm`'s: the
/// multiply-adds from zero over the hidden units and the bias, in order.
///
/// The tile is `J` words × `G` groups of accumulators, and each broadcast
/// weight feeds `G` multiply-adds: with one group, the broadcasts rather
/// than the multiply-adds bound the loop (measured on an Ice Lake Xeon:
/// 0.8 multiply-adds a cycle with one group, 1.4 with two, 1.55 with three).
///
/// # Safety
/// The CPU must have AVX-512F; `word_major` is `[V, k]` with `j + J ≤ V`,
/// `with_one` `[G, k, 16]`, and `out` holds words `at..at + J`.
#[target_feature(enable = "avx512f")]
#[inline]
pub unsafe fn logits_tile<const G: usize, const J: usize>(
    word_major: &[f32],
    with_one: &[f32],
    out: &mut [f32],
    (j, at): (usize, usize),
    k: usize,
    max: &mut [__m512; G],
) {
    debug_assert!(word_major.len() >= (j + J) * k && with_one.len() == G * k * LANES);
    debug_assert!(out.len() >= (at + J) * G * LANES);
    let (w, x) = (word_major.as_ptr().add(j * k), with_one.as_ptr());
    // acc[jj][g]: word jj's logits for group g's rows.
    let mut acc = [[_mm512_setzero_ps(); G]; J];
    for p in 0..k {
        let mut xp = [_mm512_setzero_ps(); G];
        for (g, xp) in xp.iter_mut().enumerate() {
            *xp = _mm512_loadu_ps(x.add((g * k + p) * LANES));
        }
        for (jj, acc) in acc.iter_mut().enumerate() {
            let weight = _mm512_set1_ps(*w.add(jj * k + p));
            for (acc, &xp) in acc.iter_mut().zip(&xp) {
                *acc = _mm512_fmadd_ps(weight, xp, *acc);
            }
        }
    }
    for (jj, acc) in acc.iter().enumerate() {
        for (g, (acc, max)) in acc.iter().zip(max.iter_mut()).enumerate() {
            _mm512_storeu_ps(out.as_mut_ptr().add(((at + jj) * G + g) * LANES), *acc);
            *max = _mm512_max_ps(*acc, *max);
        }
    }
}

/// Splits `0..len` into tiles of at most `max` and about equal widths
/// (33 → 11 + 11 + 11, not 16 + 16 + 1: a narrow tile is one long chain of
/// dependent multiply-adds, bound by their latency).
pub fn balanced_tiles(len: usize, max: usize) -> impl Iterator<Item = (usize, usize)> {
    let tiles = len.div_ceil(max).max(1);
    let (base, wider) = (len / tiles, len % tiles);
    (0..tiles).scan(0, move |start, t| {
        let width = base + usize::from(t < wider);
        let tile = (*start, width);
        *start += width;
        Some(tile)
    })
}

/// Calls `$kernel::<W>($args)` (or `$kernel::<G, W>($args)`) for the
/// run-time width `$width` (1 to 16).
macro_rules! with_tile_width {
    ($width:expr, $kernel:ident::<$g:ident>, ($($arg:expr),*)) => {
        match $width {
            1 => $kernel::<$g, 1>($($arg),*),
            2 => $kernel::<$g, 2>($($arg),*),
            3 => $kernel::<$g, 3>($($arg),*),
            4 => $kernel::<$g, 4>($($arg),*),
            5 => $kernel::<$g, 5>($($arg),*),
            6 => $kernel::<$g, 6>($($arg),*),
            7 => $kernel::<$g, 7>($($arg),*),
            8 => $kernel::<$g, 8>($($arg),*),
            9 => $kernel::<$g, 9>($($arg),*),
            10 => $kernel::<$g, 10>($($arg),*),
            11 => $kernel::<$g, 11>($($arg),*),
            12 => $kernel::<$g, 12>($($arg),*),
            13 => $kernel::<$g, 13>($($arg),*),
            14 => $kernel::<$g, 14>($($arg),*),
            other => unreachable!("tile width {other}"),
        }
    };
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
pub(crate) use with_tile_width;

/// The transpose of a 16 × 16 tile held as 16 row vectors.
///
/// # Safety
/// The CPU must have AVX-512F.
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
