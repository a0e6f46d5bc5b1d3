//! The convolutions as table look-ups, for scoring with frozen weights.
//!
//! The first layer convolves an *embedding lookup*: filter `f` of width `k`
//! at position `p` is `b_f + Σ_j Σ_e W[f, e, j] · E[x_{p+j}, e]`, and the
//! inner sum depends only on the token `x_{p+j}` and the tap `j`. So once per
//! change of the weights, `T_k[v, j, f] = Σ_e E[v, e] · W_k[f, e, j]` is
//! tabulated for every vocabulary entry (one `[V, e] × [e, k·n]` matmul per
//! width), and scoring a sequence becomes gathers and adds of table rows:
//! `e` (64) times fewer operations than the convolution. During a g-step the
//! discriminator is frozen and scores ~20,000 rollouts, so the table (at
//! paper dimensions 4 G multiply-adds, what the convolutions of ~530
//! sequences cost) pays for itself many times over.
//! Training still uses the convolutions (their gradients are needed).

use candle_core::{Device, Result, Tensor};
use rayon::prelude::*;

use crate::model::CnnHighway;
use agon_sdk::kernels::axpy::axpy_kernel;

/// One width's table.
struct BankTable {
    width: usize,
    filters: usize,
    /// `[V, width, filters]`, row-major.
    table: Vec<f32>,
    bias: Vec<f32>,
}

/// Tables of every convolution width.
pub struct TabulatedConvolutions {
    banks: Vec<BankTable>,
    vocab: usize,
    total_filters: usize,
}

impl TabulatedConvolutions {
    /// Tabulates `model`'s convolutions.
    pub fn new(model: &CnnHighway) -> Result<Self> {
        let (vocab, _) = model.embedding.dims2()?;
        let mut banks = Vec::with_capacity(model.banks.len());
        for bank in &model.banks {
            let (filters, embedding, width) = bank.weight.dims3()?;
            // [n, e, k] → [e, k, n] → [e, k·n]; E [V, e] times that is
            // [V, k·n] = [V, k, n].
            let taps = bank
                .weight
                .permute((1, 2, 0))?
                .contiguous()?
                .reshape((embedding, width * filters))?;
            let table = model
                .embedding
                .matmul(&taps)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            banks.push(BankTable {
                width,
                filters,
                table,
                bias: bank.bias.to_vec1::<f32>()?,
            });
        }
        let total_filters = banks.iter().map(|b| b.filters).sum();
        Ok(TabulatedConvolutions {
            banks,
            vocab,
            total_filters,
        })
    }

    /// Max-over-time pooled ReLU convolutions `[rows, F]` of row-major padded
    /// `ids` (`rows × len`), as [`CnnHighway::pooled`] computes them.
    pub fn pooled(&self, ids: &[u32], len: usize, device: &Device) -> Result<Tensor> {
        let rows = ids.len() / len.max(1);
        if let Some(&bad) = ids.iter().find(|&&id| id as usize >= self.vocab) {
            candle_core::bail!("token id {bad} outside a vocabulary of {}", self.vocab);
        }
        let features = self.total_filters;
        let add = axpy_kernel();
        let mut pooled = vec![0f32; rows * features];
        pooled
            .par_chunks_mut(features)
            .zip(ids.par_chunks(len))
            .with_min_len(8)
            .for_each_init(Vec::new, |acc, (out, row)| {
                let mut offset = 0;
                for bank in &self.banks {
                    let (k, n) = (bank.width, bank.filters);
                    let out = &mut out[offset..offset + n];
                    offset += n;
                    // ReLU then max over time = max(0, max over time).
                    out.fill(0.0);
                    let Some(positions) = (len + 1).checked_sub(k) else {
                        continue;
                    };
                    acc.clear();
                    for _ in 0..positions {
                        acc.extend_from_slice(&bank.bias);
                    }
                    // Token q is tap j of position q − j, for every j: its
                    // k taps are one contiguous block of the table, read
                    // once and in order (the prefetcher streams it), where
                    // position by position they were k scattered rows.
                    // Each position still adds its taps in order j = 0..k.
                    for (q, &token) in row.iter().enumerate() {
                        let block = &bank.table[token as usize * k * n..][..k * n];
                        for j in q.saturating_sub(positions - 1)..=q.min(k - 1) {
                            let p = q - j;
                            // 1·x is exact: the same sums as `a += t`.
                            add(&mut acc[p * n..][..n], 1.0, &block[j * n..][..n]);
                        }
                    }
                    for position in acc.chunks(n) {
                        for (o, &a) in out.iter_mut().zip(position) {
                            *o = o.max(a);
                        }
                    }
                }
            });
        Tensor::from_vec(pooled, (rows, features), device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{max_abs_diff, random_model};
    use agon_sdk::toolkit::ComputePath;

    #[test]
    fn tables_give_the_convolutions_pooled_features() {
        let model = random_model(11, 6, &[(1, 3), (2, 4), (5, 2)], 3);
        let (rows, len) = (9, 7);
        let ids: Vec<u32> = (0..rows * len)
            .map(|i| ((i * 7 + i / 5) % 11) as u32)
            .collect();
        let tensor = Tensor::from_vec(ids.clone(), (rows, len), &Device::Cpu).unwrap();
        let want = model.pooled_on(&tensor, ComputePath::Kernels).unwrap();
        let tables = TabulatedConvolutions::new(&model).unwrap();
        let got = tables.pooled(&ids, len, &Device::Cpu).unwrap();
        assert_eq!(got.dims(), want.dims());
        let diff = max_abs_diff(&got, &want);
        assert!(diff < 1e-4, "largest difference {diff}");
        let bad = tables.pooled(&[11, 0, 0, 0, 0, 0, 0], len, &Device::Cpu);
        assert!(bad.is_err());
    }
}
