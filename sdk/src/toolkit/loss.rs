//! Losses that stay finite where the textbook formula does not.

use candle_core::{Result, Tensor};

/// Mean binary cross-entropy of `logits` against 0/1 `labels`, in the
/// numerically stable form `max(x, 0) − x·y + log(1 + e^{−|x|})`.
///
/// Candle's `binary_cross_entropy_with_logit` computes
/// `y·log σ(x) + (1 − y)·log(1 − σ(x))`: once a confident discriminator's
/// logit passes about 17, `σ(x)` rounds to 1 in f32 and the loss (and its
/// gradient) becomes `0 · −∞ = NaN`, which ends the run.
pub fn bce_with_logits(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let softplus_of_negative_abs = (logits.abs()?.neg()?.exp()? + 1.0)?.log()?;
    ((logits.relu()? - (logits * labels)?)? + softplus_of_negative_abs)?.mean_all()
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;

    #[test]
    fn equals_the_textbook_loss_and_stays_finite_when_confident() {
        let device = Device::Cpu;
        let labels = Tensor::new(&[1.0f32, 0.0, 1.0, 0.0], &device).unwrap();
        let moderate = Tensor::new(&[2.0f32, -1.5, -0.3, 0.7], &device).unwrap();
        let ours = bce_with_logits(&moderate, &labels)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let textbook = candle_nn::loss::binary_cross_entropy_with_logit(&moderate, &labels)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((ours - textbook).abs() < 1e-6, "{ours} vs {textbook}");
        // Right with great confidence (loss ≈ 0), and wrong (loss ≈ |x|).
        let confident = Var::new(&[40.0f32, -100.0, -30.0, 25.0], &device).unwrap();
        let loss = bce_with_logits(confident.as_tensor(), &labels).unwrap();
        let value = loss.to_scalar::<f32>().unwrap();
        assert!((value - 55.0 / 4.0).abs() < 1e-4, "{value}");
        let textbook =
            candle_nn::loss::binary_cross_entropy_with_logit(confident.as_tensor(), &labels)
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
        assert!(!textbook.is_finite(), "the case Candle's formula fails");
        let grads = loss.backward().unwrap();
        let grad = grads.get(&confident).unwrap().to_vec1::<f32>().unwrap();
        assert!(grad.iter().all(|g| g.is_finite()), "{grad:?}");
        // d/dx = (σ(x) − y) / n: ≈ 0 when right, ≈ ∓1/4 when wrong.
        assert!(
            grad[0].abs() < 1e-6 && (grad[2] + 0.25).abs() < 1e-6,
            "{grad:?}"
        );
    }
}
