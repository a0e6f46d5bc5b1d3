//! The check that a kit component's training loss reaches its weights:
//! autograd's gradient of the loss a discriminator's training step or a
//! generator's MLE step minimises, against finite differences of that loss.
//! Needs `candle` too.
//!
//! Autograd is only as good as the ops it runs through. Some of Candle's
//! fast ops are forward-only (`apply_op*_no_bwd`): in candle-nn 0.11,
//! `ops::softmax_last_dim`, `ops::layer_norm` (and so `LayerNorm::forward`
//! with a bias on a contiguous input), `ops::rms_norm` (`RmsNorm`),
//! `rotary_emb::{rope, rope_i, rope_thd}`, `ops::sdpa` and the attention
//! module's flash-attention functions. Their result is detached from the graph
//! without an error, so the weights before them get no gradient, training
//! still runs, and only a check against finite differences notices.

use candle_core::Tensor;
use candle_nn::VarMap;

use super::entries::Entries;
use crate::{
    batch::{Batch, TokenBatch},
    kits::{DiscriminatorModel, GeneratorModel, KitDiscriminator, KitGenerator},
    toolkit::sorted_vars,
};

/// Panics unless autograd's gradient of the loss `train_step` minimises on
/// `real` (labelled 1) and `generated` (labelled 0) rows, with the training
/// dropout `dropout_seed` draws, matches central finite differences (steps
/// of 1e-3, to 2e-3 + 2%) in every `stride`-th entry of every weight.
/// ReLUs and max-pooling make the loss piecewise smooth: an entry whose
/// one-sided slopes disagree sits on a kink and is skipped; at most a tenth
/// may be. Also panics, naming it, on a weight that gets no gradient at all
/// while finite differences move the loss through it by more than rounding
/// (a slope above 2e-4), and on a weight matrix that starts all zero and
/// gets no gradient (nothing could ever move it: an initialisation that
/// missed it). Returns how many entries were checked.
///
/// Rows are ids without sources (an unconditional task); the weights are
/// left as they were.
pub fn check_weight_gradients<M: DiscriminatorModel>(
    d: &KitDiscriminator<M>,
    real: &[Vec<u32>],
    generated: &[Vec<u32>],
    dropout_seed: u64,
    stride: usize,
) -> usize {
    let batch = |rows: &[Vec<u32>]| Batch::unconditional(TokenBatch::from_rows(rows, 0));
    let (real, generated) = (batch(real), batch(generated));
    check_against_finite_differences(d.varmap(), stride, || {
        d.training_loss(&real, &generated, dropout_seed)
            .unwrap_or_else(|e| panic!("the training loss: {e}"))
            .0
    })
}

/// [`check_weight_gradients`] for a kit generator: the loss `mle_step`
/// minimises on `rows` (teacher forcing, the mean negative log-likelihood
/// per token, no sources), in every `stride`-th entry of every weight.
pub fn check_generator_weight_gradients<M: GeneratorModel>(
    g: &KitGenerator<M>,
    rows: &[Vec<u32>],
    stride: usize,
) -> usize {
    check_against_finite_differences(g.varmap(), stride, || {
        g.teacher_forced_loss(rows)
            .unwrap_or_else(|e| panic!("the MLE loss: {e}"))
    })
}

/// The check of both: `loss()`'s autograd gradient in every `stride`-th
/// entry of every variable of `varmap` against central differences.
fn check_against_finite_differences(
    varmap: &VarMap,
    stride: usize,
    loss: impl Fn() -> Tensor,
) -> usize {
    let value = |loss: &Tensor| f64::from(loss.to_scalar::<f32>().expect("a scalar loss"));
    let graph = loss();
    let centre = value(&graph);
    let grads = graph.backward().expect("backward through the loss");
    let eps = 1e-3f32;
    let e = f64::from(eps);
    let (mut checked, mut skipped) = (0, 0);
    for (name, var) in sorted_vars(varmap) {
        let entries = Entries::of(&var, &grads);
        let analytic = &entries.analytic;
        let no_gradient = analytic.iter().all(|&g| g == 0.0);
        // Finite differences agree with a zero gradient here, and yet no
        // step can ever move the weight: a recurrent matrix left at zero
        // keeps the hidden state at zero, which keeps its gradient at zero.
        assert!(
            !(no_gradient && var.dims().len() >= 2 && entries.original.iter().all(|&v| v == 0.0)),
            "{name}: every entry starts at 0 and no gradient reaches it, so no training step can move it; give it a non-zero start in your model's `init` (agon_sdk::toolkit::pytorch_like knows the toolkit's layers and candle-nn's `gru` / `lstm` names), or drop it if the loss does not use it"
        );
        // The largest slope finite differences find in this weight.
        let mut steepest = 0f64;
        for k in (0..entries.original.len()).step_by(stride.max(1)) {
            let at = |delta: f32| {
                entries.step(k, delta);
                value(&loss())
            };
            let (up, down) = (at(eps), at(-eps));
            if ((up - centre) / e - (centre - down) / e).abs() > 2e-3 {
                skipped += 1;
                continue;
            }
            let numeric = (up - down) / (2.0 * e);
            steepest = steepest.max(numeric.abs());
            let exact = f64::from(analytic[k]);
            assert!(
                (numeric - exact).abs() <= 2e-3 + 2e-2 * exact.abs(),
                "{name}[{k}]: finite differences of the loss {numeric}, autograd {exact}{}",
                if no_gradient {
                    cut_off(&name)
                } else {
                    String::new()
                }
            );
            checked += 1;
        }
        // Small slopes pass the tolerance above one by one; a weight that
        // moves the loss by more than rounding yet gets no gradient at all
        // is cut off all the same.
        assert!(
            !(no_gradient && steepest > 2e-4),
            "{name}: finite differences of the loss reach {steepest:.2e}, autograd 0 everywhere{}",
            cut_off(&name)
        );
        entries.restore();
    }
    assert!(
        checked > 0 && skipped * 10 <= checked,
        "{skipped} kinks skipped, {checked} entries checked"
    );
    checked
}

/// What a weight that gets no gradient at all means, and the fix.
fn cut_off(name: &str) -> String {
    format!(
        "; no gradient reaches `{name}` at all: an op without a backward cut the graph between it and the loss (in candle-nn 0.11: ops::softmax_last_dim, ops::layer_norm or LayerNorm with a bias, ops::rms_norm or RmsNorm, rotary_emb::rope / rope_i / rope_thd, ops::sdpa, the flash-attention functions; use candle_nn::ops::softmax, agon_sdk::toolkit::LayerNorm, rotary_emb::rope_slow / rope_i_slow)"
    )
}
