//! Batches of token ids: the main thing that crosses the boundary.

use abi_stable::{
    std_types::{ROption, RVec},
    StableAbi,
};

use crate::error::PluginError;

/// A batch of variable-length token sequences, stored as a dense
/// `rows × width` matrix of ids in row-major order.
///
/// Row `r` holds `lengths[r]` real tokens followed by padding up to `width`.
/// The padding value is whatever the producer chose (usually the pad id); a
/// consumer must never read past a row's length. A row includes its EOS token
/// when the task has one.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq, Default)]
pub struct TokenBatch {
    /// `rows × width` ids, row-major.
    pub ids: RVec<u32>,
    /// Real length of each row (`≤ width`).
    pub lengths: RVec<u32>,
    /// Columns of the matrix.
    pub width: u32,
}

impl TokenBatch {
    /// A batch from rows of ids, padded with `pad` to the longest row.
    pub fn from_rows<R: AsRef<[u32]>>(rows: &[R], pad: u32) -> Self {
        let width = rows.iter().map(|r| r.as_ref().len()).max().unwrap_or(0);
        Self::from_rows_with_width(rows, pad, width)
    }

    /// A batch from rows of ids, padded with `pad` to `width` columns.
    ///
    /// # Panics
    /// If a row is longer than `width`.
    pub fn from_rows_with_width<R: AsRef<[u32]>>(rows: &[R], pad: u32, width: usize) -> Self {
        let mut ids = Vec::with_capacity(rows.len() * width);
        let mut lengths = Vec::with_capacity(rows.len());
        for row in rows {
            let row = row.as_ref();
            assert!(
                row.len() <= width,
                "row of {} tokens exceeds width {width}",
                row.len()
            );
            ids.extend_from_slice(row);
            ids.resize(ids.len() + width - row.len(), pad);
            lengths.push(row.len() as u32);
        }
        TokenBatch {
            ids: ids.into(),
            lengths: lengths.into(),
            width: width as u32,
        }
    }

    /// A batch of `rows` sequences all of length `width`, from dense ids.
    pub fn dense(ids: Vec<u32>, width: usize) -> Self {
        let rows = ids.len().checked_div(width).unwrap_or(0);
        TokenBatch {
            ids: ids.into(),
            lengths: vec![width as u32; rows].into(),
            width: width as u32,
        }
    }

    /// Number of sequences.
    pub fn rows(&self) -> usize {
        self.lengths.len()
    }

    /// Whether the batch has no sequences.
    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    /// The real tokens of row `r` (without padding).
    pub fn row(&self, r: usize) -> &[u32] {
        let start = r * self.width as usize;
        &self.ids[start..start + self.lengths[r] as usize]
    }

    /// Iterator over the real tokens of every row.
    pub fn iter_rows(&self) -> impl Iterator<Item = &[u32]> + '_ {
        (0..self.rows()).map(move |r| self.row(r))
    }

    /// Rows `start .. start + count` as a batch of their own (same width).
    ///
    /// # Panics
    /// If the range runs past the last row.
    pub fn slice_rows(&self, start: usize, count: usize) -> TokenBatch {
        let width = self.width as usize;
        TokenBatch {
            ids: self.ids[start * width..(start + count) * width].into(),
            lengths: self.lengths[start..start + count].into(),
            width: self.width,
        }
    }

    /// Total number of real tokens.
    pub fn token_count(&self) -> usize {
        self.lengths.iter().map(|&l| l as usize).sum()
    }

    /// Checks the shape invariants and that every real id is `< vocab_size`.
    ///
    /// Plugins should call this (through [`crate::author`]'s guards it is
    /// called for them on every incoming batch) so that a malformed batch is
    /// an [`PluginError`] rather than an out-of-bounds panic deep in a kernel.
    pub fn validate(&self, vocab_size: u32, what: &str) -> Result<(), PluginError> {
        let width = self.width as usize;
        if self.ids.len() != self.rows() * width {
            return Err(PluginError::input(format!(
                "{what}: {} ids for {} rows of width {width} (expected {})",
                self.ids.len(),
                self.rows(),
                self.rows() * width
            )));
        }
        for (r, &len) in self.lengths.iter().enumerate() {
            if len as usize > width {
                return Err(PluginError::input(format!(
                    "{what}: row {r} has length {len} > width {width}"
                )));
            }
            if let Some(&bad) = self.row(r).iter().find(|&&id| id >= vocab_size) {
                return Err(PluginError::input(format!(
                    "{what}: row {r} holds token id {bad}, outside the vocabulary of {vocab_size}"
                )));
            }
        }
        Ok(())
    }
}

/// Target sequences with, for conditional tasks, their source sequences.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq, Default)]
pub struct Batch {
    /// The sequences to score or learn from.
    pub targets: TokenBatch,
    /// Row-aligned sources (translation input, document, dialogue context);
    /// `RNone` for unconditional tasks.
    pub sources: ROption<TokenBatch>,
}

impl Batch {
    /// An unconditional batch.
    pub fn unconditional(targets: TokenBatch) -> Self {
        Batch {
            targets,
            sources: ROption::RNone,
        }
    }

    /// A conditional batch; `sources` must have as many rows as `targets`.
    pub fn conditional(targets: TokenBatch, sources: TokenBatch) -> Self {
        Batch {
            targets,
            sources: ROption::RSome(sources),
        }
    }

    /// Validates targets and sources against the vocabulary and each other.
    pub fn validate(&self, vocab_size: u32) -> Result<(), PluginError> {
        self.targets.validate(vocab_size, "targets")?;
        if let ROption::RSome(sources) = &self.sources {
            sources.validate(vocab_size, "sources")?;
            if sources.rows() != self.targets.rows() {
                return Err(PluginError::input(format!(
                    "{} source rows for {} target rows",
                    sources.rows(),
                    self.targets.rows()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_rows_keeps_ids_lengths_and_width() {
        let batch = TokenBatch::from_rows(&[vec![1, 2, 3], vec![4], vec![5, 6]], 0);
        let tail = batch.slice_rows(1, 2);
        assert_eq!(tail.width, 3);
        assert_eq!(
            tail.iter_rows().collect::<Vec<_>>(),
            vec![&[4][..], &[5, 6][..]]
        );
        assert!(batch.slice_rows(3, 0).is_empty());
    }

    #[test]
    fn from_rows_pads_and_row_strips_padding() {
        let batch = TokenBatch::from_rows(&[vec![1, 2, 3], vec![4]], 0);
        assert_eq!(batch.width, 3);
        assert_eq!(batch.ids.as_slice(), &[1, 2, 3, 4, 0, 0]);
        assert_eq!(batch.row(1), &[4]);
        assert_eq!(batch.token_count(), 4);
    }

    #[test]
    fn validate_rejects_out_of_vocab_ids_and_bad_shapes() {
        let batch = TokenBatch::from_rows(&[vec![1, 9]], 0);
        assert!(batch.validate(10, "t").is_ok());
        let err = batch.validate(5, "t").unwrap_err();
        assert!(err.message().contains("token id 9"), "{err}");
        let mut broken = batch.clone();
        broken.lengths[0] = 7;
        assert!(broken
            .validate(10, "t")
            .unwrap_err()
            .message()
            .contains("length 7"));
        broken.lengths[0] = 2;
        broken.ids.push(1);
        assert!(broken
            .validate(10, "t")
            .unwrap_err()
            .message()
            .contains("ids for"));
    }
}
