//! The learning curve: the task's metrics (oracle: NLL-oracle and NLL-test;
//! text: BLEU and Self-BLEU) against generator epochs, with the start of
//! adversarial training marked; below it, when the run has adversarial
//! rows, a panel of D's accuracy and the mean reward over those epochs.
//! SVG and PNG.

mod adversarial;

use std::path::Path;

use plotters::{coord::types::RangedCoordf64, prelude::*};

use super::metrics::MetricsRow;
use crate::task::PlotSpec;

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

pub(crate) fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The bundled font cannot fail to parse; if it did, text would be
        // missing from the plot, which is not worth stopping a run for.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Writes `learning_curve.svg` and `learning_curve.png` into `dir`.
pub fn write_learning_curve(
    dir: &Path,
    rows: &[MetricsRow],
    spec: &PlotSpec,
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    register_font();
    let size = (900, 540 + adversarial::panel_height(rows));
    draw(
        SVGBackend::new(&dir.join("learning_curve.svg"), size).into_drawing_area(),
        rows,
        spec,
    )?;
    draw(
        BitMapBackend::new(&dir.join("learning_curve.png"), size).into_drawing_area(),
        rows,
        spec,
    )?;
    Ok(())
}

fn draw<B: DrawingBackend>(
    root: DrawingArea<B, plotters::coord::Shift>,
    rows: &[MetricsRow],
    spec: &PlotSpec,
) -> anyhow::Result<()>
where
    B::ErrorType: 'static,
{
    let fail = |e: &dyn std::fmt::Display| anyhow::anyhow!("cannot draw the learning curve: {e}");
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let (top, panel) = root.split_vertically(540);
    let x_max = rows
        .iter()
        .map(|r| r.global_epoch)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let values = rows
        .iter()
        .flat_map(|r| {
            spec.series
                .iter()
                .filter_map(|(key, _)| r.scores.get(key).copied())
        })
        .filter(|v| v.is_finite());
    let (y_min, y_max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (y_min, y_max) = if y_min.is_finite() {
        (y_min, y_max)
    } else {
        (0.0, 1.0)
    };
    let pad = ((y_max - y_min) * 0.08).max(0.05);
    let (y_min, y_max) = (y_min - pad, y_max + pad);
    let mut chart = ChartBuilder::on(&top)
        .caption(&spec.title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max, y_min..y_max)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc("generator epochs (MLE, then adversarial)")
        .y_desc(spec.y_label)
        .draw()
        .map_err(|e| fail(&e))?;
    let colours = [BLUE, GREEN, MAGENTA, CYAN];
    for (k, (key, label)) in spec.series.iter().enumerate() {
        let colour = colours[k % colours.len()];
        let points: Vec<(f64, f64)> = rows
            .iter()
            .filter_map(|r| Some((r.global_epoch as f64, *r.scores.get(key)?)))
            .collect();
        // The first series is the headline: thicker, with markers.
        let width = if k == 0 { 2 } else { 1 };
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(width)))
            .map_err(|e| fail(&e))?
            .label(label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(width))
            });
        if k == 0 {
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                .map_err(|e| fail(&e))?;
        }
    }
    if let Some(boundary) = adversarial_start(rows) {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(boundary, y_min), (boundary, y_max)],
                RED.stroke_width(2),
            )))
            .map_err(|e| fail(&e))?
            .label("start of adversarial training")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(|e| fail(&e))?;
    adversarial::draw_panel(&panel, rows, x_max)?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

/// Generator epochs before the first adversarial epoch (where the plots
/// mark the start of adversarial training), if the run has one.
pub(crate) fn adversarial_start(rows: &[MetricsRow]) -> Option<f64> {
    rows.iter()
        .find(|r| r.phase == "adversarial")
        .map(|r| r.global_epoch.saturating_sub(r.epoch) as f64)
}

/// The legend box of agon's plots, at `position`.
pub(crate) fn draw_legend<'a, B: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, B, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    position: SeriesLabelPosition,
) -> Result<(), DrawingAreaErrorKind<B::ErrorType>> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
}
