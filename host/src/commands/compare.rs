//! `agon compare RUN_OR_SWEEP…` (see `crate::compare`).

use std::path::{Path, PathBuf};

use crate::{
    cli::CompareArgs,
    compare::{self, analysis, plot, report},
    run_dir::write_atomic,
};

/// `FIRST/compare`, or `compare-2`, `compare-3`… when taken: a comparison
/// never replaces an earlier one.
fn fresh_dir(first: &Path) -> PathBuf {
    let first_choice = first.join("compare");
    if !first_choice.exists() {
        return first_choice;
    }
    (2..)
        .map(|n| first.join(format!("compare-{n}")))
        .find(|d| !d.exists())
        .expect("some number is free")
}

/// Every file `agon compare` writes into its directory.
const COMPARISON_FILES: [&str; 7] = [
    "compare.md",
    "compare.html",
    "compare.json",
    "learning_curves.svg",
    "learning_curves.png",
    "quality_diversity.svg",
    "quality_diversity.png",
];

pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let (runs, caveats) = compare::collect(&args.paths)?;
    let mut groups = compare::group(runs);
    if !args.names.is_empty() {
        if args.names.len() != groups.len() {
            let found: Vec<String> = groups
                .iter()
                .enumerate()
                .map(|(i, g)| format!("  {}. {} ({} runs)", i + 1, g.label, g.runs.len()))
                .collect();
            let count = |n: usize, what: &str| match n {
                1 => format!("1 {what}"),
                n => format!("{n} {what}s"),
            };
            anyhow::bail!(
                "--names gives {} for {}; the groups, in order:\n{}",
                count(args.names.len(), "name"),
                count(groups.len(), "group"),
                found.join("\n")
            );
        }
        for (group, name) in groups.iter_mut().zip(&args.names) {
            group.label = name.trim().to_string();
        }
    }
    let fast_copies = analysis::drop_fast_copies(&mut groups);
    let mut comparison = analysis::compare(&groups);
    comparison.fast_copies_left_out = fast_copies;
    comparison.caveats = caveats;
    if let Some(sentence) = comparison.one_seed_sentence() {
        crate::notes::note(&sentence);
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| fresh_dir(&args.paths[0]));
    if out.join("compare.md").exists() {
        crate::notes::note(&format!(
            "{} holds an earlier comparison; its files are replaced",
            out.display()
        ));
        // All of them: a figure this comparison does not draw must not
        // stay beside its report.
        for name in COMPARISON_FILES {
            let _ = std::fs::remove_file(out.join(name));
        }
    }
    std::fs::create_dir_all(&out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
    let figures = plot::write(&out, &comparison)?;
    if let Some((quality, Some(_))) = &comparison.quality_diversity_metrics {
        // The group means on eval's quality–diversity plot, each with its
        // 95% intervals over seeds as bars: BLEU against Self-BLEU (text),
        // NLL-oracle against NLL-test (synthetic oracle).
        let interval = |e: &crate::compare::stats::Estimate| e.low.zip(e.high);
        let points: Vec<_> = comparison
            .quality_diversity
            .iter()
            .filter_map(|p| {
                let diversity = p.diversity.as_ref()?;
                Some(crate::eval::quality_diversity::PlotPoint {
                    model: format!("{} / {}", p.group, p.model),
                    temperature: p.temperature,
                    x: diversity.mean,
                    y: p.quality.mean,
                    x_interval: interval(diversity),
                    y_interval: interval(&p.quality),
                })
            })
            .collect();
        if quality == "nll_oracle" {
            crate::eval::quality_diversity::write_oracle(&out, &points)?;
        } else {
            let order = quality.trim_start_matches("bleu").parse().unwrap_or(2);
            crate::eval::quality_diversity::write_text(&out, &points, order)?;
        }
    }
    let learning_curves = figures[0].clone();
    let svg_of = |name: &str| {
        let path = if name == "learning_curves.svg" {
            learning_curves.clone()
        } else {
            out.join(name)
        };
        std::fs::read_to_string(path).unwrap_or_default()
    };
    let markdown = report::markdown(&comparison, "learning_curves.svg");
    write_atomic(&out.join("compare.md"), markdown.as_bytes())?;
    write_atomic(
        &out.join("compare.html"),
        report::html(&comparison, svg_of).as_bytes(),
    )?;
    write_atomic(
        &out.join("compare.json"),
        serde_json::to_string_pretty(&comparison)?.as_bytes(),
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&comparison)?);
    } else {
        print!("{markdown}");
        let quality_diversity = matches!(comparison.quality_diversity_metrics, Some((_, Some(_))));
        println!(
            "wrote {}/compare.md, compare.html, compare.json, learning_curves.svg/png{}",
            out.display(),
            if quality_diversity {
                ", quality_diversity.svg/png"
            } else {
                ""
            }
        );
    }
    Ok(())
}
