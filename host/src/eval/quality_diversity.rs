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
            x_interval: None,
            y_interval: None,
        })
        .collect();
    write_text(dir, &points, order)
}

/// The text version from points made elsewhere (`agon compare`'s group
/// means, with their intervals): BLEU-`order` (y) against Self-BLEU (x).
pub fn write_text(dir: &Path, points: &[PlotPoint], order: usize) -> anyhow::Result<Vec<PathBuf>> {
    write_points(
        dir,
        points,
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
    /// A 95% interval of `x` (`agon compare`'s mean over seeds), drawn as
    /// a bar; none for one run's values.
    pub x_interval: Option<(f64, f64)>,
    /// The same for `y`.
    pub y_interval: Option<(f64, f64)>,
}

struct Axes {
    caption: String,
    x: String,
    y: String,
}

fn write_points(dir: &Path, points: &[PlotPoint], axes: &Axes) -> anyhow::Result<Vec<PathBuf>> {
    crate::train::plot::register_font();
    // Said on the plot, so that a bar is not read as a spread of samples.
    let barred;
    let axes = if points
        .iter()
        .any(|p| drawn(p.x, p.x_interval) || drawn(p.y, p.y_interval))
    {
        barred = Axes {
            caption: axes.caption.clone(),
            x: format!("{}; bars: 95% intervals over seeds", axes.x),
            y: axes.y.clone(),
        };
        &barred
    } else {
        axes
    };
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
    let x = axis_range(points.iter().map(|p| (p.x, p.x_interval)));
    let y = axis_range(points.iter().map(|p| (p.y, p.y_interval)));
    let bars = error_bars(points, &x, &y);
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
    for (model, segment) in &bars {
        let k = models.iter().position(|m| m == model).unwrap_or(0);
        let colour = colours[k % colours.len()].mix(0.55);
        chart
            .draw_series(std::iter::once(PathElement::new(
                segment.to_vec(),
                colour.stroke_width(1),
            )))
            .map_err(|e| fail(&e))?;
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
    segments.extend(
        bars.iter()
            .map(|(_, [a, b])| (chart.backend_coord(a), chart.backend_coord(b))),
    );
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

/// An axis's range: the points' values with a tenth of their span either
/// side, widened for their intervals by at most half the span more (five
/// pads where the points agree), so that one wide interval (two seeds'
/// Student t) does not flatten every curve; a bar beyond it is cut at the
/// edge.
fn axis_range(values: impl Iterator<Item = (f64, Option<(f64, f64)>)>) -> std::ops::Range<f64> {
    let extend = |(l, h): (f64, f64), v: f64| {
        if v.is_finite() {
            (l.min(v), h.max(v))
        } else {
            (l, h)
        }
    };
    let empty = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut lo, mut hi, mut ends) = (empty.0, empty.1, empty);
    for (value, interval) in values {
        (lo, hi) = extend((lo, hi), value);
        if let Some((low, high)) = interval.filter(|_| drawn(value, interval)) {
            ends = extend(extend(ends, low), high);
        }
    }
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let span = hi - lo;
    let pad = (span * 0.1).max(0.02);
    // Room for intervals: half the span, or some where the points agree.
    let room = (span * 0.5).max(pad * 5.0);
    let (mut start, mut end) = (lo - pad, hi + pad);
    if ends.0.is_finite() {
        start = start.min((ends.0 - pad * 0.5).max(lo - pad - room));
        end = end.max((ends.1 + pad * 0.5).min(hi + pad + room));
    }
    start..end
}

/// Whether a value's interval is drawn as a bar: the value and both ends
/// finite, the interval of some width.
fn drawn(value: f64, interval: Option<(f64, f64)>) -> bool {
    interval.is_some_and(|(low, high)| {
        value.is_finite() && low.is_finite() && high.is_finite() && low < high
    })
}

/// Each point's interval bars, horizontal (x) and vertical (y), in data
/// coordinates and cut to the axes' ranges, with the model they belong to.
fn error_bars<'a>(
    points: &'a [PlotPoint],
    x: &std::ops::Range<f64>,
    y: &std::ops::Range<f64>,
) -> Vec<(&'a str, [(f64, f64); 2])> {
    let cut = |v: f64, r: &std::ops::Range<f64>| v.clamp(r.start, r.end);
    let mut bars = Vec::new();
    for p in points.iter().filter(|p| p.x.is_finite() && p.y.is_finite()) {
        if let Some((low, high)) = p.x_interval.filter(|_| drawn(p.x, p.x_interval)) {
            bars.push((p.model.as_str(), [(cut(low, x), p.y), (cut(high, x), p.y)]));
        }
        if let Some((low, high)) = p.y_interval.filter(|_| drawn(p.y, p.y_interval)) {
            bars.push((p.model.as_str(), [(p.x, cut(low, y)), (p.x, cut(high, y))]));
        }
    }
    bars
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn point(model: &str, t: f32, x: f64, y: f64, intervals: Option<f64>) -> PlotPoint {
        PlotPoint {
            model: model.into(),
            temperature: t,
            x,
            y,
            x_interval: intervals.map(|w| (x - w, x + w)),
            y_interval: intervals.map(|w| (y - w, y + w)),
        }
    }

    #[test]
    fn an_axis_covers_the_points_and_their_intervals_within_bounds() {
        // Means alone: a tenth of the span either side.
        let plain = axis_range([(0.5, None), (0.7, None)].into_iter());
        assert!((plain.start - 0.48).abs() < 1e-12 && (plain.end - 0.72).abs() < 1e-12);
        // An interval inside that range changes nothing.
        let inside = axis_range([(0.5, Some((0.495, 0.505))), (0.7, None)].into_iter());
        assert_eq!(inside, plain);
        // One past it widens the axis to its end and a little more...
        let past = axis_range([(0.5, Some((0.45, 0.55))), (0.7, None)].into_iter());
        assert!((past.start - 0.44).abs() < 1e-12, "{past:?}");
        assert_eq!(past.end, plain.end);
        // ...but never by more than half the points' span.
        let wide = axis_range([(0.5, Some((-3.0, 4.0))), (0.7, None)].into_iter());
        assert!(
            (wide.start - 0.38).abs() < 1e-12 && (wide.end - 0.82).abs() < 1e-12,
            "{wide:?}"
        );
        assert_eq!(axis_range(std::iter::empty()), 0.0..1.0);
        // Points that agree leave room for their intervals all the same
        // (the pad, 0.02, five times), and an interval not drawn (no
        // width, a NaN end) widens nothing.
        let agreeing = axis_range([(0.5, Some((0.3, 0.7))), (0.5, None)].into_iter());
        assert!(
            (agreeing.start - 0.38).abs() < 1e-12 && (agreeing.end - 0.62).abs() < 1e-12,
            "{agreeing:?}"
        );
        let undrawn =
            axis_range([(0.5, Some((0.1, 0.1))), (0.7, Some((f64::NAN, 2.0)))].into_iter());
        assert_eq!(undrawn, plain);
    }

    #[test]
    fn each_interval_is_a_bar_cut_at_the_axes() {
        let points = [
            point("a", 1.0, 0.5, 0.625, Some(0.125)),
            point("b", 1.0, 0.75, 0.5, None),
            PlotPoint {
                x_interval: Some((0.0, 1.5)),
                y_interval: Some((0.5, 0.5)),
                ..point("b", 0.7, 0.75, 0.5, None)
            },
        ];
        let bars = error_bars(&points, &(0.25..1.0), &(0.25..1.0));
        assert_eq!(
            bars,
            vec![
                ("a", [(0.375, 0.625), (0.625, 0.625)]),
                ("a", [(0.5, 0.5), (0.5, 0.75)]),
                // Cut at the x axis's ends; a zero-width y interval is no bar.
                ("b", [(0.25, 0.5), (1.0, 0.5)]),
            ]
        );
    }

    #[test]
    fn the_plot_draws_one_bar_per_interval_and_says_what_bars_are() {
        let dir = tempfile::tempdir().unwrap();
        let svg = |points: &[PlotPoint]| {
            write_text(dir.path(), points, 2).unwrap();
            std::fs::read_to_string(dir.path().join("quality_diversity.svg")).unwrap()
        };
        let curve = |intervals| {
            vec![
                point("g / mle", 0.7, 0.70, 0.62, intervals),
                point("g / mle", 1.0, 0.55, 0.58, intervals),
                point("g / final", 1.0, 0.60, 0.61, intervals),
            ]
        };
        // How plotters writes the bars' colour (`mix(0.55)`) in SVG.
        let bar_style = "opacity=\"0.55\"";
        let plain = svg(&curve(None));
        assert_eq!(plain.matches(bar_style).count(), 0);
        assert!(!plain.contains("bars: 95% intervals"));
        // Intervals of no width (seeds that agree) draw nothing, and the
        // plot does not speak of bars.
        let agreeing = svg(&curve(Some(0.0)));
        assert_eq!(agreeing.matches(bar_style).count(), 0);
        assert!(!agreeing.contains("bars: 95% intervals"));
        let barred = svg(&curve(Some(0.01)));
        assert_eq!(
            barred.matches(bar_style).count(),
            6,
            "two bars for each of three points"
        );
        assert!(
            barred.contains("Self-BLEU-2 (lower = more diverse); bars: 95% intervals over seeds")
        );
        assert!(dir.path().join("quality_diversity.png").is_file());
    }
}
