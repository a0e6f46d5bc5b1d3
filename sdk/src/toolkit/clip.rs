//! Gradient clipping by global norm.

use agon_kernels::sum_of_squares::chunk_sums_of_squares;
use candle_core::{backprop::GradStore, Device, Storage, Tensor, Var};
use rayon::prelude::*;

use crate::error::{PluginError, PluginResult};

/// Scales the gradients of `vars` in `grads` so that their global L2 norm is
/// at most `max_norm`; returns the norm before clipping. A non-finite norm is
/// a [`crate::ErrorKind::Numerical`] error (the step must not be applied).
pub fn clip_grad_norm(grads: &mut GradStore, vars: &[Var], max_norm: f32) -> PluginResult<f32> {
    let mut squares = 0f64;
    let mut any = false;
    for var in vars {
        if let Some(g) = grads.get(var.as_tensor()) {
            squares += sum_of_squares(g)?;
            any = true;
        }
    }
    if !any {
        return Ok(0.0);
    }
    let norm = squares.sqrt() as f32;
    if !norm.is_finite() {
        return Err(PluginError::numerical(format!(
            "gradient norm is {norm}; the step was not applied"
        )));
    }
    if max_norm > 0.0 && norm > max_norm {
        let scale = f64::from(max_norm / norm);
        for var in vars {
            if let Some(g) = grads.remove(var.as_tensor()) {
                grads.insert(var.as_tensor(), g.affine(scale, 0.0)?);
            }
        }
    }
    Ok(norm)
}

/// `Σ x²` of a tensor, accumulated in `f64`. On the CPU one pass over the
/// values in fixed chunks, each summed left to right, then the chunks' sums
/// in order (the same sum whatever the thread count), without the `[N]`
/// temporary that `sqr()` allocates; elsewhere Candle's ops.
fn sum_of_squares(t: &Tensor) -> PluginResult<f64> {
    const CHUNK: usize = 1 << 14;
    // Chunks per parallel task, summed side by side by the kernel (a tensor
    // of fewer than 8 · 2¹⁴ values is one task; measured with 2 threads).
    const CHUNKS_PER_TASK: usize = 8;
    if matches!(t.device(), Device::Cpu) && t.dtype() == candle_core::DType::F32 {
        let t = t.contiguous()?;
        let (storage, layout) = t.storage_and_layout();
        if let (Storage::Cpu(cpu), Some((start, end))) = (&*storage, layout.contiguous_offsets()) {
            let values = &cpu.as_slice::<f32>()?[start..end];
            let partial: Vec<Vec<f64>> = values
                .par_chunks(CHUNK * CHUNKS_PER_TASK)
                .map(|task| chunk_sums_of_squares(task, CHUNK))
                .collect();
            return Ok(partial.iter().flatten().sum());
        }
    }
    Ok(f64::from(t.sqr()?.sum_all()?.to_scalar::<f32>()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn sum_of_squares_has_the_bits_of_summing_each_chunk_in_turn() {
        // 13 full chunks of 2¹⁴ and a short one: side by side in the kernel,
        // in two parallel tasks.
        let values: Vec<f32> = (0..13 * (1 << 14) + 1_001)
            .map(|i| ((i as f32) * 0.377).sin() * 10f32.powi(i % 11 - 5))
            .collect();
        let want: f64 = values
            .chunks(1 << 14)
            .map(|chunk| {
                chunk
                    .iter()
                    .map(|&x| f64::from(x) * f64::from(x))
                    .sum::<f64>()
            })
            .collect::<Vec<_>>()
            .iter()
            .sum();
        let tensor = Tensor::from_slice(&values, values.len(), &Device::Cpu).unwrap();
        assert_eq!(sum_of_squares(&tensor).unwrap().to_bits(), want.to_bits());
    }

    #[test]
    fn clips_to_max_norm_and_reports_original_norm() {
        let var = Var::new(&[3.0f32, 4.0], &Device::Cpu).unwrap();
        // loss = ½‖x‖², so the gradient is x itself: [3, 4], norm 5.
        let loss = var
            .as_tensor()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .affine(0.5, 0.0)
            .unwrap();
        let mut grads = loss.backward().unwrap();
        let norm = clip_grad_norm(&mut grads, std::slice::from_ref(&var), 1.0).unwrap();
        assert!((norm - 5.0).abs() < 1e-5);
        let clipped = grads
            .get(var.as_tensor())
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!((clipped[0] - 0.6).abs() < 1e-5 && (clipped[1] - 0.8).abs() < 1e-5);
    }
}
