//! metrics.jsonl and metrics.csv in the run directory.
//!
//! One row per evaluation point. `metrics.jsonl` is appended line by line
//! (each line flushed and fsynced), `metrics.csv` rewritten from it. On
//! resume the log is cut back to the rows the checkpoint had seen, so a
//! resumed run's log equals an uninterrupted one's.

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::run_dir::write_atomic;

/// One evaluation point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    /// `mle`, `discriminator-pretraining` (D's loss and accuracy only),
    /// `adversarial`.
    pub phase: String,
    /// Epoch within the phase (0 = before its first epoch).
    pub epoch: usize,
    /// Generator epochs so far across phases (the plot's x axis).
    pub global_epoch: usize,
    /// The task's metrics (oracle: `nll_oracle`, `nll_test`; text:
    /// `nll_test`, `bleu2`…, `self_bleu2`…), inline in the JSON line.
    #[serde(flatten)]
    pub scores: BTreeMap<String, f64>,
    /// Mean training loss of the last epoch (MLE NLL or policy-gradient loss).
    pub g_loss: Option<f64>,
    /// Policy-gradient adversarial epochs: the mean Q-value per token over
    /// the epoch's g-steps (docs/metrics.md, "The mean reward during
    /// training"); `None` elsewhere and under `gumbel`.
    pub mean_reward: Option<f64>,
    /// Discriminator loss and accuracy of the last d-step (under `gumbel`,
    /// the mean over the epoch's d-steps).
    pub d_loss: Option<f64>,
    pub d_accuracy: Option<f64>,
    /// Wall-clock seconds since the run (or its first segment) started;
    /// the only column that differs between identical runs.
    pub elapsed_seconds: f64,
}

/// Columns before and after the task's scores.
const LEADING: [&str; 3] = ["phase", "epoch", "global_epoch"];
const TRAILING: [&str; 5] = [
    "g_loss",
    "mean_reward",
    "d_loss",
    "d_accuracy",
    "elapsed_seconds",
];

/// Multiplies `key` by `factor` in every row of `run_dir`'s metrics.jsonl
/// (and rewrites metrics.csv on the next open): how a run written when
/// agon reported a metric on another scale joins the current one. Returns
/// how many rows changed.
pub fn rescale(run_dir: &Path, key: &str, factor: f64) -> anyhow::Result<usize> {
    let jsonl = run_dir.join("metrics.jsonl");
    let Ok(text) = std::fs::read_to_string(&jsonl) else {
        return Ok(0);
    };
    let mut changed = 0;
    let mut out = String::new();
    for line in text.lines() {
        let mut row: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| anyhow::anyhow!("{}: not a metrics row ({e})", jsonl.display()))?;
        if let Some(value) = row.get(key).and_then(serde_json::Value::as_f64) {
            row[key] = serde_json::json!(value * factor);
            changed += 1;
        }
        out.push_str(&serde_json::to_string(&row)?);
        out.push('\n');
    }
    write_atomic(&jsonl, out.as_bytes())?;
    Ok(changed)
}

/// The rows of `run_dir`'s metrics.jsonl as they stand, for readers that
/// must not touch a run another process may be writing (`agon sweep
/// status`): no file is rewritten, and a line that does not parse (one
/// being appended) ends the read.
pub fn read_rows(run_dir: &Path) -> Vec<MetricsRow> {
    let Ok(text) = std::fs::read_to_string(run_dir.join("metrics.jsonl")) else {
        return Vec::new();
    };
    text.lines()
        .map_while(|line| serde_json::from_str(line).ok())
        .collect()
}

/// The log.
pub struct MetricsLog {
    jsonl: PathBuf,
    csv: PathBuf,
    pub rows: Vec<MetricsRow>,
}

impl MetricsLog {
    /// A log in `run_dir` holding `keep` rows of what is there (0 for a new run).
    pub fn open(run_dir: &Path, keep: usize) -> anyhow::Result<Self> {
        let jsonl = run_dir.join("metrics.jsonl");
        let mut rows = Vec::new();
        if jsonl.exists() {
            let text = std::fs::read_to_string(&jsonl)?;
            for (i, line) in text.lines().enumerate().take(keep) {
                rows.push(serde_json::from_str(line).map_err(|e| {
                    anyhow::anyhow!("{}:{}: not a metrics row ({e})", jsonl.display(), i + 1)
                })?);
            }
        }
        anyhow::ensure!(
            rows.len() == keep,
            "{} has {} rows but the checkpoint expects {keep}; the run directory is inconsistent",
            jsonl.display(),
            rows.len()
        );
        let log = MetricsLog {
            jsonl,
            csv: run_dir.join("metrics.csv"),
            rows,
        };
        log.rewrite()?;
        Ok(log)
    }

    /// Appends a row to both files.
    pub fn push(&mut self, row: MetricsRow) -> anyhow::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.jsonl)?;
        writeln!(file, "{}", serde_json::to_string(&row)?)?;
        file.sync_data()?;
        self.rows.push(row);
        self.write_csv()
    }

    fn rewrite(&self) -> anyhow::Result<()> {
        let mut text = String::new();
        for row in &self.rows {
            text.push_str(&serde_json::to_string(row)?);
            text.push('\n');
        }
        write_atomic(&self.jsonl, text.as_bytes())?;
        self.write_csv()
    }

    fn write_csv(&self) -> anyhow::Result<()> {
        let score_names: Vec<&String> = self
            .rows
            .first()
            .map(|r| r.scores.keys().collect())
            .unwrap_or_default();
        let mut header: Vec<&str> = LEADING.to_vec();
        header.extend(score_names.iter().map(|s| s.as_str()));
        header.extend(TRAILING);
        let mut text = header.join(",");
        text.push('\n');
        let optional = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        for r in &self.rows {
            let mut fields = vec![
                r.phase.clone(),
                r.epoch.to_string(),
                r.global_epoch.to_string(),
            ];
            fields.extend(
                score_names
                    .iter()
                    .map(|name| optional(r.scores.get(*name).copied())),
            );
            fields.extend([
                optional(r.g_loss),
                optional(r.mean_reward),
                optional(r.d_loss),
                optional(r.d_accuracy),
                format!("{:.1}", r.elapsed_seconds),
            ]);
            text.push_str(&fields.join(","));
            text.push('\n');
        }
        write_atomic(&self.csv, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn row(value: f64) -> MetricsRow {
        MetricsRow {
            phase: "mle".into(),
            epoch: 1,
            global_epoch: 1,
            scores: BTreeMap::from([("nll_oracle".to_string(), value)]),
            g_loss: Some(value / 3.0),
            mean_reward: None,
            d_loss: None,
            d_accuracy: None,
            elapsed_seconds: value * 7.0,
        }
    }

    /// A resumed run re-reads metrics.jsonl and writes it again: every
    /// value must come back to the last bit (serde_json's default float
    /// parser is off by one ulp for some values, e.g. 11.446562567353249).
    #[test]
    fn values_written_and_read_back_are_bit_identical() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut log = MetricsLog::open(dir.path(), 0).unwrap();
        let mut values = vec![11.446562567353249, 0.1 + 0.2, f64::MIN_POSITIVE];
        values.extend((0..2000).map(|_| rng.random::<f64>() * 20.0));
        for &value in &values {
            log.push(row(value)).unwrap();
        }
        let written = std::fs::read(dir.path().join("metrics.jsonl")).unwrap();
        let reread = MetricsLog::open(dir.path(), values.len()).unwrap();
        for (got, &want) in reread.rows.iter().zip(&values) {
            assert_eq!(got.scores["nll_oracle"].to_bits(), want.to_bits());
            assert_eq!(got, &row(want));
        }
        // Reopening rewrites the file: it must not change a byte.
        assert_eq!(
            std::fs::read(dir.path().join("metrics.jsonl")).unwrap(),
            written
        );
    }
}
