//! Checks of a kit discriminator's relaxed path (`relaxed_logits`, for
//! Gumbel-softmax training): it is the ids path on one-hot rows, and its
//! input gradient is the derivative of its scores. Needs `candle` too.

use abi_stable::std_types::ROption;

use super::weight_gradients::conditional_hint;
use crate::{
    author::DiscriminatorImpl,
    batch::{Batch, TokenBatch},
    kits::{DiscriminatorModel, KitDiscriminator, RelaxedBatch, SourceUse},
};

/// `rows` as one-hot relaxed rows of `width` positions over `vocab` ids.
pub fn one_hot_rows(rows: &[Vec<u32>], width: usize, vocab: usize) -> RelaxedBatch {
    RelaxedBatch::one_hot(
        &TokenBatch::from_rows(rows, 0),
        width,
        vocab,
        ROption::RNone,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// `pairs` of (source, target) as one-hot relaxed targets of `width`
/// positions over `vocab` ids, each with its source: a conditional task's
/// rows.
pub fn one_hot_pairs(pairs: &[(Vec<u32>, Vec<u32>)], width: usize, vocab: usize) -> RelaxedBatch {
    let (sources, targets): (Vec<Vec<u32>>, Vec<Vec<u32>>) = pairs.iter().cloned().unzip();
    let mut batch = one_hot_rows(&targets, width, vocab);
    batch.sources = ROption::RSome(TokenBatch::from_rows(&sources, 0));
    batch
}

/// Panics unless one-hot rows of `rows`, `width` positions wide for each of
/// `widths`, score what `rows` score as ids (to 1e-5 in probability). Rows
/// without sources; a conditional model:
/// [`check_conditional_relaxed_rows_score_as_ids`].
pub fn check_relaxed_rows_score_as_ids<M: DiscriminatorModel>(
    d: &mut KitDiscriminator<M>,
    rows: &[Vec<u32>],
    vocab: usize,
    widths: &[usize],
) {
    let hint = conditional_hint(M::SOURCES, "check_conditional_relaxed_rows_score_as_ids");
    check_scores_as_ids(
        d,
        &Batch::unconditional(TokenBatch::from_rows(rows, 0)),
        |width| one_hot_rows(rows, width, vocab),
        widths,
        &hint,
    );
}

/// [`check_relaxed_rows_score_as_ids`] for a conditional kit discriminator
/// (`SourceUse::Required`): one-hot targets with their sources, against
/// the (source, target) `pairs` as ids.
pub fn check_conditional_relaxed_rows_score_as_ids<M: DiscriminatorModel>(
    d: &mut KitDiscriminator<M>,
    pairs: &[(Vec<u32>, Vec<u32>)],
    vocab: usize,
    widths: &[usize],
) {
    let (sources, targets): (Vec<Vec<u32>>, Vec<Vec<u32>>) = pairs.iter().cloned().unzip();
    let ids = Batch::conditional(
        TokenBatch::from_rows(&targets, 0),
        TokenBatch::from_rows(&sources, 0),
    );
    // A model without sources refuses these rows; its check is the other.
    let hint = match M::SOURCES {
        SourceUse::Never => {
            " (a model without sources: test it with agon_sdk::testing::check_relaxed_rows_score_as_ids)"
        }
        SourceUse::Required => "",
    };
    check_scores_as_ids(
        d,
        &ids,
        |width| one_hot_pairs(pairs, width, vocab),
        widths,
        hint,
    );
}

/// The check of both: `relaxed(width)`'s logits against `ids`' probabilities.
fn check_scores_as_ids<M: DiscriminatorModel>(
    d: &mut KitDiscriminator<M>,
    ids: &Batch,
    relaxed: impl Fn(usize) -> RelaxedBatch,
    widths: &[usize],
    hint: &str,
) {
    let probabilities = d
        .probabilities(ids)
        .unwrap_or_else(|e| panic!("scoring ids: {e}{hint}"));
    for &width in widths {
        let logits = d
            .relaxed_logits(&relaxed(width), None)
            .unwrap_or_else(|e| panic!("scoring one-hot relaxed rows: {e}{hint}"));
        assert_eq!(
            logits.len(),
            probabilities.len(),
            "relaxed rows {width} wide: one score per row"
        );
        for (logit, p) in logits.iter().zip(&probabilities) {
            let sigmoid = 1.0 / (1.0 + (-logit).exp());
            assert!(
                (sigmoid - p).abs() < 1e-5,
                "relaxed rows {width} wide: one-hot rows score {sigmoid}, their ids {p}"
            );
        }
    }
}

/// Panics unless `relaxed_input_gradient` of `batch` under `upstream` is
/// the derivative of `Σ upstream · relaxed_logits` on every `stride`-th
/// value (central differences of 1e-3, to 1e-3 + 2%), and zero past each
/// row's length. ReLUs and max-pooling make scores piecewise smooth: a
/// value whose one-sided slopes disagree sits on a kink and is skipped; at
/// most a tenth may be. A conditional model's `batch` carries its sources
/// ([`one_hot_pairs`]).
pub fn check_relaxed_input_gradient<M: DiscriminatorModel>(
    d: &KitDiscriminator<M>,
    batch: &RelaxedBatch,
    upstream: &[f32],
    stride: usize,
) {
    let gradient = d
        .relaxed_input_gradient(batch, upstream, None)
        .expect("relaxed_input_gradient");
    check_gradient_against_logits(&gradient, batch, upstream, stride, |batch| {
        d.relaxed_logits(batch, None).expect("relaxed_logits")
    });
}

/// [`check_relaxed_input_gradient`] for any discriminator, on the kit or
/// not (an author-trait implementation, as `seqgan-lab/cnn-discriminator`'s
/// is), with the training dropout `dropout_seed` draws (the same draw for
/// the gradient and every score) or none.
pub fn check_relaxed_input_gradient_of<D: DiscriminatorImpl>(
    d: &mut D,
    batch: &RelaxedBatch,
    upstream: &[f32],
    stride: usize,
    dropout_seed: Option<u64>,
) {
    let gradient = d
        .relaxed_input_gradient(batch, upstream, dropout_seed)
        .expect("relaxed_input_gradient");
    check_gradient_against_logits(&gradient, batch, upstream, stride, |batch| {
        d.relaxed_logits(batch, dropout_seed)
            .expect("relaxed_logits")
    });
}

/// The finite-difference check of both: `gradient` against
/// `Σ upstream · logits(batch)`.
fn check_gradient_against_logits(
    gradient: &[f32],
    batch: &RelaxedBatch,
    upstream: &[f32],
    stride: usize,
    mut logits: impl FnMut(&RelaxedBatch) -> Vec<f32>,
) {
    assert_eq!(gradient.len(), batch.soft.len());
    let mut surrogate = |batch: &RelaxedBatch| -> f64 {
        logits(batch)
            .iter()
            .zip(upstream)
            .map(|(l, u)| f64::from(l * u))
            .sum()
    };
    let positions = batch.width as usize;
    let vocab = batch.soft.len() / (batch.lengths.len() * positions).max(1);
    let eps = 1e-3f32;
    let centre = surrogate(batch);
    let (mut checked, mut skipped) = (0, 0);
    for at in (0..batch.soft.len()).step_by(stride.max(1)) {
        let (row, position) = (at / (positions * vocab), at / vocab % positions);
        if position >= batch.lengths[row] as usize {
            assert_eq!(
                gradient[at], 0.0,
                "row {row} position {position} is past its end"
            );
            continue;
        }
        let (mut plus, mut minus) = (batch.clone(), batch.clone());
        plus.soft[at] += eps;
        minus.soft[at] -= eps;
        let (up, down) = (surrogate(&plus), surrogate(&minus));
        let e = f64::from(eps);
        if ((up - centre) / e - (centre - down) / e).abs() > 2e-3 {
            skipped += 1;
            continue;
        }
        let numeric = (up - down) / (2.0 * e);
        let exact = f64::from(gradient[at]);
        assert!(
            (numeric - exact).abs() <= 1e-3 + 2e-2 * exact.abs(),
            "value {at} (row {row}, position {position}): finite differences {numeric}, autograd {exact}"
        );
        checked += 1;
    }
    assert!(
        checked > 0 && skipped * 10 <= checked,
        "{skipped} kinks skipped, {checked} values checked"
    );
    assert!(
        gradient.iter().any(|g| g.abs() > 1e-4),
        "the gradient is zero everywhere"
    );
}
