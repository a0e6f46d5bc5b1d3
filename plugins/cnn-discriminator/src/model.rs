//! The CNN-highway network.

use agon_sdk::toolkit::{max_over_time, windows, ComputePath};
use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

use crate::{
    config::CnnDiscriminatorConfig,
    conv_pool::{with_cpu_values, ConvPool, Width},
};

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
    pub highway_transform: Linear,
    pub highway_gate: Linear,
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

    /// Max-over-time pooled ReLU convolutions `[B, F]` of padded ids `[B, L]`:
    /// one [`ConvPool`] op with its sparse backward (kernels path, CPU) or
    /// [`CnnHighway::pooled_by_matmuls`] (tensor path, any device).
    pub fn pooled_on(&self, ids: &Tensor, path: ComputePath) -> Result<Tensor> {
        if path == ComputePath::Tensor {
            return self.pooled_by_matmuls(ids);
        }
        let (_, len) = ids.dims2()?;
        let plan = self.conv_plan(ids.flatten_all()?.to_vec1::<u32>()?, len)?;
        let (kernels, biases) = self.conv_weights()?;
        plan.apply(&self.embedding, &kernels, &biases)
    }

    /// The [`ConvPool`] plan of row-major `ids` (`rows × len`).
    pub fn conv_plan(&self, ids: Vec<u32>, len: usize) -> Result<ConvPool> {
        let widths = self
            .banks
            .iter()
            .map(|bank| {
                let (filters, _, width) = bank.weight.dims3()?;
                Ok(Width { width, filters })
            })
            .collect::<Result<Vec<_>>>()?;
        ConvPool::new(ids, len, widths, self.embedding.dim(0)?)
    }

    /// The convolutions' weights as [`ConvPool`] takes them: every width's
    /// `[n, e, k]` filters as `[n, k·e]` (a filter's taps in window order),
    /// flattened and concatenated, and the biases concatenated.
    pub fn conv_weights(&self) -> Result<(Tensor, Tensor)> {
        let kernels = self
            .banks
            .iter()
            .map(|bank| bank.weight.permute((0, 2, 1))?.flatten_all())
            .collect::<Result<Vec<_>>>()?;
        let biases: Vec<&Tensor> = self.banks.iter().map(|b| &b.bias).collect();
        Ok((Tensor::cat(&kernels, 0)?, Tensor::cat(&biases, 0)?))
    }

    /// [`CnnHighway::conv_weights`] as plain values, without autograd (CPU):
    /// one pass over the filters, where the tensor ops copy them through a
    /// strided view and again to concatenate.
    pub fn conv_weight_values(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        let kernel_count = self.banks.iter().map(|b| b.weight.elem_count()).sum();
        let mut kernels = Vec::with_capacity(kernel_count);
        let mut biases = Vec::new();
        for bank in &self.banks {
            let (_, embedding, width) = bank.weight.dims3()?;
            with_cpu_values(&bank.weight, |filters| {
                for filter in filters.chunks_exact(embedding * width) {
                    for tap in 0..width {
                        kernels.extend((0..embedding).map(|c| filter[c * width + tap]));
                    }
                }
                Ok(())
            })?;
            biases.extend(bank.bias.to_vec1::<f32>()?);
        }
        Ok((kernels, biases))
    }

    /// A bank's `[n, e, k]` filters as the `[k·e, n]` matrix that multiplies
    /// unfolded windows (window layout: tap-major, then channel).
    fn kernel_matrix(bank: &ConvBank) -> Result<Tensor> {
        let (filters, embedding, width) = bank.weight.dims3()?;
        bank.weight
            .permute((2, 1, 0))?
            .contiguous()?
            .reshape((width * embedding, filters))
    }

    /// [`CnnHighway::pooled`] as Candle ops (any device).
    ///
    /// Each convolution is one matmul over unfolded windows: the embeddings
    /// of every window of `k` tokens, `[B·P, k·e]`, times the filters as
    /// `[k·e, n]`. Candle's `conv1d` computes the same, but its backward
    /// pass (a transposed convolution and a convolution over the batch) is
    /// several times slower than the two matmuls of this form.
    pub fn pooled_by_matmuls(&self, ids: &Tensor) -> Result<Tensor> {
        let (rows, len) = ids.dims2()?;
        let ids = ids.flatten_all()?.to_vec1::<u32>()?;
        let device = self.embedding.device();
        let pooled = self
            .banks
            .iter()
            .map(|bank| {
                let (filters, embedding, width) = bank.weight.dims3()?;
                let positions = len + 1 - width;
                let mut windows = Vec::with_capacity(rows * positions * width);
                for row in ids.chunks(len) {
                    for p in 0..positions {
                        windows.extend_from_slice(&row[p..p + width]);
                    }
                }
                let windows = Tensor::from_vec(windows, rows * positions * width, device)?;
                let unfolded = self
                    .embedding
                    .index_select(&windows, 0)?
                    .reshape((rows * positions, width * embedding))?;
                let activations = unfolded
                    .matmul(&Self::kernel_matrix(bank)?)?
                    .broadcast_add(&bank.bias)?
                    .relu()?
                    .reshape((rows, positions, filters))?;
                // Ties are common (every all-padding window of a row has the
                // same activation): the toolkit's max sends the gradient to
                // the first winner only, as ConvPool does.
                max_over_time(&activations)
            })
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&pooled, 1)
    }

    /// [`CnnHighway::pooled_by_matmuls`] of rows already embedded,
    /// `[B, L, e]` (relaxed rows' expected embeddings): each width's windows
    /// gathered by the toolkit's `windows`, one matmul, ReLU, max over time.
    pub fn pooled_embedded(&self, embedded: &Tensor) -> Result<Tensor> {
        let (rows, len, _) = embedded.dims3()?;
        let pooled = self
            .banks
            .iter()
            .map(|bank| {
                let (filters, _, width) = bank.weight.dims3()?;
                windows(embedded, width)?
                    .matmul(&Self::kernel_matrix(bank)?)?
                    .broadcast_add(&bank.bias)?
                    .relu()?
                    .reshape((rows, len + 1 - width, filters))
                    .and_then(|activations| max_over_time(&activations))
            })
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&pooled, 1)
    }

    /// `λ/2 · (‖W‖² + ‖b‖²)` of the output layer, SeqGAN's L2 penalty.
    pub fn output_l2(&self, lambda: f64) -> Result<Tensor> {
        let weight = self.output.weight().sqr()?.sum_all()?;
        let bias = match self.output.bias() {
            Some(bias) => bias.sqr()?.sum_all()?,
            None => weight.zeros_like()?,
        };
        (weight + bias)? * (lambda / 2.0)
    }

    /// The highway layer over pooled features `h: [B, F]`.
    pub fn highway(&self, h: &Tensor) -> Result<Tensor> {
        let gate = candle_nn::ops::sigmoid(&self.highway_gate.forward(h)?)?;
        let transformed = self.highway_transform.forward(h)?.relu()?;
        // y = t ⊙ g(W_H h) + (1 − t) ⊙ h
        (&gate * transformed)? + ((gate.ones_like()? - &gate)? * h)?
    }
}

/// Helpers shared by this crate's tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use agon_sdk::toolkit::{reinitialize, SeededInit};
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    /// A model with every weight and bias drawn from N(0, 1) (so that
    /// ReLUs and maxima are exercised), on the CPU.
    pub fn random_model(
        vocab: usize,
        embedding_dim: usize,
        widths: &[(usize, usize)],
        seed: u64,
    ) -> CnnHighway {
        let config = CnnDiscriminatorConfig {
            embedding_dim,
            filter_sizes: widths.iter().map(|w| w.0).collect(),
            filter_counts: widths.iter().map(|w| w.1).collect(),
            ..Default::default()
        };
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let model = CnnHighway::new(vb, vocab, &config).unwrap();
        reinitialize(&varmap, seed, |_, _| SeededInit::Normal(1.0)).unwrap();
        model
    }

    /// Asserts `got` equals `want` to 1e-4 of `want`'s largest magnitude,
    /// and that `want` is not all zeros (the test must exercise it).
    pub fn assert_close_to_scale(got: &Tensor, want: &Tensor, what: &str) {
        assert_eq!(got.dims(), want.dims(), "{what}");
        let scale = want
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(scale > 0.0, "{what} is zero: the test must exercise it");
        let diff = max_abs_diff(got, want);
        assert!(
            diff <= 1e-4 * scale,
            "{what}: difference {diff}, scale {scale}"
        );
    }

    /// Largest absolute elementwise difference.
    pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{max_abs_diff, random_model};
    use super::*;
    use candle_core::{Device, D};

    #[test]
    fn unfolded_matmuls_equal_candles_conv1d() {
        let model = random_model(13, 5, &[(1, 4), (3, 2), (6, 3)], 9);
        let (rows, len) = (4, 8);
        let ids: Vec<u32> = (0..rows * len).map(|i| ((i * 5 + 3) % 13) as u32).collect();
        let ids = Tensor::from_vec(ids, (rows, len), &Device::Cpu).unwrap();
        let x = model
            .embedding
            .index_select(&ids.flatten_all().unwrap(), 0)
            .unwrap()
            .reshape((rows, len, ()))
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .contiguous()
            .unwrap();
        let reference: Vec<Tensor> = model
            .banks
            .iter()
            .map(|bank| {
                x.conv1d(&bank.weight, 0, 1, 1, 1)
                    .unwrap()
                    .broadcast_add(&bank.bias.reshape((1, (), 1)).unwrap())
                    .unwrap()
                    .relu()
                    .unwrap()
                    .max(D::Minus1)
                    .unwrap()
            })
            .collect();
        let reference = Tensor::cat(&reference, 1).unwrap();
        let diff = max_abs_diff(
            &model.pooled_on(&ids, ComputePath::Kernels).unwrap(),
            &reference,
        );
        assert!(diff < 1e-5, "largest difference {diff}");
    }
}
