//! The highway layer's element-wise work, forward and backward, in one pass
//! each over plain slices (CPU).
//!
//! Between its products the highway layer is some twenty element-wise
//! Candle ops over `[rows, F]` (bias, sigmoid, ReLU, `1 − g`, the gated sum,
//! dropout, and as many backward), each of which allocates its result and
//! dispatches to Candle's thread pool: at paper dimensions (64 × 1,720)
//! they took about an eighth of a discriminator step. Here each element's
//! arithmetic is the one those ops do, in the same order (`sigmoid` as
//! candle-nn's `1 / (exp(−x) + 1)`, ReLU as `max(x, 0)`, the ReLU's
//! derivative as a multiplication by 1 or 0), so the results are the same
//! to the bit; the products are `hand_gradients`' (Candle's bits). A test
//! holds both passes to the Candle ops they replace.

use rayon::prelude::*;

/// Rows per parallel task: a few cache-sized blocks for two cores.
const ROWS_PER_TASK: usize = 8;

/// What the backward pass needs of the forward, `[rows, F]` each.
pub struct HighwayActivations {
    /// `g = sigmoid(h·W_gᵀ + b_g)`.
    pub gate: Vec<f32>,
    /// `1 − g`.
    pub carry: Vec<f32>,
    /// `r = ReLU(h·W_tᵀ + b_t)`.
    pub transformed: Vec<f32>,
    /// 1 where `h·W_tᵀ + b_t > 0`, else 0 (ReLU's derivative).
    pub transform_active: Vec<f32>,
    /// `(g ⊙ r + (1 − g) ⊙ h) ⊙ mask`: the output layer's input.
    pub dropped: Vec<f32>,
}

/// The highway layer and dropout, from the two products without their
/// biases: `gate_product = h·W_gᵀ`, `transform_product = h·W_tᵀ`, all
/// `[rows, F]` row-major; `mask` is the dropout mask (ones when off).
pub fn forward(
    h: &[f32],
    gate_product: &[f32],
    transform_product: &[f32],
    gate_bias: &[f32],
    transform_bias: &[f32],
    mask: &[f32],
) -> HighwayActivations {
    let features = gate_bias.len();
    let n = h.len();
    assert!(
        [gate_product.len(), transform_product.len(), mask.len()]
            .iter()
            .all(|&l| l == n)
            && transform_bias.len() == features
            && n.is_multiple_of(features.max(1)),
        "highway head: mismatched shapes"
    );
    let mut out = HighwayActivations {
        gate: vec![0.0; n],
        carry: vec![0.0; n],
        transformed: vec![0.0; n],
        transform_active: vec![0.0; n],
        dropped: vec![0.0; n],
    };
    let block = ROWS_PER_TASK * features.max(1);
    out.gate
        .par_chunks_mut(block)
        .zip(out.carry.par_chunks_mut(block))
        .zip(out.transformed.par_chunks_mut(block))
        .zip(out.transform_active.par_chunks_mut(block))
        .zip(out.dropped.par_chunks_mut(block))
        .enumerate()
        .for_each(|(b, ((((gate, carry), transformed), active), dropped))| {
            let at = b * block;
            for i in 0..gate.len() {
                let j = i % features;
                let g = sigmoid(gate_product[at + i] + gate_bias[j]);
                let t = transform_product[at + i] + transform_bias[j];
                let r = t.max(0f32);
                let c = 1.0 - g;
                gate[i] = g;
                carry[i] = c;
                transformed[i] = r;
                active[i] = if t > 0.0 { 1.0 } else { 0.0 };
                dropped[i] = (g * r + c * h[at + i]) * mask[at + i];
            }
        });
    out
}

/// candle-nn's `sigmoid` on the CPU, `(exp(−x) + 1)⁻¹`.
fn sigmoid(x: f32) -> f32 {
    1.0 / ((-x).exp() + 1.0)
}

/// The gradients at the highway layer's two products, and `∂h` before the
/// products' share.
pub struct HighwayGradients {
    /// `∂ loss / ∂(h·W_gᵀ + b_g)`.
    pub gate_pre: Vec<f32>,
    /// `∂ loss / ∂(h·W_tᵀ + b_t)`.
    pub transform_pre: Vec<f32>,
    /// The carry path's share of `∂h`, `∂y ⊙ (1 − g)`.
    pub carried: Vec<f32>,
}

/// Backward through dropout and the highway's element-wise part, from the
/// gradient at the output layer's input before dropout's mask
/// (`∂logits · W_out`).
pub fn backward(
    activations: &HighwayActivations,
    h: &[f32],
    mask: &[f32],
    d_output_input: &[f32],
) -> HighwayGradients {
    let n = h.len();
    assert!(
        [activations.gate.len(), mask.len(), d_output_input.len()]
            .iter()
            .all(|&l| l == n),
        "highway head: mismatched shapes"
    );
    let mut out = HighwayGradients {
        gate_pre: vec![0.0; n],
        transform_pre: vec![0.0; n],
        carried: vec![0.0; n],
    };
    let block = 4096;
    let a = activations;
    out.gate_pre
        .par_chunks_mut(block)
        .zip(out.transform_pre.par_chunks_mut(block))
        .zip(out.carried.par_chunks_mut(block))
        .enumerate()
        .for_each(|(b, ((gate_pre, transform_pre), carried))| {
            let at = b * block;
            for i in 0..gate_pre.len() {
                let k = at + i;
                // y = g ⊙ r + (1 − g) ⊙ h: ∂g = dy ⊙ (r − h), ∂r = dy ⊙ g,
                // ∂h = dy ⊙ (1 − g); σ' = g ⊙ (1 − g).
                let dy = d_output_input[k] * mask[k];
                gate_pre[i] = (dy * (a.transformed[k] - h[k])) * (a.gate[k] * a.carry[k]);
                transform_pre[i] = (dy * a.gate[k]) * a.transform_active[k];
                carried[i] = dy * a.carry[k];
            }
        });
    out
}

/// `dst = (dst + a) + b`, element by element: `∂h`'s three shares summed
/// in the order Candle's `carried + a + b` sums them.
pub fn add_two_into(dst: &mut [f32], a: &[f32], b: &[f32]) {
    assert!(dst.len() == a.len() && a.len() == b.len());
    dst.par_chunks_mut(4096)
        .zip(a.par_chunks(4096))
        .zip(b.par_chunks(4096))
        .for_each(|((d, a), b)| {
            for ((d, &a), &b) in d.iter_mut().zip(a).zip(b) {
                *d = (*d + a) + b;
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use agon_sdk::toolkit::{dropout_mask, rng_from_seed};
    use candle_core::{DType, Device, Tensor};
    use rand::Rng;

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    fn assert_same_bits(got: &[f32], want: &[f32], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(g.to_bits(), w.to_bits(), "{what}[{i}]: {g} vs {w}");
        }
    }

    /// Both passes give the bits of the Candle ops they replace (the code
    /// of `hand_gradients.rs` before this module), dropout on and off, with
    /// values that put pre-activations on both sides of zero.
    #[test]
    fn passes_equal_the_candle_ops_they_replace_to_the_bit() {
        let device = Device::Cpu;
        let (rows, features) = (19, 37); // partial blocks of rows and chunks
        let mut rng = rng_from_seed(7);
        let mut random = |n: usize, scale: f32| -> Vec<f32> {
            (0..n)
                .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale)
                .collect()
        };
        let n = rows * features;
        let (h, gate_product, transform_product) = (random(n, 3.0), random(n, 6.0), random(n, 2.0));
        let (gate_bias, transform_bias) = (random(features, 1.0), random(features, 1.0));
        let d_output_input = random(n, 0.5);
        let tensor = |v: &[f32]| Tensor::from_slice(v, (rows, features), &device).unwrap();
        for keep in [0.75f32, 1.0] {
            let mask = dropout_mask(n, keep, &mut rng_from_seed(3));
            if keep < 1.0 {
                assert!(mask.contains(&0.0), "some elements dropped");
            }

            let got = forward(
                &h,
                &gate_product,
                &transform_product,
                &gate_bias,
                &transform_bias,
                &mask,
            );
            let ht = tensor(&h);
            let bg = Tensor::from_slice(&gate_bias, features, &device).unwrap();
            let bt = Tensor::from_slice(&transform_bias, features, &device).unwrap();
            let gate_pre = tensor(&gate_product).broadcast_add(&bg).unwrap();
            let transform_pre = tensor(&transform_product).broadcast_add(&bt).unwrap();
            let gate = candle_nn::ops::sigmoid(&gate_pre).unwrap();
            let transformed = transform_pre.relu().unwrap();
            let carry = (gate.ones_like().unwrap() - &gate).unwrap();
            let highway = ((&gate * &transformed).unwrap() + (&carry * &ht).unwrap()).unwrap();
            let mask_t = agon_sdk::toolkit::dropout(
                &highway.ones_like().unwrap(),
                keep,
                &mut rng_from_seed(3),
            )
            .unwrap();
            let dropped = (&highway * &mask_t).unwrap();
            assert_same_bits(&got.gate, &values(&gate), "gate");
            assert_same_bits(&got.carry, &values(&carry), "carry");
            assert_same_bits(&got.transformed, &values(&transformed), "transformed");
            assert_same_bits(&got.dropped, &values(&dropped), "dropped");

            let grads = backward(&got, &h, &mask, &d_output_input);
            let d_highway = (tensor(&d_output_input) * &mask_t).unwrap();
            let d_gate_pre = ((&d_highway * (&transformed - &ht).unwrap()).unwrap()
                * (&gate * &carry).unwrap())
            .unwrap();
            let d_transform_pre = ((&d_highway * &gate).unwrap()
                * transform_pre.gt(0.0).unwrap().to_dtype(DType::F32).unwrap())
            .unwrap();
            let carried = (&d_highway * &carry).unwrap();
            assert_same_bits(&grads.gate_pre, &values(&d_gate_pre), "∂gate_pre");
            assert_same_bits(
                &grads.transform_pre,
                &values(&d_transform_pre),
                "∂transform_pre",
            );
            assert_same_bits(&grads.carried, &values(&carried), "carried");

            let (a, b) = (random(n, 1.0), random(n, 1.0));
            let mut sum = grads.carried.clone();
            add_two_into(&mut sum, &a, &b);
            let want = ((carried + tensor(&a)).unwrap() + tensor(&b)).unwrap();
            assert_same_bits(&sum, &values(&want), "∂h");
        }
    }
}
