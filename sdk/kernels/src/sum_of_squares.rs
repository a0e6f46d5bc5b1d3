//! `Σ x²` of consecutive chunks of an `f32` slice, each in `f64` and added
//! left to right: the sums `values.chunks(chunk).map(|c| c.iter().map(|&x|
//! f64::from(x) * f64::from(x)).sum())` makes, bit for bit, several chunks
//! at a time.
//!
//! The gradient norm of every training step is such a sum over all the
//! weights' gradients (7.1 M values for SeqGAN's discriminator). Within a
//! chunk each addition waits for the one before it (about four cycles on
//! today's cores), so one chunk at a time runs at a quarter of a value per
//! cycle: 6% of a discriminator step. The chunks' sums are independent, so
//! [`chunk_sums_of_squares`] keeps eight chunks' running sums side by side,
//! each still adding its own squares in order; the order of additions fixes
//! the bits, and it is the same.

/// Chunks whose sums run side by side.
const LANES: usize = 8;

/// One sum of squares per chunk of `values` (`values.chunks(chunk)`, the last
/// one possibly shorter), each added left to right in `f64`.
///
/// # Panics
/// If `chunk` is 0.
pub fn chunk_sums_of_squares(values: &[f32], chunk: usize) -> Vec<f64> {
    assert!(chunk > 0, "chunk_sums_of_squares: a chunk of 0 values");
    let mut sums = Vec::with_capacity(values.len().div_ceil(chunk));
    let full = values.len() / chunk;
    let mut done = 0;
    // Eight chunks side by side, then four, two, one: every full chunk
    // but the last few shares its pass with others.
    done += side_by_side::<LANES>(&values[..full * chunk], chunk, &mut sums);
    done += side_by_side::<4>(&values[done * chunk..full * chunk], chunk, &mut sums);
    done += side_by_side::<2>(&values[done * chunk..full * chunk], chunk, &mut sums);
    done += side_by_side::<1>(&values[done * chunk..full * chunk], chunk, &mut sums);
    debug_assert_eq!(done, full);
    if let Some(last) = values.get(full * chunk..).filter(|rest| !rest.is_empty()) {
        sums.push(sequential(last));
    }
    sums
}

/// Sums of as many groups of `L` full chunks of `values` as it holds, pushed
/// in order; returns the chunks summed.
fn side_by_side<const L: usize>(values: &[f32], chunk: usize, sums: &mut Vec<f64>) -> usize {
    let groups = values.len() / (chunk * L);
    for group in values.chunks_exact(chunk * L) {
        let lanes: [&[f32]; L] = std::array::from_fn(|l| &group[l * chunk..(l + 1) * chunk]);
        // Starts as `Sum for f64` does; −0 + x is x for every square.
        let mut acc = [-0.0f64; L];
        // `k` walks the L chunks together: lane `l` takes its `k`-th value.
        #[allow(clippy::needless_range_loop)]
        for k in 0..chunk {
            for l in 0..L {
                let x = f64::from(lanes[l][k]);
                acc[l] += x * x;
            }
        }
        sums.extend_from_slice(&acc);
    }
    groups * L
}

/// One chunk's sum, the plain way.
fn sequential(chunk: &[f32]) -> f64 {
    chunk.iter().map(|&x| f64::from(x) * f64::from(x)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values whose squares' sums round differently in another order.
    fn values(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let x = ((i as f32) * 0.618_034).sin() * 10f32.powi((i % 13) as i32 - 6);
                if i % 7 == 3 {
                    -x
                } else {
                    x
                }
            })
            .collect()
    }

    #[test]
    fn every_chunk_sums_to_the_bits_of_the_sequential_sum() {
        // Lengths that exercise eight, four, two and one chunks side by side
        // and a short last chunk, or none.
        for (n, chunk) in [
            (0, 5),
            (3, 5),
            (5, 5),
            (8 * 5, 5),
            (15 * 5 + 2, 5),
            (23 * 7, 7),
            (100_003, 1 << 10),
            (1 << 14, 1 << 14),
        ] {
            let values = values(n);
            let want: Vec<f64> = values.chunks(chunk).map(sequential).collect();
            if chunk >= 5 && n >= chunk {
                // Summed backwards, some chunk's bits differ: the comparison
                // below would see a kernel that reorders a chunk's additions.
                let backwards = values.chunks(chunk).map(|c| {
                    c.iter()
                        .rev()
                        .map(|&x| f64::from(x) * f64::from(x))
                        .sum::<f64>()
                });
                assert!(
                    backwards
                        .zip(&want)
                        .any(|(b, w)| b.to_bits() != w.to_bits()),
                    "{n} values in chunks of {chunk}: the order does not show"
                );
            }
            let got = chunk_sums_of_squares(&values, chunk);
            assert_eq!(got.len(), want.len(), "{n} values in chunks of {chunk}");
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g.to_bits(), w.to_bits(), "chunk {i} of {n} values");
            }
        }
    }

    #[test]
    fn the_order_matters_for_these_values() {
        // So the test above can tell a reordered sum from the sequential one.
        let values = values(1 << 12);
        let sequential_sum = sequential(&values);
        let pairwise: f64 = values
            .chunks(2)
            .map(|pair| {
                pair.iter()
                    .map(|&x| f64::from(x) * f64::from(x))
                    .sum::<f64>()
            })
            .sum();
        assert_ne!(sequential_sum.to_bits(), pairwise.to_bits());
    }

    #[test]
    fn non_finite_values_give_non_finite_sums() {
        let mut values = values(40);
        values[17] = f32::NAN;
        values[33] = f32::INFINITY;
        let sums = chunk_sums_of_squares(&values, 5);
        assert!(sums[3].is_nan());
        assert_eq!(sums[6], f64::INFINITY);
        assert!(sums
            .iter()
            .enumerate()
            .all(|(i, s)| i == 3 || i == 6 || s.is_finite()));
    }
}
