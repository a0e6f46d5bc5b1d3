//! `log softmax(logits)[target]` per row, as one op with its own backward.
//!
//! A generator's MLE and policy-gradient losses need only the log-probability
//! of one token per position, but `log_softmax` + `gather` materialises the
//! whole `[N, V]` log-softmax forward and backward through five tensor ops.
//! On the CPU this op makes two passes per row forward (max, exponentials;
//! the rows in parallel) and one backward, where the gradient of
//! `log p(t)` with respect to the logits is `δ_t − softmax(logits)`, and
//! `log Σ exp` is recovered from the forward result (`lse = logits[t] −
//! log p(t)`) instead of being stored. Other devices use Candle's ops.

use candle_core::{
    CpuStorage, CustomOp2, CustomOp3, DType, Device, Layout, Result, Shape, Tensor, D,
};
use rayon::prelude::*;

use super::softmax_kernels::{exp_shifted, log_sum_exp};

/// `[N]` log-probabilities of `targets: [N]` (u32) under `softmax(logits)`
/// for `logits: [N, V]`; differentiable with respect to `logits`.
pub fn target_log_probs(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let targets = targets.to_dtype(DType::U32)?;
    if matches!(logits.device(), Device::Cpu) && logits.dtype() == DType::F32 {
        logits
            .contiguous()?
            .apply_op2(&targets.contiguous()?, TargetLogProbs)
    } else {
        candle_nn::ops::log_softmax(logits, D::Minus1)?
            .gather(&targets.unsqueeze(1)?, 1)?
            .squeeze(1)
    }
}

/// Rows per parallel task: enough work per task to amortise scheduling.
const ROWS_PER_TASK: usize = 16;

fn contiguous<'a, T: candle_core::WithDType>(
    storage: &'a CpuStorage,
    layout: &Layout,
    what: &str,
) -> Result<&'a [T]> {
    let (start, end) = layout.contiguous_offsets().ok_or_else(|| {
        candle_core::Error::Msg(format!("target_log_probs: {what} is not contiguous"))
    })?;
    Ok(&storage.as_slice::<T>()?[start..end])
}

/// The `[rows, vocab]` logits and `[rows]` targets both ops start from.
fn logits_and_targets<'a>(
    s1: &'a CpuStorage,
    l1: &Layout,
    s2: &'a CpuStorage,
    l2: &Layout,
) -> Result<(usize, usize, &'a [f32], &'a [u32])> {
    let (rows, vocab) = l1.shape().dims2()?;
    let target_rows = l2.shape().dims1()?;
    if target_rows != rows {
        candle_core::bail!("target_log_probs: {rows} rows of logits but {target_rows} targets");
    }
    let logits = contiguous::<f32>(s1, l1, "logits")?;
    let targets = contiguous::<u32>(s2, l2, "targets")?;
    Ok((rows, vocab, logits, targets))
}

fn check_target(target: u32, vocab: usize) -> Result<usize> {
    let t = target as usize;
    if t >= vocab {
        candle_core::bail!("target_log_probs: target {t} outside a vocabulary of {vocab}");
    }
    Ok(t)
}

struct TargetLogProbs;

impl CustomOp2 for TargetLogProbs {
    fn name(&self) -> &'static str {
        "target-log-probs"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (rows, vocab, logits, targets) = logits_and_targets(s1, l1, s2, l2)?;
        let mut out = vec![0f32; rows];
        out.par_chunks_mut(ROWS_PER_TASK)
            .enumerate()
            .try_for_each_init(
                || (Vec::new(), Vec::new()),
                |(scratch, blocks), (task, out)| -> Result<()> {
                    for (i, o) in out.iter_mut().enumerate() {
                        let r = task * ROWS_PER_TASK + i;
                        let row = &logits[r * vocab..(r + 1) * vocab];
                        let t = check_target(targets[r], vocab)?;
                        *o = row[t] - log_sum_exp(row, scratch, blocks);
                    }
                    Ok(())
                },
            )?;
        Ok((CpuStorage::F32(out), Shape::from(rows)))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        log_probs: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let target_logits = logits.gather(&targets.unsqueeze(1)?, 1)?.squeeze(1)?;
        let lse = (target_logits - log_probs)?.detach();
        let lse_and_grad = Tensor::stack(&[lse, grad.detach()], 1)?;
        let grad_logits = logits.detach().contiguous()?.apply_op3_no_bwd(
            &targets.contiguous()?,
            &lse_and_grad.contiguous()?,
            &TargetLogProbsGrad,
        )?;
        Ok((Some(grad_logits), None))
    }
}

/// `grad[n] · (δ_{t_n} − exp(logits[n] − lse[n]))`, from `[N, 2]` rows of
/// `(lse, grad)`.
struct TargetLogProbsGrad;

impl CustomOp3 for TargetLogProbsGrad {
    fn name(&self) -> &'static str {
        "target-log-probs-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (rows, vocab, logits, targets) = logits_and_targets(s1, l1, s2, l2)?;
        let lse_and_grad = contiguous::<f32>(s3, l3, "lse and grad")?;
        if lse_and_grad.len() != rows * 2 {
            candle_core::bail!("target_log_probs backward: expected {rows} × 2 lse/grad values");
        }
        let mut out = vec![0f32; rows * vocab];
        out.par_chunks_mut(vocab * ROWS_PER_TASK)
            .enumerate()
            .try_for_each_init(Vec::new, |blocks, (task, out)| -> Result<()> {
                for (i, out) in out.chunks_mut(vocab).enumerate() {
                    let r = task * ROWS_PER_TASK + i;
                    let (lse, g) = (lse_and_grad[2 * r], lse_and_grad[2 * r + 1]);
                    let row = &logits[r * vocab..(r + 1) * vocab];
                    let t = check_target(targets[r], vocab)?;
                    if !lse.is_finite() || g == 0.0 {
                        out.fill(0.0);
                        continue;
                    }
                    // softmax = exp(logits − lse); lse ≥ every logit up to
                    // rounding, which the kernel's exp tolerates.
                    exp_shifted(row, lse, 1.0, out, blocks);
                    for p in out.iter_mut() {
                        *p *= -g;
                    }
                    out[t] += g;
                }
                Ok(())
            })?;
        Ok((CpuStorage::F32(out), Shape::from((rows, vocab))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    fn reference(logits: &Tensor, targets: &Tensor) -> Tensor {
        candle_nn::ops::log_softmax(logits, D::Minus1)
            .unwrap()
            .gather(&targets.unsqueeze(1).unwrap(), 1)
            .unwrap()
            .squeeze(1)
            .unwrap()
    }

    #[test]
    fn forward_and_gradient_match_log_softmax_and_gather() {
        let device = Device::Cpu;
        let (rows, vocab) = (37, 300);
        let values: Vec<f32> = (0..rows * vocab)
            .map(|i| ((i * 7919 % 1000) as f32 / 100.0 - 5.0) * 1.3)
            .collect();
        let logits = Var::from_vec(values, (rows, vocab), &device).unwrap();
        let targets = Tensor::from_vec(
            (0..rows as u32)
                .map(|r| (r * 31) % vocab as u32)
                .collect::<Vec<_>>(),
            rows,
            &device,
        )
        .unwrap();
        let weights = Tensor::from_vec(
            (0..rows)
                .map(|r| r as f32 / 10.0 - 1.0)
                .collect::<Vec<f32>>(),
            rows,
            &device,
        )
        .unwrap();

        let ours = target_log_probs(logits.as_tensor(), &targets).unwrap();
        let want = reference(logits.as_tensor(), &targets);
        let diff = (&ours - &want).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-5);

        let grads_ours = (ours * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let grads_want = (want * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g_ours = grads_ours.get(logits.as_tensor()).unwrap();
        let g_want = grads_want.get(logits.as_tensor()).unwrap();
        let diff = (g_ours - g_want).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-6);
    }

    #[test]
    fn a_target_outside_the_vocabulary_is_an_error() {
        let logits = Tensor::zeros((2, 4), DType::F32, &Device::Cpu).unwrap();
        let targets = Tensor::new(&[1u32, 4], &Device::Cpu).unwrap();
        let err = target_log_probs(&logits, &targets).unwrap_err();
        assert!(
            err.to_string().contains("outside a vocabulary of 4"),
            "{err}"
        );
    }
}
