//! Layer normalisation that backpropagates.
//!
//! `candle_nn::LayerNorm` runs a fused kernel on contiguous inputs, and
//! that kernel has no backward pass in Candle 0.11: gradients stop at it,
//! silently (found by the gradient check of `algorithm: gumbel`, which
//! reaches RelGAN's relational memory through two layer norms). This one
//! is the same computation in differentiable tensor ops, with PyTorch's
//! variable names (`weight`, `bias`).

use candle_core::{Result, Tensor, D};
use candle_nn::VarBuilder;

/// `(x − mean) / √(var + eps) · weight + bias` over the last dimension.
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    /// A layer norm over `size` features (weight 1, bias 0 until the
    /// owner initialises them).
    pub fn new(vb: VarBuilder, size: usize, eps: f64) -> Result<Self> {
        Ok(LayerNorm {
            weight: vb.get_with_hints(size, "weight", candle_nn::Init::Const(1.0))?,
            bias: vb.get_with_hints(size, "bias", candle_nn::Init::Const(0.0))?,
            eps,
        })
    }

    /// Normalises `x` over its last dimension.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let size = x.dim(D::Minus1)? as f64;
        let centred = x.broadcast_sub(&(x.sum_keepdim(D::Minus1)? / size)?)?;
        let variance = (centred.sqr()?.sum_keepdim(D::Minus1)? / size)?;
        centred
            .broadcast_div(&(variance + self.eps)?.sqrt()?)?
            .broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Var};
    use candle_nn::VarMap;

    use super::*;

    #[test]
    fn normalises_like_candle_and_passes_gradients_to_its_input() {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let norm = LayerNorm::new(vb.pp("norm"), 4, 1e-5).unwrap();
        let reference = candle_nn::layer_norm(4, 1e-5, vb.pp("norm")).unwrap();
        let x = Var::new(&[[1f32, 2., 4., 8.], [0.5, -1., 3., 0.]], &Device::Cpu).unwrap();
        let ours = norm.forward(x.as_tensor()).unwrap();
        let theirs = candle_nn::Module::forward(&reference, x.as_tensor()).unwrap();
        let difference = (ours.clone() - theirs)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(difference < 1e-5, "{difference}");
        // Weighting the outputs unevenly makes the input gradient non-zero.
        let weights =
            Tensor::new(&[[1f32, -2., 3., 0.5], [0., 1., -1., 2.]], &Device::Cpu).unwrap();
        let grads = (ours * weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let gradient = grads
            .get(x.as_tensor())
            .expect("a gradient reaches the input");
        let size = gradient
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(size > 0.1, "{size}");
    }
}
