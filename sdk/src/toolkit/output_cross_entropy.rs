//! The output layer's weighted cross-entropy and its gradients, forward and
//! backward fused per block of rows (the generator's MLE and policy-gradient
//! steps on the CPU).
//!
//! As tensor ops, a teacher-forced step over `N` positions materialises the
//! `[N, V]` logits, their log-softmax, the gradient of each and Candle's
//! zero-filled gradient accumulators: with N = 1,280 and V = 5,000 each is
//! 25 MB, and the step waits on memory (memset and copies were a fifth of
//! its profile). Here a task takes a block of rows through logits, softmax,
//! loss, the logits' gradient and from it the hidden states' and the weight
//! matrix's gradients while the block is in cache. Rows whose coefficient is
//! 0 (padding) are skipped: they contribute nothing.
//!
//! Determinism: the weight gradient is summed per group of blocks and the
//! groups are added in order; the grouping depends on the row count only,
//! never on the thread count or on scheduling.

use candle_core::Result;
use rayon::prelude::*;

use super::{
    block_matmul::{matmul_into, Operand, Write},
    softmax_kernels::softmax_gradient,
    OutputProjection,
};

#[cfg(target_arch = "x86_64")]
use agon_kernels::output_cross_entropy_avx512 as avx512;

/// Rows per block of the portable kernel: a block of logits (16 × V floats)
/// stays in cache. The AVX-512 kernel takes `avx512::MAX_ROWS` (two lane
/// groups).
const ROWS_PER_BLOCK: usize = 16;
/// At most this many groups, each with its own `[H + 1, V]` weight-gradient
/// accumulator: enough parallelism for the cores, few enough that adding
/// the accumulators stays cheap.
const MAX_GROUPS: usize = 8;
/// Elements per task when adding the groups' accumulators.
const SUM_CHUNK: usize = 4096;

/// `loss = Σ_r c_r · (−log softmax([h_r, 1] · [Wᵀ; b])[target_r])` and its
/// gradients.
pub struct OutputLayerGradients {
    /// The loss (accumulated in f64).
    pub loss: f64,
    /// `∂loss/∂h`, `[N, H]` row-major.
    pub hidden: Vec<f32>,
    /// `∂loss/∂[Wᵀ; b]`, `[H + 1, V]` row-major: the weights' gradient
    /// (transposed), then the bias's as the last row.
    pub matrix: Vec<f32>,
}

impl OutputLayerGradients {
    /// `matrix` (for hidden size `h` and vocabulary `v`) split into the
    /// layer's own shapes: `∂W` as `[V, H]` row-major and `∂b` as `[V]`.
    /// The transpose goes 16 words at a time, so each read is a run of 16
    /// floats (an element-wise strided copy cost a few percent of an MLE
    /// step).
    pub fn weight_and_bias(&self, (h, v): (usize, usize)) -> (Vec<f32>, Vec<f32>) {
        assert_eq!(
            self.matrix.len(),
            (h + 1) * v,
            "output layer gradient shape"
        );
        let mut weight = vec![0.0; v * h];
        for start in (0..v).step_by(16) {
            let end = (start + 16).min(v);
            for p in 0..h {
                let run = &self.matrix[p * v + start..p * v + end];
                for (j, &g) in (start..end).zip(run) {
                    weight[j * h + p] = g;
                }
            }
        }
        (weight, self.matrix[h * v..].to_vec())
    }
}

/// One group's share: its loss, its weight-gradient accumulator and the
/// hidden-state gradients of its rows (`[rows, H + 1]`, in block order).
struct GroupGradients {
    loss: f64,
    matrix: Vec<f32>,
    hidden: Vec<f32>,
}

impl OutputProjection {
    /// The weighted negative log-likelihood of `targets` (one per row of
    /// `hidden`, `[N, H]` row-major) under this output layer, weighted by
    /// `coefficients` (one per row), and its gradients.
    pub fn weighted_nll_gradients(
        &self,
        hidden: &[f32],
        targets: &[u32],
        coefficients: &[f32],
    ) -> Result<OutputLayerGradients> {
        self.weighted_nll_gradients_with(hidden, targets, coefficients, self.word_major())
    }

    /// [`OutputProjection::weighted_nll_gradients`] with the AVX-512 kernel
    /// (given `[W, b]` word-major) or the portable one (`None`).
    fn weighted_nll_gradients_with(
        &self,
        hidden: &[f32],
        targets: &[u32],
        coefficients: &[f32],
        word_major: Option<&[f32]>,
    ) -> Result<OutputLayerGradients> {
        let (h, v) = (self.hidden_dim(), self.vocab_size());
        let rows = targets.len();
        if hidden.len() != rows * h || coefficients.len() != rows {
            candle_core::bail!(
                "output cross-entropy: {} hidden values, {} coefficients for {rows} rows of {h}",
                hidden.len(),
                coefficients.len()
            );
        }
        // Rows that carry weight; padding (coefficient 0) contributes nothing.
        let active: Vec<usize> = (0..rows).filter(|&r| coefficients[r] != 0.0).collect();
        if let Some(&r) = active.iter().find(|&&r| targets[r] as usize >= v) {
            candle_core::bail!(
                "output cross-entropy: target {} of row {r} is outside the vocabulary of {v}",
                targets[r]
            );
        }
        #[cfg(target_arch = "x86_64")]
        let rows_per_block = if word_major.is_some() {
            avx512::MAX_ROWS
        } else {
            ROWS_PER_BLOCK
        };
        #[cfg(not(target_arch = "x86_64"))]
        let rows_per_block = ROWS_PER_BLOCK;
        let blocks: Vec<&[usize]> = active.chunks(rows_per_block).collect();
        let per_group = blocks.len().div_ceil(MAX_GROUPS).max(1);
        let groups: Vec<GroupGradients> = blocks
            .par_chunks(per_group)
            .map(|group| self.group_gradients(group, hidden, targets, coefficients, word_major))
            .collect();

        let mut gradients = OutputLayerGradients {
            loss: groups.iter().map(|g| g.loss).sum(),
            hidden: vec![0.0; rows * h],
            matrix: Vec::new(),
        };
        let group_rows = active.chunks(per_group * rows_per_block);
        for (group, rows) in groups.iter().zip(group_rows) {
            for (&r, grad) in rows.iter().zip(group.hidden.chunks(h + 1)) {
                gradients.hidden[r * h..(r + 1) * h].copy_from_slice(&grad[..h]);
            }
        }
        gradients.matrix =
            sum_in_order(groups.into_iter().map(|g| g.matrix).collect(), (h + 1) * v);
        Ok(gradients)
    }

    /// Loss and gradients of the rows of `blocks`, one block at a time;
    /// `word_major` selects the AVX-512 kernel.
    fn group_gradients(
        &self,
        blocks: &[&[usize]],
        hidden: &[f32],
        targets: &[u32],
        coefficients: &[f32],
        word_major: Option<&[f32]>,
    ) -> GroupGradients {
        let (h, v) = (self.hidden_dim(), self.vocab_size());
        let rows: usize = blocks.iter().map(|b| b.len()).sum();
        let mut group = GroupGradients {
            loss: 0.0,
            matrix: spare_accumulator((h + 1) * v),
            hidden: vec![0.0; rows * (h + 1)],
        };
        #[cfg(target_arch = "x86_64")]
        if let Some(word_major) = word_major {
            thread_local! {
                static SCRATCH: std::cell::RefCell<avx512::Scratch> =
                    std::cell::RefCell::new(avx512::Scratch::default());
            }
            SCRATCH.with_borrow_mut(|scratch| {
                let mut done = 0;
                for (i, block) in blocks.iter().enumerate() {
                    let b = block.len();
                    // SAFETY: `word_major` is only built on CPUs with
                    // AVX-512F; the caller checked the targets, and the
                    // slices have the kernel's lengths.
                    group.loss += unsafe {
                        avx512::block_gradients(
                            word_major,
                            hidden,
                            (h, v),
                            (block, targets, coefficients),
                            scratch,
                            &mut group.hidden[done * (h + 1)..(done + b) * (h + 1)],
                            // The first block overwrites what the spare
                            // accumulator held.
                            (&mut group.matrix, i > 0),
                        )
                    };
                    done += b;
                }
            });
            return group;
        }
        let _ = word_major;
        let weights = self.matrix();
        let (mut with_one, mut logits, mut exps, mut sums) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut done = 0;
        for (i, block) in blocks.iter().enumerate() {
            let b = block.len();
            with_one.clear();
            for &r in block.iter() {
                with_one.extend_from_slice(&hidden[r * h..(r + 1) * h]);
                with_one.push(1.0);
            }
            logits.resize(b * v, 0.0);
            matmul_into(
                &mut logits,
                Write::Overwrite,
                &with_one,
                Operand::Plain,
                weights,
                Operand::Plain,
                (b, h + 1, v),
            );
            // Each row's logits become their gradient c · (softmax − one-hot).
            for (&r, row) in block.iter().zip(logits.chunks_mut(v)) {
                let (target, c) = (targets[r] as usize, coefficients[r]);
                let log_p = softmax_gradient(row, target, c, &mut exps, &mut sums);
                group.loss -= f64::from(c) * log_p;
            }
            // ∂h = ∂logits · [Wᵀ; b]ᵀ (the bias column is dropped later).
            matmul_into(
                &mut group.hidden[done * (h + 1)..(done + b) * (h + 1)],
                Write::Overwrite,
                &logits,
                Operand::Plain,
                weights,
                Operand::Transposed,
                (b, v, h + 1),
            );
            // ∂[Wᵀ; b] += [h, 1]ᵀ · ∂logits (the first block overwrites
            // what the spare accumulator held).
            matmul_into(
                &mut group.matrix,
                if i == 0 {
                    Write::Overwrite
                } else {
                    Write::Accumulate
                },
                &with_one,
                Operand::Transposed,
                &logits,
                Operand::Plain,
                (h + 1, b, v),
            );
            done += b;
        }
        group
    }
}

/// Weight-gradient accumulators kept from one call to the next: each is
/// `[H + 1, V]` (660 KB at the paper's dimensions) and a step needs up to
/// [`MAX_GROUPS`]; allocating them afresh cost page faults and zero-filling
/// every step.
static SPARE_ACCUMULATORS: std::sync::Mutex<Vec<Vec<f32>>> = std::sync::Mutex::new(Vec::new());

/// An accumulator of `len` floats, its contents stale: the first block of
/// a group overwrites it.
fn spare_accumulator(len: usize) -> Vec<f32> {
    let mut spare = SPARE_ACCUMULATORS.lock().unwrap_or_else(|e| e.into_inner());
    // A model of another size left these: drop them.
    spare.retain(|a| a.len() == len);
    spare.pop().unwrap_or_else(|| vec![0.0; len])
}

/// Element-wise sum of `parts` (each `len` long), added in their order;
/// zeros when there are none. The parts but the first (which holds the
/// sum) go back to the spare accumulators.
fn sum_in_order(mut parts: Vec<Vec<f32>>, len: usize) -> Vec<f32> {
    if parts.is_empty() {
        return vec![0.0; len];
    }
    let mut total = parts.remove(0);
    total
        .par_chunks_mut(SUM_CHUNK)
        .enumerate()
        .for_each(|(chunk, out)| {
            let range = chunk * SUM_CHUNK..chunk * SUM_CHUNK + out.len();
            for part in &parts {
                for (o, &p) in out.iter_mut().zip(&part[range.clone()]) {
                    *o += p;
                }
            }
        });
    let mut spare = SPARE_ACCUMULATORS.lock().unwrap_or_else(|e| e.into_inner());
    spare.extend(parts);
    spare.truncate(MAX_GROUPS);
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolkit::target_log_probs;
    use candle_core::{Device, Tensor, Var};

    /// The same loss through Candle's log-softmax and autograd.
    fn autograd_reference(
        hidden: &[f32],
        matrix: &[f32],
        targets: &[u32],
        coefficients: &[f32],
        (rows, h, v): (usize, usize, usize),
    ) -> (f32, Vec<f32>, Vec<f32>) {
        let dev = Device::Cpu;
        let hs = Var::from_vec(hidden.to_vec(), (rows, h), &dev).unwrap();
        let m = Var::from_vec(matrix.to_vec(), (h + 1, v), &dev).unwrap();
        let ones = Tensor::ones((rows, 1), candle_core::DType::F32, &dev).unwrap();
        let logits = Tensor::cat(&[hs.as_tensor(), &ones], 1)
            .unwrap()
            .matmul(m.as_tensor())
            .unwrap();
        let t = Tensor::new(targets, &dev).unwrap();
        let c = Tensor::new(coefficients, &dev).unwrap();
        let loss = (target_log_probs(&logits, &t).unwrap() * c)
            .unwrap()
            .sum_all()
            .unwrap()
            .neg()
            .unwrap();
        let grads = loss.backward().unwrap();
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        (
            loss.to_scalar::<f32>().unwrap(),
            flat(grads.get(hs.as_tensor()).unwrap()),
            flat(grads.get(m.as_tensor()).unwrap()),
        )
    }

    #[test]
    fn loss_and_gradients_match_autograd_and_padding_contributes_nothing() {
        // 53 rows: several blocks and groups, a partial last block; hidden
        // sizes below and above a 16-unit tile; vocabularies with and
        // without a partial last vector.
        for (rows, h, v) in [(53, 6, 301), (53, 20, 64)] {
            check_against_autograd(rows, h, v);
        }
    }

    fn check_against_autograd(rows: usize, h: usize, v: usize) {
        let hidden: Vec<f32> = (0..rows * h)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 3.0)
            .collect();
        let matrix: Vec<f32> = (0..(h + 1) * v)
            .map(|i| ((i * 11 % 17) as f32 - 8.0) / 8.0)
            .collect();
        let targets: Vec<u32> = (0..rows).map(|r| (r * 37 % v) as u32).collect();
        // Mixed signs (policy gradient), and every fifth row padding.
        let coefficients: Vec<f32> = (0..rows)
            .map(|r| {
                if r % 5 == 4 {
                    0.0
                } else {
                    (r as f32 - 20.0) / 40.0
                }
            })
            .collect();
        let dev = Device::Cpu;
        let projection =
            OutputProjection::new(&Tensor::from_vec(matrix.clone(), (h + 1, v), &dev).unwrap())
                .unwrap();
        let (loss, d_hidden, d_matrix) =
            autograd_reference(&hidden, &matrix, &targets, &coefficients, (rows, h, v));
        assert!(d_matrix.iter().any(|&g| g.abs() > 1e-3));

        let mut kernels = vec![("portable", None)];
        if let Some(word_major) = projection.word_major() {
            kernels.push(("avx512", Some(word_major)));
        }
        for (kernel, word_major) in kernels {
            let got = projection
                .weighted_nll_gradients_with(&hidden, &targets, &coefficients, word_major)
                .unwrap();
            let close = |got: &[f32], want: &[f32], what: &str| {
                let scale = want.iter().fold(0f32, |m, w| m.max(w.abs()));
                for (i, (g, w)) in got.iter().zip(want).enumerate() {
                    assert!(
                        (g - w).abs() <= 1e-5 * scale.max(1.0),
                        "{kernel} {h}×{v} {what}[{i}]: {g} vs {w}"
                    );
                }
            };
            assert!(
                (got.loss as f32 - loss).abs() <= 1e-5 * loss.abs().max(1.0),
                "{kernel}: loss {} vs {loss}",
                got.loss
            );
            close(&got.hidden, &d_hidden, "∂h");
            close(&got.matrix, &d_matrix, "∂[Wᵀ; b]");
            // Again, on the accumulators the first call left: the same bits.
            let again = projection
                .weighted_nll_gradients_with(&hidden, &targets, &coefficients, word_major)
                .unwrap();
            assert_eq!(again.matrix, got.matrix, "{kernel}: a second call");
            for r in (4..rows).step_by(5) {
                assert!(got.hidden[r * h..(r + 1) * h].iter().all(|&g| g == 0.0));
            }
        }
    }

    #[test]
    fn a_nan_hidden_state_makes_the_loss_nan_in_every_kernel() {
        let (rows, h, v) = (20, 3, 40);
        let w: Vec<f32> = (0..(h + 1) * v).map(|i| (i % 7) as f32 / 7.0).collect();
        let projection =
            OutputProjection::new(&Tensor::from_vec(w, (h + 1, v), &Device::Cpu).unwrap()).unwrap();
        let mut hidden = vec![0.25f32; rows * h];
        hidden[17 * h + 1] = f32::NAN;
        let (targets, coefficients) = (vec![1u32; rows], vec![1.0f32; rows]);
        let mut kernels = vec![None];
        if let Some(word_major) = projection.word_major() {
            kernels.push(Some(word_major));
        }
        for word_major in kernels {
            let got = projection
                .weighted_nll_gradients_with(&hidden, &targets, &coefficients, word_major)
                .unwrap();
            assert!(got.loss.is_nan(), "avx512: {}", word_major.is_some());
        }
    }

    #[test]
    fn the_weight_gradient_splits_into_the_layer_shapes() {
        let (h, v) = (3, 37);
        let gradients = OutputLayerGradients {
            loss: 0.0,
            hidden: Vec::new(),
            matrix: (0..(h + 1) * v).map(|i| i as f32).collect(),
        };
        let (weight, bias) = gradients.weight_and_bias((h, v));
        for j in 0..v {
            for p in 0..h {
                assert_eq!(weight[j * h + p], (p * v + j) as f32, "({j}, {p})");
            }
            assert_eq!(bias[j], (h * v + j) as f32);
        }
    }

    #[test]
    fn a_target_outside_the_vocabulary_is_an_error() {
        let w = Tensor::zeros((3, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
        let projection = OutputProjection::new(&w).unwrap();
        let err = projection
            .weighted_nll_gradients(&[0.0; 4], &[1, 9], &[1.0, 1.0])
            .err()
            .unwrap();
        assert!(err.to_string().contains("target 9 of row 1"), "{err}");
        // Padding rows are not looked at.
        assert!(projection
            .weighted_nll_gradients(&[0.0; 4], &[1, 9], &[1.0, 0.0])
            .is_ok());
    }
}
