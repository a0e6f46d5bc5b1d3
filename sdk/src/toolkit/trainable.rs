//! A model's variables together with their optimiser: the step, save and
//! load logic every trainable component shares.

use std::{collections::HashMap, path::Path};

use candle_core::Tensor;
use candle_nn::VarMap;

use super::{
    adam::{Adam, AdamConfig},
    checkpoint::{load_tensors, restore_vars, save_tensors, sorted_vars},
    clip::clip_grad_norm,
};
use crate::error::{PluginError, PluginResult};

/// Variables (`VarMap`), Adam over them, and a gradient clip.
pub struct Trainable {
    varmap: VarMap,
    optimizer: Adam,
    grad_clip: f32,
}

impl Trainable {
    /// Wraps a fully built (and initialised) `varmap`.
    pub fn new(varmap: VarMap, optimizer: AdamConfig, grad_clip: f32) -> PluginResult<Self> {
        let optimizer = Adam::new(sorted_vars(&varmap), optimizer)?;
        Ok(Trainable {
            varmap,
            optimizer,
            grad_clip,
        })
    }

    /// The variables.
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// Back-propagates `loss`, clips and applies one Adam step; returns the
    /// gradient norm. A non-finite loss or gradient leaves the weights as
    /// they were and is a [`crate::ErrorKind::Numerical`] error.
    pub fn minimise(&mut self, loss: &Tensor, what: &str) -> PluginResult<f32> {
        let value = loss.to_scalar::<f32>()?;
        if !value.is_finite() {
            return Err(PluginError::numerical(format!(
                "{what} loss is {value}; the step was not applied"
            )));
        }
        let mut grads = loss.backward()?;
        self.step(&mut grads)
    }

    /// [`Trainable::minimise`] with gradients computed by hand:
    /// `(variable, gradient)` pairs for a loss of value `loss`.
    pub fn minimise_with_gradients(
        &mut self,
        loss: f32,
        gradients: Vec<(Tensor, Tensor)>,
        what: &str,
    ) -> PluginResult<f32> {
        if !loss.is_finite() {
            return Err(PluginError::numerical(format!(
                "{what} loss is {loss}; the step was not applied"
            )));
        }
        // Candle has no public constructor for a gradient store; the
        // backward pass of a constant gives an empty one (plus the
        // constant's own entry, which no variable looks up).
        let mut grads =
            Tensor::zeros((), candle_core::DType::F32, &candle_core::Device::Cpu)?.backward()?;
        for (variable, gradient) in gradients {
            grads.insert(&variable, gradient);
        }
        self.step(&mut grads)
    }

    /// Clips, then applies one optimiser step; returns the norm before clipping.
    fn step(&mut self, grads: &mut candle_core::backprop::GradStore) -> PluginResult<f32> {
        let norm = clip_grad_norm(grads, &self.optimizer.vars(), self.grad_clip)?;
        self.optimizer.step(grads)?;
        Ok(norm)
    }

    /// Number of scalar parameters.
    pub fn parameter_count(&self) -> u64 {
        sorted_vars(&self.varmap)
            .iter()
            .map(|(_, v)| v.elem_count() as u64)
            .sum()
    }

    /// Weights (`model.*`) and optimiser state (`adam.*`), plus `extra`, as
    /// one safetensors file.
    pub fn save(&self, file: &Path, extra: HashMap<String, Tensor>) -> PluginResult<()> {
        let mut tensors = self.optimizer.state("adam.")?;
        for (name, var) in sorted_vars(&self.varmap) {
            tensors.insert(format!("model.{name}"), var.as_tensor().clone());
        }
        tensors.extend(extra);
        save_tensors(file, &tensors)
    }

    /// Restores what [`Trainable::save`] wrote; returns all tensors of the
    /// file so the caller can read its `extra` entries.
    pub fn load(&mut self, file: &Path) -> PluginResult<HashMap<String, Tensor>> {
        let device = sorted_vars(&self.varmap)
            .first()
            .map(|(_, v)| v.device().clone())
            .unwrap_or(candle_core::Device::Cpu);
        let tensors = load_tensors(file, &device)?;
        restore_vars(&self.varmap, &tensors, "model.", file)?;
        self.optimizer
            .load_state(&tensors, "adam.")
            .map_err(|e| PluginError::io(format!("{}: {}", file.display(), e.message())))?;
        Ok(tensors)
    }
}
