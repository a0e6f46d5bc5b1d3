//! Sampling straight from hidden states: the output layer's matmul and the
//! softmax sampling fused per block of rows.
//!
//! Sampling one token for each of `N` rows as tensor ops computes the
//! `[N, V]` logits with one parallel matmul (allocating and zeroing
//! `N × V` floats), copies them out of the tensor, then samples the rows in
//! parallel: three passes over memory that does not fit in cache, and a
//! barrier between the matmul and the sampling. Here each task multiplies a
//! block of rows into its own buffer, which stays in cache, and samples
//! those rows at once. With AVX-512 a task's rows sit in the lanes of
//! vectors (see `rows_in_lanes`) and the vocabulary is walked block by
//! block, so not even one row of logits is kept (see `avx512`). Either way
//! the logits are the same `[h, 1] · [Wᵀ; b]` product with the same
//! additions in the same order as Candle's, and the softmax is exponentiated
//! and summed as `sample_from_logits` does it, so the ids drawn are the ones
//! the tensor path draws.

use std::sync::OnceLock;

use candle_core::{Result, Tensor};
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use super::rows_in_lanes::LANES;
use super::{
    block_matmul::{matmul_into, Operand, Write},
    rng::sample_from_logits,
    SeededRng,
};

#[cfg(target_arch = "x86_64")]
use agon_kernels::output_sampling_avx512 as avx512;

/// Rows per task of the portable kernel: a block of logits (16 × V floats)
/// stays in cache.
const ROWS_PER_TASK: usize = 16;

/// An output layer `[h, 1] · [Wᵀ; b]` ready for [`OutputProjection::sample`].
///
/// The portable kernels read it as `[Wᵀ; b]` (`[H + 1, V]`), the AVX-512
/// ones word-major (`[W, b]`, `[V, H + 1]`); each layout is built from the
/// other on first use only, so a layer made from the other side's layout
/// is never transposed twice.
pub struct OutputProjection {
    /// `[H + 1, V]` row-major: `Wᵀ`, then the bias as the last row.
    matrix: OnceLock<Vec<f32>>,
    /// `[V, H + 1]` row-major: each word's weights, then its bias.
    word_major: OnceLock<Vec<f32>>,
    avx512: bool,
    hidden: usize,
    vocab: usize,
}

impl OutputProjection {
    /// From `[Wᵀ; b]` as a `[H + 1, V]` tensor (any device; copied out).
    pub fn new(transposed_with_bias: &Tensor) -> Result<Self> {
        let (rows, vocab) = transposed_with_bias.dims2()?;
        let projection = Self::empty(rows.saturating_sub(1), vocab);
        let _ = projection
            .matrix
            .set(transposed_with_bias.flatten_all()?.to_vec1::<f32>()?);
        Ok(projection)
    }

    /// From the layer's weight `W` (`[V, H]`) and bias `b` (`[V]`), as
    /// stored (any device; copied out).
    pub fn from_layer(weight: &Tensor, bias: &Tensor) -> Result<Self> {
        let (vocab, hidden) = weight.dims2()?;
        let projection = Self::empty(hidden, vocab);
        let word_major = Tensor::cat(&[weight.detach(), bias.detach().unsqueeze(1)?], 1)?;
        let _ = projection
            .word_major
            .set(word_major.flatten_all()?.to_vec1::<f32>()?);
        Ok(projection)
    }

    fn empty(hidden: usize, vocab: usize) -> Self {
        #[cfg(target_arch = "x86_64")]
        let avx512 = std::arch::is_x86_feature_detected!("avx512f");
        #[cfg(not(target_arch = "x86_64"))]
        let avx512 = false;
        OutputProjection {
            matrix: OnceLock::new(),
            word_major: OnceLock::new(),
            avx512,
            hidden,
            vocab,
        }
    }

    /// `[W, b]`, `[V, H + 1]` row-major, when the CPU has AVX-512.
    pub(crate) fn word_major(&self) -> Option<&[f32]> {
        let (k, v) = (self.hidden + 1, self.vocab);
        self.avx512.then(|| {
            self.word_major
                .get_or_init(|| transpose(self.matrix.get().expect("one layout is set"), (k, v)))
                .as_slice()
        })
    }

    /// `[Wᵀ; b]`, `[H + 1, V]` row-major.
    pub(crate) fn matrix(&self) -> &[f32] {
        let (k, v) = (self.hidden + 1, self.vocab);
        self.matrix
            .get_or_init(|| transpose(self.word_major.get().expect("one layout is set"), (v, k)))
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
        self.sample_with(hidden, temperature, streams, self.word_major())
    }

    /// [`OutputProjection::sample`] with the AVX-512 kernel (given the
    /// word-major weights) or the portable one (`None`).
    fn sample_with(
        &self,
        hidden: &[f32],
        temperature: f32,
        streams: &mut [Option<&mut SeededRng>],
        word_major: Option<&[f32]>,
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
        #[cfg(target_arch = "x86_64")]
        if let Some(word_major) = word_major {
            let matrix = self.matrix();
            let per_task = avx512_rows_per_task(streams.len(), rayon::current_num_threads());
            ids.par_chunks_mut(per_task)
                .zip(streams.par_chunks_mut(per_task))
                .zip(hidden.par_chunks(per_task * h))
                .for_each_init(
                    avx512::Scratch::default,
                    |scratch, ((ids, streams), hidden)| {
                        // SAFETY: `word_major` exists only on CPUs with AVX-512F;
                        // the chunks have one id, stream and hidden row per row,
                        // and at most `avx512::MAX_ROWS` rows.
                        unsafe {
                            avx512::sample_rows(
                                word_major,
                                matrix,
                                hidden,
                                (h, v),
                                temperature,
                                streams,
                                ids,
                                scratch,
                            )
                        }
                    },
                );
            return Ok(ids);
        }
        let _ = word_major;
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
                    matmul_into(
                        logits,
                        Write::Overwrite,
                        with_one,
                        Operand::Plain,
                        self.matrix(),
                        Operand::Plain,
                        (rows, h + 1, v),
                    );
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

/// Rows per task of the AVX-512 kernel: whole lane groups of 16, at most
/// `avx512::MAX_ROWS`, in as few tasks as keep every thread busy (64 rows
/// on 2 threads: 2 × 32, not 48 + 16).
#[cfg(target_arch = "x86_64")]
fn avx512_rows_per_task(rows: usize, threads: usize) -> usize {
    let groups = rows.div_ceil(LANES).max(1);
    let max_groups = avx512::MAX_ROWS / LANES;
    let tasks = groups.div_ceil(max_groups).max(threads.min(groups));
    groups.div_ceil(tasks) * LANES
}

/// A `[rows, cols]` row-major matrix's transpose.
fn transpose(values: &[f32], (rows, cols): (usize, usize)) -> Vec<f32> {
    let mut out = vec![0.0; rows * cols];
    for (r, row) in values.chunks(cols).enumerate() {
        for (c, &x) in row.iter().enumerate() {
            out[c * rows + r] = x;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolkit::rng_from_seed;
    use candle_core::Device;

    #[test]
    fn both_constructors_give_both_layouts() {
        let (h, v) = (3, 5);
        let weight: Vec<f32> = (0..v * h).map(|i| i as f32).collect();
        let bias: Vec<f32> = (0..v).map(|j| -(j as f32)).collect();
        let dev = Device::Cpu;
        let w = Tensor::from_vec(weight, (v, h), &dev).unwrap();
        let b = Tensor::from_vec(bias, v, &dev).unwrap();
        let stacked = Tensor::cat(&[w.t().unwrap(), b.unsqueeze(0).unwrap()], 0).unwrap();
        let want_matrix = stacked.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let want_word_major = stacked
            .t()
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for projection in [
            OutputProjection::new(&stacked).unwrap(),
            OutputProjection::from_layer(&w, &b).unwrap(),
        ] {
            assert_eq!((projection.hidden_dim(), projection.vocab_size()), (h, v));
            assert_eq!(projection.matrix(), want_matrix.as_slice());
            if let Some(word_major) = projection.word_major() {
                assert_eq!(word_major, want_word_major.as_slice());
            }
        }
    }

    /// Every fifth row (from the fourth) draws nothing.
    fn streams_of(rngs: &mut [SeededRng]) -> Vec<Option<&mut SeededRng>> {
        rngs.iter_mut()
            .enumerate()
            .map(|(r, rng)| (r % 5 != 3).then_some(rng))
            .collect()
    }

    #[test]
    fn draws_what_sampling_the_tensor_logits_draws() {
        // 53 rows: AVX-512 calls of three lane groups (48 rows) and of one
        // part-filled group; 301 words: a last block of 45, not a multiple
        // of the register tile.
        let (rows, h, v) = (53, 5, 301);
        let mut hidden: Vec<f32> = (0..rows * h)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 3.0)
            .collect();
        // Row 7's logits are all NaN: nothing weighs anything.
        hidden[7 * h] = f32::NAN;
        let weights: Vec<f32> = (0..(h + 1) * v)
            .map(|i| ((i * 11 % 17) as f32 - 8.0) / 4.0)
            .collect();
        let w = Tensor::from_vec(weights, (h + 1, v), &Device::Cpu).unwrap();
        let projection = OutputProjection::new(&w).unwrap();
        let mut draws = Vec::new();
        for (kernel, word_major) in [("portable", None), ("avx512", projection.word_major())] {
            if kernel == "avx512" && word_major.is_none() {
                eprintln!("AVX-512 kernel skipped: this CPU lacks AVX-512");
                continue;
            }
            let mut rngs: Vec<SeededRng> = (0..rows).map(|r| rng_from_seed(r as u64)).collect();
            let got = projection
                .sample_with(&hidden, 0.8, &mut streams_of(&mut rngs), word_major)
                .unwrap();
            draws.push((kernel.to_string(), got));
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(word_major) = projection.word_major() {
            // Every lane-group count, whatever split the thread count picks.
            for per_call in [16, 32, avx512::MAX_ROWS] {
                let mut rngs: Vec<SeededRng> = (0..rows).map(|r| rng_from_seed(r as u64)).collect();
                let mut streams = streams_of(&mut rngs);
                let mut got = vec![None; rows];
                let mut scratch = avx512::Scratch::default();
                for ((ids, streams), hidden) in got
                    .chunks_mut(per_call)
                    .zip(streams.chunks_mut(per_call))
                    .zip(hidden.chunks(per_call * h))
                {
                    // SAFETY: the CPU has AVX-512F (`word_major` exists);
                    // one id, stream and hidden row per row.
                    unsafe {
                        avx512::sample_rows(
                            word_major,
                            projection.matrix(),
                            hidden,
                            (h, v),
                            0.8,
                            streams,
                            ids,
                            &mut scratch,
                        )
                    };
                }
                draws.push((format!("avx512 by {per_call} rows"), got));
            }
        }

        let h_tensor = Tensor::from_vec(hidden, (rows, h), &Device::Cpu).unwrap();
        let ones = Tensor::ones((rows, 1), candle_core::DType::F32, &Device::Cpu).unwrap();
        let logits = Tensor::cat(&[&h_tensor, &ones], 1)
            .unwrap()
            .matmul(&w)
            .unwrap();
        let logits = logits.to_vec2::<f32>().unwrap();
        for (kernel, got) in draws {
            for r in 0..rows {
                let want = (r % 5 != 3)
                    .then(|| sample_from_logits(&logits[r], 0.8, &mut rng_from_seed(r as u64)));
                assert_eq!(got[r], want, "{kernel}: row {r}");
            }
            assert_eq!(got[7], Some(v as u32 - 1), "{kernel}: the NaN row");
            assert!(
                got.iter()
                    .flatten()
                    .collect::<std::collections::HashSet<_>>()
                    .len()
                    > 5
            );
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_tasks_are_whole_lane_groups_that_keep_every_thread_busy() {
        assert_eq!(avx512_rows_per_task(64, 2), 32);
        assert_eq!(avx512_rows_per_task(1024, 2), 48);
        assert_eq!(avx512_rows_per_task(100, 2), 48);
        assert_eq!(avx512_rows_per_task(48, 2), 32);
        assert_eq!(avx512_rows_per_task(5, 2), 16);
        assert_eq!(avx512_rows_per_task(0, 2), 16);
        assert_eq!(avx512_rows_per_task(96, 8), 16);
    }
}
