//! The comparison as a document: headings, paragraphs and tables, written
//! as Markdown (for docs/results.md and terminals) and as one
//! self-contained HTML file (the learning-curve SVG inline).

use super::{
    analysis::Comparison,
    evaluations::Evaluations,
    stats::{Difference, Estimate},
};

enum Block {
    Heading(String),
    Paragraph(String),
    Table(Vec<String>, Vec<Vec<String>>),
    Figure(String),
}

fn number(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "–".to_string()
    }
}

fn estimate(e: &Estimate) -> String {
    match (e.low, e.high) {
        (Some(low), Some(high)) => format!(
            "{} [{}, {}] (n={})",
            number(e.mean),
            number(low),
            number(high),
            e.n
        ),
        _ => format!("{} (n={})", number(e.mean), e.n),
    }
}

fn p_value(p: f64) -> String {
    if p < 1e-4 {
        "< 1e-4".to_string()
    } else {
        format!("{p:.4}")
    }
}

fn difference_cells(d: &Difference) -> Vec<String> {
    vec![
        format!("{:+.4}", d.difference),
        format!("[{:+.4}, {:+.4}]", d.low, d.high),
        p_value(d.p_value),
        format!("{} (df {:.1})", d.test, d.df),
    ]
}

/// Each model against its runs' baseline temperature curve at equal
/// diversity (compare/matched_quality.rs).
fn matched_quality_blocks(
    matched: &[super::matched_quality::MatchedQuality],
    quality: &str,
    diversity: &str,
    out: &mut Vec<Block>,
) {
    if matched.is_empty() {
        return;
    }
    out.push(Block::Heading(format!("{quality} at equal {diversity}")));
    out.push(Block::Paragraph(format!(
        "Within each run, the baseline model's {quality}-against-{diversity} curve over the evaluated temperatures is interpolated linearly at each other model's {diversity}; the difference in {quality} (model − curve) is one number per run, tested across the group's seeds. A model that only moved along the baseline's temperature curve scores 0. Points outside the curve's range are not extrapolated. Rows against the first group's curve \"pooled over its seeds\" measure a later group's models against the mean of that curve at each temperature; their interval is over the later group's runs and leaves out the pooled curve's own spread."
    )));
    let header = [
        "group",
        "model",
        "against",
        "temperature",
        "difference",
        "95% interval",
        "p",
        "test",
        "runs",
        "outside the curve",
    ]
    .map(String::from)
    .to_vec();
    let rows = matched
        .iter()
        .map(|m| {
            let mut row = vec![
                m.group.clone(),
                m.model.clone(),
                m.baseline.clone(),
                m.temperature.to_string(),
            ];
            match &m.difference {
                Some(d) => row.extend(difference_cells(d)),
                None => row.extend(["–", "–", "–", "fewer than 2 runs"].map(String::from)),
            }
            row.push(m.runs.to_string());
            row.push(m.outside.to_string());
            row
        })
        .collect();
    out.push(Block::Table(header, rows));
}

/// The runs' `agon eval` tables: one column per group's model, one row per
/// metric; then the tests of their differences.
fn evaluation_blocks(evaluations: &Evaluations, out: &mut Vec<Block>) {
    if evaluations.models.is_empty() {
        return;
    }
    out.push(Block::Heading("Evaluations (`agon eval`)".into()));
    out.push(Block::Paragraph(
        "From each run's newest `agon eval` (eval.json), pooled over seeds: `mle` is the generator at the end of MLE pretraining, `final` the one at the end of the run (any other model is the snapshot `agon eval --snapshots` named). The differences are tested over seeds: final − mle within each run (paired), and each group's final model against the first group's (paired when both ran the same seeds, Welch otherwise).".into(),
    ));
    for entry in &evaluations.incomplete {
        out.push(Block::Paragraph(format!(
            "Fewer seeds: {}.",
            entry.sentence()
        )));
    }
    let metrics: std::collections::BTreeSet<&String> = evaluations
        .models
        .iter()
        .flat_map(|m| m.metrics.keys())
        .collect();
    let mut header = vec!["metric".to_string()];
    header.extend(
        evaluations
            .models
            .iter()
            .map(|m| format!("{} / {}", m.group, m.model)),
    );
    let rows = metrics
        .into_iter()
        .map(|metric| {
            let mut row = vec![metric.clone()];
            row.extend(
                evaluations
                    .models
                    .iter()
                    .map(|m| m.metrics.get(metric).map(estimate).unwrap_or_default()),
            );
            row
        })
        .collect();
    out.push(Block::Table(header, rows));
    let differences: Vec<Vec<String>> = evaluations
        .changes
        .iter()
        .chain(&evaluations.against_baseline)
        .map(|d| {
            let mut row = vec![
                format!("{}/final − {}", d.group, d.against),
                d.metric.clone(),
            ];
            row.extend(difference_cells(&d.difference));
            row
        })
        .collect();
    if !differences.is_empty() {
        out.push(Block::Table(
            ["difference", "metric", "value", "95% interval", "p", "test"]
                .map(String::from)
                .to_vec(),
            differences,
        ));
    }
}

/// Each group's training time, and the MLE-only schedule that takes as
/// long as an adversarial group's runs (a compute-matched baseline).
fn training_time_blocks(comparison: &Comparison, out: &mut Vec<Block>) {
    // Mean and range: a time is a measurement of the machine, not a
    // quantity with an interval.
    let seconds = |values: &[f64]| {
        let mean = super::stats::mean(values);
        let (low, high) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
        // Tenths under 10 s, so a short run's times are not all "0 s".
        let digits = if high < 10.0 { 1 } else { 0 };
        match values.len() {
            1 => format!("{mean:.digits$} s"),
            n => format!("{mean:.digits$} s ({low:.digits$}–{high:.digits$}, n={n})"),
        }
    };
    let rows: Vec<Vec<String>> = comparison
        .groups
        .iter()
        .filter_map(|g| {
            let time = g.training_time.as_ref()?;
            Some(vec![
                g.label.clone(),
                time.mle_epochs.to_string(),
                seconds(&time.mle_seconds),
                seconds(&time.total_seconds),
                time.matched_mle_epochs
                    .map(|e| e.to_string())
                    .unwrap_or_default(),
            ])
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    out.push(Block::Heading("Training time".into()));
    out.push(Block::Table(
        [
            "group",
            "MLE epochs",
            "to the end of MLE",
            "whole run",
            "MLE epochs in the whole run's time",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    ));
    if let Some(epochs) = comparison
        .groups
        .iter()
        .find_map(|g| g.training_time.as_ref()?.matched_mle_epochs)
    {
        out.push(Block::Paragraph(format!(
            "Training time is each run's `elapsed_seconds` (evaluations included, over all its attempts; the machine's load counts). The last column is the schedule of a compute-matched MLE-only baseline: MLE for as long as the adversarial runs trained, at their own MLE pace, e.g. `--set training.mle.epochs={epochs} --set training.discriminator_pretraining.rounds=0 --set training.adversarial.epochs=0` (docs/sweeps.md)."
        )));
    }
}

/// The per-sample differences (p < 0.05) that the test across seeds of the
/// same evaluations does not find, said plainly: a reader looking for
/// "does this setting help" must not take the per-sample p for it.
fn disagreement(comparison: &Comparison) -> Option<String> {
    let cases: Vec<String> = comparison
        .per_sample
        .iter()
        .filter(|d| d.test.p_value < 0.05)
        .filter_map(|d| {
            let across = comparison
                .evaluations
                .against_baseline
                .iter()
                .find(|e| e.group == d.group && e.metric == d.metric)?;
            (across.difference.p_value >= 0.05).then(|| {
                format!(
                    "{}'s `{}` (per sample p {}, across seeds p {})",
                    d.group,
                    d.metric,
                    p_value(d.test.p_value),
                    p_value(across.difference.p_value)
                )
            })
        })
        .collect();
    (!cases.is_empty()).then(|| {
        format!(
            "Which test answers \"does the setting help\": the test across seeds (\"Evaluations\", below). Here the two disagree: {}. These trained models differ on these items, but the seeds do not show that the setting makes the difference: another set of seeds could reverse it. Run more seeds before claiming it.",
            cases.join("; ")
        )
    })
}

fn blocks(comparison: &Comparison, figure: &str) -> Vec<Block> {
    let mut out = vec![
        Block::Heading("agon compare".into()),
        Block::Paragraph(format!(
            "Task: {}. Headline metric: `{}` ({} is better). Intervals are 95% Student-t intervals over seeds (with few seeds they can reach past a metric's range, e.g. below 0); each metric is tested on its own (no correction for testing many: decide which metric a claim rests on before reading the tables); every score is on agon's 0–1 scale, NLLs in nats per token, lengths in tokens. Runs made by agon commit(s): {}; on: {}.{}",
            comparison.task,
            comparison.headline,
            if comparison.higher_is_better { "higher" } else { "lower" },
            comparison.commits.join(", "),
            comparison.machines.join("; "),
            if comparison.several_machines {
                " The runs come from more than one kind of machine: float rounding differs between them, so a run repeated on another machine is, in effect, another draw (as another seed is), not the same numbers."
            } else {
                ""
            }
        )),
    ];
    out.push(Block::Table(
        vec!["group".into(), "runs".into(), "seeds".into()],
        comparison
            .groups
            .iter()
            .map(|g| {
                let runs = match g.unfinished.as_slice() {
                    [] => g.runs.len().to_string(),
                    seeds => format!(
                        "{} ({} unfinished: seed{} {})",
                        g.runs.len(),
                        seeds.len(),
                        if seeds.len() == 1 { "" } else { "s" },
                        seeds
                            .iter()
                            .map(u64::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                vec![
                    g.label.clone(),
                    runs,
                    g.seeds
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                ]
            })
            .collect(),
    ));
    // Before any number: what the numbers below depend on.
    let caveats: Vec<String> = comparison
        .caveats
        .iter()
        .cloned()
        .chain(comparison.one_seed_sentence())
        .collect();
    if !caveats.is_empty() {
        out.push(Block::Heading("Caveats".into()));
        out.extend(caveats.into_iter().map(Block::Paragraph));
    }
    training_time_blocks(comparison, &mut out);
    out.push(Block::Heading("End of each phase".into()));
    out.push(Block::Paragraph(
        "This table, the change over the adversarial phase and the differences between groups below come from the runs' training-time evaluations (metrics.jsonl): `task.eval_samples` samples each, or, for a conditional task, that many of the first test sources. The \"Evaluations\" tables come from `agon eval` (its own samples, or every test source), so the two can differ.".into(),
    ));
    if !comparison.fast_copies_left_out.is_empty() {
        out.push(Block::Paragraph(format!(
            "Left out of the training-time tables: {}, equal to the metric without `_fast` in every row (runs that draw no more samples, or have no more test lines, than `fast_references`).",
            comparison
                .fast_copies_left_out
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let metrics: Vec<String> = {
        let mut names: Vec<String> = comparison
            .groups
            .iter()
            .flat_map(|g| g.phase_ends.iter().flat_map(|(_, m)| m.keys().cloned()))
            .collect();
        names.sort();
        names.dedup();
        // The headline first.
        names.sort_by_key(|n| *n != comparison.headline);
        names
    };
    if metrics.iter().any(|m| m == "g_loss") {
        out.push(Block::Paragraph(
            "`g_loss` is the loss each phase's generator steps minimised: the per-token NLL in MLE, the REINFORCE loss (a sum over each sample's tokens) in policy-gradient epochs, the host's GAN loss in Gumbel iterations (docs/metrics.md, \"The generator's loss during training\"). Compare it within one phase of one algorithm only.".into(),
        ));
    }
    let mut header = vec!["group".to_string(), "phase".to_string()];
    header.extend(metrics.iter().cloned());
    let mut rows = Vec::new();
    for g in &comparison.groups {
        for (phase, values) in &g.phase_ends {
            let mut row = vec![g.label.clone(), phase.clone()];
            row.extend(
                metrics
                    .iter()
                    .map(|m| values.get(m).map(estimate).unwrap_or_default()),
            );
            rows.push(row);
        }
    }
    out.push(Block::Table(header, rows));
    let changes: Vec<Vec<String>> = comparison
        .groups
        .iter()
        .flat_map(|g| {
            g.adversarial_change.iter().map(|(metric, d)| {
                let mut row = vec![g.label.clone(), metric.clone()];
                row.extend(difference_cells(d));
                row
            })
        })
        .collect();
    if !changes.is_empty() {
        out.push(Block::Heading(
            "Over the adversarial phase (end − end of MLE, within each run)".into(),
        ));
        out.push(Block::Table(
            ["group", "metric", "change", "95% interval", "p", "test"]
                .map(String::from)
                .to_vec(),
            changes,
        ));
    }
    if !comparison.differences.is_empty() {
        out.push(Block::Heading(format!(
            "Against {} (at the end of the runs, training-time evaluations)",
            comparison.differences[0].baseline
        )));
        out.push(Block::Table(
            ["group", "metric", "difference", "95% interval", "p", "test"]
                .map(String::from)
                .to_vec(),
            comparison
                .differences
                .iter()
                .map(|d| {
                    let mut row = vec![d.group.clone(), d.metric.clone()];
                    row.extend(difference_cells(&d.difference));
                    row
                })
                .collect(),
        ));
    }
    if !comparison.per_sample.is_empty() || !comparison.per_sample_notes.is_empty() {
        out.push(Block::Heading("Per-sample paired tests".into()));
        out.push(Block::Paragraph(
            "From each run's newest `agon eval` (per_sample.json): item i of a group's run is paired with item i of the baseline's run of the same seed, where both evaluations share their items; the differences of every seed are pooled into one paired bootstrap (10,000 resamples). The test is about these trained models on these items; the test across seeds above is about the training recipe.".into(),
        ));
        if comparison.per_sample.iter().any(|d| d.by_source) {
            out.push(Block::Paragraph(
                "A conditional task's item i is the same test source in every seed, so its seeds' scores are not independent: each resample draws test sources, each with its items of every seed.".into(),
            ));
        }
        if comparison.per_sample.iter().any(|d| d.corpus_statistic) {
            out.push(Block::Paragraph(
                "Corpus BLEU is not a mean over items: each resample sums the resampled items' sufficient statistics and recomputes it (Koehn 2004), the seeds' outputs taken as one corpus, so its difference is of that pooled corpus BLEU, not the mean of the seeds' differences.".into(),
            ));
        }
        if !comparison.per_sample.is_empty() {
            out.push(Block::Table(
                [
                    "group",
                    "metric",
                    "pairs (seeds)",
                    "difference",
                    "95% interval",
                    "p",
                ]
                .map(String::from)
                .to_vec(),
                comparison
                    .per_sample
                    .iter()
                    .map(|d| {
                        let seeds: Vec<String> = d.seeds.iter().map(u64::to_string).collect();
                        vec![
                            d.group.clone(),
                            d.metric.clone(),
                            if d.by_source {
                                format!(
                                    "{} ({}; {} test sources)",
                                    d.items,
                                    seeds.join(", "),
                                    d.test.pairs
                                )
                            } else {
                                format!("{} ({})", d.items, seeds.join(", "))
                            },
                            format!("{:+.4}", d.test.mean_difference),
                            match (d.test.ci_low, d.test.ci_high) {
                                (Some(low), Some(high)) => format!("[{low:+.4}, {high:+.4}]"),
                                _ => String::new(),
                            },
                            p_value(d.test.p_value),
                        ]
                    })
                    .collect(),
            ));
        }
        if let Some(warning) = disagreement(comparison) {
            out.push(Block::Paragraph(warning));
        }
        for note in &comparison.per_sample_notes {
            out.push(Block::Paragraph(format!("Not paired: {note}")));
        }
    }
    evaluation_blocks(&comparison.evaluations, &mut out);
    if let Some((quality, diversity)) = &comparison.quality_diversity_metrics {
        out.push(Block::Heading(
            "Quality against diversity across temperatures".into(),
        ));
        out.push(Block::Paragraph(format!(
            "From each run's newest `agon eval --temperatures …` (eval.json), pooled over seeds: {quality}{}.",
            match diversity {
                Some(d) => format!(" against {d}"),
                None => " of samples drawn at each temperature (no NLL-test at each temperature: some generator does not declare the `tempered-log-likelihood` capability)".to_string(),
            }
        )));
        let mut header = ["group", "model", "temperature", quality.as_str()]
            .map(String::from)
            .to_vec();
        if let Some(d) = diversity {
            header.push(d.clone());
        }
        let points = &comparison.quality_diversity;
        let with_lm = points.iter().any(|p| p.lm_nll.is_some());
        let with_reverse = points.iter().any(|p| p.reverse_lm_nll.is_some());
        if with_lm {
            header.push("lm_nll".into());
        }
        if with_reverse {
            header.push("reverse_lm_nll".into());
        }
        let cell = |e: &Option<Estimate>| e.as_ref().map(estimate).unwrap_or_default();
        let rows = points
            .iter()
            .map(|p| {
                let mut row = vec![
                    p.group.clone(),
                    p.model.clone(),
                    p.temperature.to_string(),
                    estimate(&p.quality),
                ];
                if diversity.is_some() {
                    row.push(cell(&p.diversity));
                }
                if with_lm {
                    row.push(cell(&p.lm_nll));
                }
                if with_reverse {
                    row.push(cell(&p.reverse_lm_nll));
                }
                row
            })
            .collect();
        out.push(Block::Table(header, rows));
        if diversity.is_some() {
            // Drawn by `agon compare` beside the report from these points.
            out.push(Block::Figure(QUALITY_DIVERSITY_FIGURE.to_string()));
        }
        if let Some(diversity) = diversity {
            matched_quality_blocks(&comparison.matched_quality, quality, diversity, &mut out);
        }
    }
    out.push(Block::Heading(format!(
        "Learning curves: {}",
        comparison.headline
    )));
    out.push(Block::Figure(figure.to_string()));
    let mut header = vec![
        "phase".to_string(),
        "epoch".to_string(),
        "generator epochs".to_string(),
    ];
    header.extend(comparison.groups.iter().map(|g| g.label.clone()));
    let mut points: Vec<&super::analysis::Point> = comparison
        .groups
        .iter()
        .flat_map(|g| g.curve.iter().map(|(p, _)| p))
        .collect();
    points.sort();
    points.dedup();
    let rows = points
        .into_iter()
        .filter_map(|p| {
            let cells: Vec<String> = comparison
                .groups
                .iter()
                .map(|g| {
                    g.curve
                        .iter()
                        .find(|(q, _)| q == p)
                        .and_then(|(_, m)| m.get(&comparison.headline))
                        .map(estimate)
                        .unwrap_or_default()
                })
                .collect();
            if cells.iter().all(String::is_empty) {
                return None;
            }
            let mut row = vec![
                p.phase.clone(),
                p.epoch.to_string(),
                p.global_epoch.to_string(),
            ];
            row.extend(cells);
            Some(row)
        })
        .collect();
    out.push(Block::Table(header, rows));
    out
}

fn markdown_cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The quality–diversity plot's file in the report's directory, drawn when
/// the runs' evaluations have a temperature sweep with a diversity.
pub const QUALITY_DIVERSITY_FIGURE: &str = "quality_diversity.svg";

/// The report as Markdown; `figure` is the learning-curve image's path.
pub fn markdown(comparison: &Comparison, figure: &str) -> String {
    let mut out = String::new();
    for block in blocks(comparison, figure) {
        match block {
            Block::Heading(text) if out.is_empty() => out.push_str(&format!("# {text}\n\n")),
            Block::Heading(text) => out.push_str(&format!("## {text}\n\n")),
            Block::Paragraph(text) => out.push_str(&format!("{text}\n\n")),
            Block::Figure(path) if path == QUALITY_DIVERSITY_FIGURE => {
                out.push_str(&format!("![quality against diversity]({path})\n\n"))
            }
            Block::Figure(path) => out.push_str(&format!("![learning curves]({path})\n\n")),
            Block::Table(header, rows) => {
                out.push_str(&format!(
                    "| {} |\n",
                    header
                        .iter()
                        .map(|h| markdown_cell(h))
                        .collect::<Vec<_>>()
                        .join(" | ")
                ));
                out.push_str(&format!("|{}\n", "---|".repeat(header.len())));
                for row in rows {
                    out.push_str(&format!(
                        "| {} |\n",
                        row.iter()
                            .map(|c| markdown_cell(c))
                            .collect::<Vec<_>>()
                            .join(" | ")
                    ));
                }
                out.push('\n');
            }
        }
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The report as one HTML file, its figures inline: `svg_of` gives the SVG
/// of a figure's file (`learning_curves.svg`, `quality_diversity.svg`).
pub fn html(comparison: &Comparison, svg_of: impl Fn(&str) -> String) -> String {
    let mut body = String::new();
    for block in blocks(comparison, "learning_curves.svg") {
        match block {
            Block::Heading(text) if body.is_empty() => {
                body.push_str(&format!("<h1>{}</h1>\n", escape(&text)))
            }
            Block::Heading(text) => body.push_str(&format!("<h2>{}</h2>\n", escape(&text))),
            Block::Paragraph(text) => body.push_str(&format!("<p>{}</p>\n", escape(&text))),
            Block::Figure(path) => body.push_str(&format!("<figure>{}</figure>\n", svg_of(&path))),
            Block::Table(header, rows) => {
                body.push_str("<table>\n<tr>");
                for h in header {
                    body.push_str(&format!("<th>{}</th>", escape(&h)));
                }
                body.push_str("</tr>\n");
                for row in rows {
                    body.push_str("<tr>");
                    for c in row {
                        body.push_str(&format!("<td>{}</td>", escape(&c)));
                    }
                    body.push_str("</tr>\n");
                }
                body.push_str("</table>\n");
            }
        }
    }
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>agon compare</title>\n<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}</style></head>\n<body>\n{body}</body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{
        evaluations::{EvaluationDifference, Evaluations},
        per_sample::PerSampleDifference,
        stats::Difference,
    };
    use crate::eval::significance::PairedTest;

    fn comparison(per_sample_p: f64, across_seeds_p: f64) -> Comparison {
        let across = |p_value| Difference {
            difference: -0.17,
            low: -1.3,
            high: 0.97,
            p_value,
            df: 2.0,
            test: "paired t".into(),
        };
        Comparison {
            headline: "nll_oracle".into(),
            higher_is_better: false,
            task: "synthetic oracle".into(),
            commits: Vec::new(),
            machines: Vec::new(),
            several_machines: false,
            groups: Vec::new(),
            differences: Vec::new(),
            per_sample: vec![PerSampleDifference {
                group: "rollouts=8".into(),
                baseline: "rollouts=2".into(),
                metric: "nll_oracle".into(),
                seeds: vec![1, 2, 3],
                items: 3000,
                by_source: false,
                corpus_statistic: false,
                test: PairedTest {
                    method: "paired bootstrap",
                    mean_difference: -0.17,
                    ci_low: Some(-0.23),
                    ci_high: Some(-0.1),
                    p_value: per_sample_p,
                    resamples: 10_000,
                    pairs: 3000,
                },
            }],
            per_sample_notes: Vec::new(),
            quality_diversity: Vec::new(),
            quality_diversity_metrics: None,
            matched_quality: Vec::new(),
            evaluations: Evaluations {
                models: Vec::new(),
                changes: Vec::new(),
                against_baseline: vec![EvaluationDifference {
                    group: "rollouts=8".into(),
                    against: "rollouts=2/final".into(),
                    metric: "nll_oracle".into(),
                    difference: across(across_seeds_p),
                }],
                incomplete: Vec::new(),
            },
            fast_copies_left_out: Vec::new(),
            one_seed_groups: Vec::new(),
            caveats: Vec::new(),
        }
    }

    fn group(label: &str, seeds: &[u64]) -> crate::compare::analysis::GroupSummary {
        crate::compare::analysis::GroupSummary {
            label: label.into(),
            runs: seeds.iter().map(|s| format!("run-{s}")).collect(),
            seeds: seeds.to_vec(),
            unfinished: Vec::new(),
            curve: Vec::new(),
            phase_ends: Vec::new(),
            adversarial_change: Default::default(),
            training_time: None,
        }
    }

    #[test]
    fn a_per_sample_difference_the_seeds_do_not_show_is_said_to_be_one() {
        let warning = disagreement(&comparison(0.0002, 0.59)).unwrap();
        assert!(warning.contains("the test across seeds"), "{warning}");
        assert!(
            warning.contains("rollouts=8's `nll_oracle` (per sample p 0.0002, across seeds p 0.59"),
            "{warning}"
        );
        assert!(markdown(&comparison(0.0002, 0.59), "").contains(&warning));
        // Both tests agree (either way): nothing to say.
        assert_eq!(disagreement(&comparison(0.0002, 0.01)), None);
        assert_eq!(disagreement(&comparison(0.4, 0.59)), None);
    }

    #[test]
    fn one_seed_groups_and_caveats_come_before_the_numbers() {
        let mut two_seeds = comparison(0.4, 0.59);
        two_seeds.groups = vec![group("rollouts=2", &[1, 2]), group("rollouts=8", &[1, 2])];
        assert_eq!(two_seeds.one_seed_sentence(), None);
        assert!(!markdown(&two_seeds, "").contains("## Caveats"));

        let mut one_seed = two_seeds.clone();
        one_seed.groups[1] = group("rollouts=8", &[1]);
        one_seed.one_seed_groups = vec!["rollouts=8".into()];
        let sentence = one_seed.one_seed_sentence().unwrap();
        assert!(
            sentence.starts_with("Not tested across seeds: `rollouts=8` (one seed)."),
            "{sentence}"
        );
        assert!(sentence.contains("`seeds: [1, 2, 3]`"), "{sentence}");
        assert!(
            sentence.contains("difference against the baseline, `rollouts=2`"),
            "{sentence}"
        );
        assert!(!sentence.contains("one-seed baseline"), "{sentence}");

        // A one-seed baseline leaves every group untested: said so.
        let mut one_seed_baseline = two_seeds.clone();
        one_seed_baseline.groups[0] = group("rollouts=2", &[1]);
        one_seed_baseline.one_seed_groups = vec!["rollouts=2".into()];
        let sentence = one_seed_baseline.one_seed_sentence().unwrap();
        assert!(
            sentence
                .contains("with a one-seed baseline, no group's difference against it is tested"),
            "{sentence}"
        );
        // One group alone has no baseline to be tested against.
        let mut alone = one_seed_baseline.clone();
        alone.groups.truncate(1);
        let sentence = alone.one_seed_sentence().unwrap();
        assert!(!sentence.contains("baseline"), "{sentence}");

        one_seed.caveats = vec!["runs/a has not finished its schedule".into()];
        one_seed.groups[0].unfinished = vec![2];
        let report = markdown(&one_seed, "");
        assert!(
            report.contains("| rollouts=2 | 2 (1 unfinished: seed 2) | 1, 2 |"),
            "{report}"
        );
        let caveats = report.find("## Caveats").unwrap();
        let unfinished = report.find("runs/a has not finished").unwrap();
        let untested = report.find("Not tested across seeds").unwrap();
        let first_numbers = report.find("## End of each phase").unwrap();
        assert!(
            caveats < unfinished && unfinished < untested && untested < first_numbers,
            "{report}"
        );
        assert!(html(&one_seed, |_| String::new()).contains("Not tested across seeds"));
    }
}
