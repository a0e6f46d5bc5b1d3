//! Sampling one id for each of up to 48 rows, with the rows in the lanes of
//! AVX-512 vectors: one to three lane groups of 16 rows (see
//! [`crate::rows_in_lanes`]).
//!
//! The vocabulary is walked one [`BLOCK`] of words at a time: the block's
//! logits for every row, its max, its exponentials shifted by that max and
//! their sum all stay in L1, and only each block's max and sum are kept.
//! Nothing vocabulary-wide is written, so the output layer's weights are
//! the only data streamed from L2. The logits are register tiles of
//! [`TILE`] words × every lane group (see [`logits_tile`]).
//!
//! Each row then weighs the blocks (see [`block_factor`]), draws, and
//! recomputes the logits and exponentials of the one block its draw lands
//! in. Every step uses agon-sdk's `toolkit::sample_from_logits`'s operations
//! in its order (logits as `gemm`'s multiply-adds from zero, the same
//! exponential, each block summed over eight running sums of the words'
//! positions mod 8, then the leftover words), so it draws the same ids.
//!
//! [`block_factor`]: crate::softmax_kernels::block_factor

use std::arch::x86_64::*;

use crate::{
    rows_in_lanes::{logits_tile, transposed_with_one, LANES},
    softmax_kernels::{exp16, find_block, find_in_block, last_finite, BLOCK},
};
use rand::Rng;

/// Lane groups one call handles at most.
pub const MAX_GROUPS: usize = 3;

/// Rows one call handles at most.
pub const MAX_ROWS: usize = MAX_GROUPS * LANES;

/// Words per register tile: 8 words × 3 groups is 24 accumulators, which
/// with the 3 hidden vectors and the broadcast fits the 32 registers.
const TILE: usize = 8;

/// Buffers a task reuses from call to call.
#[derive(Default)]
pub struct Scratch {
    /// `[G, H + 1, 16]`: each group's `[h, 1]ᵀ`.
    with_one: Vec<f32>,
    /// `[BLOCK, G, 16]`: one block's logits.
    logits: Vec<f32>,
    /// `[blocks, G, 16]`: each block's max, sum of shifted exponentials,
    /// and weight factor.
    block_max: Vec<f32>,
    block_sums: Vec<f32>,
    factors: Vec<f32>,
    /// One row's block weights, `sum · factor`.
    weights: Vec<f64>,
    /// One row's exponentials (or logits) over part of the vocabulary.
    row: Vec<f32>,
}

/// One id per row of `hidden` (`[rows, H]`, at most [`MAX_ROWS`] rows) from
/// `softmax(logits / temperature)`, drawn with that row's stream; rows
/// whose stream is `None` draw nothing.
///
/// # Safety
/// The CPU must have AVX-512F; `word_major` is `[V, H + 1]`, `matrix`
/// `[H + 1, V]` (the same layer), and `ids` and `streams` have one entry
/// per row.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
pub unsafe fn sample_rows<R: Rng>(
    word_major: &[f32],
    matrix: &[f32],
    hidden: &[f32],
    (h, v): (usize, usize),
    temperature: f32,
    streams: &mut [Option<&mut R>],
    ids: &mut [Option<u32>],
    scratch: &mut Scratch,
) {
    let rows = streams.len();
    assert!(rows <= MAX_ROWS && ids.len() == rows && hidden.len() == rows * h);
    assert!(word_major.len() == v * (h + 1) && matrix.len() == v * (h + 1));
    let layer = Layer {
        word_major,
        matrix,
        h,
        v,
    };
    match rows.div_ceil(LANES) {
        0 => {}
        1 => sample_groups::<1, R>(layer, hidden, temperature, streams, ids, scratch),
        2 => sample_groups::<2, R>(layer, hidden, temperature, streams, ids, scratch),
        _ => sample_groups::<3, R>(layer, hidden, temperature, streams, ids, scratch),
    }
}

/// The output layer in both layouts.
#[derive(Clone, Copy)]
struct Layer<'a> {
    word_major: &'a [f32],
    matrix: &'a [f32],
    h: usize,
    v: usize,
}

#[target_feature(enable = "avx512f")]
unsafe fn sample_groups<const G: usize, R: Rng>(
    layer: Layer,
    hidden: &[f32],
    temperature: f32,
    streams: &mut [Option<&mut R>],
    ids: &mut [Option<u32>],
    scratch: &mut Scratch,
) {
    let (h, v, k) = (layer.h, layer.v, layer.h + 1);
    let scale = 1.0 / temperature;
    transposed_with_one(hidden.chunks(h), h, G, &mut scratch.with_one);
    block_statistics::<G>(layer.word_major, (k, v), scale, scratch);

    let blocks = v.div_ceil(BLOCK);
    let (block_max, sums, factors) = (&scratch.block_max, &scratch.block_sums, &scratch.factors);
    for (r, (stream, id)) in streams.iter_mut().zip(ids.iter_mut()).enumerate() {
        let Some(rng) = stream else { continue };
        let uniform = rng.random::<f64>();
        let at = |b: usize| (b * G + r / LANES) * LANES + r % LANES;
        let factor = |b: usize| f64::from(factors[at(b)]);
        let weights = &mut scratch.weights;
        weights.clear();
        weights.extend((0..blocks).map(|b| f64::from(sums[at(b)]) * factor(b)));
        let target = uniform * weights.iter().sum::<f64>();
        let x = &hidden[r * h..(r + 1) * h];
        let found = find_block(blocks, |b| weights[b], target).map(|(b, before)| {
            let words = b * BLOCK..(b * BLOCK + BLOCK).min(v);
            row_exps(
                layer,
                x,
                words.clone(),
                block_max[at(b)],
                scale,
                &mut scratch.row,
            );
            words.start + find_in_block(&scratch.row, factor(b), before, target)
        });
        // None: no logit weighs anything (all NaN or -inf); take the last
        // likely id, as `sample_from_logits` does.
        *id = Some(found.unwrap_or_else(|| {
            row_logits(layer, x, 0..v, &mut scratch.row);
            last_finite(scratch.row.iter().copied(), v)
        }) as u32);
    }
}

/// Every block's max, sum of exponentials shifted by that max, and factor
/// `exp((block max − row max) · scale)`, for the rows of
/// `scratch.with_one`, into `scratch.block_max`, `block_sums`, `factors`.
#[target_feature(enable = "avx512f")]
unsafe fn block_statistics<const G: usize>(
    word_major: &[f32],
    (k, v): (usize, usize),
    scale: f32,
    scratch: &mut Scratch,
) {
    let blocks = v.div_ceil(BLOCK);
    let per_block = G * LANES;
    scratch.logits.resize(BLOCK * per_block, 0.0);
    scratch.block_max.resize(blocks * per_block, 0.0);
    scratch.block_sums.resize(blocks * per_block, 0.0);
    scratch.factors.resize(blocks * per_block, 0.0);
    let (x, buf) = (&scratch.with_one, &mut scratch.logits);
    let scale_v = _mm512_set1_ps(scale);
    let mut row_max = [_mm512_set1_ps(f32::NEG_INFINITY); G];
    for b in 0..blocks {
        let (start, end) = (b * BLOCK, (b * BLOCK + BLOCK).min(v));
        let mut max = [_mm512_set1_ps(f32::NEG_INFINITY); G];
        let mut j = start;
        while j + TILE <= end {
            logits_tile::<G, TILE>(word_major, x, buf, (j, j - start), k, &mut max);
            j += TILE;
        }
        while j < end {
            logits_tile::<G, 1>(word_major, x, buf, (j, j - start), k, &mut max);
            j += 1;
        }
        let (words, full) = (end - start, (end - start) / 8 * 8);
        for (g, &m) in max.iter().enumerate() {
            let mut acc = [_mm512_setzero_ps(); 8];
            for eight in (0..full).step_by(8) {
                for (i, acc) in acc.iter_mut().enumerate() {
                    let l = load(buf, eight + i, g, G);
                    *acc = _mm512_add_ps(*acc, shifted_exp(l, m, scale_v));
                }
            }
            let mut sum = acc[0];
            for a in &acc[1..] {
                sum = _mm512_add_ps(sum, *a);
            }
            for jj in full..words {
                sum = _mm512_add_ps(sum, shifted_exp(load(buf, jj, g, G), m, scale_v));
            }
            let at = (b * G + g) * LANES;
            _mm512_storeu_ps(scratch.block_max.as_mut_ptr().add(at), m);
            _mm512_storeu_ps(scratch.block_sums.as_mut_ptr().add(at), sum);
            row_max[g] = _mm512_max_ps(m, row_max[g]);
        }
    }
    for b in 0..blocks {
        for (g, &m) in row_max.iter().enumerate() {
            let at = (b * G + g) * LANES;
            let block_max = _mm512_loadu_ps(scratch.block_max.as_ptr().add(at));
            let factor = shifted_exp(block_max, m, scale_v);
            _mm512_storeu_ps(scratch.factors.as_mut_ptr().add(at), factor);
        }
    }
}

/// `exp((x − shift) · scale)`, with `sample_from_logits`'s operations (on
/// CPUs with AVX-512, its exponentials are [`exp16`]'s bits, whether the
/// row kernel computes them 16 at a time or one by one).
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn shifted_exp(x: __m512, shift: __m512, scale: __m512) -> __m512 {
    exp16(_mm512_mul_ps(_mm512_sub_ps(x, shift), scale))
}

/// The vector of word `jj`'s logits for group `g` in a `[BLOCK, G, 16]`
/// buffer.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn load(buf: &[f32], jj: usize, g: usize, groups: usize) -> __m512 {
    _mm512_loadu_ps(buf.as_ptr().add((jj * groups + g) * LANES))
}

/// One row's logits of `words` into `out`, from the `[H + 1, V]` layout:
/// the same multiply-adds from zero over the hidden units and the bias, in
/// order, as [`logits_tile`]. Words go 16 to a vector, four vectors (one
/// [`BLOCK`]) at a time so four chains of multiply-adds overlap.
#[target_feature(enable = "avx512f")]
unsafe fn row_logits(layer: Layer, x: &[f32], words: std::ops::Range<usize>, out: &mut Vec<f32>) {
    const CHAINS: usize = BLOCK / LANES;
    let v = layer.v;
    out.clear();
    out.resize(words.len(), 0.0);
    for start in words.clone().step_by(BLOCK) {
        let mut masks = [0 as __mmask16; CHAINS];
        for (c, mask) in masks.iter_mut().enumerate() {
            let n = words.end.saturating_sub(start + c * LANES).min(LANES);
            *mask = ((1u32 << n) - 1) as __mmask16;
        }
        let mut acc = [_mm512_setzero_ps(); CHAINS];
        for (p, &xp) in x.iter().chain([&1.0]).enumerate() {
            let xp = _mm512_set1_ps(xp);
            let row = layer.matrix.as_ptr().add(p * v + start);
            // Past the end of a short last block the masks are 0: nothing is read.
            for (c, acc) in acc.iter_mut().enumerate() {
                let w = _mm512_maskz_loadu_ps(masks[c], row.wrapping_add(c * LANES));
                *acc = _mm512_fmadd_ps(w, xp, *acc);
            }
        }
        let dst = out.as_mut_ptr().add(start - words.start);
        for (c, acc) in acc.iter().enumerate() {
            _mm512_mask_storeu_ps(dst.wrapping_add(c * LANES), masks[c], *acc);
        }
    }
}

/// One row's exponentials of `words` (one block) shifted by the block's
/// max, as [`block_statistics`] computes them.
#[target_feature(enable = "avx512f")]
unsafe fn row_exps(
    layer: Layer,
    x: &[f32],
    words: std::ops::Range<usize>,
    block_max: f32,
    scale: f32,
    out: &mut Vec<f32>,
) {
    row_logits(layer, x, words, out);
    let (m, scale_v) = (_mm512_set1_ps(block_max), _mm512_set1_ps(scale));
    for chunk in out.chunks_mut(LANES) {
        let mask: __mmask16 = ((1u32 << chunk.len()) - 1) as __mmask16;
        let logits = _mm512_maskz_loadu_ps(mask, chunk.as_ptr());
        let e = shifted_exp(logits, m, scale_v);
        _mm512_mask_storeu_ps(chunk.as_mut_ptr(), mask, e);
    }
}
