//! The output layer's weighted negative log-likelihood as one autograd op,
//! computed by [`output_cross_entropy`](super::output_cross_entropy)'s
//! fused kernel: a model's hidden states go in, the loss comes out, and the
//! `[N, V]` logits, their log-softmax and their gradients never exist as
//! tensors.
//!
//! The kernel computes the loss and every gradient at once, so the op is
//! eager: [`output_layer_nll`] runs it when called and the op's backward
//! pass hands autograd the gradients it already has (scaled by the
//! upstream gradient). The generator kit's MLE and policy-gradient steps
//! use it for models that give their output layer's inputs
//! (`GeneratorModel::teacher_forced_hidden`).

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

use super::{Linear, OutputProjection};

/// `Σ_r c_r · (−log softmax(layer(h_r))[target_r])` for the rows `h_r` of
/// `hidden` (`[N, H]`), with its gradients with respect to `hidden` and
/// the layer's weight and bias: a scalar tensor that backpropagates into
/// all three. `targets` and `coefficients` hold one entry per row; a row
/// whose coefficient is 0 (padding) costs nothing. CPU only, f32, and the
/// layer must have a bias.
pub fn output_layer_nll(
    hidden: &Tensor,
    layer: &Linear,
    targets: &[u32],
    coefficients: &[f32],
) -> Result<Tensor> {
    let bias = layer.bias().ok_or_else(|| {
        candle_core::Error::Msg("output_layer_nll: the output layer has no bias".into())
    })?;
    let weight = layer.weight();
    let (rows, width) = hidden.dims2()?;
    let (vocab, weight_width) = weight.dims2()?;
    if weight_width != width || targets.len() != rows || coefficients.len() != rows {
        candle_core::bail!(
            "output_layer_nll: hidden states [{rows}, {width}], a [{vocab}, {weight_width}] layer, {} targets and {} coefficients",
            targets.len(),
            coefficients.len()
        );
    }
    if !hidden.device().is_cpu() {
        candle_core::bail!("output_layer_nll runs on the CPU; on other devices, compute the logits and `target_log_probs`");
    }
    let projection = OutputProjection::from_layer(weight, bias)?;
    let values = hidden.flatten_all()?.to_vec1::<f32>()?;
    let gradients = projection.weighted_nll_gradients(&values, targets, coefficients)?;
    let (weight_gradient, bias_gradient) = gradients.weight_and_bias((width, vocab));
    let device = hidden.device();
    let op = KnownGradients {
        loss: gradients.loss as f32,
        hidden: Tensor::from_vec(gradients.hidden, (rows, width), device)?,
        weight: Tensor::from_vec(weight_gradient, (vocab, width), device)?,
        bias: Tensor::from_vec(bias_gradient, vocab, device)?,
    };
    // The op reads none of its inputs' values: any layout will do.
    hidden.apply_op3(weight, bias, op)
}

/// A loss already computed with its gradients: the forward pass returns the
/// loss, the backward pass the gradients times the upstream gradient (the
/// tensors themselves, shared, when that is 1).
struct KnownGradients {
    loss: f32,
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor,
}

impl CustomOp3 for KnownGradients {
    fn name(&self) -> &'static str {
        "output-layer-nll"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        Ok((CpuStorage::F32(vec![self.loss]), Shape::from(())))
    }

    fn bwd(
        &self,
        _hidden: &Tensor,
        _weight: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let scale = grad.to_scalar::<f32>()?;
        let scaled = |gradient: &Tensor| {
            if scale == 1.0 {
                Ok(gradient.clone())
            } else {
                gradient.affine(f64::from(scale), 0.0)
            }
        };
        Ok((
            Some(scaled(&self.hidden)?),
            Some(scaled(&self.weight)?),
            Some(scaled(&self.bias)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Module, Tensor, Var};
    use candle_nn::VarBuilder;

    use super::*;
    use crate::toolkit::{linear, normal_vec, rng_from_seed, target_log_probs};

    /// The op's loss and its three gradients equal those of the same loss
    /// as tensor ops (logits, log-softmax, weighted sum) to rounding, with
    /// padding rows and an upstream gradient other than 1.
    #[test]
    fn the_fused_loss_and_gradients_equal_the_tensor_ops() {
        let (rows, width, vocab) = (37, 12, 301);
        let device = Device::Cpu;
        let varmap = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let layer = linear(width, vocab, vb.pp("output")).unwrap();
        let hidden = Var::from_vec(
            normal_vec(&mut rng_from_seed(7), rows * width, 1.0),
            (rows, width),
            &device,
        )
        .unwrap();
        let targets: Vec<u32> = (0..rows).map(|r| (r * 37 % vocab) as u32).collect();
        let coefficients: Vec<f32> = (0..rows)
            .map(|r| {
                if r % 5 == 4 {
                    0.0
                } else {
                    0.5 + r as f32 / 40.0
                }
            })
            .collect();
        let scale = 0.75;
        let fused = (output_layer_nll(hidden.as_tensor(), &layer, &targets, &coefficients)
            .unwrap()
            * scale)
            .unwrap();
        let logits = layer.forward(hidden.as_tensor()).unwrap();
        let log_probs =
            target_log_probs(&logits, &Tensor::new(targets.as_slice(), &device).unwrap()).unwrap();
        let weights = Tensor::new(coefficients.as_slice(), &device).unwrap();
        let reference = ((log_probs * weights).unwrap().sum_all().unwrap() * -scale).unwrap();
        let close = |a: &Tensor, b: &Tensor, what: &str| {
            let a = a.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let b = b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(a.len(), b.len());
            let largest = b.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                assert!(
                    (x - y).abs() <= 1e-5 * largest.max(1.0),
                    "{what}[{i}]: {x} against {y}"
                );
            }
        };
        close(&fused, &reference, "loss");
        let (fused_grads, reference_grads) =
            (fused.backward().unwrap(), reference.backward().unwrap());
        for (tensor, what) in [
            (hidden.as_tensor(), "hidden"),
            (layer.weight(), "weight"),
            (layer.bias().unwrap(), "bias"),
        ] {
            close(
                fused_grads.get(tensor).unwrap(),
                reference_grads.get(tensor).unwrap(),
                what,
            );
        }
    }

    #[test]
    fn mismatched_shapes_are_refused() {
        let device = Device::Cpu;
        let varmap = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let layer = linear(4, 9, vb.pp("output")).unwrap();
        let hidden = Tensor::zeros((3, 5), DType::F32, &device).unwrap();
        let error = output_layer_nll(&hidden, &layer, &[0, 1, 2], &[1.0; 3]).unwrap_err();
        assert!(
            error.to_string().contains("hidden states [3, 5]"),
            "{error}"
        );
    }
}
