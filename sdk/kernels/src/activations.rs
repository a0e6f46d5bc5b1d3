//! Sigmoid and tanh over slices, sixteen lanes at a time where the CPU has
//! AVX-512 (an LSTM step applies them to every gate of every row; one libm
//! call per element was most of a hand-written LSTM's forward pass).
//!
//! The vector versions use the softmax kernels' polynomial `exp`: relative
//! error ~1e-7 for the sigmoid, absolute error ~1e-7 for tanh (near 0 its
//! `1 − e^{−2|x|}` cancels). Without AVX-512 they are libm's.

#[cfg(target_arch = "x86_64")]
use crate::softmax_kernels::exp16;

/// `v ← 1 / (1 + e^{−v})` for every element.
pub fn sigmoid_in_place(values: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F.
        unsafe { avx512::map(values, avx512::sigmoid16) };
        return;
    }
    for v in values {
        *v = 1.0 / (1.0 + (-*v).exp());
    }
}

/// `v ← tanh(v)` for every element.
pub fn tanh_in_place(values: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F.
        unsafe { avx512::map(values, avx512::tanh16) };
        return;
    }
    for v in values {
        *v = v.tanh();
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::exp16;

    /// Applies `f` to `values` sixteen at a time (the tail masked).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn map(values: &mut [f32], f: unsafe fn(__m512) -> __m512) {
        let mut k = 0;
        while k < values.len() {
            let lanes = (values.len() - k).min(16);
            let mask: __mmask16 = if lanes == 16 {
                0xFFFF
            } else {
                (1 << lanes) - 1
            };
            let x = _mm512_maskz_loadu_ps(mask, values.as_ptr().add(k));
            _mm512_mask_storeu_ps(values.as_mut_ptr().add(k), mask, f(x));
            k += 16;
        }
    }

    /// `|x|` and the mask of lanes where `x ≥ 0`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn abs_and_sign(x: __m512) -> (__m512, __mmask16) {
        let abs = _mm512_castsi512_ps(_mm512_and_si512(
            _mm512_castps_si512(x),
            _mm512_set1_epi32(0x7FFF_FFFF),
        ));
        (
            abs,
            _mm512_cmp_ps_mask::<_CMP_GE_OQ>(x, _mm512_setzero_ps()),
        )
    }

    /// `σ(x)`: with `e = e^{−|x|}`, `1/(1+e)` for `x ≥ 0` and `e/(1+e)`
    /// below (no overflow either way).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn sigmoid16(x: __m512) -> __m512 {
        let (abs, nonnegative) = abs_and_sign(x);
        let e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), abs));
        let r = _mm512_div_ps(_mm512_set1_ps(1.0), _mm512_add_ps(_mm512_set1_ps(1.0), e));
        keep_nan(x, _mm512_mask_blend_ps(nonnegative, _mm512_mul_ps(e, r), r))
    }

    /// `tanh(x) = sign(x) · (1 − e)/(1 + e)` with `e = e^{−2|x|}`.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn tanh16(x: __m512) -> __m512 {
        let (abs, nonnegative) = abs_and_sign(x);
        let e = exp16(_mm512_mul_ps(_mm512_set1_ps(-2.0), abs));
        let one = _mm512_set1_ps(1.0);
        let t = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
        keep_nan(
            x,
            _mm512_mask_blend_ps(nonnegative, _mm512_sub_ps(_mm512_setzero_ps(), t), t),
        )
    }

    /// `result`, with NaN wherever `x` is NaN (the polynomial `exp` maps NaN
    /// to 0, which would hide a diverged model behind finite values).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn keep_nan(x: __m512, result: __m512) -> __m512 {
        _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x), result, x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_the_definitions_across_the_range_and_the_tail() {
        // 203 values: full vectors and a masked tail; large magnitudes
        // where e^{|x|} would overflow and σ underflows f32.
        let x: Vec<f32> = (0..203)
            .map(|i| (i as f32 - 101.0) * 0.37)
            .chain([-200.0, 200.0, 0.0])
            .collect();
        let (mut sigmoid, mut tanh) = (x.clone(), x.clone());
        sigmoid_in_place(&mut sigmoid);
        tanh_in_place(&mut tanh);
        for (i, &v) in x.iter().enumerate() {
            let want_sigmoid = 1.0 / (1.0 + (-f64::from(v)).exp());
            let want_tanh = f64::from(v).tanh();
            assert!(
                (f64::from(sigmoid[i]) - want_sigmoid).abs() <= 2e-7 * want_sigmoid + 1e-38,
                "σ({v}) = {} vs {want_sigmoid}",
                sigmoid[i]
            );
            assert!(
                (f64::from(tanh[i]) - want_tanh).abs() <= 2e-7,
                "tanh({v}) = {} vs {want_tanh}",
                tanh[i]
            );
        }
    }

    #[test]
    fn nan_stays_nan() {
        // A diverged model must not turn into finite activations.
        let mut values = vec![0.5f32; 20];
        values[3] = f32::NAN;
        values[17] = f32::NAN;
        let (mut sigmoid, mut tanh) = (values.clone(), values);
        sigmoid_in_place(&mut sigmoid);
        tanh_in_place(&mut tanh);
        for v in [&sigmoid, &tanh] {
            assert!(v[3].is_nan() && v[17].is_nan(), "{v:?}");
            assert!(v[0].is_finite() && v[16].is_finite());
        }
    }
}
