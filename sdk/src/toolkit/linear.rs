//! A linear layer, `x · Wᵀ + b`, whose bias gradient is summed in one
//! pass over the rows.
//!
//! Candle's `broadcast_add` differentiates the bias with a general
//! reduction that divides every index back into coordinates: on the CPU
//! about 3 ns a value, which for a generator's output layer (`[64,
//! 5,000]` logits at every position of every step) made the bias, the
//! cheapest part of the layer, the dearest part of its backward pass. Here
//! the product is Candle's `Linear`'s, at any rank, and the bias is added
//! by [`bias_add`](super::bias_add::bias_add): the same values to the bit.
//! Off the CPU it is Candle's `Linear`.

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::bias_add::bias_add;

/// `x · Wᵀ + b` with `W` `[out, in]` and `b` `[out]`: the variables, names
/// and initialisation of `candle_nn::linear`.
#[derive(Clone, Debug)]
pub struct Linear {
    inner: candle_nn::Linear,
    /// The same weight without the bias: Candle's product at every rank.
    product: candle_nn::Linear,
}

/// A [`Linear`] from `in_dim` to `out_dim` features with a bias, its
/// variables `weight` and `bias` under `vb` (as `candle_nn::linear`).
pub fn linear(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Linear> {
    let inner = candle_nn::linear(in_dim, out_dim, vb)?;
    let product = candle_nn::Linear::new(inner.weight().clone(), None);
    Ok(Linear { inner, product })
}

impl Linear {
    /// `[out, in]`.
    pub fn weight(&self) -> &Tensor {
        self.inner.weight()
    }

    /// `[out]`, if the layer has one.
    pub fn bias(&self) -> Option<&Tensor> {
        self.inner.bias()
    }
}

impl Module for Linear {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        match self.inner.bias() {
            Some(bias) if xs.device().is_cpu() && xs.dtype() == DType::F32 => {
                bias_add(&self.product.forward(xs)?, bias)
            }
            _ => self.inner.forward(xs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolkit::test_tensors::{bits, weighted_sum_grads};
    use candle_core::{Device, Var};
    use candle_nn::VarMap;

    /// Values and both gradients, to the bit, as `candle_nn::Linear` gives
    /// them: rows of a matrix, and rows of a batch of matrices.
    #[test]
    fn the_layer_is_candles_linear_to_the_bit() {
        the_layer_is_candles_linear_to_the_bit_at(&[37]);
        the_layer_is_candles_linear_to_the_bit_at(&[5, 9]);
    }

    fn the_layer_is_candles_linear_to_the_bit_at(leading: &[usize]) {
        let device = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let layer = linear(7, 300, vb.pp("output")).unwrap();
        let reference = candle_nn::Linear::new(layer.weight().clone(), layer.bias().cloned());
        let rows: usize = leading.iter().product();
        let xs: Vec<f32> = (0..rows * 7)
            .map(|i| ((i * 29 % 31) as f32 - 15.0) / 7.0)
            .collect();
        let xs = Var::from_vec(xs, [leading, &[7]].concat(), &device).unwrap();
        let weights: Vec<f32> = (0..rows * 300)
            .map(|i| ((i * 17 % 23) as f32 - 11.0) / 3.0)
            .collect();
        let weights = Tensor::from_vec(weights, [leading, &[300]].concat(), &device).unwrap();
        let (ours, theirs) = (
            layer.forward(xs.as_tensor()).unwrap(),
            reference.forward(xs.as_tensor()).unwrap(),
        );
        assert_eq!(bits(&ours), bits(&theirs));
        let grads = |y: &Tensor| weighted_sum_grads(y, &weights);
        let (ours, theirs) = (grads(&ours), grads(&theirs));
        for var in [xs.as_tensor(), layer.weight(), layer.bias().unwrap()] {
            assert_eq!(
                bits(ours.get(var).unwrap()),
                bits(theirs.get(var).unwrap()),
                "{:?}",
                var.shape()
            );
        }
        assert_eq!(varmap.all_vars().len(), 2);
    }
}
