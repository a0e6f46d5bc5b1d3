//! One Adam update of `f32` weights in place, compiled for the widest vector
//! instructions the CPU has.
//!
//! Each weight's update is a square root and a division besides a few
//! products; built for baseline x86-64 (SSE2), the loop runs four lanes wide,
//! and Adam's pass over the 7.1 M weights of SeqGAN's discriminator took a
//! tenth of its training step. [`adam_update_kernel`] picks the same loop
//! compiled with AVX-512 or AVX enabled (16 or 8 lanes; the compiler
//! vectorises it, no intrinsics). Square roots and divisions round correctly at every width and no
//! fused multiply-add is introduced (Rust does not contract `a * b + c`), so
//! every version gives the same bits.

/// The coefficients of one step, in `f32`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamCoefficients {
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// L2 penalty added to the gradient (`g + wd·θ`).
    pub weight_decay: f32,
    /// Denominator epsilon.
    pub eps: f32,
    /// The step's learning rate, bias corrections included.
    pub lr: f32,
}

/// `g ← grad + wd·θ; m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
/// θ ← θ − lr · m / (√v + ε)`, element by element over slices of one length.
pub type AdamUpdate =
    fn(theta: &mut [f32], m: &mut [f32], v: &mut [f32], grad: &[f32], c: &AdamCoefficients);

crate::widest::widest_versions! {
    /// The widest [`AdamUpdate`] this CPU runs.
    pub fn adam_update_kernel() -> AdamUpdate,
    every version: adam_update_versions,
    portable: adam_update(
        theta: &mut [f32],
        m: &mut [f32],
        v: &mut [f32],
        grad: &[f32],
        c: &AdamCoefficients,
    ),
    features: ["avx512f", "avx"],
}

/// Panics if the slices differ in length (a bug in the caller).
#[inline(always)]
fn adam_update(
    theta: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    grad: &[f32],
    c: &AdamCoefficients,
) {
    let n = theta.len();
    assert!(
        m.len() == n && v.len() == n && grad.len() == n,
        "adam_update: weights, moments and gradient differ in length"
    );
    let (b1, b2, wd, eps, lr) = (c.beta1, c.beta2, c.weight_decay, c.eps, c.lr);
    for k in 0..n {
        let g = grad[k] + wd * theta[k];
        m[k] = b1 * m[k] + (1.0 - b1) * g;
        v[k] = b2 * v[k] + (1.0 - b2) * g * g;
        theta[k] -= lr * (m[k] / (v[k].sqrt() + eps));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Weights, moments and gradients over many magnitudes, zeros included.
    fn state(n: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
        let wave = |scale: f32, phase: f32| -> Vec<f32> {
            (0..n)
                .map(|i| {
                    let x = ((i as f32) * 0.731 + phase).sin();
                    if i % 17 == 5 {
                        0.0
                    } else {
                        x * scale * 10f32.powi((i % 9) as i32 - 4)
                    }
                })
                .collect()
        };
        let second_moment = wave(1e-3, 2.0).iter().map(|x| x * x).collect();
        (
            wave(0.1, 0.0),
            wave(1e-2, 1.0),
            second_moment,
            wave(1.0, 3.0),
        )
    }

    #[test]
    fn every_version_updates_to_the_same_bits() {
        let c = AdamCoefficients {
            beta1: 0.9,
            beta2: 0.999,
            weight_decay: 1e-4,
            eps: 1e-8,
            lr: 3e-3,
        };
        // 1,000 + 37: full vectors of every width and a tail.
        let (theta, m, v, grad) = state(1_037);
        let (mut want_theta, mut want_m, mut want_v) = (theta.clone(), m.clone(), v.clone());
        adam_update(&mut want_theta, &mut want_m, &mut want_v, &grad, &c);
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_ne!(
            bits(&want_theta),
            bits(&theta),
            "the update moved the weights"
        );
        for (name, update) in adam_update_versions() {
            let (mut got_theta, mut got_m, mut got_v) = (theta.clone(), m.clone(), v.clone());
            update(&mut got_theta, &mut got_m, &mut got_v, &grad, &c);
            assert_eq!(bits(&got_theta), bits(&want_theta), "{name}: weights");
            assert_eq!(bits(&got_m), bits(&want_m), "{name}: first moments");
            assert_eq!(bits(&got_v), bits(&want_v), "{name}: second moments");
        }
    }

    #[test]
    fn the_first_step_moves_each_weight_by_lr_against_its_gradient() {
        let c = AdamCoefficients {
            beta1: 0.9,
            beta2: 0.999,
            weight_decay: 0.0,
            eps: 1e-8,
            lr: 0.1 * (1.0 - 0.999f32).sqrt() / (1.0 - 0.9),
        };
        let (mut theta, mut m, mut v) = (vec![1.0f32, -2.0], vec![0.0; 2], vec![0.0; 2]);
        adam_update_kernel()(&mut theta, &mut m, &mut v, &[2.0, -4.0], &c);
        assert!(
            (theta[0] - 0.9).abs() < 1e-5 && (theta[1] + 1.9).abs() < 1e-5,
            "{theta:?}"
        );
    }
}
