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

/// (label, points) of the adversarial rows, those with points. A run
/// without rewards (`algorithm: gumbel`: gradients, no reward) records D's
/// accuracy as the mean over the epoch's d-steps.
fn series(rows: &[MetricsRow]) -> Vec<(&'static str, Vec<(f64, f64)>)> {
    let points = |value: fn(&MetricsRow) -> Option<f64>| -> Vec<(f64, f64)> {
        rows.iter()
            .filter(|r| r.phase == "adversarial")
            .filter_map(|r| Some((r.global_epoch as f64, value(r)?)))
            .filter(|(_, v)| v.is_finite())
            .collect()
    };
    let rewards = points(|r| r.mean_reward);
    let accuracy = if rewards.is_empty() {
        "D accuracy (mean over the epoch's d-steps)"
    } else {
        "D accuracy (last d-step)"
    };
    [
        (accuracy, points(|r| r.d_accuracy)),
        ("mean reward per token (the epoch's g-steps)", rewards),
    ]
    .into_iter()
    .filter(|(_, points)| !points.is_empty())
    .collect()
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
    let shown: Vec<&str> = series
        .iter()
        .map(|(label, _)| {
            if label.starts_with("D accuracy") {
                "D accuracy"
            } else {
                "mean reward"
            }
        })
        .collect();
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("adversarial phase: {}", shown.join(" and ")),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(d_accuracy: Option<f64>, mean_reward: Option<f64>) -> MetricsRow {
        MetricsRow {
            phase: "adversarial".into(),
            epoch: 1,
            global_epoch: 3,
            scores: Default::default(),
            g_loss: Some(0.5),
            mean_reward,
            d_loss: d_accuracy.map(|_| 0.6),
            d_accuracy,
            elapsed_seconds: 1.0,
        }
    }

    #[test]
    fn only_what_the_run_recorded_is_drawn_and_named_for_its_algorithm() {
        let labels = |rows: &[MetricsRow]| -> Vec<&'static str> {
            series(rows).into_iter().map(|(label, _)| label).collect()
        };
        // Policy gradient: the last d-step's accuracy and the rewards.
        assert_eq!(
            labels(&[row(Some(0.9), Some(0.1))]),
            [
                "D accuracy (last d-step)",
                "mean reward per token (the epoch's g-steps)"
            ]
        );
        // `gumbel`: no reward, and the accuracy is the epoch's mean.
        assert_eq!(
            labels(&[row(Some(0.9), None)]),
            ["D accuracy (mean over the epoch's d-steps)"]
        );
        // A reward without a discriminator (REINFORCE on ROUGE).
        assert_eq!(
            labels(&[row(None, Some(0.2))]),
            ["mean reward per token (the epoch's g-steps)"]
        );
        assert_eq!(panel_height(&[row(None, None)]), 0);
    }
}
