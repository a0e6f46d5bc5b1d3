//! Seeded initialisation by variable name, following PyTorch's defaults.

use agon_sdk::toolkit::SeededInit;

/// The initialisation of variable `name` with shape `dims`:
///
/// * `embedding`: N(0, 1) (`nn.Embedding`);
/// * GRU variables (`w_ih`, `w_hh`, `b_ih`, `b_hh`, all `[3H, …]`):
///   U(±1/√H) (`nn.GRU`);
/// * `*.weight` of a linear or convolution layer: U(±1/√fan_in), fan_in
///   being every dimension but the first (`nn.Linear`, `nn.Conv2d`);
/// * `*.bias`: zero (PyTorch draws it like the weight; zero keeps the
///   initial logits centred, which matters little and reads simpler).
pub fn pytorch_like(name: &str, dims: &[usize]) -> SeededInit {
    let last = name.rsplit('.').next().unwrap_or(name);
    match last {
        "embedding" => SeededInit::Normal(1.0),
        "w_ih" | "w_hh" | "b_ih" | "b_hh" => {
            let hidden = (dims[0] / 3).max(1);
            SeededInit::Uniform(1.0 / (hidden as f32).sqrt())
        }
        "weight" => {
            let fan_in: usize = dims[1..].iter().product();
            SeededInit::Uniform(1.0 / (fan_in.max(1) as f32).sqrt())
        }
        _ => SeededInit::Const(0.0),
    }
}
