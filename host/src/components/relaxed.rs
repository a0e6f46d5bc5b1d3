//! The components' relaxed methods (plugin ABI 1.2, and the paired rows of
//! ABI 1.3), for `algorithm: gumbel`: each refused without calling the
//! plugin when its library does not declare the capability, and each
//! output checked (shape, finite) before the host uses it.

use abi_stable::std_types::{ROption, RSlice, RVec};
use agon_sdk::{
    capabilities::{RELAXED_ROWS, RELAXED_SAMPLES},
    PairedRows, RelaxedSampleRequest, RelaxedSamples, StepOptions, StepStats,
};
use anyhow::bail;

use super::{check_batch, check_scores, plugin_call, Discriminator, Generator};

/// Checks `values` (a plugin's relaxed rows or their gradient): `expected`
/// finite values.
fn check_values(
    label: &str,
    operation: &str,
    values: &[f32],
    expected: usize,
) -> anyhow::Result<()> {
    if values.len() != expected {
        bail!(
            "{label}: {operation} returned {} values, {expected} were expected (a bug in the plugin)",
            values.len()
        );
    }
    if let Some((i, bad)) = agon_sdk::relaxed::first_non_finite(values) {
        bail!("{label}: {operation} returned {bad} at value {i}; training stops here");
    }
    Ok(())
}

impl Generator {
    /// The vocabulary size: the width of every position of a relaxed row.
    pub fn vocab_size(&self) -> u32 {
        self.vocab
    }

    /// Whether it draws relaxed samples ([`Self::relaxed_sample`]).
    pub fn supports_relaxed_samples(&self) -> bool {
        self.relaxed
    }

    fn require_relaxed(&self) -> anyhow::Result<()> {
        if !self.relaxed {
            bail!(
                "{} does not draw relaxed samples (the `{RELAXED_SAMPLES}` capability of plugin ABI 1.2)",
                self.label
            );
        }
        Ok(())
    }

    /// Gumbel-softmax samples, `[count, max_len, vocabulary]` relaxed rows.
    pub fn relaxed_sample(
        &mut self,
        request: &RelaxedSampleRequest,
    ) -> anyhow::Result<RelaxedSamples> {
        self.require_relaxed()?;
        let samples = plugin_call(
            &self.label,
            "relaxed sampling",
            self.inner.relaxed_sample(request),
        )?;
        let rows = request.count as usize;
        check_batch(
            &self.label,
            "relaxed sampling",
            &samples.ids,
            rows,
            self.vocab,
            self.max_len,
        )?;
        let expected = rows * request.max_len as usize * self.vocab as usize;
        check_values(&self.label, "relaxed sampling", &samples.soft, expected)?;
        Ok(samples)
    }

    /// A step along `gradient`, the loss's gradient with respect to the
    /// relaxed rows `request` draws.
    pub fn relaxed_policy_step(
        &mut self,
        request: &RelaxedSampleRequest,
        gradient: &[f32],
        options: &StepOptions,
    ) -> anyhow::Result<StepStats> {
        self.require_relaxed()?;
        let stats = plugin_call(
            &self.label,
            "relaxed policy step",
            self.inner
                .relaxed_policy_step(request, RSlice::from_slice(gradient), options),
        )?;
        check_scores(&self.label, "relaxed policy step loss", &[stats.loss], 1)?;
        Ok(stats)
    }
}

impl Discriminator {
    /// Whether it scores relaxed rows ([`Self::relaxed_logits`]).
    pub fn supports_relaxed_rows(&self) -> bool {
        self.relaxed
    }

    fn require_relaxed(&self) -> anyhow::Result<()> {
        if !self.relaxed {
            bail!(
                "{} does not score relaxed rows (the `{RELAXED_ROWS}` capability of plugin ABI 1.2)",
                self.label
            );
        }
        Ok(())
    }

    /// One logit per row of `rows`, real rows first; training dropout
    /// from `dropout_seed`. A library built for ABI 1.2 gets the rows
    /// joined (real rows one-hot) and its `relaxed_logits` called.
    pub fn paired_logits(
        &mut self,
        rows: &PairedRows,
        dropout_seed: Option<u64>,
    ) -> anyhow::Result<Vec<f32>> {
        self.require_relaxed()?;
        let values = plugin_call(
            &self.label,
            "relaxed scoring",
            self.inner.paired_logits(rows, ROption::from(dropout_seed)),
        )?;
        check_scores(&self.label, "relaxed scoring", &values, 2 * rows.pairs())?;
        Ok(values.into_vec())
    }

    /// The loss's gradient with respect to the generated rows of `rows`,
    /// given its gradient with respect to all their logits (`upstream`).
    pub fn paired_input_gradient(
        &mut self,
        rows: &PairedRows,
        upstream: &[f32],
        dropout_seed: Option<u64>,
    ) -> anyhow::Result<RVec<f32>> {
        self.require_relaxed()?;
        let values = plugin_call(
            &self.label,
            "relaxed input gradient",
            self.inner.paired_input_gradient(
                rows,
                RSlice::from_slice(upstream),
                ROption::from(dropout_seed),
            ),
        )?;
        check_values(
            &self.label,
            "relaxed input gradient",
            &values,
            rows.generated.soft.len(),
        )?;
        Ok(values)
    }

    /// A step along the loss's gradient with respect to the logits of
    /// `rows`.
    pub fn paired_train_step(
        &mut self,
        rows: &PairedRows,
        upstream: &[f32],
        options: &StepOptions,
    ) -> anyhow::Result<StepStats> {
        self.require_relaxed()?;
        let stats = plugin_call(
            &self.label,
            "relaxed training step",
            self.inner
                .paired_train_step(rows, RSlice::from_slice(upstream), options),
        )?;
        check_scores(&self.label, "relaxed training loss", &[stats.loss], 1)?;
        Ok(stats)
    }
}
