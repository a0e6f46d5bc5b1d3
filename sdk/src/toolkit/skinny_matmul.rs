//! The output layer's three products, where one dimension is the hidden
//! size plus one (33 in SeqGAN): the logits `A · B`, and the gradients
//! `A · Bᵀ` (of the hidden states) and `Aᵀ · B` (of the weights), for a block
//! of rows at a time.
//!
//! Why not the `gemm` crate (Candle's matmul): for these shapes each call
//! packs the whole `[33, 5000]` weight matrix (660 KB) before multiplying,
//! and its 64-row micro-kernel is a quarter full with 16-row blocks; they
//! ran at about 24 GFLOP/s per core. With AVX-512 these kernels read the
//! operands where they lie and keep a tile of the output in registers.
//! Elsewhere they call `gemm` through [`super::block_matmul`].
//!
//! [`product`] adds each output's terms in order with fused multiply-adds
//! from zero, as `gemm`'s micro-kernel does, so it gives `gemm`'s bits (the
//! sampling test relies on that).

use super::block_matmul::{matmul_into, Operand, Write};

/// `dst[m, n] = a[m, k] · b[k, n]`, all row-major (`k` small).
pub fn product(dst: &mut [f32], a: &[f32], b: &[f32], (m, k, n): (usize, usize, usize)) {
    assert!(dst.len() >= m * n && a.len() >= m * k && b.len() >= k * n);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F; the assert bounds every access.
        unsafe { avx512::product(dst, a, b, (m, k, n)) };
        return;
    }
    matmul_into(
        dst,
        Write::Overwrite,
        a,
        Operand::Plain,
        b,
        Operand::Plain,
        (m, k, n),
    );
}

/// `dst[m, n] = a[m, k] · b[n, k]ᵀ`, all row-major (`k` large, `n` small).
pub fn product_with_transposed(
    dst: &mut [f32],
    a: &[f32],
    b: &[f32],
    (m, k, n): (usize, usize, usize),
) {
    assert!(dst.len() >= m * n && a.len() >= m * k && b.len() >= k * n);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F; the assert bounds every access.
        unsafe { avx512::product_with_transposed(dst, a, b, (m, k, n)) };
        return;
    }
    matmul_into(
        dst,
        Write::Overwrite,
        a,
        Operand::Plain,
        b,
        Operand::Transposed,
        (m, k, n),
    );
}

/// `dst[m, n] += a[k, m]ᵀ · b[k, n]`, all row-major (`k` and `m` small).
pub fn accumulate_transposed_product(
    dst: &mut [f32],
    a: &[f32],
    b: &[f32],
    (m, k, n): (usize, usize, usize),
) {
    assert!(dst.len() >= m * n && a.len() >= m * k && b.len() >= k * n);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F; the assert bounds every access.
        unsafe { avx512::accumulate_transposed_product(dst, a, b, (m, k, n)) };
        return;
    }
    matmul_into(
        dst,
        Write::Accumulate,
        a,
        Operand::Transposed,
        b,
        Operand::Plain,
        (m, k, n),
    );
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    //! Every function needs AVX-512F and slices long enough for its shape
    //! (the public wrappers check both).

    use std::arch::x86_64::*;

    const LANES: usize = 16;

    /// The lanes `j..min(j + 16, n)`.
    #[inline]
    fn lane_mask(j: usize, n: usize) -> __mmask16 {
        let lanes = (n - j).min(LANES);
        if lanes == LANES {
            0xFFFF
        } else {
            (1u16 << lanes) - 1
        }
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn product(dst: &mut [f32], a: &[f32], b: &[f32], (m, k, n): (usize, usize, usize)) {
        let mut row = 0;
        while row + 8 <= m {
            product_rows::<8>(dst, a, b, row, (k, n));
            row += 8;
        }
        while row < m {
            product_rows::<1>(dst, a, b, row, (k, n));
            row += 1;
        }
    }

    /// Rows `row..row + R` of [`product`]: 32 columns at a time, then the
    /// rest 16 at a time (masked).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn product_rows<const R: usize>(
        dst: &mut [f32],
        a: &[f32],
        b: &[f32],
        row: usize,
        (k, n): (usize, usize),
    ) {
        let (dst, a, b) = (dst.as_mut_ptr(), a.as_ptr().add(row * k), b.as_ptr());
        let mut j = 0;
        while j + 2 * LANES <= n {
            let mut acc = [[_mm512_setzero_ps(); 2]; R];
            for p in 0..k {
                let b0 = _mm512_loadu_ps(b.add(p * n + j));
                let b1 = _mm512_loadu_ps(b.add(p * n + j + LANES));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = _mm512_set1_ps(*a.add(r * k + p));
                    acc[0] = _mm512_fmadd_ps(x, b0, acc[0]);
                    acc[1] = _mm512_fmadd_ps(x, b1, acc[1]);
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                let out = dst.add((row + r) * n + j);
                _mm512_storeu_ps(out, acc[0]);
                _mm512_storeu_ps(out.add(LANES), acc[1]);
            }
            j += 2 * LANES;
        }
        while j < n {
            let mask = lane_mask(j, n);
            let mut acc = [_mm512_setzero_ps(); R];
            for p in 0..k {
                let bv = _mm512_maskz_loadu_ps(mask, b.add(p * n + j));
                for (r, acc) in acc.iter_mut().enumerate() {
                    *acc = _mm512_fmadd_ps(_mm512_set1_ps(*a.add(r * k + p)), bv, *acc);
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                _mm512_mask_storeu_ps(dst.add((row + r) * n + j), mask, *acc);
            }
            j += LANES;
        }
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn product_with_transposed(
        dst: &mut [f32],
        a: &[f32],
        b: &[f32],
        (m, k, n): (usize, usize, usize),
    ) {
        let mut row = 0;
        while row + 4 <= m {
            dot_tiles::<4>(dst, a, b, row, (k, n));
            row += 4;
        }
        while row < m {
            dot_tiles::<1>(dst, a, b, row, (k, n));
            row += 1;
        }
    }

    /// Rows `row..row + R` of [`product_with_transposed`], six outputs of
    /// each at a time (then one at a time).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn dot_tiles<const R: usize>(
        dst: &mut [f32],
        a: &[f32],
        b: &[f32],
        row: usize,
        (k, n): (usize, usize),
    ) {
        let mut col = 0;
        while col + 6 <= n {
            dot_tile::<R, 6>(dst, a, b, (row, col), (k, n));
            col += 6;
        }
        while col < n {
            dot_tile::<R, 1>(dst, a, b, (row, col), (k, n));
            col += 1;
        }
    }

    /// `dst[row + r, col + c] = a[row + r, :] · b[col + c, :]` for an
    /// `R × C` tile: lane-wise partial sums over `k`, reduced at the end.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn dot_tile<const R: usize, const C: usize>(
        dst: &mut [f32],
        a: &[f32],
        b: &[f32],
        (row, col): (usize, usize),
        (k, n): (usize, usize),
    ) {
        let (a, b) = (a.as_ptr().add(row * k), b.as_ptr().add(col * k));
        let mut acc = [[_mm512_setzero_ps(); C]; R];
        let mut p = 0;
        while p < k {
            let mask = lane_mask(p, k);
            let mut bv = [_mm512_setzero_ps(); C];
            for (c, bv) in bv.iter_mut().enumerate() {
                *bv = _mm512_maskz_loadu_ps(mask, b.add(c * k + p));
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = _mm512_maskz_loadu_ps(mask, a.add(r * k + p));
                for (acc, bv) in acc.iter_mut().zip(&bv) {
                    *acc = _mm512_fmadd_ps(av, *bv, *acc);
                }
            }
            p += LANES;
        }
        for (r, acc) in acc.iter().enumerate() {
            for (c, acc) in acc.iter().enumerate() {
                dst[(row + r) * n + col + c] = _mm512_reduce_add_ps(*acc);
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn accumulate_transposed_product(
        dst: &mut [f32],
        a: &[f32],
        b: &[f32],
        (m, k, n): (usize, usize, usize),
    ) {
        let mut row = 0;
        while row + 8 <= m {
            accumulate_rows::<8>(dst, a, b, row, (m, k, n));
            row += 8;
        }
        while row < m {
            accumulate_rows::<1>(dst, a, b, row, (m, k, n));
            row += 1;
        }
    }

    /// Output rows `row..row + R` of [`accumulate_transposed_product`]: 32
    /// columns at a time, then the rest 16 at a time (masked).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn accumulate_rows<const R: usize>(
        dst: &mut [f32],
        a: &[f32],
        b: &[f32],
        row: usize,
        (m, k, n): (usize, usize, usize),
    ) {
        let (dst, a, b) = (
            dst.as_mut_ptr().add(row * n),
            a.as_ptr().add(row),
            b.as_ptr(),
        );
        let mut j = 0;
        while j + 2 * LANES <= n {
            let mut acc = [[_mm512_setzero_ps(); 2]; R];
            for (r, acc) in acc.iter_mut().enumerate() {
                acc[0] = _mm512_loadu_ps(dst.add(r * n + j));
                acc[1] = _mm512_loadu_ps(dst.add(r * n + j + LANES));
            }
            for p in 0..k {
                let b0 = _mm512_loadu_ps(b.add(p * n + j));
                let b1 = _mm512_loadu_ps(b.add(p * n + j + LANES));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = _mm512_set1_ps(*a.add(p * m + r));
                    acc[0] = _mm512_fmadd_ps(x, b0, acc[0]);
                    acc[1] = _mm512_fmadd_ps(x, b1, acc[1]);
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                _mm512_storeu_ps(dst.add(r * n + j), acc[0]);
                _mm512_storeu_ps(dst.add(r * n + j + LANES), acc[1]);
            }
            j += 2 * LANES;
        }
        while j < n {
            let mask = lane_mask(j, n);
            let mut acc = [_mm512_setzero_ps(); R];
            for (r, acc) in acc.iter_mut().enumerate() {
                *acc = _mm512_maskz_loadu_ps(mask, dst.add(r * n + j));
            }
            for p in 0..k {
                let bv = _mm512_maskz_loadu_ps(mask, b.add(p * n + j));
                for (r, acc) in acc.iter_mut().enumerate() {
                    *acc = _mm512_fmadd_ps(_mm512_set1_ps(*a.add(p * m + r)), bv, *acc);
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                _mm512_mask_storeu_ps(dst.add(r * n + j), mask, *acc);
            }
            j += LANES;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 37 + seed * 11) % 29) as f32 / 7.0 - 2.0)
            .collect()
    }

    /// `Σ_p x[p]·y[p]` in f64.
    fn dot(x: impl Iterator<Item = f32>, y: impl Iterator<Item = f32>) -> f32 {
        x.zip(y)
            .map(|(x, y)| f64::from(x) * f64::from(y))
            .sum::<f64>() as f32
    }

    fn assert_close(got: &[f32], want: &[f32], what: &str) {
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-4 * w.abs().max(1.0),
                "{what}[{i}]: {g} vs {w}"
            );
        }
    }

    // Shapes with full tiles and every remainder: rows not a multiple of
    // 8 or 4, columns not a multiple of 32 or 16, outputs not of 6.
    const SHAPES: [(usize, usize, usize); 4] = [(16, 33, 301), (11, 7, 45), (1, 1, 1), (9, 40, 32)];

    #[test]
    fn product_is_the_textbook_product_with_gemms_bits() {
        for (m, k, n) in SHAPES {
            let (a, b) = (values(m * k, 1), values(k * n, 2));
            let want: Vec<f32> = (0..m * n)
                .map(|i| {
                    dot(
                        (0..k).map(|p| a[i / n * k + p]),
                        (0..k).map(|p| b[p * n + i % n]),
                    )
                })
                .collect();
            let mut got = vec![f32::NAN; m * n];
            product(&mut got, &a, &b, (m, k, n));
            assert_close(&got, &want, "a·b");
            let mut gemm = vec![0.0; m * n];
            matmul_into(
                &mut gemm,
                Write::Overwrite,
                &a,
                Operand::Plain,
                &b,
                Operand::Plain,
                (m, k, n),
            );
            assert_eq!(got, gemm, "{m}×{k}×{n}");
        }
    }

    #[test]
    fn product_with_transposed_is_the_textbook_product() {
        for (m, n, k) in SHAPES {
            let (a, b) = (values(m * k, 3), values(n * k, 4));
            let want: Vec<f32> = (0..m * n)
                .map(|i| {
                    dot(
                        (0..k).map(|p| a[i / n * k + p]),
                        (0..k).map(|p| b[i % n * k + p]),
                    )
                })
                .collect();
            let mut got = vec![f32::NAN; m * n];
            product_with_transposed(&mut got, &a, &b, (m, k, n));
            assert_close(&got, &want, "a·bᵀ");
        }
    }

    #[test]
    fn accumulate_transposed_product_adds_the_textbook_product() {
        for (k, m, n) in SHAPES {
            let (a, b, start) = (values(k * m, 5), values(k * n, 6), values(m * n, 7));
            let want: Vec<f32> = (0..m * n)
                .map(|i| {
                    start[i]
                        + dot(
                            (0..k).map(|p| a[p * m + i / n]),
                            (0..k).map(|p| b[p * n + i % n]),
                        )
                })
                .collect();
            let mut got = start.clone();
            accumulate_transposed_product(&mut got, &a, &b, (m, k, n));
            assert_close(&got, &want, "dst + aᵀ·b");
        }
    }
}
