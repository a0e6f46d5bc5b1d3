//! One block of up to 32 rows of the output layer's cross-entropy, forward
//! and backward, with the block's rows in the lanes of AVX-512 vectors: one
//! or two lane groups of 16 rows (see [`crate::rows_in_lanes`]).
//!
//! Forward, one sweep over the vocabulary a [`BLOCK`] of words at a time:
//! the block's logits, its max, and its exponentials shifted by that max,
//! stored with their sum. Each row's max, normaliser and loss follow from
//! the block maxima and sums, and each block's share of the gradient is one
//! coefficient per row (`c · exp(block max − max) / Σ`).
//!
//! Backward, a second sweep, block by block while the block is in L1. The
//! logits' gradient is `c · (softmax − one-hot)`, the block's exponentials
//! times its coefficient less `c` at the target: `∂h` accumulates the
//! exponentials lane-wise and scales each block's sum by its coefficient
//! (the one-hot part is subtracted once per row at the end); the weight
//! gradient wants the words in lanes, so the block's 16 × 16 tiles are
//! scaled and transposed into a buffer, and each broadcast hidden value
//! feeds several word vectors.
//!
//! In every multiply-add loop, each broadcast operand feeds several
//! multiply-adds: the broadcasts, not the multiply-adds, bound a loop that
//! pairs them one to one (see [`logits_tile`]).

use std::arch::x86_64::*;

use crate::{
    rows_in_lanes::{
        balanced_tiles, logits_tile, transpose16, transposed_with_one, with_tile_width, LANES,
    },
    softmax_kernels::{exp16, BLOCK},
};

/// Lane groups one block has at most.
const MAX_GROUPS: usize = 2;

/// Rows one block has at most.
pub const MAX_ROWS: usize = MAX_GROUPS * LANES;

/// Word vectors per block: the weight gradient's tiles are this many word
/// vectors wide.
const CHUNKS: usize = BLOCK / LANES;

/// Buffers a task reuses from block to block.
#[derive(Default)]
pub struct Scratch {
    /// `[G, H + 1, 16]`: the block's `[h, 1]`, transposed (0 past the rows).
    with_one: Vec<f32>,
    /// `[V rounded up to BLOCK, G, 16]`: exponentials shifted by their
    /// block's max; 0 past V.
    exps: Vec<f32>,
    /// `[blocks, G, 16]`: each block's max, then its coefficient.
    block_max: Vec<f32>,
    /// `[blocks, G, 16]`: each block's sum of exponentials.
    block_sums: Vec<f32>,
    /// `[G, H + 1, 16]`: `∂[h, 1]`, transposed.
    d_with_one: Vec<f32>,
    /// `[G × 16, BLOCK]`: one block's logit gradient, words in lanes.
    by_row: Vec<f32>,
}

/// Rows `block` (at most [`MAX_ROWS`] indices into `hidden`, `[N, H]`, with
/// their targets and coefficients): returns their weighted loss
/// `Σ c · (−log p(target))`, writes their `∂[h, 1]` rows into `d_with_one`
/// (`[block.len(), H + 1]`) and adds their `∂[Wᵀ; b]` into `d_matrix`
/// (`[H + 1, V]`), or overwrites it when `accumulate` is false.
///
/// # Safety
/// The CPU must have AVX-512F; `weights` is the layer word-major
/// (`[V, H + 1]`), slices have the lengths above, and every target of the
/// block is below `V`.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn block_gradients(
    weights: &[f32],
    hidden: &[f32],
    (h, v): (usize, usize),
    (block, targets, coefficients): (&[usize], &[u32], &[f32]),
    scratch: &mut Scratch,
    d_with_one: &mut [f32],
    (d_matrix, accumulate): (&mut [f32], bool),
) -> f64 {
    let k = h + 1;
    assert!(block.len() <= MAX_ROWS && weights.len() == v * k && d_matrix.len() == k * v);
    assert!(d_with_one.len() >= block.len() * k);
    let rows = Rows {
        block,
        targets,
        coefficients,
    };
    let layer = Layer { weights, h, v };
    match block.len().div_ceil(LANES) {
        0 => 0.0,
        1 => block_gradients_of::<1>(
            layer,
            hidden,
            rows,
            scratch,
            d_with_one,
            (d_matrix, accumulate),
        ),
        _ => block_gradients_of::<2>(
            layer,
            hidden,
            rows,
            scratch,
            d_with_one,
            (d_matrix, accumulate),
        ),
    }
}

#[derive(Clone, Copy)]
struct Layer<'a> {
    /// `[V, H + 1]`.
    weights: &'a [f32],
    h: usize,
    v: usize,
}

#[derive(Clone, Copy)]
struct Rows<'a> {
    block: &'a [usize],
    targets: &'a [u32],
    coefficients: &'a [f32],
}

impl Rows<'_> {
    /// Row `lane` of the block's target and coefficient (`None` past the
    /// block).
    fn target_and_coefficient(&self, lane: usize) -> Option<(usize, f32)> {
        let &r = self.block.get(lane)?;
        Some((self.targets[r] as usize, self.coefficients[r]))
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn block_gradients_of<const G: usize>(
    layer: Layer,
    hidden: &[f32],
    rows: Rows,
    scratch: &mut Scratch,
    d_with_one: &mut [f32],
    d_matrix: (&mut [f32], bool),
) -> f64 {
    let (h, k) = (layer.h, layer.h + 1);
    transposed_with_one(
        rows.block.iter().map(|&r| &hidden[r * h..(r + 1) * h]),
        h,
        G,
        &mut scratch.with_one,
    );
    let loss = forward::<G>(layer, rows, scratch);
    backward::<G>(layer, rows, scratch, d_matrix);
    for lane in 0..rows.block.len() {
        let (g, l) = (lane / LANES, lane % LANES);
        for p in 0..k {
            d_with_one[lane * k + p] = scratch.d_with_one[(g * k + p) * LANES + l];
        }
    }
    loss
}

/// Logits, block maxima and shifted exponentials with their block sums;
/// returns the loss and leaves each block's coefficient
/// `c · exp(block max − max) / Σ` in `scratch.block_max`.
#[target_feature(enable = "avx512f")]
unsafe fn forward<const G: usize>(layer: Layer, rows: Rows, scratch: &mut Scratch) -> f64 {
    let (k, v) = (layer.h + 1, layer.v);
    let blocks = v.div_ceil(BLOCK);
    let per_word = G * LANES;
    scratch.exps.resize(blocks * BLOCK * per_word, 0.0);
    scratch.block_max.resize(blocks * per_word, 0.0);
    scratch.block_sums.resize(blocks * per_word, 0.0);
    let exps = &mut scratch.exps;
    let mut target_logit = [[0f32; LANES]; G];
    let mut nan = [0 as __mmask16; G];
    for b in 0..blocks {
        let (start, end) = (b * BLOCK, (b * BLOCK + BLOCK).min(v));
        let mut max = [_mm512_set1_ps(f32::NEG_INFINITY); G];
        for (j, width) in balanced_tiles(end - start, 8) {
            with_tile_width!(
                width,
                logits_tile::<G>,
                (
                    layer.weights,
                    &scratch.with_one,
                    exps,
                    (start + j, start + j),
                    k,
                    &mut max
                )
            );
        }
        for lane in 0..rows.block.len() {
            let (target, _) = rows.target_and_coefficient(lane).expect("a row");
            if (start..end).contains(&target) {
                target_logit[lane / LANES][lane % LANES] =
                    exps[(target * G + lane / LANES) * LANES + lane % LANES];
            }
        }
        for (g, &m) in max.iter().enumerate() {
            let mut sums = [_mm512_setzero_ps(); 4];
            for j in start..end {
                let at = exps.as_mut_ptr().add((j * G + g) * LANES);
                let logit = _mm512_loadu_ps(at);
                nan[g] |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(logit, logit);
                let e = exp16(_mm512_sub_ps(logit, m));
                _mm512_storeu_ps(at, e);
                sums[j % 4] = _mm512_add_ps(sums[j % 4], e);
            }
            let sum = _mm512_add_ps(
                _mm512_add_ps(sums[0], sums[1]),
                _mm512_add_ps(sums[2], sums[3]),
            );
            let at = (b * G + g) * LANES;
            _mm512_storeu_ps(scratch.block_max.as_mut_ptr().add(at), m);
            _mm512_storeu_ps(scratch.block_sums.as_mut_ptr().add(at), sum);
        }
    }
    // Words past V in the last block: zero gradient.
    exps[v * per_word..].fill(0.0);

    let mut loss = 0.0;
    for g in 0..G {
        let vector = |buf: &[f32], b: usize| lane_vector::<G>(buf, b, g);
        let mut max = _mm512_set1_ps(f32::NEG_INFINITY);
        for b in 0..blocks {
            max = _mm512_max_ps(vector(&scratch.block_max, b), max);
        }
        // Σ = Σ_b exp(block max − max) · block sum.
        let mut total = _mm512_setzero_ps();
        for b in 0..blocks {
            let factor = exp16(_mm512_sub_ps(vector(&scratch.block_max, b), max));
            total = _mm512_fmadd_ps(factor, vector(&scratch.block_sums, b), total);
        }
        let (mut max_l, mut total_l, mut scale_l) = ([0f32; LANES], [0f32; LANES], [0f32; LANES]);
        _mm512_storeu_ps(max_l.as_mut_ptr(), max);
        _mm512_storeu_ps(total_l.as_mut_ptr(), total);
        for lane in 0..LANES {
            let Some((_, c)) = rows.target_and_coefficient(g * LANES + lane) else {
                break;
            };
            let (total, c) = (f64::from(total_l[lane]), f64::from(c));
            // A NaN logit makes the row's loss NaN (the exponentials would
            // weigh it 0), so a diverged model is refused, not trained on.
            let log_p = if nan[g] & (1 << lane) != 0 {
                f64::NAN
            } else {
                f64::from(target_logit[g][lane] - max_l[lane]) - total.ln()
            };
            loss -= c * log_p;
            scale_l[lane] = (c / total) as f32;
        }
        let scale = _mm512_loadu_ps(scale_l.as_ptr());
        for b in 0..blocks {
            let at = scratch.block_max.as_mut_ptr().add((b * G + g) * LANES);
            let factor = exp16(_mm512_sub_ps(_mm512_loadu_ps(at), max));
            _mm512_storeu_ps(at, _mm512_mul_ps(factor, scale));
        }
    }
    loss
}

/// Group `g`'s vector of entry `b` of a `[·, G, 16]` buffer.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn lane_vector<const G: usize>(buf: &[f32], b: usize, g: usize) -> __m512 {
    _mm512_loadu_ps(buf.as_ptr().add((b * G + g) * LANES))
}

/// Block by block: the gradient of the logits, then `∂[h, 1]` (into
/// `scratch.d_with_one`) and `∂[Wᵀ; b]` (added into `d_matrix`).
#[target_feature(enable = "avx512f")]
unsafe fn backward<const G: usize>(
    layer: Layer,
    rows: Rows,
    scratch: &mut Scratch,
    (d_matrix, accumulate): (&mut [f32], bool),
) {
    let (k, v) = (layer.h + 1, layer.v);
    let blocks = v.div_ceil(BLOCK);
    scratch.d_with_one.clear();
    scratch.d_with_one.resize(G * k * LANES, 0.0);
    scratch.by_row.resize(G * LANES * BLOCK, 0.0);
    for b in 0..blocks {
        let (start, end) = (b * BLOCK, (b * BLOCK + BLOCK).min(v));
        let exps = &scratch.exps[start * G * LANES..(start + BLOCK) * G * LANES];
        // The logits' gradient is c · (softmax − one-hot): each group's
        // shifted exponentials times the block's coefficient (applied to
        // the sums below rather than to every exponential), less c at the
        // targets (applied once per row after the sweep, and to the
        // transposed block here).
        let mut coefficients = [_mm512_setzero_ps(); G];
        for (g, coefficient) in coefficients.iter_mut().enumerate() {
            *coefficient = lane_vector::<G>(&scratch.block_max, b, g);
        }
        for (p, width) in balanced_tiles(k, 8) {
            with_tile_width!(
                width,
                d_hidden_tile::<G>,
                (
                    layer.weights,
                    exps,
                    &coefficients,
                    &mut scratch.d_with_one,
                    (p, start, end),
                    k
                )
            );
        }
        by_row::<G>(exps, &coefficients, &mut scratch.by_row);
        for lane in 0..rows.block.len() {
            let (target, c) = rows.target_and_coefficient(lane).expect("a row");
            if (start..end).contains(&target) {
                scratch.by_row[lane * BLOCK + target - start] -= c;
            }
        }
        let mut masks = [0 as __mmask16; CHUNKS];
        for (c, mask) in masks.iter_mut().enumerate() {
            let words = end.saturating_sub(start + c * LANES).min(LANES);
            *mask = ((1u32 << words) - 1) as __mmask16;
        }
        for (p, width) in balanced_tiles(k, 5) {
            with_tile_width!(
                width,
                d_matrix_tile::<G>,
                (
                    &scratch.by_row,
                    &scratch.with_one,
                    d_matrix,
                    (p, start),
                    (&masks, accumulate),
                    (k, v)
                )
            );
        }
    }
    // ∂[h, 1] of each row less c · [w, b] of its target.
    for lane in 0..rows.block.len() {
        let (target, c) = rows.target_and_coefficient(lane).expect("a row");
        let (g, l) = (lane / LANES, lane % LANES);
        for p in 0..k {
            scratch.d_with_one[(g * k + p) * LANES + l] -= c * layer.weights[target * k + p];
        }
    }
}

/// `∂[h, 1]` of hidden units `p..p + P` += the block's words' share,
/// `coefficient · Σ_j exp_j · w_j` (the one-hot part aside).
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn d_hidden_tile<const G: usize, const P: usize>(
    weights: &[f32],
    exps: &[f32],
    coefficients: &[__m512; G],
    d_t: &mut [f32],
    (p, start, end): (usize, usize, usize),
    k: usize,
) {
    let (w, e, d_t) = (
        weights.as_ptr().add(start * k + p),
        exps.as_ptr(),
        d_t.as_mut_ptr(),
    );
    let out = |g: usize, pp: usize| d_t.add((g * k + p + pp) * LANES);
    // acc[pp][g]: hidden unit p + pp's sum for group g's rows.
    let mut acc = [[_mm512_setzero_ps(); G]; P];
    for j in 0..end - start {
        let mut ej = [_mm512_setzero_ps(); G];
        for (g, ej) in ej.iter_mut().enumerate() {
            *ej = _mm512_loadu_ps(e.add((j * G + g) * LANES));
        }
        for (pp, acc) in acc.iter_mut().enumerate() {
            let weight = _mm512_set1_ps(*w.add(j * k + pp));
            for (acc, &ej) in acc.iter_mut().zip(&ej) {
                *acc = _mm512_fmadd_ps(weight, ej, *acc);
            }
        }
    }
    for (pp, acc) in acc.iter().enumerate() {
        for (g, (acc, &coefficient)) in acc.iter().zip(coefficients).enumerate() {
            let total = _mm512_fmadd_ps(*acc, coefficient, _mm512_loadu_ps(out(g, pp)));
            _mm512_storeu_ps(out(g, pp), total);
        }
    }
}

/// The block's exponentials (`[BLOCK, G, 16]`, rows in lanes) times each
/// row's coefficient, as `[G × 16, BLOCK]` (words in lanes), by 16 × 16
/// register transposes.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn by_row<const G: usize>(exps: &[f32], coefficients: &[__m512; G], out: &mut [f32]) {
    for (g, &coefficient) in coefficients.iter().enumerate() {
        for c in 0..CHUNKS {
            let mut words = [_mm512_setzero_ps(); LANES];
            for (i, word) in words.iter_mut().enumerate() {
                let e = _mm512_loadu_ps(exps.as_ptr().add(((c * LANES + i) * G + g) * LANES));
                *word = _mm512_mul_ps(e, coefficient);
            }
            for (lane, row) in transpose16(words).iter().enumerate() {
                let at = (g * LANES + lane) * BLOCK + c * LANES;
                _mm512_storeu_ps(out.as_mut_ptr().add(at), *row);
            }
        }
    }
}

/// `∂[Wᵀ; b]` rows `p..p + P`, the block's words, += `Σ_r [h, 1]_r[p] ·
/// ∂logits_r` (`=` when not `accumulate`): each broadcast hidden value
/// feeds the block's four word vectors.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn d_matrix_tile<const G: usize, const P: usize>(
    by_row: &[f32],
    with_one: &[f32],
    d_matrix: &mut [f32],
    (p, start): (usize, usize),
    (masks, accumulate): (&[__mmask16; CHUNKS], bool),
    (k, v): (usize, usize),
) {
    // Past V the masks are 0: nothing is read or written there.
    let d_matrix = d_matrix.as_mut_ptr();
    let out = |pp: usize, c: usize| d_matrix.wrapping_add((p + pp) * v + start + c * LANES);
    let mut acc = [[_mm512_setzero_ps(); CHUNKS]; P];
    for (pp, acc) in acc.iter_mut().enumerate() {
        for (c, acc) in acc.iter_mut().enumerate() {
            if accumulate {
                *acc = _mm512_maskz_loadu_ps(masks[c], out(pp, c));
            }
        }
    }
    for r in 0..G * LANES {
        let (g, lane) = (r / LANES, r % LANES);
        let mut grad = [_mm512_setzero_ps(); CHUNKS];
        for (c, grad) in grad.iter_mut().enumerate() {
            *grad = _mm512_loadu_ps(by_row.as_ptr().add(r * BLOCK + c * LANES));
        }
        for (pp, acc) in acc.iter_mut().enumerate() {
            let x = _mm512_set1_ps(*with_one.get_unchecked((g * k + p + pp) * LANES + lane));
            for c in 0..CHUNKS {
                acc[c] = _mm512_fmadd_ps(x, grad[c], acc[c]);
            }
        }
    }
    for (pp, acc) in acc.iter().enumerate() {
        for (c, acc) in acc.iter().enumerate() {
            _mm512_mask_storeu_ps(out(pp, c), masks[c], *acc);
        }
    }
}
