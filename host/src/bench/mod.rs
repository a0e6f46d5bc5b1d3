//! `agon bench`: the SeqGAN synthetic workloads of the PyTorch peer
//! (`benches/torch_seqgan_peer.py`), run through the real plugins and the
//! rollout scheduler, reported as the peer reports them (one JSON object per
//! workload) so the two can be compared line by line.
//!
//! Shapes are the peer's: 9,984 sequences, batch 64, 16 rollouts; vocabulary,
//! length and model sizes come from the experiment config (the paper's in
//! `configs/seqgan-oracle.yaml`). Set-up (building models, drawing the
//! sequences a workload starts from) is not timed, as in the peer.

pub mod peak_rss;
mod workloads;

use serde::Serialize;

pub use workloads::{Workload, WorkloadContext};

/// Sequences in the data set of every workload (SeqGAN's generated_num).
pub const SEQUENCES: usize = 9984;
/// Batch size of every workload.
pub const BATCH: usize = 64;
/// Monte-Carlo rollouts per prefix (the peer's; `--rollouts` changes it).
pub const ROLLOUTS: usize = 16;

/// One workload's result: the median run, and every run.
#[derive(Clone, Debug, Serialize)]
pub struct BenchResult {
    pub workload: String,
    /// Median wall time of one run, seconds.
    pub seconds: f64,
    /// Work done in one run.
    pub units: usize,
    pub unit: &'static str,
    /// `units / seconds` of the median run.
    pub per_second: f64,
    #[serde(rename = "impl")]
    pub implementation: String,
    /// Highest resident memory of the process during the workload's runs.
    pub peak_rss_mib: Option<f64>,
    /// Every run's wall time, seconds, in order.
    pub runs: Vec<f64>,
    /// The commit agon was built from and the machine it ran on (CPU and
    /// instruction set): a time means little without them.
    pub commit: &'static str,
    pub machine: String,
}

/// The middle value (mean of the two middle ones for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Runs `workload` `repeat` times (after its untimed set-up) and reports the
/// median.
pub fn run(
    workload: Workload,
    context: &mut WorkloadContext,
    repeat: usize,
) -> anyhow::Result<BenchResult> {
    peak_rss::reset();
    let mut runs = Vec::with_capacity(repeat);
    let mut units = 0;
    for attempt in 0..repeat.max(1) {
        let (seconds, done) = workload.run_once(context, attempt as u64)?;
        runs.push(seconds);
        units = done;
    }
    let seconds = median(&runs);
    Ok(BenchResult {
        workload: workload.name().to_string(),
        seconds,
        units,
        unit: workload.unit(),
        per_second: units as f64 / seconds,
        implementation: format!("agon-{}", env!("CARGO_PKG_VERSION")),
        peak_rss_mib: peak_rss::peak_bytes().map(|b| b as f64 / (1 << 20) as f64),
        runs,
        commit: env!("AGON_GIT_COMMIT"),
        machine: crate::machine::Machine::this().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
