//! Helpers of the toolkit's own tests.

use candle_core::{backprop::GradStore, Device, Tensor};

/// The largest absolute elementwise difference of two tensors.
pub fn max_difference(a: &Tensor, b: &Tensor) -> f32 {
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

/// The gradients of `Σ weights ⊙ y`.
pub fn weighted_sum_grads(y: &Tensor, weights: &Tensor) -> GradStore {
    (y * weights)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap()
}

/// A tensor's values as bits, for comparisons to the last bit.
pub fn bits(t: &Tensor) -> Vec<u32> {
    let values = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    values.iter().map(|x| x.to_bits()).collect()
}

/// A `[rows, steps, width]` tensor of deterministic values in about ±1.3.
pub fn spread_values(rows: usize, steps: usize, width: usize) -> Tensor {
    let values: Vec<f32> = (0..rows * steps * width)
        .map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * 1.3)
        .collect();
    Tensor::from_vec(values, (rows, steps, width), &Device::Cpu).unwrap()
}

/// Asserts that `run` gives the same result in a pool of two threads and
/// in a pool of one.
pub fn assert_thread_count_independent<T: PartialEq + std::fmt::Debug + Send>(
    run: impl Fn() -> T + Sync,
) {
    let pool = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    };
    assert_eq!(pool(2).install(&run), pool(1).install(&run));
}
