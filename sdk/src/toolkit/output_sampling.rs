//! Sampling straight from hidden states: the output layer's matmul and the
//! softmax sampling fused per block of rows.
//!
//! Sampling one token for each of `N` rows as tensor ops computes the
//! `[N, V]` logits with one parallel matmul (allocating and zeroing
//! `N × V` floats), copies them out of the tensor, then samples the rows in
//! parallel: three passes over memory that does not fit in cache, and a
//! barrier between the matmul and the sampling. Here each task multiplies a
//! block of rows into its own buffer, which stays in cache, and samples
//! those rows at once. The matmul is the same `[h, 1] · [Wᵀ; b]` product
//! with the same additions in the same order as Candle's (see
//! [`super::skinny_matmul`]), so the ids drawn are the ones the tensor path
//! draws.

use candle_core::{Result, Tensor};
use rayon::prelude::*;

use super::{rng::sample_from_logits, skinny_matmul::product, SeededRng};

/// Rows per task: a block of logits (16 × V floats) stays in cache.
const ROWS_PER_TASK: usize = 16;

/// An output layer `[h, 1] · [Wᵀ; b]` ready for [`OutputProjection::sample`].
pub struct OutputProjection {
    /// `[H + 1, V]` row-major: `Wᵀ`, then the bias as the last row.
    weights: Vec<f32>,
    hidden: usize,
    vocab: usize,
}

impl OutputProjection {
    /// From `[Wᵀ; b]` as a `[H + 1, V]` tensor (any device; copied out).
    pub fn new(transposed_with_bias: &Tensor) -> Result<Self> {
        let (rows, vocab) = transposed_with_bias.dims2()?;
        Ok(OutputProjection {
            weights: transposed_with_bias.flatten_all()?.to_vec1::<f32>()?,
            hidden: rows.saturating_sub(1),
            vocab,
        })
    }

    /// `[Wᵀ; b]`, `[H + 1, V]` row-major.
    pub(crate) fn matrix(&self) -> &[f32] {
        &self.weights
    }

    /// `H`.
    pub(crate) fn hidden_dim(&self) -> usize {
        self.hidden
    }

    /// `V`.
    pub(crate) fn vocab_size(&self) -> usize {
        self.vocab
    }

    /// One id per row of `hidden` (`[N, H]` row-major) drawn from
    /// `softmax(logits / temperature)` with that row's stream; rows whose
    /// stream is `None` draw nothing and get `None`.
    pub fn sample(
        &self,
        hidden: &[f32],
        temperature: f32,
        streams: &mut [Option<&mut SeededRng>],
    ) -> Result<Vec<Option<u32>>> {
        let (h, v) = (self.hidden, self.vocab);
        if hidden.len() != streams.len() * h {
            candle_core::bail!(
                "output sampling: {} hidden values for {} rows of {h}",
                hidden.len(),
                streams.len()
            );
        }
        let mut ids = vec![None; streams.len()];
        ids.par_chunks_mut(ROWS_PER_TASK)
            .zip(streams.par_chunks_mut(ROWS_PER_TASK))
            .zip(hidden.par_chunks(ROWS_PER_TASK * h))
            .for_each_init(
                || (Vec::new(), Vec::new()),
                |(with_one, logits): &mut (Vec<f32>, Vec<f32>), ((ids, streams), hidden)| {
                    let rows = streams.len();
                    // [h, 1]: the bias rides in the matmul, as in the tensor path.
                    with_one.clear();
                    for row in hidden.chunks(h) {
                        with_one.extend_from_slice(row);
                        with_one.push(1.0);
                    }
                    logits.resize(rows * v, 0.0);
                    product(logits, with_one, &self.weights, (rows, h + 1, v));
                    for ((id, stream), row) in ids.iter_mut().zip(streams).zip(logits.chunks(v)) {
                        if let Some(rng) = stream {
                            *id = Some(sample_from_logits(row, temperature, rng));
                        }
                    }
                },
            );
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolkit::rng_from_seed;
    use candle_core::Device;

    #[test]
    fn draws_what_sampling_the_tensor_logits_draws() {
        let (rows, h, v) = (37, 5, 301);
        let hidden: Vec<f32> = (0..rows * h)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 3.0)
            .collect();
        let weights: Vec<f32> = (0..(h + 1) * v)
            .map(|i| ((i * 11 % 17) as f32 - 8.0) / 4.0)
            .collect();
        let w = Tensor::from_vec(weights, (h + 1, v), &Device::Cpu).unwrap();
        let projection = OutputProjection::new(&w).unwrap();
        let mut rngs: Vec<SeededRng> = (0..rows).map(|r| rng_from_seed(r as u64)).collect();
        let mut streams: Vec<Option<&mut SeededRng>> = rngs
            .iter_mut()
            .enumerate()
            .map(|(r, rng)| (r % 5 != 3).then_some(rng))
            .collect();
        let got = projection.sample(&hidden, 0.8, &mut streams).unwrap();

        let h_tensor = Tensor::from_vec(hidden, (rows, h), &Device::Cpu).unwrap();
        let ones = Tensor::ones((rows, 1), candle_core::DType::F32, &Device::Cpu).unwrap();
        let logits = Tensor::cat(&[&h_tensor, &ones], 1)
            .unwrap()
            .matmul(&w)
            .unwrap();
        let logits = logits.to_vec2::<f32>().unwrap();
        for r in 0..rows {
            let want = (r % 5 != 3)
                .then(|| sample_from_logits(&logits[r], 0.8, &mut rng_from_seed(r as u64)));
            assert_eq!(got[r], want, "row {r}");
        }
        assert!(
            got.iter()
                .flatten()
                .collect::<std::collections::HashSet<_>>()
                .len()
                > 5
        );
    }
}
