//! The CNN-highway network.

use candle_core::{Module, Result, Tensor, D};
use candle_nn::{Linear, VarBuilder};

use crate::config::CnnDiscriminatorConfig;

/// One convolution width.
pub struct ConvBank {
    /// `[filters, embedding, width]`.
    pub weight: Tensor,
    /// `[filters]`.
    pub bias: Tensor,
}

/// Embedding → convolutions → max-over-time → highway; the output layer is
/// separate so the caller can apply dropout before it.
pub struct CnnHighway {
    pub embedding: Tensor,
    pub banks: Vec<ConvBank>,
    highway_transform: Linear,
    highway_gate: Linear,
    pub output: Linear,
}

impl CnnHighway {
    pub fn new(vb: VarBuilder, vocab: usize, config: &CnnDiscriminatorConfig) -> Result<Self> {
        let e = config.embedding_dim;
        let banks = config
            .filter_sizes
            .iter()
            .zip(&config.filter_counts)
            .map(|(&width, &count)| {
                Ok(ConvBank {
                    weight: vb.get((count, e, width), &format!("conv{width}.weight"))?,
                    bias: vb.get(count, &format!("conv{width}.bias"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let features = config.total_filters();
        let linear = |name: &str, out: usize| -> Result<Linear> {
            Ok(Linear::new(
                vb.get((out, features), &format!("{name}.weight"))?,
                Some(vb.get(out, &format!("{name}.bias"))?),
            ))
        };
        Ok(CnnHighway {
            embedding: vb.get((vocab, e), "embedding")?,
            banks,
            highway_transform: linear("highway.transform", features)?,
            highway_gate: linear("highway.gate", features)?,
            output: linear("output", 2)?,
        })
    }

    /// Highway features `[B, F]` of padded ids `[B, L]`.
    pub fn features(&self, ids: &Tensor) -> Result<Tensor> {
        self.highway(&self.pooled(ids)?)
    }

    /// Max-over-time pooled ReLU convolutions `[B, F]` of padded ids `[B, L]`.
    pub fn pooled(&self, ids: &Tensor) -> Result<Tensor> {
        let (rows, len) = ids.dims2()?;
        let x = self
            .embedding
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((rows, len, ()))?
            .transpose(1, 2)?
            .contiguous()?;
        let pooled = self
            .banks
            .iter()
            .map(|bank| {
                let conv = x.conv1d(&bank.weight, 0, 1, 1, 1)?;
                conv.broadcast_add(&bank.bias.reshape((1, (), 1))?)?
                    .relu()?
                    .max(D::Minus1)
            })
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&pooled, 1)
    }

    /// The highway layer over pooled features `h: [B, F]`.
    pub fn highway(&self, h: &Tensor) -> Result<Tensor> {
        let gate = candle_nn::ops::sigmoid(&self.highway_gate.forward(h)?)?;
        let transformed = self.highway_transform.forward(h)?.relu()?;
        // y = t ⊙ g(W_H h) + (1 − t) ⊙ h
        (&gate * transformed)? + ((gate.ones_like()? - &gate)? * h)?
    }
}
