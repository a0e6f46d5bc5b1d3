//! A training step's loss and gradients written out by hand (CPU).
//!
//! Candle's backward pass accumulates every gradient into a fresh zero
//! tensor (`zeros_like`, then `add`), the highway's two 1,720 × 1,720
//! weights included, once for each weight and again for its transposed
//! view: at paper dimensions a quarter of a discriminator step went to
//! memset and adds. The network after the convolutions is small and fixed,
//! so its gradients are written out here, with the same forward arithmetic
//! as the autograd path, and a test checks them against autograd.

use agon_sdk::{
    toolkit::{
        block_matmul::{few_rows_matmul_as_candle, Operand},
        dropout_mask, SeededRng,
    },
    PluginResult,
};
use candle_core::{DType, Tensor, D};

use crate::{
    conv_pool::{with_cpu_values, Pooled},
    highway_head,
    model::CnnHighway,
};

/// The loss, the batch accuracy, and `(variable, gradient)` pairs.
pub struct LossAndGradients {
    pub loss: f32,
    pub accuracy: f32,
    pub gradients: Vec<(Tensor, Tensor)>,
}

/// Cross-entropy of `labels` (1 real, 0 generated) for row-major `ids`
/// (`rows × len`) through dropout (`keep`) plus the output layer's L2
/// penalty `λ/2 · (‖W‖² + ‖b‖²)`, and its gradients.
pub fn loss_and_gradients(
    model: &CnnHighway,
    ids: Vec<u32>,
    len: usize,
    labels: &[f32],
    keep: f32,
    l2_lambda: f64,
    rng: &mut SeededRng,
) -> PluginResult<LossAndGradients> {
    let device = model.embedding.device().clone();
    let embedding = model.embedding.detach();
    let (vocab, e) = embedding.dims2()?;
    let plan = model.conv_plan(ids, len)?;
    let rows = plan.rows();
    let (kernels, biases) = model.conv_weight_values()?;
    let pooled = with_cpu_values(&embedding, |emb| plan.forward(emb, e, &kernels, &biases))?;
    let features = plan.features();
    let Pooled {
        values: pooled,
        argmax,
    } = pooled;
    let h = Tensor::from_vec(pooled, (rows, features), &device)?;

    // Forward, as CnnHighway::highway and the output layer compute it: the
    // products with Candle's bits, the element-wise work in highway_head.
    let (w_gate, b_gate) = linear_parts(&model.highway_gate)?;
    let (w_transform, b_transform) = linear_parts(&model.highway_transform)?;
    let (w_out, b_out) = linear_parts(&model.output)?;
    let (gate_product, transform_product) = with_cpu_values(&h, |h| {
        Ok((
            times_weight_transposed(h, rows, &w_gate)?,
            times_weight_transposed(h, rows, &w_transform)?,
        ))
    })?;
    // The mask `dropout` multiplies by (same draws as the autograd path).
    let mask = dropout_mask(rows * features, keep, rng);
    let (gate_bias, transform_bias) = (b_gate.to_vec1::<f32>()?, b_transform.to_vec1::<f32>()?);
    let mut activations = with_cpu_values(&h, |h| {
        Ok(highway_head::forward(
            h,
            &gate_product,
            &transform_product,
            &gate_bias,
            &transform_bias,
            &mask,
        ))
    })?;
    let dropped = Tensor::from_vec(
        std::mem::take(&mut activations.dropped),
        (rows, features),
        &device,
    )?;
    let logits = dropped.matmul(&w_out.t()?)?.broadcast_add(&b_out)?;

    let targets = Tensor::from_vec(
        labels.iter().map(|&l| l as u32).collect::<Vec<_>>(),
        rows,
        &device,
    )?;
    let cross_entropy = candle_nn::loss::cross_entropy(&logits, &targets)?;
    let l2 = ((w_out.sqr()?.sum_all()? + b_out.sqr()?.sum_all()?)? * (l2_lambda / 2.0))?;
    let loss = (cross_entropy + l2)?.to_scalar::<f32>()?;
    let predicted = logits.argmax(D::Minus1)?.to_dtype(DType::F32)?;
    let labels_tensor = Tensor::from_slice(labels, rows, &device)?;
    let accuracy = predicted
        .eq(&labels_tensor)?
        .to_dtype(DType::F32)?
        .mean_all()?
        .to_scalar::<f32>()?;

    // Backward.
    let one_hot: Vec<f32> = labels
        .iter()
        .flat_map(|&l| if l > 0.5 { [0.0, 1.0] } else { [1.0, 0.0] })
        .collect();
    let one_hot = Tensor::from_vec(one_hot, (rows, 2), &device)?;
    let d_logits = ((candle_nn::ops::softmax_last_dim(&logits)? - one_hot)? / rows as f64)?;
    let d_w_out = (d_logits.t()?.matmul(&dropped)? + (&w_out * l2_lambda)?)?;
    let d_b_out = (d_logits.sum(0)? + (&b_out * l2_lambda)?)?;
    let d_output_input = d_logits.matmul(&w_out)?;
    let head = with_cpu_values(&h, |h| {
        with_cpu_values(&d_output_input, |d| {
            Ok(highway_head::backward(&activations, h, &mask, d))
        })
    })?;
    let d_gate_pre = Tensor::from_vec(head.gate_pre, (rows, features), &device)?;
    let d_transform_pre = Tensor::from_vec(head.transform_pre, (rows, features), &device)?;
    // ∂h = carried + ∂gate_pre · W_g + ∂transform_pre · W_t. (Candle reads
    // `W` here in the layout it needs, so these products stay Candle's.)
    let mut d_h = head.carried;
    let via_gate = d_gate_pre.matmul(&w_gate)?;
    let via_transform = d_transform_pre.matmul(&w_transform)?;
    with_cpu_values(&via_gate, |a| {
        with_cpu_values(&via_transform, |b| {
            highway_head::add_two_into(&mut d_h, a, b);
            Ok(())
        })
    })?;
    let d_w_gate = d_gate_pre.t()?.matmul(&h)?;
    let d_b_gate = d_gate_pre.sum(0)?;
    let d_w_transform = d_transform_pre.t()?.matmul(&h)?;
    let d_b_transform = d_transform_pre.sum(0)?;

    let d_conv = with_cpu_values(&embedding, |emb| {
        plan.backward(emb, e, &kernels, &argmax, &d_h)
    })?;
    let mut gradients = vec![
        (
            model.embedding.clone(),
            Tensor::from_vec(d_conv.embedding, (vocab, e), &device)?,
        ),
        (model.highway_gate.weight().clone(), d_w_gate),
        (model.highway_transform.weight().clone(), d_w_transform),
        (model.output.weight().clone(), d_w_out),
    ];
    for (linear, d_bias) in [
        (&model.highway_gate, d_b_gate),
        (&model.highway_transform, d_b_transform),
        (&model.output, d_b_out),
    ] {
        if let Some(bias) = linear.bias() {
            gradients.push((bias.clone(), d_bias));
        }
    }
    // Each bank's slices of the flat kernel and bias gradients, back in the
    // variables' `[n, e, k]` and `[n]` layouts.
    let (mut kernel_at, mut bias_at) = (0, 0);
    for bank in &model.banks {
        let (n, _, k) = bank.weight.dims3()?;
        let d_kernel = Tensor::from_vec(
            taps_last(&d_conv.kernels[kernel_at..kernel_at + n * k * e], n, k, e),
            (n, e, k),
            &device,
        )?;
        gradients.push((bank.weight.clone(), d_kernel));
        gradients.push((
            bank.bias.clone(),
            Tensor::from_slice(&d_conv.biases[bias_at..bias_at + n], n, &device)?,
        ));
        kernel_at += n * k * e;
        bias_at += n;
    }
    Ok(LossAndGradients {
        loss,
        accuracy,
        gradients,
    })
}

/// `[n, k, e]` values (each filter's taps contiguous, as the convolution
/// computes them) in the variable's `[n, e, k]` layout.
fn taps_last(values: &[f32], n: usize, k: usize, e: usize) -> Vec<f32> {
    let mut out = vec![0f32; n * k * e];
    for (filter, taps) in out.chunks_mut(e * k).zip(values.chunks(k * e)) {
        for (j, tap) in taps.chunks(e).enumerate() {
            for (c, &value) in tap.iter().enumerate() {
                filter[c * k + j] = value;
            }
        }
    }
    out
}

/// `h · Wᵀ` for `rows` rows `h` and a highway weight `W` (`[out, in]`), with
/// the bits of Candle's matmul: Candle would first repack all of `W`
/// (`few_rows_matmul_as_candle`).
fn times_weight_transposed(
    h: &[f32],
    rows: usize,
    weight: &Tensor,
) -> candle_core::Result<Vec<f32>> {
    let (out, inputs) = weight.dims2()?;
    with_cpu_values(weight, |w| {
        let mut product = vec![0f32; rows * out];
        let (plain, transposed) = (Operand::Plain, Operand::Transposed);
        few_rows_matmul_as_candle(&mut product, h, plain, w, transposed, (rows, inputs, out));
        Ok(product)
    })
}

/// A linear layer's weight and bias, detached (every layer here has a bias).
fn linear_parts(linear: &candle_nn::Linear) -> candle_core::Result<(Tensor, Tensor)> {
    let bias = linear
        .bias()
        .ok_or_else(|| candle_core::Error::Msg("a linear layer without a bias".into()))?;
    Ok((linear.weight().detach(), bias.detach()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        discriminator::autograd_loss,
        model::test_support::{assert_close_to_scale, random_model},
    };
    use agon_sdk::toolkit::rng_from_seed;
    use candle_core::Device;

    /// The highway's forward products have the bits of the Candle matmul
    /// they replace, at a size where they are computed column-major (more
    /// than 256 values: `block_matmul::blocked_path`).
    #[test]
    fn forward_products_have_candles_bits() {
        let model = random_model(13, 6, &[(1, 5), (2, 4), (5, 3)], 21);
        let (w_gate, _) = linear_parts(&model.highway_gate).unwrap();
        let features = w_gate.dim(0).unwrap();
        let rows = 30;
        assert!(rows * features > 256);
        let h = Tensor::randn(0f32, 1.0, (rows, features), &Device::Cpu).unwrap();
        let want = h.matmul(&w_gate.t().unwrap()).unwrap();
        let want: Vec<u32> = want
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect();
        let h = h.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let got = times_weight_transposed(&h, rows, &w_gate).unwrap();
        let got: Vec<u32> = got.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want);
    }

    /// The filters as plain values are `conv_weights`' tensors' values.
    #[test]
    fn conv_weight_values_are_conv_weights() {
        let model = random_model(13, 6, &[(1, 5), (2, 4), (5, 3)], 21);
        let (kernels, biases) = model.conv_weights().unwrap();
        let (kernel_values, bias_values) = model.conv_weight_values().unwrap();
        assert_eq!(kernel_values, kernels.to_vec1::<f32>().unwrap());
        assert_eq!(bias_values, biases.to_vec1::<f32>().unwrap());
    }

    #[test]
    fn loss_and_gradients_equal_autograds() {
        let model = random_model(13, 6, &[(1, 5), (2, 4), (5, 3)], 21);
        let (rows, len) = (10, 7);
        // No token twice in a row: see conv_pool's tests on ties.
        let ids: Vec<u32> = (0..rows)
            .flat_map(|r| (0..len).map(move |t| ((r * 5 + t * 3) % 13) as u32))
            .collect();
        let labels: Vec<f32> = (0..rows).map(|r| (r % 2) as f32).collect();
        let (keep, l2) = (0.75, 0.2);
        let hand = loss_and_gradients(
            &model,
            ids.clone(),
            len,
            &labels,
            keep,
            l2,
            &mut rng_from_seed(4),
        )
        .unwrap();
        let ids = Tensor::from_vec(ids, (rows, len), &Device::Cpu).unwrap();
        let labels = Tensor::from_vec(labels, rows, &Device::Cpu).unwrap();
        let (loss, _) =
            autograd_loss(&model, &ids, &labels, keep, l2, &mut rng_from_seed(4)).unwrap();
        let want_loss = loss.to_scalar::<f32>().unwrap();
        assert!(
            (hand.loss - want_loss).abs() < 1e-5,
            "{} vs {want_loss}",
            hand.loss
        );
        let reference = loss.backward().unwrap();
        // Every variable of the model has a hand-written gradient.
        assert_eq!(hand.gradients.len(), 1 + 2 * 3 + 2 * model.banks.len());
        for (i, (variable, got)) in hand.gradients.iter().enumerate() {
            let want = reference.get(variable).expect("autograd has the variable");
            assert_close_to_scale(got, want, &format!("gradient {i}"));
        }
    }
}
