//! `y += a·x` over `f32` slices, compiled for the widest vector
//! instructions the CPU has, and its many-term form
//! `y += a₀·x₀ + a₁·x₁ + …` ([`axpy_many_kernel`]), which keeps a block of
//! `y` in registers across the terms instead of loading and storing it once
//! per term and call.
//!
//! Plugins are built for baseline x86-64 (SSE2), so plain loops vectorise
//! four lanes wide. [`axpy_kernel`] picks, once, a version of the loop
//! compiled with AVX-512 or AVX2 enabled (16 or 8 lanes). No fused
//! multiply-add is introduced (Rust does not contract `a * b + c`), so every
//! version gives the same bits.

/// `y += a·x` for `y.len()` elements.
pub type Axpy = fn(y: &mut [f32], a: f32, x: &[f32]);

crate::widest::widest_versions! {
    /// The widest [`Axpy`] this CPU runs.
    pub fn axpy_kernel() -> Axpy,
    every version: axpy_versions,
    portable: axpy(y: &mut [f32], a: f32, x: &[f32]),
    features: ["avx512f", "avx2"],
}

#[inline(always)]
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// `y += a[i] · x[offsets[i]..][..y.len()]` for each `i` in order: the
/// bits of calling [`Axpy`] once per term, in that order (each element's
/// sum is the same sequence of multiplications and additions).
///
/// Panics if a term reaches past the end of `x`.
pub type AxpyMany = fn(y: &mut [f32], a: &[f32], x: &[f32], offsets: &[usize]);

crate::widest::widest_versions! {
    /// The widest [`AxpyMany`] this CPU runs.
    pub fn axpy_many_kernel() -> AxpyMany,
    every version: axpy_many_versions,
    portable: axpy_many(y: &mut [f32], a: &[f32], x: &[f32], offsets: &[usize]),
    features: ["avx512f", "avx2"],
}

/// Elements of `y` held in registers at once (8 AVX2 or 4 AVX-512 vectors).
const BLOCK: usize = 64;

#[inline(always)]
fn axpy_many(y: &mut [f32], a: &[f32], x: &[f32], offsets: &[usize]) {
    assert_eq!(
        a.len(),
        offsets.len(),
        "axpy_many: one offset per coefficient"
    );
    let n = y.len();
    if let Some(&last) = offsets.iter().max() {
        assert!(last + n <= x.len(), "axpy_many: a term past the end of x");
    }
    let mut start = 0;
    while start + BLOCK <= n {
        block_of::<BLOCK>(&mut y[start..start + BLOCK], a, x, offsets, start);
        start += BLOCK;
    }
    while start + 8 <= n {
        block_of::<8>(&mut y[start..start + 8], a, x, offsets, start);
        start += 8;
    }
    for i in start..n {
        let mut sum = y[i];
        for (&a, &offset) in a.iter().zip(offsets) {
            sum += a * x[offset + i];
        }
        y[i] = sum;
    }
}

/// One block of `W` elements of `y`, accumulated over every term.
#[inline(always)]
fn block_of<const W: usize>(y: &mut [f32], a: &[f32], x: &[f32], offsets: &[usize], at: usize) {
    let mut sum = [0f32; W];
    sum.copy_from_slice(y);
    for (&a, &offset) in a.iter().zip(offsets) {
        let x: &[f32; W] = x[offset + at..offset + at + W].try_into().unwrap();
        for l in 0..W {
            sum[l] += a * x[l];
        }
    }
    y.copy_from_slice(&sum);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_adds_the_same_bits() {
        let x: Vec<f32> = (0..77).map(|i| (i as f32 * 0.37).sin()).collect();
        let start: Vec<f32> = (0..77).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut want = start.clone();
        axpy(&mut want, 0.3, &x);
        assert_ne!(want, start);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for (name, kernel) in axpy_versions() {
            let mut got = start.clone();
            kernel(&mut got, 0.3, &x);
            assert_eq!(bits(&got), bits(&want), "{name}");
        }
        assert_eq!(
            axpy_kernel() as usize,
            axpy_versions().next().unwrap().1 as usize
        );
    }

    /// Every version gives the bits of one `axpy` per term, in order:
    /// lengths with a full block, 8-lane blocks and a scalar tail, terms
    /// that overlap and repeat, and no terms at all.
    #[test]
    fn many_terms_add_the_bits_of_one_axpy_per_term() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.731).sin() * 3.0).collect();
        for n in [0usize, 5, 8, 64, 77, 150] {
            for terms in [0usize, 1, 3, 40] {
                let a: Vec<f32> = (0..terms).map(|i| (i as f32 * 1.3).cos()).collect();
                let offsets: Vec<usize> = (0..terms).map(|i| (i * 97) % (1000 - n)).collect();
                let start: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
                let mut want = start.clone();
                for (&a, &offset) in a.iter().zip(&offsets) {
                    axpy(&mut want, a, &x[offset..offset + n]);
                }
                for (name, kernel) in axpy_many_versions() {
                    let mut got = start.clone();
                    kernel(&mut got, &a, &x, &offsets);
                    let (got, want): (Vec<u32>, Vec<u32>) = (
                        got.iter().map(|v| v.to_bits()).collect(),
                        want.iter().map(|v| v.to_bits()).collect(),
                    );
                    assert_eq!(got, want, "{name}: n {n}, {terms} terms");
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "past the end")]
    fn a_term_past_the_end_of_x_is_refused() {
        axpy_many_kernel()(&mut [0.0; 8], &[1.0], &[0.0; 10], &[3]);
    }
}
