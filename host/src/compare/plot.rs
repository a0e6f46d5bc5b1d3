//! Learning curves of the headline metric, one per group: the mean over
//! seeds as a line, its 95% interval as a band. SVG and PNG.

use std::path::Path;

use plotters::prelude::*;

use super::analysis::{Comparison, GroupSummary};
use crate::train::plot::{draw_legend, register_font};

/// (generator epochs, mean, low, high) of group `g`'s headline, the
/// interval cut to the values the metric can take.
fn series(comparison: &Comparison, g: usize) -> Vec<(f64, f64, f64, f64)> {
    let (floor, ceiling) = metric_range(&comparison.headline);
    comparison.groups[g]
        .curve
        .iter()
        .filter_map(|(point, metrics)| {
            let e = metrics.get(&comparison.headline)?;
            Some((
                point.global_epoch as f64,
                e.mean,
                e.low.unwrap_or(e.mean).max(floor),
                e.high.unwrap_or(e.mean).min(ceiling),
            ))
        })
        .collect()
}

/// The values a headline metric can take. A t interval over two or three
/// seeds is wide, and past these bounds it would draw values no run can
/// have (a BLEU above 1); the band stops at them. NLLs are ≥ 0; BLEU,
/// ROUGE, distinct-n and Self-BLEU lie in [0, 1].
fn metric_range(metric: &str) -> (f64, f64) {
    if metric.starts_with("nll") || metric.ends_with("lm_nll") {
        (0.0, f64::INFINITY)
    } else {
        (0.0, 1.0)
    }
}

/// Line width of group (or curve) `g` of `groups`: the first widest and each later
/// one thinner (by 2 px for up to 4 groups, by 1 px beyond), so that where
/// groups run the same curve (a shared MLE phase, the same seeds) each
/// shows as a thinner line inside the one before it instead of hiding it.
pub(crate) fn line_width(g: usize, groups: usize) -> u32 {
    let step = if groups <= 4 { 2 } else { 1 };
    2 + step * (groups.saturating_sub(g + 1)) as u32
}

/// Generator epochs before the group's first adversarial epoch, if it has
/// one (as `train::plot::adversarial_start` finds it for one run).
fn adversarial_start(group: &GroupSummary) -> Option<f64> {
    group
        .curve
        .iter()
        .map(|(point, _)| point)
        .filter(|point| point.phase == "adversarial")
        .map(|point| point.global_epoch.saturating_sub(point.epoch))
        .min()
        .map(|start| start as f64)
}

/// Writes `learning_curves.svg` and `.png` into `dir`; returns the paths.
pub fn write(dir: &Path, comparison: &Comparison) -> anyhow::Result<Vec<std::path::PathBuf>> {
    register_font();
    let svg = dir.join("learning_curves.svg");
    let png = dir.join("learning_curves.png");
    draw(
        SVGBackend::new(&svg, (900, 540)).into_drawing_area(),
        comparison,
    )?;
    draw(
        BitMapBackend::new(&png, (900, 540)).into_drawing_area(),
        comparison,
    )?;
    Ok(vec![svg, png])
}

fn draw<B: DrawingBackend>(
    root: DrawingArea<B, plotters::coord::Shift>,
    comparison: &Comparison,
) -> anyhow::Result<()>
where
    B::ErrorType: 'static,
{
    let fail = |e: &dyn std::fmt::Display| anyhow::anyhow!("cannot draw the learning curves: {e}");
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let all: Vec<Vec<(f64, f64, f64, f64)>> = (0..comparison.groups.len())
        .map(|g| series(comparison, g))
        .collect();
    let points = all.iter().flatten();
    let x_max = points.clone().map(|p| p.0).fold(1.0, f64::max);
    let (y_min, y_max) = points
        .flat_map(|p| [p.2, p.3])
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let (y_min, y_max) = if y_min.is_finite() {
        (y_min, y_max)
    } else {
        (0.0, 1.0)
    };
    let pad = ((y_max - y_min) * 0.08).max(1e-3);
    // The axis, too, stays within the values the metric can take (no
    // negative BLEU below a curve near 0).
    let (floor, ceiling) = metric_range(&comparison.headline);
    let (y_low, y_high) = ((y_min - pad).max(floor), (y_max + pad).min(ceiling));
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{} over seeds: mean and 95% interval", comparison.headline),
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max, y_low..y_high)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc("generator epochs (MLE, then adversarial)")
        .y_desc(comparison.headline.as_str())
        .draw()
        .map_err(|e| fail(&e))?;
    let palette = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
    let groups = all.len();
    for (g, points) in all.iter().enumerate() {
        let colour = palette[g % palette.len()];
        let width = line_width(g, groups);
        // The band: upper edge forward, lower edge back.
        let mut band: Vec<(f64, f64)> = points.iter().map(|p| (p.0, p.3)).collect();
        band.extend(points.iter().rev().map(|p| (p.0, p.2)));
        if band.len() >= 3 {
            chart
                .draw_series(std::iter::once(Polygon::new(
                    band,
                    colour.mix(0.18).filled(),
                )))
                .map_err(|e| fail(&e))?;
        }
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.0, p.1)),
                colour.stroke_width(width),
            ))
            .map_err(|e| fail(&e))?
            .label(comparison.groups[g].label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(width))
            });
    }
    // Dashed where adversarial training starts: black when every group
    // starts there, else in each group's colour (groups with different MLE
    // schedules).
    let starts: Vec<(usize, f64)> = (0..comparison.groups.len())
        .filter_map(|g| adversarial_start(&comparison.groups[g]).map(|start| (g, start)))
        .collect();
    let one_start = starts.windows(2).all(|pair| pair[0].1 == pair[1].1);
    for (k, &(g, start)) in starts.iter().enumerate() {
        let colour = match one_start {
            true => BLACK,
            false => palette[g % palette.len()],
        };
        let drawn = chart
            .draw_series(DashedLineSeries::new(
                [(start, y_low), (start, y_high)],
                8,
                6,
                colour.stroke_width(1),
            ))
            .map_err(|e| fail(&e))?;
        if k == 0 {
            drawn
                .label("start of adversarial training (dashed)")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(1))
                });
        }
    }
    // The legend goes where the curves end up not being: below them when
    // they finish in the plot's upper half (BLEU rising), above otherwise.
    let ends: Vec<f64> = all
        .iter()
        .filter_map(|points| points.last())
        .map(|p| p.1)
        .collect();
    let ends_high =
        !ends.is_empty() && ends.iter().sum::<f64>() / ends.len() as f64 > (y_min + y_max) / 2.0;
    let position = match ends_high {
        true => SeriesLabelPosition::LowerRight,
        false => SeriesLabelPosition::UpperRight,
    };
    draw_legend(&mut chart, position).map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::analysis::Point;

    fn group(points: &[(&str, usize, usize)]) -> GroupSummary {
        GroupSummary {
            label: "g".into(),
            runs: Vec::new(),
            seeds: Vec::new(),
            unfinished: Vec::new(),
            curve: points
                .iter()
                .map(|&(phase, epoch, global_epoch)| {
                    let point = Point {
                        global_epoch,
                        phase: phase.into(),
                        epoch,
                    };
                    (point, Default::default())
                })
                .collect(),
            phase_ends: Default::default(),
            adversarial_change: Default::default(),
            training_time: None,
        }
    }

    #[test]
    fn bands_stop_at_the_metric_range_and_later_groups_are_thinner() {
        assert_eq!(metric_range("bleu"), (0.0, 1.0));
        assert_eq!(metric_range("rouge_l"), (0.0, 1.0));
        assert_eq!(metric_range("nll_oracle"), (0.0, f64::INFINITY));
        assert_eq!(line_width(0, 2), 4);
        assert_eq!(line_width(1, 2), 2);
        for groups in 1..=9 {
            let widths: Vec<u32> = (0..groups).map(|g| line_width(g, groups)).collect();
            assert_eq!(widths.last(), Some(&2), "{widths:?}");
            assert!(widths.windows(2).all(|w| w[0] > w[1]), "{widths:?}");
        }
    }

    #[test]
    fn adversarial_training_starts_after_the_last_mle_epoch() {
        // 8 MLE epochs, then adversarial epochs evaluated every 2.
        let run = group(&[
            ("mle", 8, 8),
            ("adversarial", 2, 10),
            ("adversarial", 4, 12),
        ]);
        assert_eq!(adversarial_start(&run), Some(8.0));
        assert_eq!(adversarial_start(&group(&[("mle", 8, 8)])), None);
    }
}
