//! The generator's weighted negative log-likelihood and its gradients on
//! the CPU, all by hand.
//!
//! MLE and policy-gradient steps both minimise `Σ c · (−log p(target))`
//! over teacher-forced positions. The output layer (and its `[N, V]`
//! softmax) gets its loss and gradients from the SDK's fused kernel
//! ([`OutputProjection::weighted_nll_gradients`]); the embedding and LSTM
//! below it from [`crate::lstm_by_hand`]. No autograd graph is built.

use agon_sdk::toolkit::OutputProjection;
use candle_core::{Result, Tensor};

use crate::{lstm_by_hand::HostLstm, weights::LstmWeights};

/// A loss with every variable's gradient, ready for
/// `Trainable::minimise_with_gradients`.
pub struct HandDifferentiatedLoss {
    pub loss: f32,
    pub gradients: Vec<(Tensor, Tensor)>,
}

/// `Σ_{r,t} c_{r,t} · (−log p(targets_{r,t} | inputs_{r,≤t}))` for
/// teacher-forced `inputs: [B, T]`; `targets` and `coefficients` are `B · T`
/// long, row-major (0 at padding).
pub fn weighted_nll(
    weights: &LstmWeights,
    inputs: &Tensor,
    targets: &[u32],
    coefficients: &[f32],
) -> Result<HandDifferentiatedLoss> {
    let (rows, steps) = inputs.dims2()?;
    let device = inputs.device();
    let lstm = HostLstm::new(weights)?;
    let tape = lstm.forward(&inputs.flatten_all()?.to_vec1::<u32>()?, rows, steps)?;
    let projection = OutputProjection::from_layer(&weights.out_w, &weights.out_b)?;
    let output = projection.weighted_nll_gradients(&tape.hidden, targets, coefficients)?;
    let lstm_grads = lstm.backward(&tape, &output.hidden);

    let shaped = |values: Vec<f32>, like: &Tensor| Tensor::from_vec(values, like.dims(), device);
    // ∂[Wᵀ; b] → ∂W (`[V, H]`) and ∂b (`[V]`).
    let (vocab, hidden_dim) = weights.out_w.dims2()?;
    let (d_out_w, d_out_b) = output.weight_and_bias((hidden_dim, vocab));
    let d_out_w = shaped(d_out_w, &weights.out_w)?;
    let d_out_b = shaped(d_out_b, &weights.out_b)?;
    Ok(HandDifferentiatedLoss {
        loss: output.loss as f32,
        gradients: vec![
            (
                weights.embedding.clone(),
                shaped(lstm_grads.embedding, &weights.embedding)?,
            ),
            (
                weights.w_ih.clone(),
                shaped(lstm_grads.w_ih, &weights.w_ih)?,
            ),
            (
                weights.w_hh.clone(),
                shaped(lstm_grads.w_hh, &weights.w_hh)?,
            ),
            (
                weights.bias.clone(),
                shaped(lstm_grads.bias, &weights.bias)?,
            ),
            (weights.out_w.clone(), d_out_w),
            (weights.out_b.clone(), d_out_b),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::{VarBuilder, VarMap};

    #[test]
    fn loss_and_every_gradient_match_autograd_through_the_tensor_path() {
        let (vocab, rows, steps) = (37, 5, 7);
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let weights = LstmWeights::new(vb, vocab, 4, 6).unwrap();
        agon_sdk::toolkit::reinitialize(&varmap, 3, |_, _| {
            agon_sdk::toolkit::SeededInit::Normal(0.5)
        })
        .unwrap();
        // Repeated input ids: their embedding gradients add up.
        let ids: Vec<u32> = (0..rows * steps).map(|i| (i * 13 % 11) as u32).collect();
        let inputs = Tensor::from_vec(ids.clone(), (rows, steps), &Device::Cpu).unwrap();
        let targets: Vec<u32> = ids.iter().map(|&i| (i * 7 + 1) % vocab as u32).collect();
        let coefficients: Vec<f32> = (0..rows * steps)
            .map(|i| {
                if i % steps >= 5 {
                    0.0
                } else {
                    (i as f32 - 12.0) / 30.0
                }
            })
            .collect();

        let fused = weighted_nll(&weights, &inputs, &targets, &coefficients).unwrap();

        let target_tensor = Tensor::from_vec(targets, (rows, steps), &Device::Cpu).unwrap();
        let c = Tensor::from_vec(coefficients, (rows, steps), &Device::Cpu).unwrap();
        let loss = (weights.target_log_probs(&inputs, &target_tensor).unwrap() * c)
            .unwrap()
            .sum_all()
            .unwrap()
            .neg()
            .unwrap();
        let want = loss.backward().unwrap();
        let loss = loss.to_scalar::<f32>().unwrap();
        assert!(
            (fused.loss - loss).abs() <= 1e-5 * loss.abs().max(1.0),
            "{} vs {loss}",
            fused.loss
        );
        for (name, variable) in ["embedding", "w_ih", "w_hh", "bias", "out_w", "out_b"]
            .into_iter()
            .zip(weights.tensors())
        {
            let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let (_, got) = fused
                .gradients
                .iter()
                .find(|(v, _)| v.id() == variable.id())
                .unwrap_or_else(|| panic!("no gradient for {name}"));
            assert_eq!(got.dims(), variable.dims(), "{name}");
            let (g, w) = (flat(got), flat(want.get(variable).unwrap()));
            let scale = w.iter().fold(0f32, |m, x| m.max(x.abs()));
            assert!(scale > 0.0, "{name} has a gradient");
            for (i, (g, w)) in g.iter().zip(&w).enumerate() {
                assert!((g - w).abs() <= 1e-5 * scale, "{name}[{i}]: {g} vs {w}");
            }
        }
    }
}
