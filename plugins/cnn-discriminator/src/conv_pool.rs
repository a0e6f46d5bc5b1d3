//! The first layer on the CPU as one op: embedding lookup, every width's
//! convolution, bias, ReLU and max over time, with a sparse backward pass.
//!
//! Max-over-time pooling passes the gradient of each `(row, filter)` to one
//! window position only (its argmax; none when ReLU clipped the maximum to
//! zero). The dense backward of a convolution computes the gradient of every
//! window position and throws all but one away: at paper dimensions it costs
//! twice the forward (~1.9 GFLOP per batch of 64). Recording the argmax in
//! the forward pass and touching only the windows that won costs 1/P of that,
//! where P is the number of positions (up to 20). The forward pass works
//! in tasks of (width, block of rows), each gathering its windows into a
//! buffer that stays in cache and multiplying it with one single-threaded
//! matmul, so the two cores work without a barrier per width and op.
//!
//! Other devices use [`crate::model::CnnHighway`]'s unfolded matmuls.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Storage, Tensor};
use rayon::prelude::*;

use agon_sdk::toolkit::block_matmul::{matmul_into, Operand, Write};

use agon_sdk::kernels::axpy::{axpy_kernel, axpy_many_kernel};

/// Rows per forward task: their windows (at most 16 · 20 × 20 · 64 floats)
/// stay in the core's cache.
const ROWS_PER_TASK: usize = 16;

/// Marks a `(row, filter)` whose maximum ReLU clipped to zero (no gradient).
pub const CLIPPED: u32 = u32::MAX;

/// One convolution width: `width` taps, `filters` filters.
#[derive(Clone, Copy, Debug)]
pub struct Width {
    pub width: usize,
    pub filters: usize,
}

/// One batch's plan: its ids and the widths. The weights come as slices:
/// `embedding: [V, e]`; `kernels`: every width's `[n, k·e]` matrix (entry
/// `(f, j·e + c)` is filter `f`'s weight on tap `j`, channel `c`: a filter's
/// taps are contiguous, as a window's embeddings are), flattened and
/// concatenated; `biases: [F]`.
pub struct ConvPool {
    /// Row-major token ids, `rows × len`, checked against the vocabulary.
    ids: Vec<u32>,
    rows: usize,
    len: usize,
    widths: Vec<Width>,
}

/// The forward pass's result.
pub struct Pooled {
    /// `[rows, F]` max-over-time pooled ReLU activations.
    pub values: Vec<f32>,
    /// `[rows, F]` window position of each maximum, or [`CLIPPED`].
    pub argmax: Vec<u32>,
}

/// Gradients with respect to the three weight arguments, in their layouts.
pub struct ConvGradients {
    pub embedding: Vec<f32>,
    pub kernels: Vec<f32>,
    pub biases: Vec<f32>,
}

impl ConvPool {
    /// The plan for `ids` (`rows × len`, row-major) over a vocabulary of
    /// `vocab` words.
    pub fn new(ids: Vec<u32>, len: usize, widths: Vec<Width>, vocab: usize) -> Result<Self> {
        if let Some(&bad) = ids.iter().find(|&&id| id as usize >= vocab) {
            candle_core::bail!("token id {bad} outside a vocabulary of {vocab}");
        }
        if let Some(w) = widths.iter().find(|w| w.width > len) {
            candle_core::bail!(
                "inputs of length {len} are shorter than a filter of width {}",
                w.width
            );
        }
        Ok(ConvPool {
            rows: ids.len() / len.max(1),
            ids,
            len,
            widths,
        })
    }

    /// Rows of the batch.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Pooled features: the sum of the widths' filter counts.
    pub fn features(&self) -> usize {
        self.widths.iter().map(|w| w.filters).sum()
    }

    /// Pooled features `[rows, F]` as a differentiable op of the three
    /// weight tensors (contiguous, on the CPU).
    pub fn apply(self, embedding: &Tensor, kernels: &Tensor, biases: &Tensor) -> Result<Tensor> {
        let op = ConvPoolOp {
            plan: self,
            argmax: Mutex::new(Vec::new()),
        };
        embedding.apply_op3_arc(kernels, biases, std::sync::Arc::new(Box::new(op)))
    }

    /// `(kernel offset, feature offset)` of each width.
    fn offsets(&self, embedding_dim: usize) -> Vec<(usize, usize)> {
        let (mut kernel, mut feature) = (0, 0);
        self.widths
            .iter()
            .map(|w| {
                let here = (kernel, feature);
                kernel += w.width * embedding_dim * w.filters;
                feature += w.filters;
                here
            })
            .collect()
    }

    /// The forward pass over the weights' values (`e`: embedding size).
    pub fn forward(
        &self,
        embedding: &[f32],
        e: usize,
        kernels: &[f32],
        biases: &[f32],
    ) -> Result<Pooled> {
        let offsets = self.offsets(e);
        let features = self.features();
        let kernel_len: usize = self.widths.iter().map(|w| w.width * e * w.filters).sum();
        if kernels.len() != kernel_len || biases.len() != features {
            candle_core::bail!(
                "conv-pool: {} kernel weights and {} biases for widths needing {kernel_len} and {features}",
                kernels.len(),
                biases.len()
            );
        }
        let (rows, len) = (self.rows, self.len);
        let tasks: Vec<(usize, usize)> = (0..self.widths.len())
            .flat_map(|w| (0..rows).step_by(ROWS_PER_TASK).map(move |r| (w, r)))
            .collect();
        let blocks: Vec<Block> = tasks
            .into_par_iter()
            .map_init(
                || (Vec::new(), Vec::new()),
                |(windows, conv): &mut (Vec<f32>, Vec<f32>), (w, first_row)| {
                    let Width {
                        width: k,
                        filters: n,
                    } = self.widths[w];
                    let (kernel_offset, feature_offset) = offsets[w];
                    let kernel = &kernels[kernel_offset..kernel_offset + k * e * n];
                    let bias = &biases[feature_offset..feature_offset + n];
                    let block_rows = ROWS_PER_TASK.min(rows - first_row);
                    let positions = len + 1 - k;
                    windows.clear();
                    for row in self.ids[first_row * len..(first_row + block_rows) * len].chunks(len)
                    {
                        for p in 0..positions {
                            for &token in &row[p..p + k] {
                                let t = token as usize;
                                windows.extend_from_slice(&embedding[t * e..(t + 1) * e]);
                            }
                        }
                    }
                    conv.resize(block_rows * positions * n, 0.0);
                    matmul_into(
                        conv,
                        Write::Overwrite,
                        windows,
                        Operand::Plain,
                        kernel,
                        Operand::Transposed,
                        (block_rows * positions, k * e, n),
                    );
                    let mut pooled = vec![0f32; block_rows * n];
                    let mut argmax = vec![CLIPPED; block_rows * n];
                    for r in 0..block_rows {
                        let out = &mut pooled[r * n..(r + 1) * n];
                        let arg = &mut argmax[r * n..(r + 1) * n];
                        for p in 0..positions {
                            let at = &conv[(r * positions + p) * n..(r * positions + p + 1) * n];
                            for f in 0..n {
                                // ReLU then max = max(0, max of the pre-activations);
                                // strict `>` keeps the first of equal maxima.
                                let value = at[f] + bias[f];
                                if value > out[f] {
                                    out[f] = value;
                                    arg[f] = p as u32;
                                }
                            }
                        }
                    }
                    Block {
                        width_index: w,
                        first_row,
                        pooled,
                        argmax,
                    }
                },
            )
            .collect();
        let mut values = vec![0f32; rows * features];
        let mut argmax = vec![CLIPPED; rows * features];
        for block in blocks {
            let n = self.widths[block.width_index].filters;
            let column = offsets[block.width_index].1;
            for (r, (block_values, args)) in block
                .pooled
                .chunks(n)
                .zip(block.argmax.chunks(n))
                .enumerate()
            {
                let at = (block.first_row + r) * features + column;
                values[at..at + n].copy_from_slice(block_values);
                argmax[at..at + n].copy_from_slice(args);
            }
        }
        Ok(Pooled { values, argmax })
    }

    /// The backward pass: gradients of the weights given `grad`, the
    /// gradient of the pooled features (`[rows, F]`), and the forward pass's
    /// `argmax`. Each gradient touches only the winning window of each
    /// `(row, filter)`.
    pub fn backward(
        &self,
        embedding: &[f32],
        e: usize,
        kernels: &[f32],
        argmax: &[u32],
        grad: &[f32],
    ) -> Result<ConvGradients> {
        let features = self.features();
        if argmax.len() != self.rows * features || grad.len() != self.rows * features {
            candle_core::bail!(
                "conv-pool: a gradient of {} values for {} rows of {features} features",
                grad.len(),
                self.rows
            );
        }
        let gradients = Gradients {
            op: self,
            embedding,
            kernels,
            grad,
            argmax,
            e,
            offsets: self.offsets(e),
        };
        Ok(ConvGradients {
            embedding: gradients.embedding(embedding.len() / e.max(1)),
            kernels: gradients.kernels(),
            biases: gradients.biases(),
        })
    }
}

/// The contiguous `f32` values of a CPU tensor.
pub fn with_cpu_values<R>(t: &Tensor, work: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        candle_core::bail!("conv-pool runs on the CPU only");
    };
    work(cpu_slice(cpu, layout, "tensor")?)
}

fn cpu_slice<'a>(storage: &'a CpuStorage, layout: &Layout, what: &str) -> Result<&'a [f32]> {
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg(format!("conv-pool: {what} is not contiguous")))?;
    Ok(&storage.as_slice::<f32>()?[start..end])
}

/// One forward task's result: a block of rows of one width.
struct Block {
    width_index: usize,
    first_row: usize,
    /// `[rows in block, n]` pooled values and argmax positions.
    pooled: Vec<f32>,
    argmax: Vec<u32>,
}

/// [`ConvPool`] as a Candle op, keeping the argmax for the backward pass.
struct ConvPoolOp {
    plan: ConvPool,
    argmax: Mutex<Vec<u32>>,
}

impl CustomOp3 for ConvPoolOp {
    fn name(&self) -> &'static str {
        "conv-pool"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (_, e) = l1.shape().dims2()?;
        let pooled = self.plan.forward(
            cpu_slice(s1, l1, "embedding")?,
            e,
            cpu_slice(s2, l2, "kernels")?,
            cpu_slice(s3, l3, "biases")?,
        )?;
        *self
            .argmax
            .lock()
            .map_err(|_| candle_core::Error::Msg("conv-pool: poisoned".into()))? = pooled.argmax;
        let shape = Shape::from((self.plan.rows, self.plan.features()));
        Ok((CpuStorage::F32(pooled.values), shape))
    }

    fn bwd(
        &self,
        embedding: &Tensor,
        kernels: &Tensor,
        biases: &Tensor,
        _pooled: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (vocab, e) = embedding.dims2()?;
        let argmax = self
            .argmax
            .lock()
            .map_err(|_| candle_core::Error::Msg("conv-pool: poisoned".into()))?;
        let d = with_cpu_values(embedding, |emb| {
            with_cpu_values(kernels, |ker| {
                with_cpu_values(grad, |g| self.plan.backward(emb, e, ker, &argmax, g))
            })
        })?;
        let device = embedding.device();
        Ok((
            Some(Tensor::from_vec(d.embedding, (vocab, e), device)?),
            Some(Tensor::from_vec(d.kernels, kernels.shape(), device)?),
            Some(Tensor::from_vec(d.biases, biases.shape(), device)?),
        ))
    }
}

/// The backward pass's inputs.
struct Gradients<'a> {
    op: &'a ConvPool,
    embedding: &'a [f32],
    kernels: &'a [f32],
    /// `[rows, F]`, the gradient of the pooled features.
    grad: &'a [f32],
    argmax: &'a [u32],
    e: usize,
    offsets: Vec<(usize, usize)>,
}

impl Gradients<'_> {
    fn biases(&self) -> Vec<f32> {
        let features = self.op.features();
        let mut d = vec![0f32; features];
        for row in 0..self.op.rows {
            for (at, &p) in self.argmax[row * features..(row + 1) * features]
                .iter()
                .enumerate()
            {
                if p != CLIPPED {
                    d[at] += self.grad[row * features + at];
                }
            }
        }
        d
    }

    /// `∂/∂kernel[f, j·e + c] = Σ_rows g · E[x_{p*+j}, c]`, one filter (one
    /// contiguous `[k·e]` row) per task; each tap's `e` values take the
    /// rows' terms in row order, held in registers across them.
    fn kernels(&self) -> Vec<f32> {
        let (e, features, len) = (self.e, self.op.features(), self.op.len);
        let axpy_many = axpy_many_kernel();
        let mut d = vec![0f32; self.kernels.len()];
        for (
            w,
            &Width {
                width: k,
                filters: n,
            },
        ) in self.op.widths.iter().enumerate()
        {
            let (kernel_offset, feature_offset) = self.offsets[w];
            d[kernel_offset..kernel_offset + n * k * e]
                .par_chunks_mut(k * e)
                .enumerate()
                .with_min_len(8)
                .for_each_init(Terms::default, |terms, (f, out)| {
                    // The rows whose winning window passes a gradient to f.
                    terms.clear();
                    for row in 0..self.op.rows {
                        let at = row * features + feature_offset + f;
                        let (p, g) = (self.argmax[at], self.grad[at]);
                        if p != CLIPPED && g != 0.0 {
                            terms.coefficients.push(g);
                            terms.starts.push(row * len + p as usize);
                        }
                    }
                    for (j, tap) in out.chunks_mut(e).enumerate() {
                        terms.offsets.clear();
                        terms.offsets.extend(
                            terms
                                .starts
                                .iter()
                                .map(|&start| self.op.ids[start + j] as usize * e),
                        );
                        axpy_many(tap, &terms.coefficients, self.embedding, &terms.offsets);
                    }
                });
        }
        d
    }

    /// `∂/∂E[v]`: each row's winning windows add `g · kernel[j·e.., f]` to
    /// the gradient of the token at position `p* + j` (into that row's
    /// `[len, e]` buffer), then the rows' buffers are added into the tokens'
    /// embedding rows in a fixed order. A task takes a block of rows, filter
    /// by filter, so that a filter's taps are read from memory once per
    /// block rather than once per row (a row reads nearly all 3.2 MB of the
    /// paper's filters); each row's buffer still takes its terms in the
    /// order of the widths and filters.
    fn embedding(&self, vocab: usize) -> Vec<f32> {
        /// Rows per task: their buffers (`len · e` floats each) stay in the
        /// core's cache.
        const ROWS_PER_TASK: usize = 8;
        let (e, len, features) = (self.e, self.op.len, self.op.features());
        let axpy = axpy_kernel();
        let mut per_position = vec![0f32; self.op.rows * len * e];
        per_position
            .par_chunks_mut(ROWS_PER_TASK * len * e)
            .enumerate()
            .for_each(|(block, out)| {
                let first_row = block * ROWS_PER_TASK;
                for (w, &Width { width: k, filters }) in self.op.widths.iter().enumerate() {
                    let (kernel_offset, feature_offset) = self.offsets[w];
                    for f in 0..filters {
                        let taps = &self.kernels[kernel_offset + f * k * e..][..k * e];
                        for (r, row_out) in out.chunks_mut(len * e).enumerate() {
                            let at = (first_row + r) * features + feature_offset + f;
                            let (p, g) = (self.argmax[at], self.grad[at]);
                            if p == CLIPPED || g == 0.0 {
                                continue;
                            }
                            axpy(&mut row_out[p as usize * e..][..k * e], g, taps);
                        }
                    }
                }
            });
        let mut d = vec![0f32; vocab * e];
        for (position, &token) in per_position.chunks(e).zip(&self.op.ids) {
            let t = token as usize;
            for (o, &value) in d[t * e..(t + 1) * e].iter_mut().zip(position) {
                *o += value;
            }
        }
        d
    }
}

/// The terms of one [`agon_sdk::kernels::axpy::AxpyMany`] call, reused
/// from task to task.
#[derive(Clone, Default)]
struct Terms {
    coefficients: Vec<f32>,
    offsets: Vec<usize>,
    /// Where each term's window starts in the ids (kernel gradient).
    starts: Vec<usize>,
}

impl Terms {
    fn clear(&mut self) {
        self.coefficients.clear();
        self.offsets.clear();
        self.starts.clear();
    }
}

#[cfg(test)]
mod tests {
    use crate::model::test_support::{assert_close_to_scale, max_abs_diff, random_model};
    use agon_sdk::toolkit::ComputePath;
    use candle_core::{Device, Tensor};

    /// No token twice in a row (`len ≤ vocab`, `vocab` prime): equal windows
    /// would tie for the maximum, where Candle's `max` passes the gradient to
    /// every tied position and this op (like PyTorch's) to the first.
    fn ids(rows: usize, len: usize, vocab: usize) -> Tensor {
        let ids: Vec<u32> = (0..rows)
            .flat_map(|r| (0..len).map(move |t| ((r * 5 + t * 3) % vocab) as u32))
            .collect();
        Tensor::from_vec(ids, (rows, len), &Device::Cpu).unwrap()
    }

    #[test]
    fn forward_equals_the_unfolded_matmuls() {
        // More rows than one task, widths from 1 to the whole length.
        let model = random_model(13, 5, &[(1, 4), (3, 6), (8, 3)], 4);
        let ids = ids(37, 8, 13);
        let fused = model.pooled_on(&ids, ComputePath::Kernels).unwrap();
        let reference = model.pooled_by_matmuls(&ids).unwrap();
        assert_eq!(fused.dims(), &[37, 13]);
        let diff = max_abs_diff(&fused, &reference);
        assert!(diff < 1e-5, "largest difference {diff}");
    }

    #[test]
    fn gradients_equal_autograd_through_the_unfolded_matmuls() {
        let model = random_model(11, 6, &[(1, 3), (2, 5), (4, 4)], 8);
        let ids = ids(21, 7, 11);
        // A loss that weights every feature differently, so each gradient
        // entry is distinct.
        let features = 12;
        let weights: Vec<f32> = (0..21 * features)
            .map(|i| ((i % 17) as f32 - 8.0) / 5.0)
            .collect();
        let weights = Tensor::from_vec(weights, (21, features), &Device::Cpu).unwrap();
        let loss = |pooled: Tensor| (pooled * &weights).unwrap().sum_all().unwrap();
        let fused = loss(model.pooled_on(&ids, ComputePath::Kernels).unwrap())
            .backward()
            .unwrap();
        let reference = loss(model.pooled_by_matmuls(&ids).unwrap())
            .backward()
            .unwrap();
        let mut variables: Vec<&Tensor> = vec![&model.embedding];
        for bank in &model.banks {
            variables.push(&bank.weight);
            variables.push(&bank.bias);
        }
        for (i, variable) in variables.into_iter().enumerate() {
            let got = fused.get(variable).expect("a gradient from the fused op");
            let want = reference.get(variable).expect("a gradient from autograd");
            assert_close_to_scale(got, want, &format!("variable {i}"));
        }
    }

    #[test]
    fn refuses_ids_outside_the_vocabulary_and_inputs_shorter_than_a_filter() {
        let model = random_model(5, 3, &[(2, 2), (4, 2)], 1);
        let bad = Tensor::from_vec(vec![0u32, 1, 5, 2], (1, 4), &Device::Cpu).unwrap();
        assert!(model
            .pooled_on(&bad, ComputePath::Kernels)
            .unwrap_err()
            .to_string()
            .contains("token id 5"));
        let short = Tensor::from_vec(vec![0u32, 1, 2], (1, 3), &Device::Cpu).unwrap();
        assert!(model
            .pooled_on(&short, ComputePath::Kernels)
            .unwrap_err()
            .to_string()
            .contains("width 4"));
    }
}
