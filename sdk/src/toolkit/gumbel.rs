//! The Gumbel-softmax relaxation of sampling (Jang et al. 2017; Maddison et
//! al. 2017), as RelGAN's generator uses it: with Gumbel(0, 1) noise `g`
//! drawn per logit, `argmax(logits + g)` is an exact sample of
//! `softmax(logits)`, and `softmax(β · (logits + g))` is a differentiable
//! stand-in for its one-hot vector that tends to it as the inverse
//! temperature `β` grows. The noise comes from the rows' seeded streams, so
//! the same seed gives the same relaxed samples (and a plugin can recompute
//! one instead of keeping its graph).
//!
//! Two implementations give the same samples: tensor ops ([`gumbel_noise`],
//! [`gumbel_softmax`]; any device, differentiable), and on the CPU a kernel
//! fused per row ([`gumbel_softmax_rows`], with [`gumbel_softmax_backward`]
//! for the gradient). As separate tensor ops a position costs about ten
//! passes over `[rows, vocabulary]` arrays on one thread (noise, sum,
//! argmax, scale, max, subtract, exp, sum, divide, mask) and as many again
//! backwards; the kernel makes a few short passes over each row while it is
//! in cache, rows in parallel, with vectorised noise, maximum and
//! exponentials.

use agon_kernels::{gumbel_noise::gumbel_from_bits_into, softmax_kernels::exp_shifted};
use candle_core::{Device, Result, Tensor, D};
use rand::Rng;
use rayon::prelude::*;

use super::SeededRng;

/// Fills `out` with Gumbel(0, 1) draws from `stream`: 32 random bits each,
/// turned into `−ln(−ln u)` by `agon_kernels::gumbel_noise` (`u` on a
/// grid of 2^23 cells of (0, 1)); `bits` is a reused buffer.
fn gumbel_fill(stream: &mut SeededRng, out: &mut [f32], bits: &mut Vec<u32>) {
    bits.resize(out.len(), 0);
    stream.fill(bits.as_mut_slice());
    gumbel_from_bits_into(bits, out);
}

/// `[rows, vocab]` Gumbel(0, 1) noise, `−ln(−ln u)` with `u` uniform on
/// (0, 1); row `r` draws `vocab` values from `streams[r]`.
pub fn gumbel_noise(streams: &mut [SeededRng], vocab: usize, device: &Device) -> Result<Tensor> {
    let mut noise = vec![0f32; streams.len() * vocab];
    let mut bits = Vec::new();
    for (stream, row) in streams.iter_mut().zip(noise.chunks_mut(vocab.max(1))) {
        gumbel_fill(stream, row, &mut bits);
    }
    Tensor::from_vec(noise, (streams.len(), vocab), device)
}

/// [`gumbel_noise`] and [`gumbel_softmax`] fused, on the CPU: for each row
/// `r` of `logits` (`[rows, vocab]`, row-major) that is `live`, draws its
/// noise `g` from `streams[r]` (as [`gumbel_noise`] does), returns its hard
/// sample `argmax(logits + g)` (the lowest id among ties) and writes its
/// relaxed row `softmax(β · (logits + g))` to `soft[r]`. A finished row
/// (`live[r]` false) draws nothing, gets zeros and id 0: its stream is not
/// read again in a pass, so the live rows see the noise the tensor path
/// gives them. Rows run in parallel, each on its own stream, so the result
/// does not depend on the number of threads.
pub fn gumbel_softmax_rows(
    logits: &[f32],
    streams: &mut [SeededRng],
    live: &[bool],
    beta: f32,
    soft: &mut [&mut [f32]],
) -> Vec<u32> {
    let rows = streams.len();
    assert!(
        live.len() == rows && soft.len() == rows && logits.len().is_multiple_of(rows.max(1)),
        "gumbel_softmax_rows: {rows} streams, {} live flags, {} output rows, {} logits",
        live.len(),
        soft.len(),
        logits.len()
    );
    let vocab = logits.len() / rows.max(1);
    let mut ids = vec![0u32; rows];
    ids.par_iter_mut()
        .zip(streams.par_iter_mut())
        .zip(soft.par_iter_mut())
        .zip(logits.par_chunks(vocab.max(1)))
        .zip(live.par_iter())
        .for_each_init(
            || (Vec::new(), Vec::new(), Vec::new()),
            |(perturbed, bits, blocks), ((((id, stream), out), logits), &live)| {
                if !live {
                    out.fill(0.0);
                    return;
                }
                perturbed.resize(logits.len(), 0.0);
                gumbel_fill(stream, perturbed, bits);
                for (p, &l) in perturbed.iter_mut().zip(logits) {
                    *p += l;
                }
                let (best, max) = first_max(perturbed);
                *id = best as u32;
                let total = exp_shifted(perturbed, max, beta, out, blocks);
                let scale = (1.0 / total) as f32;
                out.iter_mut().for_each(|s| *s *= scale);
            },
        );
    ids
}

/// The first greatest value of `values` and its index (NaNs never win; `(0,
/// −∞)` if nothing beats −∞): a left-to-right scan's answer, bit for bit,
/// found with a maximum over lanes the compiler vectorises, then the first
/// index holding it.
fn first_max(values: &[f32]) -> (usize, f32) {
    const LANES: usize = 16;
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let blocks = values.chunks_exact(LANES);
    let tail = blocks.remainder();
    for block in blocks {
        for (lane, &v) in lanes.iter_mut().zip(block) {
            *lane = if v > *lane { v } else { *lane };
        }
    }
    let max = lanes
        .iter()
        .chain(tail)
        .fold(f32::NEG_INFINITY, |max, &v| if v > max { v } else { max });
    // `==` also matches the other zero; the scan kept the first of
    // either, and so does this (its bits are taken from the value).
    match values.iter().position(|&v| v == max) {
        Some(i) if max > f32::NEG_INFINITY => (i, values[i]),
        _ => (0, f32::NEG_INFINITY),
    }
}

/// The gradient of `Σ upstream · softmax(β · (logits + g))` in `logits`,
/// for one row given its relaxed row `soft` (what [`gumbel_softmax_rows`]
/// wrote): `β · soft ⊙ (upstream − ⟨upstream, soft⟩)`, written to `out`.
/// Returns `⟨upstream, soft⟩`, the row's term of the sum.
pub fn gumbel_softmax_backward(soft: &[f32], upstream: &[f32], beta: f32, out: &mut [f32]) -> f64 {
    let dot: f64 = soft
        .iter()
        .zip(upstream)
        .map(|(&s, &u)| f64::from(s) * f64::from(u))
        .sum();
    let centre = dot as f32;
    for ((o, &s), &u) in out.iter_mut().zip(soft).zip(upstream) {
        *o = beta * s * (u - centre);
    }
    dot
}

/// For `[rows, vocab]` `logits` and `noise`: each row's hard sample
/// `argmax(logits + noise)` (the lowest id among ties) and the relaxed
/// one-hot rows `softmax(β · (logits + noise))`, through which gradients
/// reach `logits`.
pub fn gumbel_softmax(logits: &Tensor, noise: &Tensor, beta: f64) -> Result<(Vec<u32>, Tensor)> {
    let perturbed = (logits + noise)?;
    let ids = perturbed
        .argmax_keepdim(D::Minus1)?
        .squeeze(D::Minus1)?
        .to_vec1::<u32>()?;
    // Not candle_nn's softmax_last_dim: that fused op has no backward pass,
    // so gradients would silently stop there.
    let soft = candle_nn::ops::softmax(&(perturbed * beta)?, D::Minus1)?;
    Ok((ids, soft))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolkit::rng_from_seed;

    /// What the left-to-right scan it replaced answers, on ties, signed
    /// zeros, NaNs, infinities, every length around the lane width.
    #[test]
    fn first_max_is_the_left_to_right_scan() {
        let scan = |values: &[f32]| {
            let (mut best, mut max) = (0, f32::NEG_INFINITY);
            for (i, &p) in values.iter().enumerate() {
                if p > max {
                    (best, max) = (i, p);
                }
            }
            (best, max.to_bits())
        };
        let mut rng = rng_from_seed(5);
        let specials = [
            0.0,
            -0.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1.0,
            -1.0,
        ];
        for len in 0..70 {
            for trial in 0..40 {
                let values: Vec<f32> = (0..len)
                    .map(|_| match trial % 4 {
                        // Few distinct values: many ties.
                        0 => (rng.random_range(0..3u32) as f32) - 1.0,
                        1 => specials[rng.random_range(0..specials.len())],
                        2 => rng.random_range(-1e3f32..1e3),
                        _ => [f32::NAN, f32::NEG_INFINITY][rng.random_range(0..2usize)],
                    })
                    .collect();
                let (i, max) = first_max(&values);
                assert_eq!((i, max.to_bits()), scan(&values), "{values:?}");
            }
        }
    }

    #[test]
    fn hard_samples_follow_the_softmax_and_soft_rows_are_distributions() {
        let device = Device::Cpu;
        let probs = [0.5f32, 0.3, 0.2];
        let logits: Vec<f32> = probs.iter().map(|p| p.ln()).collect();
        let n = 20_000;
        let logits = Tensor::new(logits.as_slice(), &device)
            .unwrap()
            .unsqueeze(0)
            .unwrap()
            .repeat((n, 1))
            .unwrap();
        let mut streams: Vec<_> = (0..n as u64).map(rng_from_seed).collect();
        let noise = gumbel_noise(&mut streams, 3, &device).unwrap();
        let (ids, soft) = gumbel_softmax(&logits, &noise, 1.0).unwrap();
        // argmax(logits + g) ~ softmax(logits): each frequency within 4.5
        // standard errors.
        for (id, p) in probs.iter().enumerate() {
            let freq = ids.iter().filter(|&&i| i as usize == id).count() as f64 / n as f64;
            let se = (f64::from(*p) * (1.0 - f64::from(*p)) / n as f64).sqrt();
            assert!(
                (freq - f64::from(*p)).abs() < 4.5 * se,
                "id {id}: {freq} vs {p}"
            );
        }
        let sums = soft.sum(1).unwrap().to_vec1::<f32>().unwrap();
        assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5));
        // A large β makes the soft rows the one-hot vectors of the hard ids.
        let (hard, sharp) = gumbel_softmax(&logits, &noise, 1e4).unwrap();
        assert_eq!(hard, ids);
        let sharp = sharp.to_vec2::<f32>().unwrap();
        for (row, &id) in sharp.iter().zip(&hard).take(100) {
            assert!(row[id as usize] > 0.999, "{row:?} for {id}");
        }
    }

    /// The fused kernel gives the tensor path's hard ids and, to rounding,
    /// its relaxed rows; finished rows get zeros.
    #[test]
    fn the_cpu_kernel_gives_the_tensor_paths_samples() {
        let device = Device::Cpu;
        let (rows, vocab) = (6, 300);
        let logits: Vec<f32> = (0..rows * vocab)
            .map(|i| ((i * 7919 % 613) as f32 / 613.0 - 0.5) * 6.0)
            .collect();
        let live = [true, false, true, true, false, true];
        for beta in [0.5f32, 1.0, 30.0] {
            let streams = || {
                (0..rows as u64)
                    .map(|r| rng_from_seed(40 + r))
                    .collect::<Vec<_>>()
            };
            let tensor = Tensor::from_slice(&logits, (rows, vocab), &device).unwrap();
            let noise = gumbel_noise(&mut streams(), vocab, &device).unwrap();
            let (ids, soft) = gumbel_softmax(&tensor, &noise, f64::from(beta)).unwrap();
            let soft = soft.to_vec2::<f32>().unwrap();

            let mut out = vec![1f32; rows * vocab];
            let mut out_rows: Vec<&mut [f32]> = out.chunks_mut(vocab).collect();
            let fused = gumbel_softmax_rows(&logits, &mut streams(), &live, beta, &mut out_rows);
            for r in 0..rows {
                let row = &out[r * vocab..(r + 1) * vocab];
                if !live[r] {
                    assert!(row.iter().all(|&s| s == 0.0), "finished row {r}");
                    continue;
                }
                assert_eq!(fused[r], ids[r], "row {r} at β {beta}");
                for (a, b) in row.iter().zip(&soft[r]) {
                    assert!(
                        (a - b).abs() <= 1e-6 + 1e-5 * b.abs(),
                        "{a} vs {b} at β {beta}"
                    );
                }
            }
        }
    }

    /// The closed-form gradient against autograd through the tensor path.
    #[test]
    fn the_cpu_backward_matches_autograd() {
        let device = Device::Cpu;
        let vocab = 50;
        let values: Vec<f32> = (0..vocab).map(|i| (i as f32 * 0.37).sin() * 2.0).collect();
        let upstream: Vec<f32> = (0..vocab).map(|i| (i as f32 * 0.11).cos()).collect();
        let beta = 1.7f32;
        let logits = candle_core::Var::from_slice(&values, (1, vocab), &device).unwrap();
        let noise = gumbel_noise(&mut [rng_from_seed(5)], vocab, &device).unwrap();
        let (_, soft) = gumbel_softmax(logits.as_tensor(), &noise, f64::from(beta)).unwrap();
        let up = Tensor::from_slice(&upstream, (1, vocab), &device).unwrap();
        let value = (&soft * &up).unwrap().sum_all().unwrap();
        let grad = value.backward().unwrap();
        let expected = grad
            .get(logits.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();

        let soft = soft.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let mut out = vec![0f32; vocab];
        let dot = gumbel_softmax_backward(&soft, &upstream, beta, &mut out);
        let total = value.to_scalar::<f32>().unwrap();
        assert!((dot as f32 - total).abs() < 1e-5, "{dot} vs {total}");
        for (a, b) in out.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn the_same_streams_give_the_same_noise() {
        let device = Device::Cpu;
        let draw = |seed| {
            let mut streams = vec![rng_from_seed(seed), rng_from_seed(seed + 1)];
            gumbel_noise(&mut streams, 5, &device)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        assert!(draw(7).iter().flatten().all(|g| g.is_finite()));
    }
}
