//! The gradient check of Gumbel-softmax training across the boundary: the
//! host's loss on a discriminator's logits of real and relaxed generated
//! rows, sent back through the discriminator's input gradient into the
//! generator's policy step, is the derivative of that loss in the
//! generator's weights. Needs `candle` too.

use abi_stable::std_types::ROption;
use candle_core::{Device, Tensor};

use crate::{
    kits::{DiscriminatorModel, GeneratorModel, KitDiscriminator, KitGenerator},
    relaxed::{RelaxedBatch, RelaxedSampleRequest},
    toolkit::sorted_vars,
};

/// A loss of the discriminator's logits of `rows` real rows followed by as
/// many generated ones: its value and its gradient per logit.
pub type LogitLoss<'a> = dyn Fn(&[f32]) -> (f64, Vec<f32>) + 'a;

/// The chain's loss at the generator's current weights, and the hard ids
/// its relaxed samples took (the loss is smooth only while they stay).
fn chain_loss<G: GeneratorModel, D: DiscriminatorModel>(
    g: &KitGenerator<G>,
    d: &KitDiscriminator<D>,
    real: &RelaxedBatch,
    request: &RelaxedSampleRequest,
    dropout_seed: u64,
    loss: &LogitLoss,
) -> (f64, Vec<u32>, RelaxedBatch) {
    let samples = g.relaxed_sample(request).expect("relaxed_sample");
    let fake = RelaxedBatch {
        lengths: samples.ids.lengths.clone(),
        width: request.max_len,
        soft: samples.soft,
        sources: ROption::RNone,
    };
    let batch = real.concat(&fake).expect("real and generated rows");
    let logits = d
        .relaxed_logits(&batch, Some(dropout_seed))
        .expect("relaxed_logits");
    (loss(&logits).0, samples.ids.ids.into_vec(), batch)
}

/// Panics unless the generator's weight gradient that the chain gives —
/// `loss`'s gradient per logit, through `d.relaxed_input_gradient` (same
/// dropout seed), into the generator's surrogate `Σ gradient · soft(θ)` —
/// matches central finite differences of `loss` in every `stride`-th
/// entry of every generator weight. Perturbations that flip a hard sample
/// are skipped (the loss jumps there); at most a tenth may be. Returns how
/// many entries were checked.
pub fn check_gradient_chain<G: GeneratorModel, D: DiscriminatorModel>(
    g: &KitGenerator<G>,
    d: &KitDiscriminator<D>,
    real: &RelaxedBatch,
    request: &RelaxedSampleRequest,
    dropout_seed: u64,
    stride: usize,
    loss: &LogitLoss,
) -> usize {
    let (_, base_ids, batch) = chain_loss(g, d, real, request, dropout_seed, loss);
    let logits = d
        .relaxed_logits(&batch, Some(dropout_seed))
        .expect("relaxed_logits");
    let upstream = loss(&logits).1;
    let input = d
        .relaxed_input_gradient(&batch, &upstream, Some(dropout_seed))
        .expect("relaxed_input_gradient");
    let generated = &input[real.soft.len()..];
    let surrogate = g
        .relaxed_surrogate(request, generated)
        .expect("the generator's surrogate");
    let grads = surrogate.graph.backward().expect("backward");
    let eps = 1e-3f32;
    let (mut checked, mut skipped) = (0, 0);
    for (name, var) in sorted_vars(g.varmap()) {
        let analytic = match grads.get(var.as_tensor()) {
            Some(grad) => grad.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            None => vec![0.0; var.as_tensor().elem_count()],
        };
        let original = var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let shape = var.as_tensor().shape().clone();
        for k in (0..original.len()).step_by(stride.max(1)) {
            let at = |delta: f32| {
                let mut values = original.clone();
                values[k] += delta;
                var.set(&Tensor::from_vec(values, &shape, &Device::Cpu).unwrap())
                    .unwrap();
                let (value, ids, _) = chain_loss(g, d, real, request, dropout_seed, loss);
                (value, ids)
            };
            let ((plus, plus_ids), (minus, minus_ids)) = (at(eps), at(-eps));
            if plus_ids != base_ids || minus_ids != base_ids {
                skipped += 1;
                continue;
            }
            let numeric = (plus - minus) / (2.0 * f64::from(eps));
            let exact = f64::from(analytic[k]);
            assert!(
                (numeric - exact).abs() <= 2e-3 + 2e-2 * exact.abs(),
                "{name}[{k}]: finite differences of the chain {numeric}, its gradient {exact}"
            );
            checked += 1;
        }
        var.set(&Tensor::from_vec(original, &shape, &Device::Cpu).unwrap())
            .unwrap();
    }
    assert!(
        skipped * 10 <= checked,
        "{skipped} skipped, {checked} checked"
    );
    checked
}
