//! Gradient clipping by global norm.

use candle_core::{backprop::GradStore, Tensor, Var};

use crate::error::{PluginError, PluginResult};

/// Scales the gradients of `vars` in `grads` so that their global L2 norm is
/// at most `max_norm`; returns the norm before clipping. A non-finite norm is
/// a [`crate::ErrorKind::Numerical`] error (the step must not be applied).
pub fn clip_grad_norm(grads: &mut GradStore, vars: &[Var], max_norm: f32) -> PluginResult<f32> {
    let mut squares = Vec::new();
    for var in vars {
        if let Some(g) = grads.get(var.as_tensor()) {
            squares.push(g.sqr()?.sum_all()?);
        }
    }
    if squares.is_empty() {
        return Ok(0.0);
    }
    let norm = Tensor::stack(&squares, 0)?
        .sum_all()?
        .sqrt()?
        .to_scalar::<f32>()?;
    if !norm.is_finite() {
        return Err(PluginError::numerical(format!(
            "gradient norm is {norm}; the step was not applied"
        )));
    }
    if max_norm > 0.0 && norm > max_norm {
        let scale = f64::from(max_norm / norm);
        for var in vars {
            if let Some(g) = grads.remove(var.as_tensor()) {
                grads.insert(var.as_tensor(), g.affine(scale, 0.0)?);
            }
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn clips_to_max_norm_and_reports_original_norm() {
        let var = Var::new(&[3.0f32, 4.0], &Device::Cpu).unwrap();
        // loss = ½‖x‖², so the gradient is x itself: [3, 4], norm 5.
        let loss = var
            .as_tensor()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .affine(0.5, 0.0)
            .unwrap();
        let mut grads = loss.backward().unwrap();
        let norm = clip_grad_norm(&mut grads, std::slice::from_ref(&var), 1.0).unwrap();
        assert!((norm - 5.0).abs() < 1e-5);
        let clipped = grads
            .get(var.as_tensor())
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!((clipped[0] - 0.6).abs() < 1e-5 && (clipped[1] - 0.8).abs() < 1e-5);
    }
}
