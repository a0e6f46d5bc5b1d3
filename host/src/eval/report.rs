//! `agon eval`'s terminal table.

use std::fmt::Write;

use super::Evaluation;

/// The metric table (rows: metrics; columns: models), the paired tests, and
/// the sweep. The evaluation's warnings are not in it: `agon eval` says them
/// on standard error, each once (some while it decodes), and eval.json keeps
/// them.
pub fn table(evaluation: &Evaluation) -> String {
    let mut out = String::new();
    let names: Vec<&String> = evaluation
        .models
        .first()
        .map(|m| m.metrics.keys().collect())
        .unwrap_or_default();
    let labels: Vec<&str> = evaluation.models.iter().map(|m| m.label.as_str()).collect();
    let columns = column_names(&labels);
    // A model's name in the table, the tests and the sweep.
    let short = |label: &str| -> String {
        labels
            .iter()
            .position(|l| *l == label)
            .map(|i| columns[i].clone())
            .unwrap_or_else(|| label.to_string())
    };
    let width = columns.iter().map(|c| c.len()).max().unwrap_or(8).max(10);
    if evaluation.task == "conditional" {
        for note in &evaluation.notes {
            let _ = writeln!(out, "{note}");
        }
    } else {
        let _ = writeln!(
            out,
            "{} samples per model at temperature {}, seed {}: agon eval's own draws, not the training-time samples behind metrics.jsonl (the two differ by sampling noise)",
            evaluation.samples, evaluation.temperature, evaluation.seed
        );
    }
    if columns.iter().zip(&labels).any(|(c, l)| c != l) {
        out.push_str("models:\n");
        for (column, label) in columns.iter().zip(&labels) {
            let _ = writeln!(out, "  {column:<4} {label}");
        }
    }
    let _ = write!(out, "{:<30}", "metric (0–1; NLL: nats/token)");
    for column in &columns {
        let _ = write!(out, " {column:>width$}");
    }
    out.push('\n');
    for name in names {
        let _ = write!(out, "{name:<30}");
        for model in &evaluation.models {
            let value = model.metrics.get(name).copied().unwrap_or(f64::NAN);
            let _ = write!(out, " {value:>width$.4}");
        }
        out.push('\n');
    }
    if !evaluation.comparisons.is_empty() {
        out.push_str("\npaired tests (model − baseline, 95% interval, two-sided p):\n");
        for c in &evaluation.comparisons {
            let p = if c.test.p_value <= 2.0 / c.test.resamples as f64 {
                format!("< {:.0e}", 2.0 / c.test.resamples as f64)
            } else {
                format!("{:.4}", c.test.p_value)
            };
            let interval = match (c.test.ci_low, c.test.ci_high) {
                (Some(low), Some(high)) => format!("[{low:+.4}, {high:+.4}]"),
                _ => "(no interval)".to_string(),
            };
            // Every pair equal (an interval of [0, 0]): the two gave the
            // same outputs, e.g. one checkpoint twice (the end of two runs'
            // shared MLE phase).
            let identical = c.test.mean_difference == 0.0
                && c.test.ci_low == Some(0.0)
                && c.test.ci_high == Some(0.0);
            let _ = writeln!(
                out,
                "  {:<12} {} − {}: {:+.4} {interval}  p {p}  ({}, {} pairs){}",
                c.metric,
                short(&c.model),
                short(&c.baseline),
                c.test.mean_difference,
                c.test.method,
                c.test.pairs,
                if identical {
                    "  identical on every pair: the same outputs (e.g. one checkpoint twice)"
                } else {
                    ""
                }
            );
        }
    }
    if let Some(order) = evaluation.sweep_order {
        let _ = writeln!(
            out,
            "\nquality–diversity (BLEU-{order} vs Self-BLEU-{order} by temperature):"
        );
        for p in &evaluation.sweep {
            let _ = write!(
                out,
                "  {:<width$} T={:<4} BLEU-{order} {:.4}  Self-BLEU-{order} {:.4}",
                short(&p.model),
                p.temperature,
                p.bleu,
                p.self_bleu
            );
            if let Some(lm) = p.lm_nll {
                let _ = write!(out, "  LM {lm:.4}");
            }
            if let Some(reverse) = p.reverse_lm_nll {
                let _ = write!(out, "  reverse LM {reverse:.4}");
            }
            let _ = writeln!(out);
        }
    }
    out
}

/// Labels longer than this are keyed: a sweep cell's run name and
/// snapshot (`000_mle.epochs-12_rounds-0_adversarial.epochs-0_seed-1/final`)
/// would make each column as wide.
const WIDEST_COLUMN: usize = 24;

/// The models' column headings: their labels when all are short, `[1]`,
/// `[2]`… otherwise (listed with their labels above the table).
fn column_names(labels: &[&str]) -> Vec<String> {
    if labels.iter().all(|l| l.chars().count() <= WIDEST_COLUMN) {
        return labels.iter().map(|l| l.to_string()).collect();
    }
    (1..=labels.len()).map(|i| format!("[{i}]")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::ModelScores;

    fn evaluation(labels: &[&str]) -> Evaluation {
        let models: Vec<ModelScores> = labels
            .iter()
            .enumerate()
            .map(|(i, label)| ModelScores {
                label: label.to_string(),
                metrics: [("nll_oracle".to_string(), 9.0 + i as f64)].into(),
                per_sample: Default::default(),
                corpus_statistics: Default::default(),
            })
            .collect();
        Evaluation {
            task: "synthetic-oracle".into(),
            samples: 10,
            temperature: 1.0,
            seed: 1,
            pairing: String::new(),
            notes: Vec::new(),
            warnings: Vec::new(),
            models,
            comparisons: Vec::new(),
            sweep_order: None,
            sweep: Vec::new(),
            outputs: Default::default(),
        }
    }

    #[test]
    fn short_labels_head_their_columns_and_long_ones_are_keyed() {
        let short = table(&evaluation(&["oracle/mle", "oracle/final"]));
        assert!(!short.contains("models:"), "{short}");
        let header = short.lines().find(|l| l.starts_with("metric")).unwrap();
        assert!(
            header.contains("oracle/mle") && header.contains("oracle/final"),
            "{header}"
        );

        let cell = "000_mle.epochs-12_rounds-0_adversarial.epochs-0_seed-1";
        let (mle, last) = (format!("{cell}/mle"), format!("{cell}/final"));
        let mut keyed = evaluation(&[&mle, &last]);
        keyed.comparisons.push(crate::eval::Comparison {
            metric: "nll_oracle".into(),
            baseline: mle.clone(),
            model: last.clone(),
            test: crate::eval::significance::paired_bootstrap(&[1.0, 2.0], &[2.0, 3.0], 10, 1),
        });
        keyed.sweep_order = Some(2);
        keyed.sweep.push(crate::eval::SweepPoint {
            model: last.clone(),
            temperature: 0.7,
            bleu: 0.5,
            self_bleu: 0.6,
            lm_nll: None,
            reverse_lm_nll: None,
        });
        let long = table(&keyed);
        assert!(long.contains("nll_oracle   [2] − [1]: +1.0000"), "{long}");
        assert!(!long.contains("identical on every pair"), "{long}");
        // The same scores on every pair: said to be the same model.
        keyed.comparisons[0].test =
            crate::eval::significance::paired_bootstrap(&[1.0, 2.0], &[1.0, 2.0], 10, 1);
        let same = table(&keyed);
        assert!(
            same.contains("+0.0000 [+0.0000, +0.0000]")
                && same.contains("identical on every pair: the same outputs"),
            "{same}"
        );
        assert!(long.contains("  [2]        T=0.7  BLEU-2 0.5000"), "{long}");
        assert!(
            long.contains(&format!("  [1]  {mle}\n  [2]  {last}\n")),
            "{long}"
        );
        let header = long.lines().find(|l| l.starts_with("metric")).unwrap();
        assert!(
            header.ends_with("[1]        [2]") && !header.contains(cell),
            "{header}"
        );
        let row = long.lines().find(|l| l.starts_with("nll_oracle")).unwrap();
        assert_eq!(row.chars().count(), header.chars().count(), "{long}");
    }
}
