//! The learning curve's lower panel: D's accuracy and the mean reward over
//! the adversarial epochs, on the headline plot's x axis (so an epoch sits
//! at the same place in both) and a 0–1 y axis, widened only when a reward
//! leaves it (log D is negative).

use plotters::prelude::*;

use super::{draw_legend, MetricsRow};

/// Height of the panel in pixels, 0 when there is nothing to draw.
pub fn panel_height(rows: &[MetricsRow]) -> u32 {
    if series(rows).iter().any(|(_, points)| !points.is_empty()) {
        240
    } else {
        0
    }
}

/// (label, points) of the adversarial rows.
fn series(rows: &[MetricsRow]) -> [(&'static str, Vec<(f64, f64)>); 2] {
    let points = |value: fn(&MetricsRow) -> Option<f64>| -> Vec<(f64, f64)> {
        rows.iter()
            .filter(|r| r.phase == "adversarial")
            .filter_map(|r| Some((r.global_epoch as f64, value(r)?)))
            .filter(|(_, v)| v.is_finite())
            .collect()
    };
    [
        ("D accuracy (last d-step)", points(|r| r.d_accuracy)),
        (
            "mean reward per token (last g-step)",
            points(|r| r.mean_reward),
        ),
    ]
}

/// Draws the panel into `area` (nothing when there are no adversarial rows).
pub fn draw_panel<B: DrawingBackend>(
    area: &DrawingArea<B, plotters::coord::Shift>,
    rows: &[MetricsRow],
    x_max: f64,
) -> anyhow::Result<()>
where
    B::ErrorType: 'static,
{
    if panel_height(rows) == 0 {
        return Ok(());
    }
    let fail = |e: &dyn std::fmt::Display| anyhow::anyhow!("cannot draw the learning curve: {e}");
    let series = series(rows);
    let (lo, hi) = series
        .iter()
        .flat_map(|(_, points)| points.iter().map(|&(_, v)| v))
        .fold((0.0f64, 1.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let pad = (hi - lo) * 0.05;
    let mut chart = ChartBuilder::on(area)
        .caption(
            "adversarial phase: D accuracy and mean reward",
            ("sans-serif", 18),
        )
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max, (lo - pad)..(hi + pad))
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc("generator epochs")
        .y_desc("accuracy, reward")
        .draw()
        .map_err(|e| fail(&e))?;
    for ((label, points), colour) in series.into_iter().zip([RGBColor(230, 120, 0), MAGENTA]) {
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
            .map_err(|e| fail(&e))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
            .map_err(|e| fail(&e))?;
    }
    // The start of adversarial training, as in the panel above.
    if let Some(boundary) = super::adversarial_start(rows) {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(boundary, lo - pad), (boundary, hi + pad)],
                RED.stroke_width(2),
            )))
            .map_err(|e| fail(&e))?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperLeft).map_err(|e| fail(&e))?;
    Ok(())
}
