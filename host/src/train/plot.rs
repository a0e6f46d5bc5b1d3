//! The learning curve: NLL-oracle (and NLL-test) against generator epochs,
//! with the start of adversarial training marked. SVG and PNG.

use std::path::Path;

use plotters::prelude::*;

use super::metrics::MetricsRow;

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The bundled font cannot fail to parse; if it did, text would be
        // missing from the plot, which is not worth stopping a run for.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Writes `learning_curve.svg` and `learning_curve.png` into `dir`.
pub fn write_learning_curve(dir: &Path, rows: &[MetricsRow]) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    register_font();
    draw(
        SVGBackend::new(&dir.join("learning_curve.svg"), (900, 540)).into_drawing_area(),
        rows,
    )?;
    draw(
        BitMapBackend::new(&dir.join("learning_curve.png"), (900, 540)).into_drawing_area(),
        rows,
    )?;
    Ok(())
}

fn draw<B: DrawingBackend>(
    root: DrawingArea<B, plotters::coord::Shift>,
    rows: &[MetricsRow],
) -> anyhow::Result<()>
where
    B::ErrorType: 'static,
{
    let fail = |e: &dyn std::fmt::Display| anyhow::anyhow!("cannot draw the learning curve: {e}");
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let x_max = rows
        .iter()
        .map(|r| r.global_epoch)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let values = rows
        .iter()
        .flat_map(|r| [r.nll_oracle, r.nll_test])
        .filter(|v| v.is_finite());
    let (y_min, y_max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let pad = ((y_max - y_min) * 0.08).max(0.05);
    let (y_min, y_max) = (y_min - pad, y_max + pad);
    let mut chart = ChartBuilder::on(&root)
        .caption("SeqGAN synthetic data: NLL-oracle", ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max, y_min..y_max)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc("generator epochs (MLE, then adversarial)")
        .y_desc("nats per token")
        .draw()
        .map_err(|e| fail(&e))?;
    let oracle: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (r.global_epoch as f64, r.nll_oracle))
        .collect();
    let test: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (r.global_epoch as f64, r.nll_test))
        .collect();
    chart
        .draw_series(LineSeries::new(oracle.clone(), BLUE.stroke_width(2)))
        .map_err(|e| fail(&e))?
        .label("NLL-oracle")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(oracle.iter().map(|&p| Circle::new(p, 3, BLUE.filled())))
        .map_err(|e| fail(&e))?;
    chart
        .draw_series(LineSeries::new(test, GREEN.stroke_width(1)))
        .map_err(|e| fail(&e))?
        .label("NLL-test (generator on held-out oracle data)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN));
    if let Some(boundary) = rows
        .iter()
        .find(|r| r.phase == "adversarial")
        .map(|r| (r.global_epoch - r.epoch) as f64)
    {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(boundary, y_min), (boundary, y_max)],
                RED.stroke_width(2),
            )))
            .map_err(|e| fail(&e))?
            .label("start of adversarial training")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}
