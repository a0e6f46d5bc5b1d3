//! Row kernels over a vocabulary of logits: shifted exponentials with their
//! sum, and log-sum-exp.
//!
//! Generators spend most of their time here: a softmax over 5,000 words costs
//! several times the 32 × 5,000 matmul before it when done as separate
//! tensor ops (max, subtract, exp, sum, divide: five passes over memory, libm
//! `exp` per element). These kernels make one pass for the max and one for
//! the exponentials, with a polynomial `exp` the compiler vectorises (AVX2 +
//! FMA where the CPU has them, chosen at run time).

/// Elements per block of [`exp_shifted`]'s block sums.
pub const BLOCK: usize = 64;

/// What [`exp_shifted`]'s kernels subtract before exponentiating.
#[derive(Clone, Copy)]
enum Shift<'a> {
    /// One shift for the whole row (its max, or its log-sum-exp).
    Row(f32),
    /// One shift per [`BLOCK`] (each block's own max).
    PerBlock(&'a [f32]),
}

impl Shift<'_> {
    #[inline(always)]
    fn of_block(self, block: usize) -> f32 {
        match self {
            Shift::Row(shift) => shift,
            Shift::PerBlock(shifts) => shifts[block],
        }
    }
}

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
/// Adding 1.5 · 2^23 rounds to the nearest integer without a branch.
const ROUND: f32 = 12_582_912.0;
/// The polynomial's coefficients after the leading 1/720, highest first.
const POLYNOMIAL: [f32; 6] = [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0];

/// `e^x` for `x ≤ 0` to ~2 ulp (argument reduction to `[-ln2/2, ln2/2]` and
/// a degree-6 polynomial); 0 below −87 (where f32 underflows), and for
/// `-inf` and NaN (as the vector kernels give).
#[inline(always)]
pub(crate) fn exp_nonpositive(x: f32) -> f32 {
    let clamped = x.max(-87.0);
    let n = (clamped * LOG2E + ROUND) - ROUND;
    let r = clamped - n * LN2_HI - n * LN2_LO;
    let p = POLYNOMIAL.iter().fold(1.0 / 720.0, |p, &c| p * r + c);
    let scale = f32::from_bits(((n as i32 + 127) << 23) as u32);
    if x >= -87.0 {
        p * scale
    } else {
        0.0
    }
}

/// [`exp_nonpositive`] with the vector kernels' fused multiply-adds, so
/// the bits they give: the vector kernels use it for the words of a block
/// past its last multiple of 8, and [`block_factor`] on CPUs with FMA.
///
/// # Safety
/// The CPU must have FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
#[inline]
pub(crate) unsafe fn exp_nonpositive_fused(x: f32) -> f32 {
    let clamped = x.max(-87.0);
    let n = (clamped * LOG2E + ROUND) - ROUND;
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, clamped));
    let p = POLYNOMIAL
        .iter()
        .fold(1.0 / 720.0, |p: f32, &c| p.mul_add(r, c));
    let scale = f32::from_bits(((n as i32 + 127) << 23) as u32);
    if x >= -87.0 {
        p * scale
    } else {
        0.0
    }
}

/// Largest finite-or-infinite value of `row` (`-inf` for an empty row).
#[inline]
pub fn row_max(row: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F.
        return unsafe { row_max_avx512(row) };
    }
    row_max_generic(row)
}

#[inline(always)]
fn row_max_generic(row: &[f32]) -> f32 {
    // Eight independent lanes so the compiler can vectorise the reduction.
    let mut lanes = [f32::NEG_INFINITY; 8];
    let mut chunks = row.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = lane.max(v);
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    lanes.iter().fold(tail, |m, &v| m.max(v))
}

/// The same loop compiled for AVX-512 (the maximum does not depend on the
/// order, so every version gives the same value).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn row_max_avx512(row: &[f32]) -> f32 {
    row_max_generic(row)
}

#[inline(always)]
fn exp_shifted_generic(
    row: &[f32],
    shift: Shift,
    scale: f32,
    out: &mut [f32],
    blocks: &mut Vec<f32>,
) {
    blocks.clear();
    for (b, (src, dst)) in row.chunks(BLOCK).zip(out.chunks_mut(BLOCK)).enumerate() {
        let shift = shift.of_block(b);
        // Eight running sums: a single f32 accumulator would force the
        // additions into order and keep the loop scalar.
        let mut lanes = [0.0f32; 8];
        let mut src8 = src.chunks_exact(8);
        let mut dst8 = dst.chunks_exact_mut(8);
        for (s, d) in (&mut src8).zip(&mut dst8) {
            for k in 0..8 {
                d[k] = exp_nonpositive((s[k] - shift) * scale);
                lanes[k] += d[k];
            }
        }
        let mut sum = lanes.iter().sum::<f32>();
        for (&l, e) in src8.remainder().iter().zip(dst8.into_remainder()) {
            *e = exp_nonpositive((l - shift) * scale);
            sum += *e;
        }
        blocks.push(sum);
    }
}

/// The same computation eight lanes at a time with AVX2 + FMA intrinsics
/// (the scalar loop does not auto-vectorise: the float-to-int conversion and
/// the underflow select defeat the vectoriser).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp_shifted_avx2(
    row: &[f32],
    shift: Shift,
    scale: f32,
    out: &mut [f32],
    blocks: &mut Vec<f32>,
) {
    use std::arch::x86_64::*;

    #[inline(always)]
    unsafe fn exp8(x: __m256) -> __m256 {
        let clamped = _mm256_max_ps(x, _mm256_set1_ps(-87.0));
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_ps(clamped, _mm256_set1_ps(LOG2E)),
        );
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), clamped);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
        let mut p = _mm256_set1_ps(1.0 / 720.0);
        for c in POLYNOMIAL {
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
        }
        let exponent = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
        let scale = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(exponent));
        // Below −87 (and −inf, NaN): 0.
        let keep = _mm256_cmp_ps::<_CMP_GE_OQ>(x, _mm256_set1_ps(-87.0));
        _mm256_and_ps(_mm256_mul_ps(p, scale), keep)
    }

    blocks.clear();
    let scale_v = _mm256_set1_ps(scale);
    for (b, (src, dst)) in row.chunks(BLOCK).zip(out.chunks_mut(BLOCK)).enumerate() {
        let shift = shift.of_block(b);
        let shift_v = _mm256_set1_ps(shift);
        let mut acc = _mm256_setzero_ps();
        let full = src.len() / 8 * 8;
        for k in (0..full).step_by(8) {
            let x = _mm256_loadu_ps(src.as_ptr().add(k));
            let e = exp8(_mm256_mul_ps(_mm256_sub_ps(x, shift_v), scale_v));
            _mm256_storeu_ps(dst.as_mut_ptr().add(k), e);
            acc = _mm256_add_ps(acc, e);
        }
        let mut lanes = [0.0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), acc);
        let mut sum = lanes.iter().sum::<f32>();
        for k in full..src.len() {
            dst[k] = exp_nonpositive_fused((src[k] - shift) * scale);
            sum += dst[k];
        }
        blocks.push(sum);
    }
}

/// `e^x` of 16 lanes with [`exp_nonpositive_fused`]'s operations (so the
/// same bits as it and as the AVX2 kernel).
///
/// # Safety
/// The CPU must have AVX-512F (`is_x86_feature_detected!("avx512f")`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
pub unsafe fn exp16(x: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    // Lanes below −87 (and −inf, NaN) are 0. They are masked at the end
    // whatever the polynomial made of them, so unlike the scalar and AVX2
    // kernels this one needs no clamp (the kept lanes are those the clamp
    // leaves unchanged).
    let keep = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(x, _mm512_set1_ps(-87.0));
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(x, _mm512_set1_ps(LOG2E)),
    );
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    let mut p = _mm512_set1_ps(1.0 / 720.0);
    for c in POLYNOMIAL {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    }
    // p · 2^n in one instruction. In the kept lanes n ≥ −126, so 2^n is a
    // normal float and this is the exact product the scalar and AVX2
    // kernels form by building 2^n from its exponent bits: the same bits.
    _mm512_maskz_scalef_ps(keep, p, n)
}

/// [`exp_shifted_avx2`] sixteen lanes at a time. The block sums add the
/// lower and upper eight lanes into eight running sums, in the AVX2
/// kernel's order, so both give the same bits (and the same samples).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2")]
unsafe fn exp_shifted_avx512(
    row: &[f32],
    shift: Shift,
    scale: f32,
    out: &mut [f32],
    blocks: &mut Vec<f32>,
) {
    use std::arch::x86_64::*;

    blocks.clear();
    let scale_v = _mm512_set1_ps(scale);
    for (b, (src, dst)) in row.chunks(BLOCK).zip(out.chunks_mut(BLOCK)).enumerate() {
        let shift = shift.of_block(b);
        let shift_v = _mm512_set1_ps(shift);
        let mut acc = _mm256_setzero_ps();
        let full = src.len() / 8 * 8;
        let mut k = 0;
        while k < full {
            // Sixteen lanes, or the last eight of the block.
            let mask: __mmask16 = if k + 16 <= full { 0xFFFF } else { 0x00FF };
            let x = _mm512_maskz_loadu_ps(mask, src.as_ptr().add(k));
            let e = exp16(_mm512_mul_ps(_mm512_sub_ps(x, shift_v), scale_v));
            _mm512_mask_storeu_ps(dst.as_mut_ptr().add(k), mask, e);
            acc = _mm256_add_ps(acc, _mm512_castps512_ps256(e));
            if mask == 0xFFFF {
                acc = _mm256_add_ps(
                    acc,
                    _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(e))),
                );
            }
            k += 16;
        }
        let mut lanes = [0.0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), acc);
        let mut sum = lanes.iter().sum::<f32>();
        for k in full..src.len() {
            dst[k] = exp_nonpositive_fused((src[k] - shift) * scale);
            sum += dst[k];
        }
        blocks.push(sum);
    }
}

/// Writes `out[i] = exp((row[i] − shift) · scale)` and, into `blocks`, the sum
/// of every [`BLOCK`] consecutive outputs; returns the total (in f64, so a
/// large vocabulary loses no mass to rounding). `shift` must be ≥ every
/// element (the row's max) and `scale > 0`.
pub fn exp_shifted(
    row: &[f32],
    shift: f32,
    scale: f32,
    out: &mut [f32],
    blocks: &mut Vec<f32>,
) -> f64 {
    exp_shifted_by(row, Shift::Row(shift), scale, out, blocks);
    blocks.iter().map(|&b| f64::from(b)).sum()
}

/// The unnormalised softmax of a row for sampling, each [`BLOCK`] shifted
/// by its own max: `block_max[b]` is block `b`'s max (NaN skipped; `-inf`
/// when it has none), `out[i] = exp((row[i] − block_max[b]) · scale)`, and
/// `blocks[b]` the block's sum. Block `b` weighs
/// [`block_factor`]`(block_max[b], max, scale)` times its sum in the row.
///
/// A kernel can exponentiate a block as soon as its logits exist, without
/// first computing (and keeping) the whole row to find its max.
pub fn exp_block_shifted(
    row: &[f32],
    scale: f32,
    out: &mut [f32],
    block_max: &mut Vec<f32>,
    blocks: &mut Vec<f32>,
) {
    block_max.clear();
    block_max.extend(row.chunks(BLOCK).map(row_max));
    exp_shifted_by(row, Shift::PerBlock(block_max), scale, out, blocks);
}

/// `exp((block_max − row_max) · scale)`: how much a block shifted by its own
/// max (see [`exp_block_shifted`]) weighs in a row whose max is `row_max`;
/// 0 for a block with no finite-or-infinite logit.
#[inline]
pub fn block_factor(block_max: f32, row_max: f32, scale: f32) -> f32 {
    let x = (block_max - row_max) * scale;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has FMA. The fused exponential gives the vector
        // kernels' bits, so a kernel can compute the factors 16 at a time.
        return unsafe { exp_nonpositive_fused(x) };
    }
    exp_nonpositive(x)
}

/// Dispatches to the widest kernel the CPU has.
fn exp_shifted_by(row: &[f32], shift: Shift, scale: f32, out: &mut [f32], blocks: &mut Vec<f32>) {
    assert_eq!(row.len(), out.len(), "exp_shifted: output length");
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx2")
        {
            // SAFETY: the CPU supports the features the function is compiled for.
            return unsafe { exp_shifted_avx512(row, shift, scale, out, blocks) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports the features the function is compiled for.
            return unsafe { exp_shifted_avx2(row, shift, scale, out, blocks) };
        }
    }
    exp_shifted_generic(row, shift, scale, out, blocks)
}

/// `ln Σ exp(row)` (`-inf` for a row with no finite element).
pub fn log_sum_exp(row: &[f32], scratch: &mut Vec<f32>, blocks: &mut Vec<f32>) -> f32 {
    let max = row_max(row);
    if !max.is_finite() {
        return max;
    }
    scratch.resize(row.len(), 0.0);
    let total = exp_shifted(row, max, 1.0, scratch, blocks);
    max + total.ln() as f32
}

/// Replaces a row of logits by `c · (softmax(row) − one_hot(target))`, the
/// gradient of `−c · log softmax(row)[target]`, and returns
/// `log softmax(row)[target]` (NaN if the row holds a NaN);
/// `scratch` and `blocks` are reused buffers.
pub fn softmax_gradient(
    row: &mut [f32],
    target: usize,
    c: f32,
    scratch: &mut Vec<f32>,
    blocks: &mut Vec<f32>,
) -> f64 {
    let max = row_max(row);
    scratch.resize(row.len(), 0.0);
    let total = exp_shifted(row, max, 1.0, scratch, blocks);
    // The max skips NaN and the exponential maps it to 0: a diverged
    // model's loss must stay NaN.
    let log_p = if row.iter().any(|x| x.is_nan()) {
        f64::NAN
    } else {
        f64::from(row[target] - max) - total.ln()
    };
    scaled_copy(row, scratch, (f64::from(c) / total) as f32);
    row[target] -= c;
    log_p
}

/// `dst[i] = src[i] · scale`.
fn scaled_copy(dst: &mut [f32], src: &[f32], scale: f32) {
    #[inline(always)]
    fn scalar(dst: &mut [f32], src: &[f32], scale: f32) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = s * scale;
        }
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn wide(dst: &mut [f32], src: &[f32], scale: f32) {
        scalar(dst, src, scale)
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F.
        return unsafe { wide(dst, src, scale) };
    }
    scalar(dst, src, scale)
}

/// The first block at which the running sum of the block weights exceeds
/// `target`, with the sum of the blocks before it; `None` when rounding
/// left `target` at or above the total. Weights are added in block order
/// in f64, as the caller's total is.
pub fn find_block(
    blocks: usize,
    weight: impl Fn(usize) -> f64,
    target: f64,
) -> Option<(usize, f64)> {
    let mut before = 0.0f64;
    for b in 0..blocks {
        let next = before + weight(b);
        if next > target {
            return Some((b, before));
        }
        before = next;
    }
    None
}

/// Within the block [`find_block`] found: the offset at which
/// `before + Σ values[..=i] · factor` first exceeds `target`.
pub fn find_in_block(values: &[f32], factor: f64, before: f64, target: f64) -> usize {
    let mut acc = before;
    for (i, &value) in values.iter().enumerate() {
        acc += f64::from(value) * factor;
        if acc > target {
            return i;
        }
    }
    // The block's f32 sum and the f64 running sum disagree by a rounding
    // error: the block's last element.
    values.len() - 1
}

/// The index of the last finite value of `len` values (`len − 1` if none):
/// the id a draw falls back on when rounding leaves its target a hair above
/// the sum, or no logit weighs anything.
pub fn last_finite(values: impl DoubleEndedIterator<Item = f32>, len: usize) -> usize {
    values
        .rev()
        .position(|l| l.is_finite())
        .map_or(len - 1, |from_end| len - 1 - from_end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polynomial_exp_matches_libm() {
        let mut worst = 0.0f32;
        let mut x = -87.0f32;
        while x <= 0.0 {
            let (got, want) = (exp_nonpositive(x), x.exp());
            worst = worst.max(((got - want) / want).abs());
            x += 0.0137;
        }
        assert!(worst < 1e-6, "worst relative error {worst}");
        assert_eq!(exp_nonpositive(-100.0), 0.0);
        assert_eq!(exp_nonpositive(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_nonpositive(f32::NAN), 0.0);
        assert_eq!(exp_nonpositive(0.0), 1.0);
    }

    #[test]
    fn shifted_exponentials_and_block_sums() {
        let row: Vec<f32> = (0..200).map(|i| (i as f32 * 0.37).sin() * 4.0).collect();
        let max = row_max(&row);
        assert_eq!(max, row.iter().copied().fold(f32::MIN, f32::max));
        let mut out = vec![0.0; row.len()];
        let mut blocks = Vec::new();
        let total = exp_shifted(&row, max, 0.5, &mut out, &mut blocks);
        let want: f64 = row.iter().map(|&l| (f64::from(l - max) * 0.5).exp()).sum();
        assert!((total - want).abs() < 1e-5 * want, "{total} vs {want}");
        assert_eq!(blocks.len(), 4);
        for (i, e) in out.iter().enumerate() {
            let w = ((row[i] - max) * 0.5).exp();
            assert!((e - w).abs() <= 1e-6 * w.max(1e-30), "{i}: {e} vs {w}");
        }
    }

    #[test]
    fn block_shifted_exponentials_weighed_by_their_factors_are_the_softmax() {
        // Blocks far apart in scale: the third block's max is 60 below the
        // row's (its exponentials shifted by the row max would be ~1e-26).
        let row: Vec<f32> = (0..170)
            .map(|i| (i as f32 * 0.37).sin() * 4.0 + if i >= 128 { -60.0 } else { 0.0 })
            .chain([f32::NAN, f32::NEG_INFINITY])
            .collect();
        let (mut out, mut block_max, mut blocks) = (vec![0.0; row.len()], Vec::new(), Vec::new());
        exp_block_shifted(&row, 0.5, &mut out, &mut block_max, &mut blocks);
        assert_eq!(blocks.len(), 3);
        let max = row_max(&row);
        for (b, chunk) in row.chunks(BLOCK).enumerate() {
            assert_eq!(block_max[b], row_max(chunk));
            let factor = f64::from(block_factor(block_max[b], max, 0.5));
            let want_factor = (f64::from(block_max[b] - max) * 0.5).exp();
            assert!(
                (factor - want_factor).abs() <= 1e-6 * want_factor,
                "block {b}"
            );
            for (i, &l) in chunk.iter().enumerate() {
                let got = f64::from(out[b * BLOCK + i]) * factor;
                let want = if l.is_nan() {
                    0.0
                } else {
                    (f64::from(l - max) * 0.5).exp()
                };
                assert!(
                    (got - want).abs() <= 2e-6 * want,
                    "{}: {got} vs {want}",
                    b * BLOCK + i
                );
            }
            let sum: f32 = out[b * BLOCK..(b * BLOCK + chunk.len())].iter().sum();
            assert!((blocks[b] - sum).abs() <= 1e-5 * sum);
        }
        assert!(
            out[128..170].iter().all(|&e| e > 1e-3),
            "shifted by its own max"
        );
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn exp16_gives_the_eight_lane_and_fused_scalar_bits_down_to_underflow() {
        use std::arch::is_x86_feature_detected as has;
        use std::arch::x86_64::*;
        if !(has!("avx512f") && has!("avx2") && has!("fma")) {
            eprintln!("skipped: this CPU lacks AVX-512 or AVX2");
            return;
        }
        // −100 to 0 finely, through the results that are subnormal (just
        // above −87), and the special values; a multiple of 8 long, so the
        // AVX2 kernel (shift 0, scale 1: exact) exponentiates every one.
        let mut xs: Vec<f32> = (0..=27_000).map(|i| -100.0 + i as f32 * 0.0037).collect();
        xs.extend([
            -87.0,
            -86.999_99,
            -86.9,
            -0.0,
            0.0,
            f32::NEG_INFINITY,
            f32::NAN,
        ]);
        xs.resize(xs.len().div_ceil(16) * 16, -1.0);
        let (mut want, mut blocks) = (vec![0.0; xs.len()], Vec::new());
        // SAFETY: the CPU has AVX2 and FMA (checked above).
        unsafe { exp_shifted_avx2(&xs, Shift::Row(0.0), 1.0, &mut want, &mut blocks) };
        for (chunk, want) in xs.chunks(16).zip(want.chunks(16)) {
            let mut got = [0f32; 16];
            // SAFETY: the CPU has AVX-512F; both pointers cover 16 floats.
            unsafe { _mm512_storeu_ps(got.as_mut_ptr(), exp16(_mm512_loadu_ps(chunk.as_ptr()))) };
            for ((&x, &g), &w) in chunk.iter().zip(&got).zip(want) {
                assert_eq!(g.to_bits(), w.to_bits(), "exp({x})");
                // SAFETY: the CPU has FMA (checked above).
                let scalar = unsafe { exp_nonpositive_fused(x) };
                assert_eq!(g.to_bits(), scalar.to_bits(), "exp({x}), one at a time");
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_sixteen_lane_kernel_gives_the_eight_lane_kernels_bits() {
        use std::arch::is_x86_feature_detected as has;
        if !(has!("avx512f") && has!("avx2") && has!("fma")) {
            eprintln!("skipped: this CPU lacks AVX-512 or AVX2");
            return;
        }
        // 203: full blocks, a last block with a sixteen-lane part, eight
        // lanes and a scalar tail.
        let row: Vec<f32> = (0..203)
            .map(|i| (i as f32 * 0.71).cos() * 9.0 - 3.0)
            .collect();
        let max = row_max(&row);
        let block_max: Vec<f32> = row.chunks(BLOCK).map(row_max).collect();
        let run = |kernel: unsafe fn(&[f32], Shift, f32, &mut [f32], &mut Vec<f32>), shift| {
            let (mut out, mut blocks) = (vec![0.0; row.len()], Vec::new());
            // SAFETY: the CPU has both kernels' features (checked above).
            unsafe { kernel(&row, shift, 0.8, &mut out, &mut blocks) };
            (out, blocks)
        };
        for shift in [Shift::Row(max), Shift::PerBlock(&block_max)] {
            assert_eq!(run(exp_shifted_avx512, shift), run(exp_shifted_avx2, shift));
        }
        let eight = run(exp_shifted_avx2, Shift::Row(max));
        assert_eq!(eight.1.len(), 4);
        for (i, (&e, &l)) in eight.0.iter().zip(&row).enumerate() {
            let want = ((l - max) * 0.8).exp();
            assert!((e - want).abs() <= 1e-6 * want, "{i}: {e} vs {want}");
        }
    }

    #[test]
    fn softmax_gradient_is_c_times_softmax_minus_one_hot() {
        let logits: Vec<f32> = (0..150).map(|i| (i as f32 * 0.37).sin() * 4.0).collect();
        let mut row = logits.clone();
        let log_p = softmax_gradient(&mut row, 17, -0.5, &mut Vec::new(), &mut Vec::new());
        let lse = logits.iter().map(|&l| f64::from(l).exp()).sum::<f64>().ln();
        assert!((log_p - (f64::from(logits[17]) - lse)).abs() < 1e-6);
        for (i, (&g, &l)) in row.iter().zip(&logits).enumerate() {
            let p = (f64::from(l) - lse).exp();
            let want = -0.5 * (p - if i == 17 { 1.0 } else { 0.0 });
            assert!((f64::from(g) - want).abs() < 1e-6, "{i}: {g} vs {want}");
        }
    }

    #[test]
    fn log_sum_exp_matches_the_definition() {
        let row = [1.0f32, -2.0, 3.5, f32::NEG_INFINITY];
        let want = row.iter().map(|&v| f64::from(v).exp()).sum::<f64>().ln() as f32;
        let got = log_sum_exp(&row, &mut Vec::new(), &mut Vec::new());
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        assert_eq!(
            log_sum_exp(&[f32::NEG_INFINITY; 3], &mut Vec::new(), &mut Vec::new()),
            f32::NEG_INFINITY
        );
    }

    #[test]
    fn the_walk_finds_the_first_crossing_across_blocks() {
        // Three blocks of ones weighing 1, 2 and 0.5 each.
        let factors = [1.0, 2.0, 0.5];
        let lens = [BLOCK, BLOCK, 22];
        let weight = |b: usize| lens[b] as f64 * factors[b];
        let total = weight(0) + weight(1) + weight(2);
        let ones = vec![1.0f32; BLOCK];
        let find = |target: f64| {
            find_block(3, weight, target).map(|(b, before)| {
                b * BLOCK + find_in_block(&ones[..lens[b]], factors[b], before, target)
            })
        };
        assert_eq!(find(0.5), Some(0));
        assert_eq!(find(63.5), Some(63));
        assert_eq!(find(64.5), Some(64));
        assert_eq!(find(65.5), Some(64));
        assert_eq!(find(66.5), Some(65));
        assert_eq!(find(192.2), Some(128));
        assert_eq!(find(total - 0.25), Some(149));
        assert_eq!(find(total), None);
        // A target the block sum passes but its elements, added one by one,
        // do not (rounding): the block's last element.
        assert_eq!(find_in_block(&[1.0, 1.0], 1.0, 0.0, 2.0), 1);
    }
}
