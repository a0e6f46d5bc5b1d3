//! Token batches as tensors.

use candle_core::{Device, Tensor};

use crate::{batch::TokenBatch, error::PluginResult};

/// The tensors of a teacher-forced pass over a batch of `B` rows of width `T`.
pub struct TeacherForcing {
    /// `[B, T]` u32: BOS followed by the targets shifted right by one.
    pub inputs: Tensor,
    /// `[B, T]` u32: the targets (padding positions hold 0).
    pub targets: Tensor,
    /// `[B, T]` f32: 1 at real positions, 0 at padding.
    pub mask: Tensor,
    /// The inputs on the host, row-major (for scheduled sampling).
    pub input_ids: Vec<u32>,
    /// The mask on the host, row-major.
    pub mask_values: Vec<f32>,
}

/// Builds the teacher-forcing tensors of `batch` with start token `bos`.
pub fn teacher_forcing(
    batch: &TokenBatch,
    bos: u32,
    device: &Device,
) -> PluginResult<TeacherForcing> {
    let rows = batch.rows();
    let width = batch.width as usize;
    let mut inputs = Vec::with_capacity(rows * width);
    let mut targets = Vec::with_capacity(rows * width);
    let mut mask = Vec::with_capacity(rows * width);
    for r in 0..rows {
        let row = &batch.ids[r * width..(r + 1) * width];
        let len = batch.lengths[r] as usize;
        for t in 0..width {
            let real = t < len;
            inputs.push(if t == 0 {
                bos
            } else if t <= len {
                row[t - 1]
            } else {
                0
            });
            targets.push(if real { row[t] } else { 0 });
            mask.push(if real { 1.0 } else { 0.0 });
        }
    }
    Ok(TeacherForcing {
        inputs: Tensor::from_vec(inputs.clone(), (rows, width), device)?,
        targets: Tensor::from_vec(targets, (rows, width), device)?,
        mask: Tensor::from_vec(mask.clone(), (rows, width), device)?,
        input_ids: inputs,
        mask_values: mask,
    })
}

/// `[B, width]` u32 ids of `batch`, each row padded with `pad` to `width`
/// (wider than the batch when a model needs a minimum length, e.g. a CNN
/// whose widest filter exceeds the sequences).
pub fn padded_ids(
    batch: &TokenBatch,
    width: usize,
    pad: u32,
    device: &Device,
) -> PluginResult<Tensor> {
    let ids = padded_id_vec(batch, width, pad)?;
    Ok(Tensor::from_vec(ids, (batch.rows(), width), device)?)
}

/// The ids of [`padded_ids`] as a row-major vector.
pub fn padded_id_vec(batch: &TokenBatch, width: usize, pad: u32) -> PluginResult<Vec<u32>> {
    let mut ids = Vec::with_capacity(batch.rows() * width);
    for row in batch.iter_rows() {
        if row.len() > width {
            return Err(crate::PluginError::input(format!(
                "a sequence of {} tokens exceeds this model's maximum length {width}",
                row.len()
            )));
        }
        ids.extend_from_slice(row);
        ids.resize(ids.len() + width - row.len(), pad);
    }
    Ok(ids)
}

/// Real and generated batches stacked for a discriminator step: ids
/// `[R + G, width]`, their lengths, and labels (`1.0` real, `0.0` generated).
pub struct LabelledBatch {
    /// Padded ids, real rows first.
    pub ids: Tensor,
    /// Length of every row.
    pub lengths: Vec<u32>,
    /// `[R + G]` f32 labels.
    pub labels: Tensor,
}

/// Stacks `real` over `generated` with labels 1 and 0.
pub fn labelled_batch(
    real: &TokenBatch,
    generated: &TokenBatch,
    width: usize,
    pad: u32,
    device: &Device,
) -> PluginResult<LabelledBatch> {
    let ids = Tensor::cat(
        &[
            padded_ids(real, width, pad, device)?,
            padded_ids(generated, width, pad, device)?,
        ],
        0,
    )?;
    let mut labels = vec![1.0f32; real.rows()];
    labels.resize(real.rows() + generated.rows(), 0.0);
    let lengths = real
        .lengths
        .iter()
        .chain(generated.lengths.iter())
        .copied()
        .collect();
    Ok(LabelledBatch {
        ids,
        lengths,
        labels: Tensor::from_vec(labels, real.rows() + generated.rows(), device)?,
    })
}

/// Inverted dropout with a seeded mask: keeps each element with probability
/// `keep` and scales kept ones by `1 / keep`.
pub fn dropout(xs: &Tensor, keep: f32, rng: &mut super::SeededRng) -> PluginResult<Tensor> {
    if keep >= 1.0 {
        return Ok(xs.clone());
    }
    let mask = dropout_mask(xs.elem_count(), keep, rng);
    let mask = Tensor::from_vec(mask, xs.dims(), xs.device())?.to_dtype(xs.dtype())?;
    Ok((xs * mask)?)
}

/// The mask [`dropout`] multiplies `len` elements by, as plain values:
/// `1 / keep` for a kept element, 0 for a dropped one, with the same draws
/// from `rng`; all ones (and no draws) when `keep ≥ 1`. For kernels that
/// apply dropout on slices and must match the tensor path's masks.
pub fn dropout_mask(len: usize, keep: f32, rng: &mut super::SeededRng) -> Vec<f32> {
    use rand::Rng;
    if keep >= 1.0 {
        return vec![1.0; len];
    }
    (0..len)
        .map(|_| {
            if rng.random::<f32>() < keep {
                1.0 / keep
            } else {
                0.0
            }
        })
        .collect()
}

/// `[B, width]` f32 mask: 1 where `t < lengths[b]`.
pub fn length_mask(lengths: &[u32], width: usize, device: &Device) -> PluginResult<Tensor> {
    let values: Vec<f32> = lengths
        .iter()
        .flat_map(|&len| (0..width).map(move |t| if t < len as usize { 1.0 } else { 0.0 }))
        .collect();
    Ok(Tensor::from_vec(values, (lengths.len(), width), device)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_shifted_targets_and_mask_covers_real_tokens() {
        let batch = TokenBatch::from_rows(&[vec![5, 6, 7], vec![8]], 0);
        let tf = teacher_forcing(&batch, 1, &Device::Cpu).unwrap();
        assert_eq!(
            tf.inputs.to_vec2::<u32>().unwrap(),
            vec![vec![1, 5, 6], vec![1, 8, 0]]
        );
        assert_eq!(
            tf.targets.to_vec2::<u32>().unwrap(),
            vec![vec![5, 6, 7], vec![8, 0, 0]]
        );
        assert_eq!(
            tf.mask.to_vec2::<f32>().unwrap(),
            vec![vec![1.0, 1.0, 1.0], vec![1.0, 0.0, 0.0]]
        );
    }
}
