//! (source, target) rows taken from a [`Batch`], and their padded tensors.

use agon_sdk::{
    toolkit::{length_mask, padded_ids},
    Batch, PluginError, PluginResult, TokenBatch,
};
use candle_core::{Device, Tensor};

/// Row-aligned sources (already truncated) and targets.
#[derive(Clone, Debug, Default)]
pub struct Pairs {
    pub sources: Vec<Vec<u32>>,
    pub targets: Vec<Vec<u32>>,
}

impl Pairs {
    /// The pairs of a conditional batch, each source cut to its first
    /// `max_source_len` tokens. An unconditional batch is an input error:
    /// these discriminators judge a target *given* its source.
    pub fn from_batch(batch: &Batch, component: &str, max_source_len: usize) -> PluginResult<Self> {
        let sources = batch.sources.as_ref().into_option().ok_or_else(|| {
            PluginError::input(format!(
                "{component} scores (source, target) pairs and needs a conditional task: \
                 this batch has no sources"
            ))
        })?;
        Ok(Pairs {
            sources: sources
                .iter_rows()
                .map(|row| row[..row.len().min(max_source_len)].to_vec())
                .collect(),
            targets: batch.targets.iter_rows().map(<[u32]>::to_vec).collect(),
        })
    }

    /// `first`'s rows followed by `second`'s.
    pub fn stacked(mut first: Pairs, second: Pairs) -> Pairs {
        first.sources.extend(second.sources);
        first.targets.extend(second.targets);
        first
    }

    /// Number of pairs.
    pub fn rows(&self) -> usize {
        self.targets.len()
    }
}

/// Rows of ids as `[B, W]` ids and a `[B, W]` f32 mask (1 at real tokens).
pub struct Padded {
    pub ids: Tensor,
    pub mask: Tensor,
}

/// Pads rows of ids into tensors on one device.
#[derive(Clone, Debug)]
pub struct Padder {
    pub pad: u32,
    pub device: Device,
}

impl Padder {
    /// `rows` padded to the longest row rounded up to a multiple of
    /// `multiple` (at least `multiple` columns). The width depends on the
    /// batch, so every model masks what lies past a row's length.
    pub fn pad(&self, rows: &[Vec<u32>], multiple: usize) -> PluginResult<Padded> {
        let longest = rows.iter().map(Vec::len).max().unwrap_or(0);
        let width = longest.div_ceil(multiple).max(1) * multiple;
        let batch = TokenBatch::from_rows_with_width(rows, self.pad, width);
        Ok(Padded {
            ids: padded_ids(&batch, width, self.pad, &self.device)?,
            mask: length_mask(&batch.lengths, width, &self.device)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_truncated_and_unconditional_batches_refused() {
        let targets = TokenBatch::from_rows(&[vec![4, 2], vec![5, 6, 2]], 0);
        let sources = TokenBatch::from_rows(&[vec![7, 8, 9, 2], vec![9, 2]], 0);
        let pairs =
            Pairs::from_batch(&Batch::conditional(targets.clone(), sources), "x", 3).unwrap();
        assert_eq!(pairs.sources, vec![vec![7, 8, 9], vec![9, 2]]);
        assert_eq!(pairs.targets, vec![vec![4, 2], vec![5, 6, 2]]);
        let err = Pairs::from_batch(&Batch::unconditional(targets), "pair-x", 3).unwrap_err();
        assert!(
            err.message().contains("pair-x") && err.message().contains("conditional task"),
            "{err}"
        );
    }

    #[test]
    fn padding_rounds_the_width_up() {
        let padder = Padder {
            pad: 0,
            device: Device::Cpu,
        };
        let padded = padder.pad(&[vec![5, 6, 7], vec![8]], 2).unwrap();
        assert_eq!(
            padded.mask.to_vec2::<f32>().unwrap(),
            vec![vec![1.0, 1.0, 1.0, 0.0], vec![1.0, 0.0, 0.0, 0.0]]
        );
    }
}
