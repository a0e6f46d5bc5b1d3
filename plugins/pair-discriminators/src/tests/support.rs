//! Helpers shared by this crate's tests.

use agon_sdk::toolkit::{reinitialize, SeededInit};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

/// An empty variable map and a CPU builder over it.
pub fn vars() -> (VarMap, VarBuilder<'static>) {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    (varmap, vb)
}

/// Every variable drawn from N(0, 1), so ReLUs and maxima are exercised.
pub fn randomize(varmap: &VarMap) {
    reinitialize(varmap, 3, |_, _| SeededInit::Normal(1.0)).unwrap();
}

/// Largest absolute elementwise difference.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}
