//! The contract of the relaxed methods (plugin ABI 1.2, `algorithm:
//! gumbel`; the paired rows of 1.3), part of `check_generator` and
//! `check_discriminator`: a component that declares `relaxed-samples` or
//! `relaxed-rows` answers them with the shapes the boundary promises, and
//! one that does not answers `Unsupported`.

use abi_stable::std_types::{ROption, RSlice};

use super::{assert_close, assert_refused, ok};
use crate::{
    author::PluginLibrary,
    batch::{Batch, TokenBatch},
    capabilities::{declares, RELAXED_ROWS, RELAXED_SAMPLES},
    context::PluginContext,
    discriminator::DiscriminatorBox,
    error::{ErrorKind, PluginError},
    generator::GeneratorBox,
    manifest::ComponentKind,
    relaxed::{PairedRows, RelaxedBatch, RelaxedSampleRequest},
    stats::StepOptions,
};

/// Panics unless `result` is `Unsupported` (the component does not declare
/// `capability`, so it must not answer).
fn unsupported<T>(result: Result<T, PluginError>, component: &str, method: &str, capability: &str) {
    match result {
        Err(e) if e.kind() == ErrorKind::Unsupported => {}
        Ok(_) => panic!(
            "contract: {method} answers, but `{component}` does not declare `{capability}` in PluginLibrary::capabilities; declare it"
        ),
        Err(e) => panic!(
            "contract: {method} of a component that does not declare `{capability}` must say Unsupported, not: {e}"
        ),
    }
}

/// A generator that declares [`RELAXED_SAMPLES`] draws `count` rows of
/// distributions (each position up to a row's end sums to 1, zero after),
/// the same ones again for the same request, and steps along a gradient
/// with a finite loss; one that does not answers `Unsupported`.
pub(super) fn check_relaxed_generator<L: PluginLibrary>(
    component: &str,
    context: &PluginContext,
    g: &mut GeneratorBox,
    sources: Option<&TokenBatch>,
) {
    let count = sources.map_or(3, TokenBatch::rows);
    let request = RelaxedSampleRequest {
        count: count as u32,
        max_len: context.max_len,
        inverse_temperature: 2.0,
        seed: 5,
        sources: sources.cloned().map_or(ROption::RNone, ROption::RSome),
    };
    let declared = declares(
        &L::capabilities(),
        ComponentKind::Generator,
        component,
        RELAXED_SAMPLES,
    );
    if !declared {
        unsupported(
            g.relaxed_sample(&request).into_result(),
            component,
            "relaxed_sample",
            RELAXED_SAMPLES,
        );
        return;
    }
    let samples = ok(g.relaxed_sample(&request), "relaxed_sample");
    let (width, vocab) = (context.max_len as usize, context.vocab.size as usize);
    assert_eq!(
        samples.ids.rows(),
        count,
        "contract: relaxed_sample: one row per requested row"
    );
    assert_eq!(
        samples.soft.len(),
        count * width * vocab,
        "contract: relaxed_sample: rows × max_len × vocabulary values"
    );
    for r in 0..count {
        let len = samples.ids.lengths[r] as usize;
        for t in 0..width {
            let at = (r * width + t) * vocab;
            let sum: f32 = samples.soft[at..at + vocab].iter().sum();
            let expected = if t < len { 1.0 } else { 0.0 };
            assert!(
                (sum - expected).abs() < 1e-4,
                "contract: relaxed_sample: row {r} position {t} sums to {sum}, not {expected} (a distribution up to the row's length, zero after)"
            );
        }
    }
    assert_eq!(
        ok(g.relaxed_sample(&request), "relaxed_sample again"),
        samples,
        "contract: relaxed_sample: the same request gave other samples"
    );
    let gradient: Vec<f32> = (0..samples.soft.len())
        .map(|i| ((i % 7) as f32 - 3.0) / 10.0)
        .collect();
    let stats = ok(
        g.relaxed_policy_step(
            &request,
            RSlice::from_slice(&gradient),
            &StepOptions { seed: 3 },
        ),
        "relaxed_policy_step",
    );
    assert!(
        stats.loss.is_finite(),
        "contract: relaxed_policy_step's loss is {}",
        stats.loss
    );
    // Bad input: refused, never a panic.
    assert_refused(
        g.relaxed_policy_step(
            &request,
            RSlice::from_slice(&gradient[1..]),
            &StepOptions { seed: 3 },
        )
        .into_result(),
        "a gradient one value short (relaxed_policy_step)",
    );
}

/// A discriminator that declares [`RELAXED_ROWS`] scores one-hot rows as
/// the ids they encode (in evaluation mode), gives a finite gradient of
/// the rows' shape and trains along an upstream gradient with a finite
/// loss; its paired calls (ABI 1.3) answer as its relaxed calls do on the
/// rows joined; one that does not declare it answers `Unsupported`.
pub(super) fn check_relaxed_discriminator<L: PluginLibrary>(
    component: &str,
    context: &PluginContext,
    d: &mut DiscriminatorBox,
    twin: &mut DiscriminatorBox,
    batch: &Batch,
) {
    let (width, vocab) = (context.max_len as usize, context.vocab.size as usize);
    let rows = RelaxedBatch::one_hot(&batch.targets, width, vocab, batch.sources.clone())
        .unwrap_or_else(|e| panic!("contract: the toy rows as one-hot rows: {e}"));
    let declared = declares(
        &L::capabilities(),
        ComponentKind::Discriminator,
        component,
        RELAXED_ROWS,
    );
    if !declared {
        unsupported(
            d.relaxed_logits(&rows, ROption::RNone).into_result(),
            component,
            "relaxed_logits",
            RELAXED_ROWS,
        );
        return;
    }
    let logits = ok(d.relaxed_logits(&rows, ROption::RNone), "relaxed_logits").into_vec();
    let probabilities: Vec<f32> = logits.iter().map(|l| 1.0 / (1.0 + (-l).exp())).collect();
    let expected = ok(d.probabilities(batch), "probabilities").into_vec();
    assert_close(
        &probabilities,
        &expected,
        1e-4,
        "relaxed_logits of one-hot rows against probabilities of their ids",
    );
    let upstream: Vec<f32> = (0..rows.rows())
        .map(|r| if r % 2 == 0 { 0.5 } else { -0.5 })
        .collect();
    let gradient = ok(
        d.relaxed_input_gradient(&rows, RSlice::from_slice(&upstream), ROption::RSome(4)),
        "relaxed_input_gradient",
    );
    assert_eq!(
        gradient.len(),
        rows.soft.len(),
        "contract: relaxed_input_gradient: one value per relaxed value"
    );
    assert!(
        gradient.iter().all(|g| g.is_finite()),
        "contract: relaxed_input_gradient is not finite"
    );
    check_paired_rows(d, twin, batch, &rows, vocab);
    let stats = ok(
        d.relaxed_train_step(
            &rows,
            RSlice::from_slice(&upstream),
            &StepOptions { seed: 4 },
        ),
        "relaxed_train_step",
    );
    assert!(
        stats.loss.is_finite(),
        "contract: relaxed_train_step's loss is {}",
        stats.loss
    );
    // Bad input: refused, never a panic.
    let mut poisoned = rows.clone();
    poisoned.soft[0] = f32::NAN;
    assert_refused(
        d.relaxed_logits(&poisoned, ROption::RNone).into_result(),
        "a relaxed value that is not finite (relaxed_logits)",
    );
    assert_refused(
        d.relaxed_input_gradient(&rows, RSlice::from_slice(&upstream[1..]), ROption::RNone)
            .into_result(),
        "an upstream gradient one value short (relaxed_input_gradient)",
    );
    // The calls that follow a scoring call with a dropout seed (whose pass
    // a plugin may keep), on its rows with a value that is not finite,
    // within a row and past a row's end (where a model reads zeros), are
    // refused too, however the plugin checks them.
    let mut cases = vec![(poisoned, "within a row")];
    // (Every toy batch has a row shorter than the width unless rows are at
    // most 2 tokens wide.)
    if let Some(r) = rows.lengths.iter().position(|&len| (len as usize) < width) {
        let mut past_end = rows.clone();
        past_end.soft[(r * width + width - 1) * vocab] = f32::INFINITY;
        cases.push((past_end, "past a row's end"));
    }
    for (poisoned, place) in &cases {
        ok(d.relaxed_logits(&rows, ROption::RSome(9)), "relaxed_logits");
        assert_refused(
            d.relaxed_input_gradient(poisoned, RSlice::from_slice(&upstream), ROption::RSome(9))
                .into_result(),
            &format!("a relaxed value that is not finite {place} (relaxed_input_gradient after relaxed_logits)"),
        );
        ok(d.relaxed_logits(&rows, ROption::RSome(9)), "relaxed_logits");
        assert_refused(
            d.relaxed_train_step(poisoned, RSlice::from_slice(&upstream), &StepOptions { seed: 9 })
                .into_result(),
            &format!("a relaxed value that is not finite {place} (relaxed_train_step after relaxed_logits)"),
        );
    }
}

/// The paired calls (ABI 1.3) against the relaxed calls on the rows they
/// stand for: real rows as ids paired with `rows` smoothed into
/// distributions, the logits (evaluation mode), the generated rows'
/// gradient (with a dropout seed) and a training step (`d`'s relaxed
/// step against its `twin`'s paired one: the loss, then the logits after)
/// within 1e-4; bad paired rows refused. A plugin that leaves the
/// `paired_*` methods to the SDK's defaults passes by construction; one
/// that overrides them is held to them here.
fn check_paired_rows(
    d: &mut DiscriminatorBox,
    twin: &mut DiscriminatorBox,
    batch: &Batch,
    rows: &RelaxedBatch,
    vocab: usize,
) {
    let mut generated = rows.clone();
    for (i, v) in generated.soft.iter_mut().enumerate() {
        *v = 0.5 * *v + 0.5 * ((i * 7 % 5) as f32 + 1.0) / (3.0 * vocab as f32);
    }
    let paired = PairedRows {
        real: batch.targets.clone(),
        generated,
    };
    let joined = paired
        .joined(vocab)
        .unwrap_or_else(|e| panic!("contract: the toy rows paired: {e}"));
    let want = ok(d.relaxed_logits(&joined, ROption::RNone), "relaxed_logits");
    let logits = ok(d.paired_logits(&paired, ROption::RNone), "paired_logits");
    assert_close(
        &logits,
        &want,
        1e-4,
        "paired_logits against relaxed_logits of the rows joined",
    );
    let upstream: Vec<f32> = (0..joined.rows())
        .map(|r| 0.25 + 0.5 * (r % 3) as f32 - 0.5 * (r % 2) as f32)
        .collect();
    let upstream = RSlice::from_slice(&upstream);
    let all = ok(
        d.relaxed_input_gradient(&joined, upstream, ROption::RSome(5)),
        "relaxed_input_gradient",
    );
    let gradient = ok(
        d.paired_input_gradient(&paired, upstream, ROption::RSome(5)),
        "paired_input_gradient",
    );
    assert_close(
        &gradient,
        &all[all.len() - paired.generated.soft.len()..],
        1e-4,
        "paired_input_gradient against the generated rows' part of relaxed_input_gradient of the rows joined",
    );
    let options = StepOptions { seed: 6 };
    let joined_step = ok(
        d.relaxed_train_step(&joined, upstream, &options),
        "relaxed_train_step",
    );
    let paired_step = ok(
        twin.paired_train_step(&paired, upstream, &options),
        "paired_train_step",
    );
    assert_close(
        &[paired_step.loss],
        &[joined_step.loss],
        1e-4,
        "paired_train_step's loss against relaxed_train_step's on the rows joined",
    );
    let after = ok(d.relaxed_logits(&joined, ROption::RNone), "relaxed_logits");
    assert_close(
        &ok(twin.relaxed_logits(&joined, ROption::RNone), "relaxed_logits"),
        &after,
        1e-4,
        "the logits after paired_train_step against those after relaxed_train_step on the rows joined",
    );
    let mut unpaired = paired.clone();
    unpaired.real = TokenBatch::from_rows(&vec![vec![1u32]; unpaired.pairs() + 1], 0);
    assert_refused(
        d.paired_logits(&unpaired, ROption::RNone).into_result(),
        "one real row more than generated rows (paired_logits)",
    );
    let mut poisoned = paired;
    poisoned.generated.soft[0] = f32::NAN;
    assert_refused(
        d.paired_input_gradient(&poisoned, upstream, ROption::RNone)
            .into_result(),
        "a generated relaxed value that is not finite (paired_input_gradient)",
    );
}
