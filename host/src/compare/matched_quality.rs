//! Quality at matched diversity: does a model beat its baseline's
//! temperature curve, or did it only move along it?
//!
//! Lowering the temperature buys quality with diversity, so a model that is
//! better on quality alone may be the baseline at a lower temperature
//! (Caccia et al. 2018, "Language GANs falling short"). Within each run,
//! the baseline model's curve (the end of MLE, the first model `agon eval`
//! lists, across its temperature sweep) is interpolated linearly at the
//! diversity of each other model's point; the difference in quality at
//! equal diversity is one number per run, and the runs of a group (one per
//! seed) give a paired t interval. Points outside the baseline curve's
//! range of diversity are not extrapolated: the sweep must bracket them.
//!
//! Across groups (a GAN trained from scratch has no end-of-MLE model of its
//! own), each later group's final models are also measured against the
//! first group's baseline curve pooled over its seeds (the mean point at
//! each temperature); the interval is over the later group's runs and
//! treats that pooled curve as fixed, so it leaves out the curve's own
//! seed-to-seed spread.

use serde::Serialize;

use super::{
    quality_diversity::{run_points, RunPoint},
    stats::{paired, Difference},
    Group,
};

/// One model against its runs' baseline curve at one temperature.
#[derive(Clone, Debug, Serialize)]
pub struct MatchedQuality {
    pub group: String,
    /// The model (`final`).
    pub model: String,
    /// The model whose curve it is measured against (`mle`).
    pub baseline: String,
    pub temperature: f32,
    /// model − baseline curve, in quality units, over the runs' seeds.
    pub difference: Option<Difference>,
    /// Runs that gave a difference.
    pub runs: usize,
    /// Runs whose point lay outside the baseline curve's diversity range.
    pub outside: usize,
}

/// The baseline curve's quality at diversity `x`, linearly interpolated
/// between its neighbouring points; `None` outside its range.
fn interpolate(curve: &[(f64, f64)], x: f64) -> Option<f64> {
    let first = curve.first()?;
    let last = curve.last()?;
    if x < first.0 || x > last.0 {
        return None;
    }
    curve
        .windows(2)
        .find_map(|w| {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            (x0 <= x && x <= x1).then(|| {
                if x1 == x0 {
                    y0
                } else {
                    y0 + (y1 - y0) * (x - x0) / (x1 - x0)
                }
            })
        })
        .or((curve.len() == 1 && x == first.0).then_some(first.1))
}

/// The first group's baseline model's curve, pooled over its runs: the
/// mean (diversity, quality) at each temperature every run has, sorted by
/// diversity; with the model's name.
fn pooled_baseline_curve(group: &Group) -> Option<(String, Vec<(f64, f64)>)> {
    let mut by_temperature: std::collections::BTreeMap<String, Vec<(f64, f64)>> =
        Default::default();
    let mut name = None;
    for run in &group.runs {
        let (_, points) = run_points(&run.path)?;
        let baseline = points.first()?.model.clone();
        for p in points.iter().filter(|p| p.model == baseline) {
            if let Some(x) = p.diversity {
                by_temperature
                    .entry(format!("{}", p.temperature))
                    .or_default()
                    .push((x, p.quality));
            }
        }
        name = Some(baseline);
    }
    let runs = group.runs.len();
    let mut curve: Vec<(f64, f64)> = by_temperature
        .into_values()
        .filter(|v| v.len() == runs)
        .map(|v| {
            let n = v.len() as f64;
            (
                v.iter().map(|p| p.0).sum::<f64>() / n,
                v.iter().map(|p| p.1).sum::<f64>() / n,
            )
        })
        .collect();
    curve.sort_by(|a, b| a.0.total_cmp(&b.0));
    (curve.len() >= 2).then(|| (name.unwrap_or_default(), curve))
}

/// Every later group's non-baseline models against the first group's
/// pooled baseline curve.
fn against_first_group(groups: &[Group]) -> Vec<MatchedQuality> {
    let Some(first) = groups.first() else {
        return Vec::new();
    };
    let Some((baseline, curve)) = pooled_baseline_curve(first) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for group in &groups[1..] {
        let mut by_point: std::collections::BTreeMap<(String, String), (f32, Vec<f64>, usize)> =
            Default::default();
        for run in &group.runs {
            let Some((_, points)) = run_points(&run.path) else {
                continue;
            };
            let own_baseline = points.first().map(|p| p.model.clone());
            for p in points
                .iter()
                .filter(|p| Some(&p.model) != own_baseline.as_ref())
            {
                let Some(x) = p.diversity else { continue };
                let entry = by_point
                    .entry((p.model.clone(), format!("{}", p.temperature)))
                    .or_insert((p.temperature, Vec::new(), 0));
                match interpolate(&curve, x) {
                    Some(y) => entry.1.push(p.quality - y),
                    None => entry.2 += 1,
                }
            }
        }
        for ((model, _), (temperature, differences, outside)) in by_point {
            found.push(MatchedQuality {
                group: group.label.clone(),
                model,
                baseline: format!("{} / {baseline} (pooled over its seeds)", first.label),
                temperature,
                difference: paired(&differences).map(|d| Difference {
                    test: "t over runs (pooled curve fixed)".into(),
                    ..d
                }),
                runs: differences.len(),
                outside,
            });
        }
    }
    found
}

/// Every group's non-baseline models at every temperature of their runs'
/// sweeps, against the baseline curve of the same run, then every later
/// group's against the first group's pooled baseline curve.
pub fn collect(groups: &[Group]) -> Vec<MatchedQuality> {
    let mut found = Vec::new();
    for group in groups {
        // (model, temperature text) → (differences, outside), baseline name.
        let mut by_point: std::collections::BTreeMap<(String, String), (f32, Vec<f64>, usize)> =
            Default::default();
        let mut baseline_name = String::new();
        for run in &group.runs {
            let Some((_, points)) = run_points(&run.path) else {
                continue;
            };
            let Some(baseline) = points.first().map(|p| p.model.clone()) else {
                continue;
            };
            let mut curve: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.model == baseline)
                .filter_map(|p| Some((p.diversity?, p.quality)))
                .collect();
            if curve.len() < 2 {
                continue;
            }
            curve.sort_by(|a, b| a.0.total_cmp(&b.0));
            baseline_name = baseline.clone();
            for p in points.iter().filter(|p| p.model != baseline) {
                let RunPoint {
                    model,
                    temperature,
                    quality,
                    diversity,
                    ..
                } = p;
                let Some(x) = diversity else { continue };
                let entry = by_point
                    .entry((model.clone(), format!("{temperature}")))
                    .or_insert((*temperature, Vec::new(), 0));
                match interpolate(&curve, *x) {
                    Some(y) => entry.1.push(quality - y),
                    None => entry.2 += 1,
                }
            }
        }
        for ((model, _), (temperature, differences, outside)) in by_point {
            found.push(MatchedQuality {
                group: group.label.clone(),
                model,
                baseline: baseline_name.clone(),
                temperature,
                difference: paired(&differences),
                runs: differences.len(),
                outside,
            });
        }
    }
    found.sort_by(|a, b| {
        (a.group.as_str(), a.model.as_str())
            .cmp(&(b.group.as_str(), b.model.as_str()))
            .then(a.temperature.total_cmp(&b.temperature))
    });
    found.extend(against_first_group(groups));
    found
}

#[cfg(test)]
mod tests {
    use super::interpolate;

    #[test]
    fn interpolates_inside_the_curve_and_never_outside() {
        let curve = [(1.0, 10.0), (2.0, 8.0), (4.0, 4.0)];
        assert_eq!(interpolate(&curve, 1.5), Some(9.0));
        assert_eq!(interpolate(&curve, 3.0), Some(6.0));
        assert_eq!(interpolate(&curve, 1.0), Some(10.0));
        assert_eq!(interpolate(&curve, 4.0), Some(4.0));
        assert_eq!(interpolate(&curve, 0.99), None);
        assert_eq!(interpolate(&curve, 4.01), None);
    }
}
