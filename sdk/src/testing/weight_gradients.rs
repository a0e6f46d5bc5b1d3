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
use crate::kits::generator::Route;
use crate::{
    batch::{Batch, TokenBatch},
    kits::{DiscriminatorModel, GeneratorModel, KitDiscriminator, KitGenerator, SourceUse},
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
/// gets no gradient until the other weights move (a dead start, e.g. an
/// initialisation that missed a recurrent matrix; a weight this loss does
/// not use at all passes). For a per-token model (`PER_TOKEN`, whose
/// training optimises `token_logits` only), also panics on a weight that
/// the row logits (`logits`: rollout rewards, accuracy, `agon eval`) read
/// but the training loss never reaches: it would keep its initial values.
/// Returns how many entries were checked.
///
/// Rows are ids without sources (an unconditional task; a conditional
/// model: [`check_conditional_weight_gradients`]); the weights are left as
/// they were.
pub fn check_weight_gradients<M: DiscriminatorModel>(
    d: &KitDiscriminator<M>,
    real: &[Vec<u32>],
    generated: &[Vec<u32>],
    dropout_seed: u64,
    stride: usize,
) -> usize {
    let batch = |rows: &[Vec<u32>]| Batch::unconditional(TokenBatch::from_rows(rows, 0));
    check_training_loss(d, &batch(real), &batch(generated), dropout_seed, stride)
}

/// [`check_weight_gradients`] for a conditional kit discriminator
/// (`SourceUse::Required`): `real` and `generated` are (source, target)
/// pairs.
pub fn check_conditional_weight_gradients<M: DiscriminatorModel>(
    d: &KitDiscriminator<M>,
    real: &[(Vec<u32>, Vec<u32>)],
    generated: &[(Vec<u32>, Vec<u32>)],
    dropout_seed: u64,
    stride: usize,
) -> usize {
    let batch = |pairs: &[(Vec<u32>, Vec<u32>)]| {
        let (sources, targets): (Vec<Vec<u32>>, Vec<Vec<u32>>) = pairs.iter().cloned().unzip();
        Batch::conditional(
            TokenBatch::from_rows(&targets, 0),
            TokenBatch::from_rows(&sources, 0),
        )
    };
    check_training_loss(d, &batch(real), &batch(generated), dropout_seed, stride)
}

/// The check of a kit discriminator's training loss on these batches.
fn check_training_loss<M: DiscriminatorModel>(
    d: &KitDiscriminator<M>,
    real: &Batch,
    generated: &Batch,
    dropout_seed: u64,
    stride: usize,
) -> usize {
    let loss_with = |dropout_seed: u64| {
        d.training_loss(real, generated, dropout_seed)
            .unwrap_or_else(|e| {
                // Only a batch without sources can miss what the model reads.
                let hint = match real.sources.is_none() {
                    true => conditional_hint(M::SOURCES, "check_conditional_weight_gradients"),
                    false => String::new(),
                };
                panic!("the training loss: {e}{hint}")
            })
            .0
    };
    let loss = || loss_with(dropout_seed);
    let checked = check_against_finite_differences(d.varmap(), stride, loss);
    if M::PER_TOKEN {
        let scored = || {
            d.row_logits_sum(real)
                .and_then(|r| Ok((r + d.row_logits_sum(generated)?)?))
                .unwrap_or_else(|e| panic!("the row logits: {e}"))
        };
        // Two dropout draws: one may drop every path through a narrow layer.
        let losses = [
            loss_with(dropout_seed),
            loss_with(dropout_seed.wrapping_add(1)),
        ];
        if let Some(name) = read_but_never_trained(d.varmap(), &losses, scored()).first() {
            panic!(
                "{name}: the row logits (`logits`: rollout rewards, accuracy, `agon eval`) read it, but the per-token training loss never reaches it: with PER_TOKEN, `train_step` (policy gradient, dense credit) trains token_logits only, so it keeps its initial values there; derive `logits` from the token logits (e.g. each row's last position, agon_sdk::toolkit::last_positions)"
            );
        }
    }
    checked
}

/// The weights of `varmap` that get a gradient from `scored` but none at
/// all from any of `losses`.
fn read_but_never_trained(varmap: &VarMap, losses: &[Tensor], scored: Tensor) -> Vec<String> {
    let trained: Vec<_> = losses
        .iter()
        .map(|loss| loss.backward().expect("backward through the loss"))
        .collect();
    let read = scored.backward().expect("backward through the row logits");
    let reached = |grads: &candle_core::backprop::GradStore, var: &candle_core::Var| {
        Entries::of(var, grads).analytic.iter().any(|&g| g != 0.0)
    };
    sorted_vars(varmap)
        .into_iter()
        .filter(|(_, var)| reached(&read, var) && !trained.iter().any(|g| reached(g, var)))
        .map(|(name, _)| name)
        .collect()
}

/// [`check_weight_gradients`] for a kit generator: the loss `mle_step`
/// minimises on `rows` (teacher forcing, the mean negative log-likelihood
/// per token, no sources), in every `stride`-th entry of every weight.
/// A conditional generator: [`check_conditional_generator_weight_gradients`].
pub fn check_generator_weight_gradients<M: GeneratorModel>(
    g: &KitGenerator<M>,
    rows: &[Vec<u32>],
    stride: usize,
) -> usize {
    let loss = |route| {
        g.teacher_forced_loss(None, rows, route)
            .unwrap_or_else(|e| {
                panic!(
                    "the MLE loss: {e}{}",
                    conditional_hint(M::SOURCES, "check_conditional_generator_weight_gradients")
                )
            })
    };
    check_hidden_states_against_logits::<M>(&loss);
    check_against_finite_differences(g.varmap(), stride, || loss(Route::FusedWherePossible))
}

/// A model that gives its hidden states (`teacher_forced_hidden`): the
/// fused loss the kit takes from them equals the loss of its logits, to
/// rounding. Hidden states out of order (time-major, say) or of another
/// pass would train on the wrong targets, and finite differences of the
/// fused loss alone cannot see that.
fn check_hidden_states_against_logits<M: GeneratorModel>(loss: &impl Fn(Route) -> Tensor) {
    let value = |route| loss(route).to_scalar::<f32>().expect("a scalar loss");
    let (fused, logits) = (value(Route::FusedWherePossible), value(Route::Logits));
    assert!(
        (fused - logits).abs() <= 1e-5 * logits.abs().max(1.0),
        "{}: the MLE loss from teacher_forced_hidden's hidden states is {fused}, from teacher_forced_logits {logits}: the hidden states must be the output layer's inputs of the same pass, row b's step t at b·T + t",
        M::NAME
    );
}

/// [`check_generator_weight_gradients`] for a conditional kit generator
/// (`SourceUse::Required`): `pairs` are (source, target), the loss is the
/// MLE loss of the targets given their sources.
pub fn check_conditional_generator_weight_gradients<M: GeneratorModel>(
    g: &KitGenerator<M>,
    pairs: &[(Vec<u32>, Vec<u32>)],
    stride: usize,
) -> usize {
    let (sources, rows): (Vec<Vec<u32>>, Vec<Vec<u32>>) = pairs.iter().cloned().unzip();
    let loss = |route| {
        g.teacher_forced_loss(Some(&sources), &rows, route)
            .unwrap_or_else(|e| panic!("the MLE loss: {e}"))
    };
    check_hidden_states_against_logits::<M>(&loss);
    check_against_finite_differences(g.varmap(), stride, || loss(Route::FusedWherePossible))
}

/// Where a conditional model's check is, for a failure of the
/// unconditional one.
pub(super) fn conditional_hint(sources: SourceUse, function: &str) -> String {
    match sources {
        SourceUse::Required => {
            format!(" (a conditional model: test it with agon_sdk::testing::{function})")
        }
        SourceUse::Never => String::new(),
    }
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
    // Weight matrices that start all zero and get no gradient.
    let mut zero_and_still = Vec::new();
    for (name, var) in sorted_vars(varmap) {
        let entries = Entries::of(&var, &grads);
        let analytic = &entries.analytic;
        let no_gradient = analytic.iter().all(|&g| g == 0.0);
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
        if no_gradient
            && var.dims().len() >= 2
            && !entries.original.is_empty()
            && entries.original.iter().all(|&v| v == 0.0)
        {
            zero_and_still.push(name);
        }
    }
    // Finite differences agree with those weights' zero gradient, so the
    // checks above pass them. A matrix that the loss does use but that
    // starts at zero where nothing reaches it yet (a recurrent matrix left
    // at zero while the state it multiplies is zero) is a dead start: it
    // moves only once other weights have. Moving the other weights tells
    // it from a weight the loss does not use at all.
    if let Some(name) = dead_at_the_start(varmap, &zero_and_still, &loss).first() {
        panic!(
            "{name}: every entry starts at 0 and no gradient reaches it until the other weights move: a dead start (e.g. a recurrent matrix at 0 while the state it multiplies is 0), which training leaves only through the other weights; give it a non-zero start in your model's `init` (agon_sdk::toolkit::pytorch_like knows the toolkit's layers and candle-nn's `linear`, `conv`, `gru` and `lstm` names)"
        );
    }
    assert!(
        checked > 0 && skipped * 10 <= checked,
        "{skipped} kinks skipped, {checked} entries checked"
    );
    checked
}

/// Those of `candidates` (weights at zero with no gradient) that get a
/// gradient once every other weight is moved a little; the weights are
/// left as they were.
fn dead_at_the_start(
    varmap: &VarMap,
    candidates: &[String],
    loss: impl Fn() -> Tensor,
) -> Vec<String> {
    if candidates.is_empty() {
        return Vec::new();
    }
    let vars = sorted_vars(varmap);
    let kept: Vec<Tensor> = vars
        .iter()
        .map(|(_, v)| v.as_tensor().copy().unwrap())
        .collect();
    for (name, var) in &vars {
        if candidates.contains(name) {
            continue;
        }
        // A fixed, small, sign-changing nudge: no randomness in a test.
        let n = var.elem_count();
        let nudge: Vec<f32> = (0..n)
            .map(|k| 0.05 * ((k * 7 % 11) as f32 / 5.0 - 1.0))
            .collect();
        let nudge = Tensor::from_vec(nudge, var.shape(), var.device()).unwrap();
        var.set(&(var.as_tensor() + nudge).unwrap()).unwrap();
    }
    let grads = loss().backward().expect("backward through the loss");
    let dead = vars
        .iter()
        .filter(|(name, var)| {
            candidates.contains(name) && Entries::of(var, &grads).analytic.iter().any(|&g| g != 0.0)
        })
        .map(|(name, _)| name.clone())
        .collect();
    for ((_, var), tensor) in vars.iter().zip(kept) {
        var.set(&tensor).unwrap();
    }
    dead
}

/// What a weight that gets no gradient at all means, and the fix.
fn cut_off(name: &str) -> String {
    format!(
        "; no gradient reaches `{name}` at all: an op without a backward cut the graph between it and the loss (in candle-nn 0.11: ops::softmax_last_dim, ops::layer_norm or LayerNorm with a bias, ops::rms_norm or RmsNorm, rotary_emb::rope / rope_i / rope_thd, ops::sdpa, the flash-attention functions; use candle_nn::ops::softmax, agon_sdk::toolkit::LayerNorm, rotary_emb::rope_slow / rope_i_slow)"
    )
}
