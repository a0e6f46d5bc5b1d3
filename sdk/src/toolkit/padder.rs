//! Rows of ids of any lengths → padded id and mask tensors, as wide as the
//! batch needs.

use candle_core::{Device, Tensor};

use super::tensors::{length_mask, padded_ids};
use crate::{batch::TokenBatch, error::PluginResult};

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
    /// batch, so a model must mask what lies past a row's length.
    pub fn pad(&self, rows: &[Vec<u32>], multiple: usize) -> PluginResult<Padded> {
        let multiple = multiple.max(1);
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
        assert_eq!(
            padded.ids.to_vec2::<u32>().unwrap(),
            vec![vec![5, 6, 7, 0], vec![8, 0, 0, 0]]
        );
    }
}
