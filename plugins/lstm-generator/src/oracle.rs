//! Loading the weights of SeqGAN's synthetic-data oracle ("target LSTM").
//!
//! The oracle file stores separate per-gate matrices in the row-vector
//! convention (`x · W`, `W: [E, H]`); this model fuses them as
//! `w_ih = [W_iᵀ; W_fᵀ; W_cᵀ; W_oᵀ]` (gate order i, f, g, o), the mapping
//! documented in the oracle's README.

use std::path::Path;

use agon_sdk::{toolkit::load_tensors, PluginError, PluginResult};
use candle_core::{Device, Tensor};

use crate::weights::LstmWeights;

const GATES: [&str; 4] = ["input_gate", "forget_gate", "cell_candidate", "output_gate"];

/// Reads an oracle-layout safetensors file into fused weights.
pub fn load_oracle_weights(path: &Path, device: &Device) -> PluginResult<[Tensor; 6]> {
    let tensors = load_tensors(path, device)?;
    let get = |name: &str| {
        tensors.get(name).cloned().ok_or_else(|| {
            PluginError::config(format!(
                "{} has no tensor `{name}`: not a SeqGAN-oracle weight file",
                path.display()
            ))
        })
    };
    let fused = |matrix: &str| -> PluginResult<Tensor> {
        let parts = GATES
            .iter()
            .map(|g| Ok(get(&format!("lstm.{g}.{matrix}"))?.t()?))
            .collect::<PluginResult<Vec<_>>>()?;
        Ok(Tensor::cat(&parts, 0)?.contiguous()?)
    };
    let bias = GATES
        .iter()
        .map(|g| get(&format!("lstm.{g}.b")))
        .collect::<PluginResult<Vec<_>>>()?;
    Ok([
        get("embedding")?,
        fused("W")?,
        fused("U")?,
        Tensor::cat(&bias, 0)?,
        get("output.W")?.t()?.contiguous()?,
        get("output.b")?,
    ])
}

/// Copies oracle tensors into `weights`, checking shapes against the config.
pub fn assign(weights: &LstmWeights, oracle: [Tensor; 6], path: &Path) -> PluginResult<()> {
    const NAMES: [&str; 6] = [
        "embedding",
        "lstm W",
        "lstm U",
        "lstm b",
        "output.W",
        "output.b",
    ];
    for ((target, source), name) in weights.tensors().into_iter().zip(oracle).zip(NAMES) {
        if target.dims() != source.dims() {
            return Err(PluginError::config(format!(
                "{}: {name} has shape {:?} but the configured model needs {:?}; set embedding_dim / hidden_dim and the vocabulary to match the file",
                path.display(),
                source.dims(),
                target.dims()
            )));
        }
        let var = candle_core::Var::from_tensor(target)?;
        // `Var::from_tensor` on an existing variable's tensor shares storage.
        var.set(&source.to_dtype(target.dtype())?)?;
    }
    Ok(())
}
