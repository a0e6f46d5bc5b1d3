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
    let width = evaluation
        .models
        .iter()
        .map(|m| m.label.len())
        .max()
        .unwrap_or(8)
        .max(10);
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
    let _ = write!(out, "{:<30}", "metric (0–1; NLL: nats/token)");
    for model in &evaluation.models {
        let _ = write!(out, " {:>width$}", model.label);
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
            let _ = writeln!(
                out,
                "  {:<12} {} − {}: {:+.4} {interval}  p {p}  ({}, {} pairs)",
                c.metric, c.model, c.baseline, c.test.mean_difference, c.test.method, c.test.pairs
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
                p.model, p.temperature, p.bleu, p.self_bleu
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
