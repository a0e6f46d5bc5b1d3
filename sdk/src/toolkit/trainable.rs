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

/// Which optimiser state a step updates: [`OptimizerSlot::MAIN`], or one
/// added with [`Trainable::add_optimizer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptimizerSlot(usize);

impl OptimizerSlot {
    /// The optimiser [`Trainable::new`] creates; the one [`Trainable::minimise`]
    /// and [`Trainable::minimise_with_gradients`] step.
    pub const MAIN: OptimizerSlot = OptimizerSlot(0);
}

/// Variables (`VarMap`), Adam over them, and a gradient clip.
///
/// A model trained on two objectives may keep one Adam state per objective
/// ([`Trainable::add_optimizer`]): SeqGAN's generator, like the paper's code
/// (two `AdamOptimizer`s) and TextGAN-PyTorch (`gen_opt`, `gen_adv_opt`),
/// starts its policy-gradient steps with fresh moments. Sharing MLE's
/// moments divides every policy-gradient update by the running size of MLE
/// gradients, which are orders of magnitude larger than a reward-weighted
/// one, and the adversarial phase barely moves the generator.
pub struct Trainable {
    varmap: VarMap,
    /// `(checkpoint prefix, optimiser)`; the main one first.
    optimizers: Vec<(String, Adam)>,
    grad_clip: f32,
}

impl Trainable {
    /// Wraps a fully built (and initialised) `varmap`.
    pub fn new(varmap: VarMap, optimizer: AdamConfig, grad_clip: f32) -> PluginResult<Self> {
        let optimizer = Adam::new(sorted_vars(&varmap), optimizer)?;
        Ok(Trainable {
            varmap,
            optimizers: vec![("adam.".into(), optimizer)],
            grad_clip,
        })
    }

    /// Adds an optimiser with its own moments over the same variables; its
    /// state is saved under `adam.{name}.`. A checkpoint written before the
    /// optimiser existed loads with its state fresh.
    pub fn add_optimizer(&mut self, name: &str, config: AdamConfig) -> PluginResult<OptimizerSlot> {
        let prefix = format!("adam.{name}.");
        if self.optimizers.iter().any(|(p, _)| *p == prefix) {
            return Err(PluginError::other(format!(
                "an optimiser named `{name}` already exists"
            )));
        }
        let optimizer = Adam::new(sorted_vars(&self.varmap), config)?;
        self.optimizers.push((prefix, optimizer));
        Ok(OptimizerSlot(self.optimizers.len() - 1))
    }

    /// Steps taken by the optimiser in `slot`.
    pub fn step_count(&self, slot: OptimizerSlot) -> u64 {
        self.optimizers[slot.0].1.step_count()
    }

    /// The variables.
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// Back-propagates `loss`, clips and applies one Adam step; returns the
    /// gradient norm. A non-finite loss or gradient leaves the weights as
    /// they were and is a [`crate::ErrorKind::Numerical`] error.
    pub fn minimise(&mut self, loss: &Tensor, what: &str) -> PluginResult<f32> {
        self.minimise_in(OptimizerSlot::MAIN, loss, what)
    }

    /// [`Trainable::minimise`] with the optimiser in `slot`.
    pub fn minimise_in(
        &mut self,
        slot: OptimizerSlot,
        loss: &Tensor,
        what: &str,
    ) -> PluginResult<f32> {
        let value = loss.to_scalar::<f32>()?;
        if !value.is_finite() {
            return Err(PluginError::numerical(format!(
                "{what} loss is {value}; the step was not applied"
            )));
        }
        let mut grads = loss.backward()?;
        self.step(slot, &mut grads)
    }

    /// [`Trainable::minimise`] with gradients computed by hand:
    /// `(variable, gradient)` pairs for a loss of value `loss`.
    pub fn minimise_with_gradients(
        &mut self,
        loss: f32,
        gradients: Vec<(Tensor, Tensor)>,
        what: &str,
    ) -> PluginResult<f32> {
        self.minimise_with_gradients_in(OptimizerSlot::MAIN, loss, gradients, what)
    }

    /// [`Trainable::minimise_with_gradients`] with the optimiser in `slot`.
    pub fn minimise_with_gradients_in(
        &mut self,
        slot: OptimizerSlot,
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
        self.step(slot, &mut grads)
    }

    /// Clips, then applies one step of the optimiser in `slot`; returns the
    /// norm before clipping.
    fn step(
        &mut self,
        slot: OptimizerSlot,
        grads: &mut candle_core::backprop::GradStore,
    ) -> PluginResult<f32> {
        let optimizer = &mut self.optimizers[slot.0].1;
        let norm = clip_grad_norm(grads, &optimizer.vars(), self.grad_clip)?;
        optimizer.step(grads)?;
        Ok(norm)
    }

    /// Number of scalar parameters.
    pub fn parameter_count(&self) -> u64 {
        sorted_vars(&self.varmap)
            .iter()
            .map(|(_, v)| v.elem_count() as u64)
            .sum()
    }

    /// Weights (`model.*`) and optimiser states (`adam.*`, `adam.{name}.*`),
    /// plus `extra`, as one safetensors file.
    pub fn save(&self, file: &Path, extra: HashMap<String, Tensor>) -> PluginResult<()> {
        let mut tensors = HashMap::new();
        for (prefix, optimizer) in &self.optimizers {
            tensors.extend(optimizer.state(prefix)?);
        }
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
        for (i, (prefix, optimizer)) in self.optimizers.iter_mut().enumerate() {
            if i > 0 && !tensors.contains_key(&format!("{prefix}step")) {
                // Written before this optimiser existed: it starts fresh.
                *optimizer = Adam::new(sorted_vars(&self.varmap), optimizer.config().clone())?;
                continue;
            }
            optimizer
                .load_state(&tensors, prefix)
                .map_err(|e| PluginError::io(format!("{}: {}", file.display(), e.message())))?;
        }
        Ok(tensors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::Init;

    fn trainable() -> (Trainable, OptimizerSlot) {
        let varmap = VarMap::new();
        varmap
            .get((2,), "w", Init::Const(1.0), DType::F32, &Device::Cpu)
            .unwrap();
        let mut t = Trainable::new(varmap, AdamConfig::default(), 0.0).unwrap();
        let slot = t
            .add_optimizer("adversarial", AdamConfig::default())
            .unwrap();
        (t, slot)
    }

    fn weights(t: &Trainable) -> Vec<f32> {
        sorted_vars(t.varmap())[0].1.as_tensor().to_vec1().unwrap()
    }

    /// One step on `loss = Σ scale · w²`.
    fn step(t: &mut Trainable, slot: OptimizerSlot, scale: f64) {
        let var = sorted_vars(t.varmap())[0].1.clone();
        let loss = (var.as_tensor().sqr().unwrap().sum_all().unwrap() * scale).unwrap();
        t.minimise_in(slot, &loss, "test").unwrap();
    }

    #[test]
    fn a_second_optimizer_keeps_its_own_moments() {
        let (mut t, adversarial) = trainable();
        for _ in 0..5 {
            step(&mut t, OptimizerSlot::MAIN, 100.0);
        }
        let before = weights(&t);
        // A fresh Adam's first step moves every weight by lr whatever the
        // gradient's size; through MLE's moments a gradient 10⁴ times
        // smaller would barely move them.
        step(&mut t, adversarial, 0.01);
        let moved = before[0] - weights(&t)[0];
        assert!((moved - 1e-3).abs() < 1e-6, "{moved}");
        assert_eq!(t.step_count(OptimizerSlot::MAIN), 5);
        assert_eq!(t.step_count(adversarial), 1);
        assert!(t
            .add_optimizer("adversarial", AdamConfig::default())
            .is_err());
    }

    #[test]
    fn both_states_survive_save_and_load_and_an_older_file_starts_the_second_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let (mut t, adversarial) = trainable();
        step(&mut t, OptimizerSlot::MAIN, 1.0);
        step(&mut t, adversarial, 0.5);
        let file = dir.path().join("both.safetensors");
        t.save(&file, HashMap::new()).unwrap();
        let (mut restored, slot) = trainable();
        restored.load(&file).unwrap();
        for (a, b) in [(&mut t, adversarial), (&mut restored, slot)] {
            step(a, b, 0.5);
            step(a, OptimizerSlot::MAIN, 1.0);
        }
        assert_eq!(weights(&t), weights(&restored));
        assert_eq!(restored.step_count(slot), 2);

        // A file written by a Trainable without the second optimiser.
        let varmap = VarMap::new();
        varmap
            .get((2,), "w", Init::Const(1.0), DType::F32, &Device::Cpu)
            .unwrap();
        let mut single = Trainable::new(varmap, AdamConfig::default(), 0.0).unwrap();
        step(&mut single, OptimizerSlot::MAIN, 1.0);
        let old = dir.path().join("old.safetensors");
        single.save(&old, HashMap::new()).unwrap();
        restored.load(&old).unwrap();
        assert_eq!(restored.step_count(OptimizerSlot::MAIN), 1);
        assert_eq!(restored.step_count(slot), 0);
    }
}
