//! Matmuls on plain row-major slices, into buffers the caller owns.
//!
//! Fused CPU kernels (output sampling, the generator's output-layer
//! cross-entropy, the CNN discriminator's convolutions) multiply one block of
//! rows per parallel task into a buffer that stays in cache; each task calls
//! Candle's own matmul kernel (the `gemm` crate) single-threaded
//! ([`matmul_into`]). A block's values agree with a Candle matmul of the
//! whole matrix to rounding, not always to the bit (see [`blocked_path`]).
//! [`matmul_as_candle`] is the whole product as Candle computes it, to the
//! bit, on Candle's threads.
//!
//! When the bits are the same: `gemm`'s kernels give each value of the
//! product one accumulator and sum its `k` terms in order, in depth blocks
//! of `kc` terms, added one block after the other. On its blocked path `kc`
//! depends on `k` (and the CPU's caches) alone, except that products with
//! `m ≤ 64` and `n ≤ 64` take `min(k, 512)`; for `k ≤ 512` that is `k`
//! either way. Threads split the rows and columns, never the depth. Shapes off the blocked path
//! (`m·n ≤ 256`, `k ≤ 2`, a single row or column) are summed by other
//! kernels, in other orders.

/// How an operand's values are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// The operand's own shape, row-major (`[k, n]` for a right-hand side).
    Plain,
    /// Its transpose's shape, row-major (`[n, k]` for a right-hand side),
    /// used as its transpose.
    Transposed,
}

impl Operand {
    /// (column stride, row stride) of a `[rows, cols]` operand.
    fn strides(self, rows: usize, cols: usize) -> (isize, isize) {
        match self {
            Operand::Plain => (1, cols as isize),
            Operand::Transposed => (rows as isize, 1),
        }
    }
}

/// What happens to `dst`'s previous values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// `dst = lhs · rhs`.
    Overwrite,
    /// `dst += lhs · rhs`.
    Accumulate,
}

/// `dst[m, n] (=|+=) lhs[m, k] · rhs[k, n]`, `dst` row-major.
///
/// Panics if a slice is too short for its shape (a bug in the caller).
#[allow(clippy::too_many_arguments)]
pub fn matmul_into(
    dst: &mut [f32],
    write: Write,
    lhs: &[f32],
    lhs_layout: Operand,
    rhs: &[f32],
    rhs_layout: Operand,
    shape: (usize, usize, usize),
) {
    let operands = (lhs, lhs_layout, rhs, rhs_layout);
    gemm_into(
        (dst, Operand::Plain),
        write,
        operands,
        shape,
        gemm::Parallelism::None,
    );
}

/// `dst[m, n] = lhs[m, k] · rhs[k, n]` as one call of the `gemm` crate on
/// Candle's threads, with the arguments Candle's CPU matmul passes: the
/// same values as `Tensor::matmul` to the bit, written into a buffer the
/// caller owns (where a Candle matmul allocates its own, which then has to
/// be copied out). Splitting the rows into blocks, as [`matmul_into`]'s
/// callers do, can change the last bit where a block takes another of
/// `gemm`'s paths or depth blocks (the module's notes).
pub fn matmul_as_candle(
    dst: &mut [f32],
    lhs: &[f32],
    lhs_layout: Operand,
    rhs: &[f32],
    rhs_layout: Operand,
    shape: (usize, usize, usize),
) {
    as_candle(
        (dst, Operand::Plain),
        (lhs, lhs_layout, rhs, rhs_layout),
        shape,
    );
}

/// `dst[m, n] = lhs[m, k] · rhs[k, n]`, `dst` row-major, with the bits of
/// [`matmul_as_candle`], for a product of a few rows with a wide right-hand
/// side (a batch of 64 rows times a 1,720² weight).
///
/// `gemm` works on column-major destinations: for Candle's row-major one it
/// multiplies the transposes, and then packs the whole right-hand side
/// (12 MB for a 1,720² weight, a pass as long as a fifth of the product)
/// before using each of its values for only `m` rows. Written column-major,
/// the product reads the right-hand side in place (on x86-64; `gemm` packs
/// it more readily on other CPUs, which changes no bit) and packs only the
/// `m` rows of the left; the small result is then transposed into `dst`. The
/// bits are the same: `gemm`'s kernels give each value one accumulator,
/// summing its `k` terms in order in blocks whose length depends on `k`
/// alone, whichever way round the product runs. That holds on `gemm`'s
/// blocked path; a shape that one of its small-size paths would take
/// (`m·n ≤ 256`, `k ≤ 2`, a single row or column) goes to
/// [`matmul_as_candle`] instead.
pub fn few_rows_matmul_as_candle(
    dst: &mut [f32],
    lhs: &[f32],
    lhs_layout: Operand,
    rhs: &[f32],
    rhs_layout: Operand,
    shape: (usize, usize, usize),
) {
    let (m, _, n) = shape;
    if !blocked_path(shape) {
        return matmul_as_candle(dst, lhs, lhs_layout, rhs, rhs_layout, shape);
    }
    assert!(
        dst.len() >= m * n,
        "matmul: a destination too short for [{m}, {n}]"
    );
    let mut column_major = vec![0f32; m * n];
    let operands = (lhs, lhs_layout, rhs, rhs_layout);
    as_candle((&mut column_major, Operand::Transposed), operands, shape);
    for (j, column) in column_major.chunks_exact(m).enumerate() {
        for (i, &value) in column.iter().enumerate() {
            dst[i * n + j] = value;
        }
    }
}

/// Whether `gemm` takes its blocked path for an `[m, k] · [k, n]` product
/// (see the module's notes): the path on which a value's bits depend only
/// on its row of the left operand, its column of the right one, and `kc`.
pub fn blocked_path((m, k, n): (usize, usize, usize)) -> bool {
    m > 1 && n > 1 && k > 2 && m * n > 256
}

/// Whether rows `m − rows..m` of an `[m, k] · [k, n]` product, computed
/// alone as `[rows, k] · [k, n]` by [`matmul_as_candle`], have the bits of
/// the whole product's: both on the blocked path with the same depth
/// blocks (`k ≤ 512`, where `kc = k` whatever the shape).
pub fn last_rows_alone_have_the_bits((m, k, n): (usize, usize, usize), rows: usize) -> bool {
    rows <= m && k <= 512 && blocked_path((m, k, n)) && blocked_path((rows, k, n))
}

/// The product into `destination` with the parallelism Candle's CPU
/// matmul passes to `gemm`.
fn as_candle(
    destination: (&mut [f32], Operand),
    operands: (&[f32], Operand, &[f32], Operand),
    shape: (usize, usize, usize),
) {
    let threads = candle_core::utils::get_num_threads();
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    gemm_into(destination, Write::Overwrite, operands, shape, parallelism);
}

/// The one `gemm` call behind the functions above, into `dst` laid out
/// row-major (`Plain`) or column-major (`Transposed`).
fn gemm_into(
    (dst, dst_layout): (&mut [f32], Operand),
    write: Write,
    (lhs, lhs_layout, rhs, rhs_layout): (&[f32], Operand, &[f32], Operand),
    (m, k, n): (usize, usize, usize),
    parallelism: gemm::Parallelism,
) {
    assert!(
        dst.len() >= m * n && lhs.len() >= m * k && rhs.len() >= k * n,
        "matmul: slices too short for [{m}, {k}] · [{k}, {n}]"
    );
    let (lhs_cs, lhs_rs) = lhs_layout.strides(m, k);
    let (rhs_cs, rhs_rs) = rhs_layout.strides(k, n);
    let (dst_cs, dst_rs) = dst_layout.strides(m, n);
    let read_dst = write == Write::Accumulate;
    // SAFETY: the assert above bounds every index the strides reach, and
    // `dst` is borrowed mutably, so it overlaps neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cs,
            dst_rs,
            read_dst,
            lhs.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.as_ptr(),
            rhs_cs,
            rhs_rs,
            if read_dst { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        (0..rows * cols)
            .map(|i| values[(i % rows) * cols + i / rows])
            .collect()
    }

    /// Values with many significant bits, so that another summation order
    /// would show in the last bit.
    fn noisy(len: usize, seed: u64) -> Vec<f32> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 3.0
            })
            .collect()
    }

    fn candle_product(
        lhs: &[f32],
        lhs_layout: Operand,
        rhs: &[f32],
        rhs_layout: Operand,
        (m, k, n): (usize, usize, usize),
    ) -> Vec<f32> {
        use candle_core::{Device, Tensor};
        let operand = |values: &[f32], layout, rows, cols| match layout {
            Operand::Plain => Tensor::from_slice(values, (rows, cols), &Device::Cpu).unwrap(),
            Operand::Transposed => Tensor::from_slice(values, (cols, rows), &Device::Cpu)
                .unwrap()
                .t()
                .unwrap(),
        };
        operand(lhs, lhs_layout, m, k)
            .matmul(&operand(rhs, rhs_layout, k, n))
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    }

    #[test]
    fn few_rows_products_have_candles_bits() {
        // The CNN discriminator's highway at paper size (k long enough for
        // several of gemm's depth blocks), partial tiles every way, and
        // shapes on gemm's small-size paths (which go to Candle's call).
        let shapes = [
            (64, 1720, 1720),
            (37, 1100, 333),
            (5, 700, 61),
            (64, 64, 1720),
            (10, 20, 12),
            (1, 9, 40),
            (40, 2, 30),
            (30, 40, 1),
        ];
        for (s, &(m, k, n)) in shapes.iter().enumerate() {
            let (lhs, rhs) = (noisy(m * k, 2 * s as u64), noisy(k * n, 2 * s as u64 + 1));
            for lhs_layout in [Operand::Plain, Operand::Transposed] {
                for rhs_layout in [Operand::Plain, Operand::Transposed] {
                    let want = candle_product(&lhs, lhs_layout, &rhs, rhs_layout, (m, k, n));
                    let mut got = vec![f32::NAN; m * n];
                    few_rows_matmul_as_candle(
                        &mut got,
                        &lhs,
                        lhs_layout,
                        &rhs,
                        rhs_layout,
                        (m, k, n),
                    );
                    let differing = got
                        .iter()
                        .zip(&want)
                        .filter(|(g, w)| g.to_bits() != w.to_bits())
                        .count();
                    assert_eq!(
                        differing, 0,
                        "[{m}, {k}] {lhs_layout:?} · [{k}, {n}] {rhs_layout:?}: {differing} values differ"
                    );
                }
            }
        }
        // The comparison sees a change of order: a textbook sum, one chain
        // over all 1,720 terms without gemm's depth blocks, differs.
        let (m, k, n) = shapes[0];
        let (lhs, rhs) = (noisy(m * k, 0), noisy(k * n, 1));
        let want = candle_product(&lhs, Operand::Plain, &rhs, Operand::Plain, (m, k, n));
        let textbook = (0..m * n).map(|at| {
            let (i, j) = (at / n, at % n);
            (0..k).fold(0f32, |acc, p| lhs[i * k + p].mul_add(rhs[p * n + j], acc))
        });
        let differing = textbook
            .zip(&want)
            .filter(|(t, w)| t.to_bits() != w.to_bits());
        assert!(differing.count() > m * n / 2);
    }

    /// How many of the last `rows` rows of `[m, k] · [k, n]` (noisy values
    /// from `seed`) differ in their bits when computed alone.
    fn last_rows_differing((m, k, n): (usize, usize, usize), rows: usize, seed: u64) -> usize {
        let (lhs, rhs) = (noisy(m * k, seed), noisy(n * k, seed + 10));
        let product = |lhs: &[f32], m: usize| {
            let mut out = vec![0f32; m * n];
            let (plain, transposed) = (Operand::Plain, Operand::Transposed);
            matmul_as_candle(&mut out, lhs, plain, &rhs, transposed, (m, k, n));
            out
        };
        let (whole, last) = (product(&lhs, m), product(&lhs[(m - rows) * k..], rows));
        let want = &whole[(m - rows) * n..];
        last.iter()
            .zip(want)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count()
    }

    #[test]
    fn last_rows_alone_have_the_whole_products_bits_where_promised() {
        // A RelGAN step's rows' gradient at the oracle's sizes (the
        // generated half of 2,560 rows), k = 512 (the largest accepted), a part small
        // enough for gemm's 64 × 64 blocking and a whole that is not.
        let cases = [
            ((2560, 64, 5000), 1280),
            ((210, 5, 11), 140),
            ((100, 512, 70), 33),
            ((200, 300, 50), 10),
        ];
        for (c, &((m, k, n), rows)) in cases.iter().enumerate() {
            assert!(last_rows_alone_have_the_bits((m, k, n), rows));
            let differing = last_rows_differing((m, k, n), rows, 40 + c as u64);
            assert_eq!(differing, 0, "[{m}, {k}] · [{k}, {n}], last {rows} rows");
        }
        // Not promised: depth blocks that can differ, small-size paths. A
        // part within gemm's 64 × 64 blocking (kc = 512) of a whole that is
        // not (kc from the caches: 500 or 1,000) does differ.
        assert!(!last_rows_alone_have_the_bits((200, 1000, 50), 10));
        assert!(last_rows_differing((200, 1000, 50), 10, 60) > 0);
        assert!(!last_rows_alone_have_the_bits((100, 513, 70), 33));
        assert!(!last_rows_alone_have_the_bits((210, 5, 11), 20));
        assert!(!last_rows_alone_have_the_bits((210, 2, 11), 140));
        assert!(!last_rows_alone_have_the_bits((210, 5, 11), 211));
    }

    #[test]
    fn every_layout_gives_the_textbook_product_and_accumulates() {
        let (m, k, n) = (3, 4, 5);
        let lhs: Vec<f32> = (0..m * k).map(|i| i as f32 - 5.0).collect();
        let rhs: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32).collect();
        let mut want = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                want[i * n + j] = (0..k).map(|p| lhs[i * k + p] * rhs[p * n + j]).sum();
            }
        }
        let (lhs_t, rhs_t) = (transpose(&lhs, m, k), transpose(&rhs, k, n));
        for (l, ll, r, rl) in [
            (&lhs, Operand::Plain, &rhs, Operand::Plain),
            (&lhs, Operand::Plain, &rhs_t, Operand::Transposed),
            (&lhs_t, Operand::Transposed, &rhs, Operand::Plain),
            (&lhs_t, Operand::Transposed, &rhs_t, Operand::Transposed),
        ] {
            let mut got = vec![f32::NAN; m * n];
            matmul_into(&mut got, Write::Overwrite, l, ll, r, rl, (m, k, n));
            assert_eq!(got, want, "{ll:?} · {rl:?}");
            matmul_into(&mut got, Write::Accumulate, l, ll, r, rl, (m, k, n));
            let doubled: Vec<f32> = want.iter().map(|w| 2.0 * w).collect();
            assert_eq!(got, doubled, "{ll:?} · {rl:?} accumulated");
        }
    }
}
