//! The Gumbel-softmax relaxation of sampling (Jang et al. 2017; Maddison et
//! al. 2017), as RelGAN's generator uses it: with Gumbel(0, 1) noise `g`
//! drawn per logit, `argmax(logits + g)` is an exact sample of
//! `softmax(logits)`, and `softmax(β · (logits + g))` is a differentiable
//! stand-in for its one-hot vector that tends to it as the inverse
//! temperature `β` grows. The noise comes from the rows' seeded streams, so
//! the same seed gives the same relaxed samples (and a plugin can recompute
//! one instead of keeping its graph).

use candle_core::{Device, Result, Tensor, D};
use rand::Rng;

use super::SeededRng;

/// `[rows, vocab]` Gumbel(0, 1) noise, `−ln(−ln u)` with `u` uniform on
/// (0, 1); row `r` draws `vocab` values from `streams[r]`.
pub fn gumbel_noise(streams: &mut [SeededRng], vocab: usize, device: &Device) -> Result<Tensor> {
    let mut noise = Vec::with_capacity(streams.len() * vocab);
    for stream in streams.iter_mut() {
        noise.extend((0..vocab).map(|_| {
            // random() is on [0, 1); 0 would give an infinite draw.
            let u = stream.random::<f64>().max(f64::MIN_POSITIVE);
            -(-u.ln()).ln() as f32
        }));
    }
    Tensor::from_vec(noise, (streams.len(), vocab), device)
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
