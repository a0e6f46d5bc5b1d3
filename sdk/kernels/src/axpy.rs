//! `y += a·x` over `f32` slices, compiled for the widest vector
//! instructions the CPU has.
//!
//! Plugins are built for baseline x86-64 (SSE2), so plain loops vectorise
//! four lanes wide. [`axpy_kernel`] picks, once, a version of the loop
//! compiled with AVX-512 or AVX2 enabled (16 or 8 lanes). No fused
//! multiply-add is introduced (Rust does not contract `a * b + c`), so every
//! version gives the same bits.

/// `y += a·x` for `y.len()` elements.
pub type Axpy = fn(y: &mut [f32], a: f32, x: &[f32]);

/// The widest [`Axpy`] this CPU runs.
pub fn axpy_kernel() -> Axpy {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return axpy_avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            return axpy_avx2;
        }
    }
    axpy
}

#[inline(always)]
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

#[cfg(target_arch = "x86_64")]
fn axpy_avx512(y: &mut [f32], a: f32, x: &[f32]) {
    #[target_feature(enable = "avx512f")]
    unsafe fn wide(y: &mut [f32], a: f32, x: &[f32]) {
        axpy(y, a, x)
    }
    // SAFETY: only returned by `axpy_kernel` on CPUs with AVX-512F.
    unsafe { wide(y, a, x) }
}

#[cfg(target_arch = "x86_64")]
fn axpy_avx2(y: &mut [f32], a: f32, x: &[f32]) {
    #[target_feature(enable = "avx2")]
    unsafe fn wide(y: &mut [f32], a: f32, x: &[f32]) {
        axpy(y, a, x)
    }
    // SAFETY: only returned by `axpy_kernel` on CPUs with AVX2.
    unsafe { wide(y, a, x) }
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
        let mut got = start.clone();
        axpy_kernel()(&mut got, 0.3, &x);
        assert_eq!(got, want);
        assert_ne!(got, start);
    }
}
