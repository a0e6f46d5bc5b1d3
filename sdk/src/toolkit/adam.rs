//! Adam (Kingma & Ba 2015) with state that can be saved and restored.
//!
//! Candle's `AdamW` keeps its moments private, so a resumed run would restart
//! them from zero and diverge from the uninterrupted one. This Adam exposes
//! its first and second moments and step count as named tensors.

use std::{cell::RefCell, collections::HashMap};

use candle_core::{
    backprop::GradStore, CpuStorage, DType, Device, InplaceOp2, Layout, Result, Tensor, Var,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{PluginError, PluginResult};
use agon_kernels::adam_update::{adam_update_kernel, AdamCoefficients};

/// The docs of an `optimizer:` [`AdamConfig`] block's keys for
/// `ComponentInfo::documented`, but for `optimizer.lr`, whose default each
/// component states itself: `&[MY_DOCS, ADAM_CONFIG_DOCS].concat()`.
pub const ADAM_CONFIG_DOCS: &[(&str, &str)] = &[
    ("optimizer", "Adam, the optimiser of every training step."),
    (
        "optimizer.beta1",
        "Adam's decay rate for its running mean of gradients, between 0 and 1 (0.9 is usual).",
    ),
    (
        "optimizer.beta2",
        "Adam's decay rate for its running mean of squared gradients, between 0 and 1 (0.999 is usual).",
    ),
    (
        "optimizer.eps",
        "Small constant added to the denominator of every Adam update so it never divides by zero.",
    ),
    (
        "optimizer.weight_decay",
        "L2 penalty: this times each weight is added to its gradient before the Adam update; 0 disables it.",
    ),
];

/// The docs of a generator's `adversarial_optimizer:` block (the Adam of its
/// policy-gradient steps, with moments of its own), but for
/// `adversarial_optimizer.lr`, whose default each component states itself.
pub const ADVERSARIAL_ADAM_CONFIG_DOCS: &[(&str, &str)] = &[
    (
        "adversarial_optimizer",
        "Adam of the adversarial (policy-gradient) steps. It keeps moments of its own, fresh when the adversarial phase starts, as SeqGAN's code does; sharing MLE's moments would scale every adversarial update down by the size of MLE's gradients.",
    ),
    (
        "adversarial_optimizer.beta1",
        "Adam's decay rate for its running mean of adversarial gradients, between 0 and 1 (0.9 is usual).",
    ),
    (
        "adversarial_optimizer.beta2",
        "Adam's decay rate for its running mean of squared adversarial gradients, between 0 and 1 (0.999 is usual).",
    ),
    (
        "adversarial_optimizer.eps",
        "Small constant added to the denominator of every adversarial Adam update so it never divides by zero.",
    ),
    (
        "adversarial_optimizer.weight_decay",
        "L2 penalty of adversarial steps: this times each weight is added to its gradient; 0 disables it.",
    ),
];

/// Adam hyper-parameters (the defaults are Kingma & Ba's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Denominator epsilon.
    pub eps: f64,
    /// L2 penalty added to the gradient (`g + wd·θ`), as TF's
    /// `l2_reg_lambda` terms are.
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// Adam over a fixed, named list of variables.
pub struct Adam {
    config: AdamConfig,
    vars: Vec<(String, Var)>,
    moments: Vec<Moments>,
    step: u64,
}

/// One variable's first and second moments: plain vectors for `f32`
/// variables on the CPU, updated in place with the variable in one pass;
/// tensors on other devices.
enum Moments {
    Host { first: Vec<f32>, second: Vec<f32> },
    Device { first: Tensor, second: Tensor },
}

impl Moments {
    fn zeros(var: &Var) -> PluginResult<Self> {
        Ok(if is_host_f32(var) {
            Moments::Host {
                first: vec![0.0; var.elem_count()],
                second: vec![0.0; var.elem_count()],
            }
        } else {
            Moments::Device {
                first: var.zeros_like()?,
                second: var.zeros_like()?,
            }
        })
    }

    /// The moments as tensors of `var`'s shape, for saving.
    fn tensors(&self, var: &Var) -> PluginResult<(Tensor, Tensor)> {
        Ok(match self {
            Moments::Host { first, second } => (
                Tensor::from_slice(first, var.shape(), var.device())?,
                Tensor::from_slice(second, var.shape(), var.device())?,
            ),
            Moments::Device { first, second } => (first.clone(), second.clone()),
        })
    }

    /// Moments restored from tensors already checked to have `var`'s shape.
    fn from_tensors(var: &Var, first: &Tensor, second: &Tensor) -> PluginResult<Self> {
        let on_var = |t: &Tensor| -> PluginResult<Tensor> {
            Ok(t.to_dtype(var.dtype())?.to_device(var.device())?)
        };
        Ok(if is_host_f32(var) {
            Moments::Host {
                first: on_var(first)?.flatten_all()?.to_vec1::<f32>()?,
                second: on_var(second)?.flatten_all()?.to_vec1::<f32>()?,
            }
        } else {
            Moments::Device {
                first: on_var(first)?,
                second: on_var(second)?,
            }
        })
    }
}

fn is_host_f32(var: &Var) -> bool {
    matches!(var.device(), Device::Cpu) && var.dtype() == DType::F32
}

impl Adam {
    /// An optimiser for `vars` (name, variable), e.g. from
    /// [`super::sorted_vars`].
    pub fn new(vars: Vec<(String, Var)>, config: AdamConfig) -> PluginResult<Self> {
        let moments = vars
            .iter()
            .map(|(_, var)| Moments::zeros(var))
            .collect::<PluginResult<Vec<_>>>()?;
        Ok(Adam {
            config,
            vars,
            moments,
            step: 0,
        })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    /// The variables, in update order.
    pub fn vars(&self) -> Vec<Var> {
        self.vars.iter().map(|(_, v)| v.clone()).collect()
    }

    /// Steps taken so far.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Applies one update from `grads`; variables without a gradient keep
    /// their value and moments.
    pub fn step(&mut self, grads: &GradStore) -> PluginResult<()> {
        self.step += 1;
        let c = &self.config;
        let t = self.step as i32;
        let lr_t = c.lr * (1.0 - c.beta2.powi(t)).sqrt() / (1.0 - c.beta1.powi(t));
        for (i, (_, var)) in self.vars.iter().enumerate() {
            let Some(grad) = grads.get(var.as_tensor()) else {
                continue;
            };
            // Gradients may carry autograd history (they are computed from
            // variables); detached, the moments do not chain one step's graph
            // to the next, which leaked hundreds of MB per epoch.
            let grad = grad.detach();
            match &mut self.moments[i] {
                Moments::Host { first, second } => {
                    var.as_tensor().inplace_op2(
                        &grad.contiguous()?,
                        &HostUpdate {
                            config: c,
                            lr_t,
                            moments: RefCell::new((first, second)),
                        },
                    )?;
                }
                Moments::Device { first, second } => {
                    let grad = if c.weight_decay > 0.0 {
                        (grad + var.as_tensor().detach().affine(c.weight_decay, 0.0)?)?
                    } else {
                        grad
                    };
                    let m = ((&*first * c.beta1)? + (&grad * (1.0 - c.beta1))?)?;
                    let v = ((&*second * c.beta2)? + (grad.sqr()? * (1.0 - c.beta2))?)?;
                    let update = (&m / (v.sqrt()? + c.eps)?)?;
                    var.set(&(var.as_tensor().detach() - (update * lr_t)?)?)?;
                    *first = m;
                    *second = v;
                }
            }
        }
        Ok(())
    }

    /// The state as named tensors (`{prefix}m.{var}`, `{prefix}v.{var}`,
    /// `{prefix}step`), for [`super::save_tensors`].
    pub fn state(&self, prefix: &str) -> PluginResult<HashMap<String, Tensor>> {
        let mut state = HashMap::new();
        for ((name, var), moments) in self.vars.iter().zip(&self.moments) {
            let (first, second) = moments.tensors(var)?;
            state.insert(format!("{prefix}m.{name}"), first);
            state.insert(format!("{prefix}v.{name}"), second);
        }
        let device = self
            .vars
            .first()
            .map(|(_, v)| v.device().clone())
            .unwrap_or(candle_core::Device::Cpu);
        state.insert(
            format!("{prefix}step"),
            Tensor::new(&[self.step as i64], &device)?,
        );
        Ok(state)
    }

    /// Restores what [`Adam::state`] produced.
    pub fn load_state(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        prefix: &str,
    ) -> PluginResult<()> {
        let missing = |key: &str| {
            PluginError::io(format!(
                "optimiser state has no tensor `{key}`: the checkpoint belongs to a different model"
            ))
        };
        let step_key = format!("{prefix}step");
        let step = tensors.get(&step_key).ok_or_else(|| missing(&step_key))?;
        let step = step.to_dtype(DType::I64)?.to_vec1::<i64>()?;
        let step = *step.first().ok_or_else(|| missing(&step_key))?;
        let mut restored = Vec::with_capacity(self.vars.len());
        for (name, var) in &self.vars {
            let mut pair = Vec::with_capacity(2);
            for kind in ["m", "v"] {
                let key = format!("{prefix}{kind}.{name}");
                let tensor = tensors.get(&key).ok_or_else(|| missing(&key))?;
                if tensor.dims() != var.dims() {
                    return Err(PluginError::io(format!(
                        "optimiser tensor `{key}` has shape {:?}, expected {:?}",
                        tensor.dims(),
                        var.dims()
                    )));
                }
                pair.push(tensor);
            }
            restored.push(Moments::from_tensors(var, pair[0], pair[1])?);
        }
        self.moments = restored;
        self.step = step.max(0) as u64;
        Ok(())
    }
}

/// One Adam update of an `f32` CPU variable in place, in a single pass over
/// its elements, gradient and moments (in parallel chunks, each through
/// `agon_kernels::adam_update`, as wide as the CPU's vectors). The tensor
/// form makes ~15 passes over memory, and copying the variable and its
/// moments out and back in each step still took a quarter of a
/// discriminator step; this touches each element once.
struct HostUpdate<'a> {
    config: &'a AdamConfig,
    lr_t: f64,
    moments: RefCell<(&'a mut Vec<f32>, &'a mut Vec<f32>)>,
}

impl InplaceOp2 for HostUpdate<'_> {
    fn name(&self) -> &'static str {
        "adam-update"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        let (Some((t0, t1)), Some((g0, g1))) = (l1.contiguous_offsets(), l2.contiguous_offsets())
        else {
            candle_core::bail!("adam-update: variable or gradient is not contiguous");
        };
        let grad = &s2.as_slice::<f32>()?[g0..g1];
        let theta = match s1 {
            CpuStorage::F32(values) => &mut values[t0..t1],
            _ => candle_core::bail!("adam-update: the variable is not f32"),
        };
        let mut moments = self.moments.borrow_mut();
        let (m, v) = &mut *moments;
        if grad.len() != theta.len() || m.len() != theta.len() || v.len() != theta.len() {
            candle_core::bail!("adam-update: variable, gradient and moments differ in size");
        }
        let c = self.config;
        let coefficients = AdamCoefficients {
            beta1: c.beta1 as f32,
            beta2: c.beta2 as f32,
            weight_decay: c.weight_decay as f32,
            eps: c.eps as f32,
            lr: self.lr_t as f32,
        };
        let update = adam_update_kernel();
        const CHUNK: usize = 1 << 14;
        theta
            .par_chunks_mut(CHUNK)
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .zip(grad.par_chunks(CHUNK))
            .for_each(|(((theta, m), v), g)| update(theta, m, v, g, &coefficients));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn quadratic_step(adam: &mut Adam, var: &Var) {
        let loss = var.as_tensor().sqr().unwrap().sum_all().unwrap();
        adam.step(&loss.backward().unwrap()).unwrap();
    }

    #[test]
    fn first_step_moves_each_weight_by_lr_against_the_gradient_sign() {
        let var = Var::new(&[1.0f32, -2.0], &Device::Cpu).unwrap();
        let mut adam = Adam::new(
            vec![("x".into(), var.clone())],
            AdamConfig {
                lr: 0.1,
                ..Default::default()
            },
        )
        .unwrap();
        quadratic_step(&mut adam, &var);
        let x = var.as_tensor().to_vec1::<f32>().unwrap();
        assert!(
            (x[0] - 0.9).abs() < 1e-5 && (x[1] + 1.9).abs() < 1e-5,
            "{x:?}"
        );
    }

    #[test]
    fn three_steps_with_weight_decay_match_the_textbook_update() {
        let start = [0.5f64, -1.5, 3.0];
        let var = Var::new(&start.map(|x| x as f32), &Device::Cpu).unwrap();
        let config = AdamConfig {
            lr: 0.05,
            weight_decay: 0.1,
            ..Default::default()
        };
        let mut adam = Adam::new(vec![("x".into(), var.clone())], config.clone()).unwrap();
        let (mut theta, mut m, mut v) = (start, [0.0f64; 3], [0.0f64; 3]);
        for t in 1..=3 {
            quadratic_step(&mut adam, &var);
            for k in 0..3 {
                let g = 2.0 * theta[k] + config.weight_decay * theta[k];
                m[k] = config.beta1 * m[k] + (1.0 - config.beta1) * g;
                v[k] = config.beta2 * v[k] + (1.0 - config.beta2) * g * g;
                let m_hat = m[k] / (1.0 - config.beta1.powi(t));
                let v_hat = v[k] / (1.0 - config.beta2.powi(t));
                theta[k] -= config.lr * m_hat / (v_hat.sqrt() + config.eps);
            }
        }
        let got = var.as_tensor().to_vec1::<f32>().unwrap();
        for k in 0..3 {
            assert!(
                (f64::from(got[k]) - theta[k]).abs() < 1e-5,
                "{got:?} vs {theta:?}"
            );
        }
    }

    #[test]
    fn moments_carry_no_autograd_history() {
        let var = Var::new(&[1.0f32, -2.0], &Device::Cpu).unwrap();
        let mut adam = Adam::new(vec![("x".into(), var.clone())], AdamConfig::default()).unwrap();
        for _ in 0..3 {
            quadratic_step(&mut adam, &var);
        }
        // A tensor with history would be tracked (`track_op`); detached ones are not.
        let state = adam.state("").unwrap();
        assert_eq!(state.len(), 3);
        for moment in state.values() {
            assert!(
                !moment.track_op(),
                "a moment keeps the previous steps' graphs alive"
            );
        }
    }

    #[test]
    fn restored_state_continues_exactly_like_the_original() {
        let config = AdamConfig {
            lr: 0.05,
            ..Default::default()
        };
        let a = Var::new(&[1.0f32, -2.0, 0.5], &Device::Cpu).unwrap();
        let mut adam_a = Adam::new(vec![("x".into(), a.clone())], config.clone()).unwrap();
        for _ in 0..3 {
            quadratic_step(&mut adam_a, &a);
        }
        let b = Var::from_tensor(a.as_tensor()).unwrap();
        let mut adam_b = Adam::new(vec![("x".into(), b.clone())], config).unwrap();
        adam_b
            .load_state(&adam_a.state("opt.").unwrap(), "opt.")
            .unwrap();
        quadratic_step(&mut adam_a, &a);
        quadratic_step(&mut adam_b, &b);
        assert_eq!(adam_b.step_count(), 4);
        assert_eq!(
            a.as_tensor().to_vec1::<f32>().unwrap(),
            b.as_tensor().to_vec1::<f32>().unwrap()
        );
    }
}
