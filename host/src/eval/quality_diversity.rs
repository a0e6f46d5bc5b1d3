//! The quality–diversity plot (Caccia et al. 2018, "Language GANs falling
//! short"): BLEU against Self-BLEU as the sampling temperature varies, one
//! curve per model. A model whose curve lies above and left of another's is
//! better at every trade-off; a GAN that only moved along the MLE model's
//! curve did no more than lower the temperature.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::{plot_layout, SweepPoint};

/// Writes `quality_diversity.svg` and `.png` into `dir`.
pub fn write(dir: &Path, points: &[SweepPoint], order: usize) -> anyhow::Result<Vec<PathBuf>> {
    let points: Vec<PlotPoint> = points
        .iter()
        .map(|p| PlotPoint {
            model: p.model.clone(),
            temperature: p.temperature,
            x: p.self_bleu,
            y: p.bleu,
        })
        .collect();
    write_points(
        dir,
        &points,
        &Axes {
            caption: format!("Quality vs diversity across temperatures (BLEU-{order})"),
            x: format!("Self-BLEU-{order} (lower = more diverse)"),
            y: format!("BLEU-{order} against the test set (higher = better)"),
        },
    )
}

/// The synthetic-oracle version: NLL-oracle (quality) against NLL-test
/// (coverage) of each model's distribution at each temperature.
pub fn write_oracle(dir: &Path, points: &[PlotPoint]) -> anyhow::Result<Vec<PathBuf>> {
    write_points(
        dir,
        points,
        &Axes {
            caption: "Quality vs coverage across temperatures (synthetic oracle)".into(),
            x: "NLL-test of held-out oracle samples at T (lower = covers more)".into(),
            y: "NLL-oracle of samples at T (lower = better)".into(),
        },
    )
}

/// One model at one temperature.
pub struct PlotPoint {
    pub model: String,
    pub temperature: f32,
    pub x: f64,
    pub y: f64,
}

struct Axes {
    caption: String,
    x: String,
    y: String,
}

fn write_points(dir: &Path, points: &[PlotPoint], axes: &Axes) -> anyhow::Result<Vec<PathBuf>> {
    crate::train::plot::register_font();
    let svg = dir.join("quality_diversity.svg");
    let png = dir.join("quality_diversity.png");
    draw(
        SVGBackend::new(&svg, (820, 620)).into_drawing_area(),
        points,
        axes,
    )?;
    draw(
        BitMapBackend::new(&png, (820, 620)).into_drawing_area(),
        points,
        axes,
    )?;
    Ok(vec![svg, png])
}

fn draw<B: DrawingBackend>(
    root: DrawingArea<B, plotters::coord::Shift>,
    points: &[PlotPoint],
    axes: &Axes,
) -> anyhow::Result<()>
where
    B::ErrorType: 'static,
{
    let fail =
        |e: &dyn std::fmt::Display| anyhow::anyhow!("cannot draw the quality–diversity plot: {e}");
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let finite = |v: f64| v.is_finite();
    let range = |values: Vec<f64>| {
        let (lo, hi) = values
            .into_iter()
            .filter(|&v| finite(v))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            });
        if lo.is_finite() {
            let pad = ((hi - lo) * 0.1).max(0.02);
            (lo - pad)..(hi + pad)
        } else {
            0.0..1.0
        }
    };
    let x = range(points.iter().map(|p| p.x).collect());
    let y = range(points.iter().map(|p| p.y).collect());
    let mut chart = ChartBuilder::on(&root)
        .caption(axes.caption.as_str(), ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x, y)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc(axes.x.as_str())
        .y_desc(axes.y.as_str())
        .draw()
        .map_err(|e| fail(&e))?;
    let colours = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
    let mut models: Vec<&str> = Vec::new();
    for p in points {
        if !models.contains(&p.model.as_str()) {
            models.push(&p.model);
        }
    }
    let mut curves: Vec<(RGBColor, Vec<&PlotPoint>)> = Vec::new();
    for (k, model) in models.iter().enumerate() {
        let colour = colours[k % colours.len()];
        // Later curves thinner: two groups' models with the same MLE phase
        // draw the same curve, and the later must not hide the earlier.
        let width = crate::compare::plot::line_width(k, models.len());
        let mut curve: Vec<&PlotPoint> = points.iter().filter(|p| p.model == *model).collect();
        curve.sort_by(|a, b| a.temperature.total_cmp(&b.temperature));
        let xy: Vec<(f64, f64)> = curve.iter().map(|p| (p.x, p.y)).collect();
        chart
            .draw_series(LineSeries::new(xy, colour.stroke_width(width)))
            .map_err(|e| fail(&e))?
            .label(*model)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(width))
            });
        curves.push((colour, curve));
    }
    // Every label beside its own point, clear of the others, the curves and
    // the legend (points of several models nearly coincide), placed once
    // all points are known.
    let font = ("sans-serif", 13).into_font();
    let labelled: Vec<(RGBColor, &PlotPoint, String)> = curves
        .iter()
        .flat_map(|(colour, curve)| {
            curve
                .iter()
                .map(move |p| (*colour, *p, format!("T={}", p.temperature)))
        })
        .collect();
    let pixels: Vec<(i32, i32)> = labelled
        .iter()
        .map(|(_, p, _)| chart.backend_coord(&(p.x, p.y)))
        .collect();
    let sizes: Vec<(i32, i32)> = labelled
        .iter()
        .map(|(_, _, text)| {
            font.box_size(text)
                .map(|(w, h)| (w as i32, h as i32))
                .unwrap_or((7 * text.len() as i32, 13))
        })
        .collect();
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    let area = plot_layout::Rect {
        x: xs.start,
        y: ys.start,
        w: xs.end - xs.start,
        h: ys.end - ys.start,
    };
    let legend_size = legend_size(&models);
    let corner = plot_layout::legend_corner(&pixels, area, legend_size, LEGEND_MARGIN);
    let mut segments = Vec::new();
    for (_, curve) in &curves {
        let at: Vec<(i32, i32)> = curve
            .iter()
            .map(|p| chart.backend_coord(&(p.x, p.y)))
            .collect();
        segments.extend(at.windows(2).map(|w| (w[0], w[1])));
    }
    let obstacles = plot_layout::Obstacles {
        marker: 5,
        segments,
        boxes: vec![corner.rect(area, legend_size, LEGEND_MARGIN)],
    };
    let offsets = plot_layout::place(&pixels, &sizes, &obstacles, area);
    for (((colour, p, text), &offset), &size) in labelled.iter().zip(&offsets).zip(&sizes) {
        if plot_layout::needs_leader(offset, size) {
            // A thin line from the point to the label's nearest point.
            let leader = PathElement::new(
                vec![(0, 0), plot_layout::nearest_point(offset, size)],
                colour.mix(0.5).stroke_width(1),
            );
            chart
                .draw_series(std::iter::once(EmptyElement::at((p.x, p.y)) + leader))
                .map_err(|e| fail(&e))?;
        }
        let style = font.color(colour);
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((p.x, p.y))
                    + Circle::new((0, 0), 4, colour.filled())
                    + Text::new(text.clone(), offset, style),
            ))
            .map_err(|e| fail(&e))?;
    }
    let position = match corner {
        plot_layout::Corner::UpperLeft => SeriesLabelPosition::UpperLeft,
        plot_layout::Corner::UpperRight => SeriesLabelPosition::UpperRight,
        plot_layout::Corner::LowerLeft => SeriesLabelPosition::LowerLeft,
        plot_layout::Corner::LowerRight => SeriesLabelPosition::LowerRight,
    };
    crate::train::plot::draw_legend(&mut chart, position).map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

/// Pixels between the legend and the plotting area's edge (plotters').
const LEGEND_MARGIN: i32 = 5;

/// The legend box [`crate::train::plot::draw_legend`] draws for `models`,
/// as plotters lays it out (`SeriesLabelStyle::draw`): the labels' block at
/// 15 px, a 30 px sample of each line, 10 px inside the border.
fn legend_size(models: &[&str]) -> (i32, i32) {
    let style: TextStyle = ("sans-serif", 15).into_font().into();
    let mut labels = MultiLineText::<_, &str>::new((0, 0), &style);
    for model in models {
        labels.push_line(*model);
    }
    let (w, h) = labels.estimate_dimension().unwrap_or((
        9 * models.iter().map(|m| m.len()).max().unwrap_or(0) as i32,
        19 * models.len() as i32,
    ));
    (w + 30 + 20, h + 20)
}
