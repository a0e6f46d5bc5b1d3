//! One variable's entries for a finite-difference check: autograd's
//! gradient of them, their values, and setting one entry off by a step.

use candle_core::{backprop::GradStore, Device, Shape, Tensor, Var};

pub(crate) struct Entries<'a> {
    var: &'a Var,
    /// Autograd's gradient, entry by entry: 0 where the graph does not
    /// reach the variable.
    pub analytic: Vec<f32>,
    /// The values before any step.
    pub original: Vec<f32>,
    shape: Shape,
    device: Device,
}

impl<'a> Entries<'a> {
    pub fn of(var: &'a Var, grads: &GradStore) -> Self {
        let tensor = var.as_tensor();
        let analytic = match grads.get(tensor) {
            Some(grad) => grad.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            None => vec![0.0; tensor.elem_count()],
        };
        Entries {
            var,
            analytic,
            original: tensor.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            shape: tensor.shape().clone(),
            device: tensor.device().clone(),
        }
    }

    /// The variable with entry `k` moved by `delta`, every other entry as
    /// it was.
    pub fn step(&self, k: usize, delta: f32) {
        let mut values = self.original.clone();
        values[k] += delta;
        self.set(values);
    }

    /// The variable as it was.
    pub fn restore(&self) {
        self.set(self.original.clone());
    }

    fn set(&self, values: Vec<f32>) {
        self.var
            .set(&Tensor::from_vec(values, &self.shape, &self.device).unwrap())
            .unwrap();
    }
}
