//! The discriminator's batch of one relaxed step — real rows one-hot, then
//! the generator's relaxed rows — written into one buffer that the next
//! step reuses.
//!
//! The batch is `[2 × rows, width, vocabulary]` f32s, 51 MB at the oracle's
//! sizes. Built afresh each step (a zeroed one-hot array, then the
//! generated rows appended), it cost a zeroing pass, a reallocation's copy
//! and the page faults of new memory, twice a step. Reused, its real half
//! is all zeros but for the ones the previous step set, which are reset one
//! by one, and its generated half is overwritten by a single copy. The
//! values are those of `RelaxedBatch::one_hot` followed by
//! `RelaxedBatch::append`, to the bit (a test checks it).

use abi_stable::std_types::{ROption, RVec};
use agon_sdk::{RelaxedBatch, TokenBatch};

/// A step's joined batch, and where its real half holds ones.
pub(crate) struct JoinedRows {
    batch: RelaxedBatch,
    /// Indices into `batch.soft` of the real rows' ones.
    ones: Vec<usize>,
}

impl JoinedRows {
    /// `real` as one-hot rows `width` wide, then `generated`
    /// (`[rows, width, vocab]`, zero past each of `generated_lengths`), in
    /// `reuse`'s buffer when it has the size; with `sources`, each of the
    /// two rows of a pair has its row's source.
    pub(crate) fn fill(
        reuse: Option<JoinedRows>,
        real: &TokenBatch,
        generated: &[f32],
        generated_lengths: &[u32],
        width: usize,
        vocab: usize,
        sources: ROption<TokenBatch>,
    ) -> anyhow::Result<Self> {
        let rows = real.rows();
        let per_row = width * vocab;
        let half = rows * per_row;
        anyhow::ensure!(
            generated.len() == half && generated_lengths.len() == rows,
            "{} generated values in {} rows for {rows} real rows × {width} positions × {vocab} ids",
            generated.len(),
            generated_lengths.len()
        );
        let (mut soft, mut ones) = match reuse {
            Some(JoinedRows { batch, ones }) if batch.soft.len() == 2 * half => {
                let mut soft = batch.soft;
                for &i in &ones {
                    soft[i] = 0.0;
                }
                (soft, ones)
            }
            _ => (RVec::from(vec![0f32; 2 * half]), Vec::new()),
        };
        ones.clear();
        for (r, row) in real.iter_rows().enumerate() {
            anyhow::ensure!(
                row.len() <= width,
                "real row {r} has {} tokens, more than the relaxed batch's width {width}",
                row.len()
            );
            for (t, &id) in row.iter().enumerate() {
                anyhow::ensure!(
                    (id as usize) < vocab,
                    "real row {r} holds id {id}, outside the vocabulary of {vocab}"
                );
                let at = r * per_row + t * vocab + id as usize;
                soft[at] = 1.0;
                ones.push(at);
            }
        }
        soft[half..].copy_from_slice(generated);
        let sources = match sources {
            ROption::RSome(sources) => {
                let both: Vec<&[u32]> = sources.iter_rows().chain(sources.iter_rows()).collect();
                ROption::RSome(TokenBatch::from_rows_with_width(
                    &both,
                    0,
                    sources.width as usize,
                ))
            }
            ROption::RNone => ROption::RNone,
        };
        let lengths = real
            .lengths
            .iter()
            .chain(generated_lengths)
            .copied()
            .collect();
        Ok(JoinedRows {
            batch: RelaxedBatch {
                lengths,
                width: width as u32,
                soft,
                sources,
            },
            ones,
        })
    }

    /// The joined batch.
    pub(crate) fn batch(&self) -> &RelaxedBatch {
        &self.batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `RelaxedBatch::one_hot(real)` with `generated` appended: what the
    /// buffer replaces.
    fn reference(
        real: &TokenBatch,
        generated: &[f32],
        lengths: &[u32],
        width: usize,
        vocab: usize,
        sources: ROption<TokenBatch>,
    ) -> RelaxedBatch {
        let mut batch = RelaxedBatch::one_hot(real, width, vocab, sources.clone()).unwrap();
        let fake = RelaxedBatch {
            lengths: lengths.to_vec().into(),
            width: width as u32,
            soft: generated.to_vec().into(),
            sources,
        };
        batch.append(&fake).unwrap();
        batch
    }

    fn generated(rows: usize, width: usize, vocab: usize, salt: usize) -> Vec<f32> {
        (0..rows * width * vocab)
            .map(|i| ((i * 7 + salt) % 13) as f32 / 13.0)
            .collect()
    }

    #[test]
    fn a_reused_buffer_holds_the_one_hot_rows_and_the_generated_rows_to_the_bit() {
        let (width, vocab) = (4, 6);
        let steps = [
            TokenBatch::from_rows(&[vec![1u32, 5, 2], vec![0], vec![3, 3, 3, 4]], 0),
            // Other ids, lengths and a longer row: the previous ones are gone.
            TokenBatch::from_rows(&[vec![2u32], vec![5, 4, 1, 0], vec![]], 0),
            TokenBatch::from_rows(&[vec![4u32, 4], vec![1, 2], vec![0, 5, 5]], 0),
        ];
        let mut kept = None;
        for (step, real) in steps.iter().enumerate() {
            let lengths = [4u32, 2, 3];
            let fake = generated(3, width, vocab, step);
            let filled = JoinedRows::fill(
                kept.take(),
                real,
                &fake,
                &lengths,
                width,
                vocab,
                ROption::RNone,
            )
            .unwrap();
            let expected = reference(real, &fake, &lengths, width, vocab, ROption::RNone);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&filled.batch().soft),
                bits(&expected.soft),
                "step {step}"
            );
            assert_eq!(filled.batch(), &expected, "step {step}");
            kept = Some(filled);
        }
    }

    #[test]
    fn sources_are_joined_as_the_batches_append_joins_them() {
        let (width, vocab) = (3, 5);
        let real = TokenBatch::from_rows(&[vec![1u32, 2], vec![4]], 0);
        let sources = TokenBatch::from_rows(&[vec![3u32, 3, 1], vec![2]], 0);
        let fake = generated(2, width, vocab, 1);
        let filled = JoinedRows::fill(
            None,
            &real,
            &fake,
            &[3, 1],
            width,
            vocab,
            ROption::RSome(sources.clone()),
        )
        .unwrap();
        let expected = reference(&real, &fake, &[3, 1], width, vocab, ROption::RSome(sources));
        assert_eq!(filled.batch(), &expected);
    }

    #[test]
    fn a_row_too_long_or_an_id_outside_the_vocabulary_is_refused() {
        let fake = generated(1, 2, 4, 0);
        let long = TokenBatch::from_rows(&[vec![1u32, 2, 3]], 0);
        let err = JoinedRows::fill(None, &long, &fake, &[2], 2, 4, ROption::RNone)
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .contains("more than the relaxed batch's width 2"),
            "{err}"
        );
        let outside = TokenBatch::from_rows(&[vec![1u32, 4]], 0);
        let err = JoinedRows::fill(None, &outside, &fake, &[2], 2, 4, ROption::RNone)
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .contains("id 4, outside the vocabulary of 4"),
            "{err}"
        );
    }
}
