//! Seeded weight initialisation.
//!
//! Build the model with `VarBuilder::from_varmap` as usual (Candle fills the
//! variables from its unseedable RNG), then call [`reinitialize`]: it
//! overwrites every variable, in name order, from a ChaCha stream derived
//! from the seed and the variable's name.

use candle_core::Tensor;
use candle_nn::VarMap;
use rand::Rng;

use super::{
    checkpoint::sorted_vars,
    rng::{derive_seed, normal_vec, rng_from_seed},
};
use crate::error::PluginResult;

/// How one variable is initialised.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SeededInit {
    /// N(0, std²).
    Normal(f32),
    /// U(−bound, bound).
    Uniform(f32),
    /// A constant.
    Const(f32),
}

/// PyTorch's default initialisation of variable `name` (shape `dims`), by
/// the last part of its name:
///
/// * `embedding`: N(0, 1) (`nn.Embedding`), as the toolkit's
///   [`MaskedEmbedding`](super::MaskedEmbedding) names its table. (candle-nn's
///   `embedding(…, vb.pp("embedding"))` names it `embedding.weight`, which
///   takes the `weight` rule below.)
/// * the toolkit GRU's variables (`w_ih`, `w_hh`, `b_ih`, `b_hh`, all
///   `[3H, …]`): U(±1/√H) (`nn.GRU`);
/// * candle-nn's `gru` and `lstm` variables (`weight_ih_l0`,
///   `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, any layer, `_reverse`
///   too): U(±1/√H) (`nn.GRU`, `nn.LSTM`). `weight_hh` is `[G·H, H]`, so
///   it gives H; the others are `[G·H, …]`, and the gate count G is read
///   from the name: 4 when a part of it contains `lstm`, else 3 (a GRU).
///   An LSTM under another name gets a bound √(4/3) too small there:
///   override `init` for it.
/// * `weight` of a linear or convolution layer: U(±1/√fan_in), fan_in
///   being every dimension but the first (`nn.Linear`, `nn.Conv2d`); a
///   one-dimensional `weight`, a normalisation's scale (the toolkit's
///   `LayerNorm`, candle-nn's `layer_norm` and `rms_norm`): 1;
/// * anything else (biases): zero (PyTorch draws a bias like its weight;
///   zero keeps the initial logits centred, which matters little and reads
///   simpler).
pub fn pytorch_like(name: &str, dims: &[usize]) -> SeededInit {
    let last = name.rsplit('.').next().unwrap_or(name);
    match last {
        "embedding" => SeededInit::Normal(1.0),
        "w_ih" | "w_hh" | "b_ih" | "b_hh" => {
            let hidden = (dims[0] / 3).max(1);
            SeededInit::Uniform(1.0 / (hidden as f32).sqrt())
        }
        // A normalisation's scale: `nn.LayerNorm`, `nn.RMSNorm`.
        "weight" if dims.len() == 1 => SeededInit::Const(1.0),
        "weight" => {
            let fan_in: usize = dims[1..].iter().product();
            SeededInit::Uniform(1.0 / (fan_in.max(1) as f32).sqrt())
        }
        _ => match candle_rnn_hidden(name, last, dims) {
            Some(hidden) => SeededInit::Uniform(1.0 / (hidden.max(1) as f32).sqrt()),
            None => SeededInit::Const(0.0),
        },
    }
}

/// The hidden size H of a candle-nn `gru`/`lstm` variable (`last` is
/// `weight_ih_l0`, `bias_hh_l1_reverse`, …), `None` for any other name.
fn candle_rnn_hidden(name: &str, last: &str, dims: &[usize]) -> Option<usize> {
    let (kind, layer) = ["weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l"]
        .iter()
        .find_map(|prefix| Some((*prefix, last.strip_prefix(prefix)?)))?;
    let digits = layer.strip_suffix("_reverse").unwrap_or(layer);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if kind == "weight_hh_l" && dims.len() == 2 {
        return Some(dims[1]);
    }
    let lstm = name
        .split('.')
        .any(|part| part.to_ascii_lowercase().contains("lstm"));
    Some(dims.first()? / if lstm { 4 } else { 3 })
}

/// Overwrites every variable of `varmap` with values drawn according to
/// `init(name, dims)`, deterministically in `seed`.
pub fn reinitialize(
    varmap: &VarMap,
    seed: u64,
    init: impl Fn(&str, &[usize]) -> SeededInit,
) -> PluginResult<()> {
    for (name, var) in sorted_vars(varmap) {
        let dims = var.dims().to_vec();
        let n: usize = dims.iter().product();
        let mut rng = rng_from_seed(derive_seed(seed, &name));
        let values = match init(&name, &dims) {
            SeededInit::Normal(std) => normal_vec(&mut rng, n, std),
            SeededInit::Uniform(bound) => {
                (0..n).map(|_| rng.random_range(-bound..=bound)).collect()
            }
            SeededInit::Const(value) => vec![value; n],
        };
        let tensor =
            Tensor::from_vec(values, dims.as_slice(), var.device())?.to_dtype(var.dtype())?;
        var.set(&tensor)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::Init;

    fn model(seed: u64) -> Vec<f32> {
        let varmap = VarMap::new();
        varmap
            .get((4, 3), "a", Init::Const(0.0), DType::F32, &Device::Cpu)
            .unwrap();
        varmap
            .get(3, "b", Init::Const(9.0), DType::F32, &Device::Cpu)
            .unwrap();
        reinitialize(&varmap, seed, |name, _| {
            if name == "b" {
                SeededInit::Const(0.0)
            } else {
                SeededInit::Normal(0.1)
            }
        })
        .unwrap();
        sorted_vars(&varmap)
            .into_iter()
            .flat_map(|(_, v)| {
                v.as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn candle_nn_recurrent_variables_get_pytorchs_bound() {
        let bound = |h: usize| SeededInit::Uniform(1.0 / (h as f32).sqrt());
        // candle-nn's `gru(8, 16, …)` under `gru` and `lstm(8, 16, …)`
        // under `encoder_lstm`, each variable of each.
        for (name, dims) in [
            ("gru.weight_ih_l0", vec![48, 8]),
            ("gru.weight_hh_l0", vec![48, 16]),
            ("gru.bias_ih_l0", vec![48]),
            ("gru.bias_hh_l0_reverse", vec![48]),
            ("encoder_lstm.weight_ih_l1", vec![64, 8]),
            ("encoder_lstm.weight_hh_l1", vec![64, 16]),
            ("encoder_lstm.bias_hh_l1", vec![64]),
            ("rnn.weight_hh_l0", vec![64, 16]),
        ] {
            assert_eq!(pytorch_like(name, &dims), bound(16), "{name}");
        }
        // Not a recurrent variable: the other rules.
        assert_eq!(
            pytorch_like("gru.bias_ih_lx", &[48]),
            SeededInit::Const(0.0)
        );
        assert_eq!(pytorch_like("out.bias", &[48]), SeededInit::Const(0.0));
        assert_eq!(pytorch_like("embedding.weight", &[10, 4]), bound(4));
        assert_eq!(pytorch_like("embedding", &[10, 4]), SeededInit::Normal(1.0));
        assert_eq!(
            pytorch_like("layer_norm.weight", &[16]),
            SeededInit::Const(1.0)
        );
        assert_eq!(
            pytorch_like("layer_norm.bias", &[16]),
            SeededInit::Const(0.0)
        );
    }

    #[test]
    fn same_seed_same_weights_other_seed_other_weights() {
        let a = model(1);
        assert_eq!(a, model(1));
        assert_ne!(a, model(2));
        assert_eq!(&a[12..], &[0.0, 0.0, 0.0]);
        assert!(a[..12].iter().all(|x| x.abs() < 0.6) && a[..12].iter().any(|&x| x != 0.0));
    }
}
