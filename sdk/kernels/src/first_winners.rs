//! The first position attaining each column's maximum in a row-major
//! `[T, F]` block: max-over-time pooling's forward value and the position
//! its gradient goes to, for all `F` columns at once.
//!
//! Each column sees its values in the order of `T` and makes the same
//! comparisons as a scan of that column alone, so the result does not
//! depend on the vector width. The choice is written as bit masks instead
//! of branches, so that the loop over the columns vectorises (with
//! branches the compiler stored lane by lane), compiled for the widest
//! vector instructions the CPU has.

/// No winner: every value of the column is NaN, or the block is empty.
pub const NO_WINNER: u32 = u32::MAX;

/// Scans `block` (`[T, F]` row major, `F = winner.len()`) into, for each
/// column `f`: `winner[f]`, the first position attaining the maximum of
/// the column's values other than NaN (`NO_WINNER` when all are NaN);
/// `max[f]`, that maximum (−∞ without a winner); `nan[f]`, 1 when any of
/// the column's values is NaN, else 0. The three outputs are overwritten.
///
/// Panics if the outputs differ in length or `block` is not a whole number
/// of rows of them.
pub type FirstWinners = fn(block: &[f32], winner: &mut [u32], max: &mut [f32], nan: &mut [u32]);

crate::widest::widest_versions! {
    /// The widest [`FirstWinners`] this CPU runs.
    pub fn first_winners_kernel() -> FirstWinners,
    every version: first_winners_versions,
    portable: first_winners(block: &[f32], winner: &mut [u32], max: &mut [f32], nan: &mut [u32]),
    features: ["avx512f", "avx2"],
}

#[inline(always)]
fn first_winners(block: &[f32], winner: &mut [u32], max: &mut [f32], nan: &mut [u32]) {
    let features = winner.len();
    assert!(
        max.len() == features && nan.len() == features,
        "first_winners: one max and one NaN flag per column"
    );
    winner.fill(NO_WINNER);
    max.fill(f32::NEG_INFINITY);
    nan.fill(0);
    if features == 0 {
        return;
    }
    assert_eq!(
        block.len() % features,
        0,
        "first_winners: the block is not a whole number of rows"
    );
    for (t, line) in block.chunks_exact(features).enumerate() {
        let t = t as u32;
        let columns = line
            .iter()
            .zip(winner.iter_mut())
            .zip(max.iter_mut())
            .zip(nan.iter_mut());
        for (((&v, winner), max), nan) in columns {
            let is_nan = v.is_nan();
            // Taken: not NaN, and the column's first value or above its max.
            let take = !is_nan & ((*winner == NO_WINNER) | (v > *max));
            let keep = (take as u32).wrapping_sub(1); // all ones when not taken
            *winner = (t & !keep) | (*winner & keep);
            *max = f32::from_bits((v.to_bits() & !keep) | (max.to_bits() & keep));
            *nan |= is_nan as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Column `f` scanned alone, as a plain loop with branches.
    fn column_alone(block: &[f32], features: usize, f: usize) -> (u32, f32, u32) {
        let (mut winner, mut max, mut nan) = (NO_WINNER, f32::NEG_INFINITY, 0);
        for (t, line) in block.chunks_exact(features).enumerate() {
            let v = line[f];
            if v.is_nan() {
                nan = 1;
            } else if winner == NO_WINNER || v > max {
                (winner, max) = (t as u32, v);
            }
        }
        (winner, max, nan)
    }

    #[test]
    fn every_version_finds_each_columns_first_winner() {
        // Ties, NaN, infinities, −0 against +0, a column all NaN, and
        // widths that leave partial vectors.
        for (steps, features) in [(1, 1), (7, 9), (13, 40), (19, 67), (0, 5)] {
            let mut block: Vec<f32> = (0..steps * features)
                .map(|i| ((i * 7919 % 23 % 7) as f32 - 3.0) / 4.0)
                .collect();
            let special = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 0.0];
            for (k, i) in (0..block.len()).step_by(5).enumerate() {
                block[i] = special[k % special.len()];
            }
            if steps > 1 && features > 3 {
                for t in 0..steps {
                    block[t * features + 3] = f32::NAN;
                }
            }
            for (name, version) in first_winners_versions() {
                let mut winner = vec![7; features];
                let mut max = vec![7.0; features];
                let mut nan = vec![7; features];
                version(&block, &mut winner, &mut max, &mut nan);
                for f in 0..features {
                    let (w, m, n) = column_alone(&block, features, f);
                    assert_eq!(
                        (winner[f], max[f].to_bits(), nan[f]),
                        (w, m.to_bits(), n),
                        "{name}: {steps} × {features}, column {f}"
                    );
                }
                if steps > 1 && features > 3 {
                    assert_eq!((winner[3], nan[3]), (NO_WINNER, 1), "{name}");
                }
            }
        }
    }
}
