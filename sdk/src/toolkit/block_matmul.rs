//! A matmul on plain row-major slices, on the calling thread.
//!
//! Fused CPU kernels (output sampling, the CNN discriminator's convolutions)
//! multiply one block of rows per parallel task into a buffer that stays in
//! cache; each task calls Candle's own matmul kernel (the `gemm` crate)
//! single-threaded, so the block gets the same additions in the same order
//! as a Candle matmul of the whole matrix.

/// The right-hand side's layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rhs {
    /// `[k, n]` row-major.
    Plain,
    /// `[n, k]` row-major, used as its transpose.
    Transposed,
}

/// `dst[m, n] = lhs[m, k] · rhs`, all row-major.
///
/// Panics if a slice is too short for its shape (a bug in the caller).
pub fn matmul_into(
    dst: &mut [f32],
    lhs: &[f32],
    rhs: &[f32],
    rhs_layout: Rhs,
    m: usize,
    k: usize,
    n: usize,
) {
    assert!(
        dst.len() >= m * n && lhs.len() >= m * k && rhs.len() >= k * n,
        "matmul_into: slices too short for [{m}, {k}] · [{k}, {n}]"
    );
    let (rhs_cs, rhs_rs) = match rhs_layout {
        Rhs::Plain => (1, n as isize),
        Rhs::Transposed => (k as isize, 1),
    };
    // SAFETY: the assert above bounds every index the strides reach.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr(),
            rhs_cs,
            rhs_rs,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_transposed_right_hand_sides_give_the_textbook_product() {
        let (m, k, n) = (3, 4, 5);
        let lhs: Vec<f32> = (0..m * k).map(|i| i as f32 - 5.0).collect();
        let rhs: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32).collect();
        let transposed: Vec<f32> = (0..n * k).map(|i| rhs[(i % k) * n + i / k]).collect();
        let mut want = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                want[i * n + j] = (0..k).map(|p| lhs[i * k + p] * rhs[p * n + j]).sum();
            }
        }
        let mut got = vec![0f32; m * n];
        matmul_into(&mut got, &lhs, &rhs, Rhs::Plain, m, k, n);
        assert_eq!(got, want);
        matmul_into(&mut got, &lhs, &transposed, Rhs::Transposed, m, k, n);
        assert_eq!(got, want);
    }
}
