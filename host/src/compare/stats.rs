//! Statistics across seeds: means with Student-t 95% intervals, Welch's
//! test between groups, the one-sample test of paired differences. Checked
//! against SciPy (tests/fixtures/compare/student_t.json, made by the script
//! beside it).

use serde::Serialize;

/// ln Γ(x) (Lanczos, g = 7, n = 9): 15 digits for x > 0.
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let even = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        d = 1.0 + even * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + even / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        let odd = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        d = 1.0 + odd * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + odd / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// The regularised incomplete beta function I_x(a, b).
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// P(T ≤ t) for Student's t with `df` degrees of freedom (df may be
/// fractional, as Welch's is).
pub fn t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
    if t > 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The `q` quantile of Student's t (bisection on the CDF).
pub fn t_quantile(q: f64, df: f64) -> f64 {
    let (mut low, mut high) = (-1e4, 1e4);
    for _ in 0..200 {
        let mid = 0.5 * (low + high);
        if t_cdf(mid, df) < q {
            low = mid;
        } else {
            high = mid;
        }
    }
    0.5 * (low + high)
}

/// Two-sided p-value of a t statistic.
fn two_sided_p(t: f64, df: f64) -> f64 {
    (2.0 * (1.0 - t_cdf(t.abs(), df))).clamp(0.0, 1.0)
}

/// A mean over seeds with its 95% interval (Student t; none for one seed).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Estimate {
    pub mean: f64,
    pub n: usize,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

/// The arithmetic mean (NaN for no values).
pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

fn variance(values: &[f64]) -> f64 {
    let m = mean(values);
    values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len() as f64 - 1.0)
}

/// The mean of `values` with its 95% interval.
pub fn estimate(values: &[f64]) -> Estimate {
    let n = values.len();
    let m = if n == 0 { f64::NAN } else { mean(values) };
    if n < 2 {
        return Estimate {
            mean: m,
            n,
            low: None,
            high: None,
        };
    }
    let half = t_quantile(0.975, (n - 1) as f64) * (variance(values) / n as f64).sqrt();
    Estimate {
        mean: m,
        n,
        low: Some(m - half),
        high: Some(m + half),
    }
}

/// A difference with its 95% interval and two-sided p-value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Difference {
    pub difference: f64,
    pub low: f64,
    pub high: f64,
    pub p_value: f64,
    pub df: f64,
    /// `paired t` (same seeds on both sides) or `Welch t`.
    pub test: String,
}

/// One-sample t test of `differences` against 0 (paired differences).
pub fn paired(differences: &[f64]) -> Option<Difference> {
    let n = differences.len();
    if n < 2 {
        return None;
    }
    let m = mean(differences);
    let se = (variance(differences) / n as f64).sqrt();
    let df = (n - 1) as f64;
    let half = t_quantile(0.975, df) * se;
    Some(Difference {
        difference: m,
        low: m - half,
        high: m + half,
        p_value: if se > 0.0 {
            two_sided_p(m / se, df)
        } else if m == 0.0 {
            1.0
        } else {
            0.0
        },
        df,
        test: "paired t".into(),
    })
}

/// Welch's t test of mean(x) − mean(y).
pub fn welch(x: &[f64], y: &[f64]) -> Option<Difference> {
    if x.len() < 2 || y.len() < 2 {
        return None;
    }
    let (vx, vy) = (variance(x) / x.len() as f64, variance(y) / y.len() as f64);
    let se = (vx + vy).sqrt();
    let d = mean(x) - mean(y);
    if se == 0.0 {
        // No spread on either side: the means differ or they do not.
        return Some(Difference {
            difference: d,
            low: d,
            high: d,
            p_value: if d == 0.0 { 1.0 } else { 0.0 },
            df: (x.len() + y.len() - 2) as f64,
            test: "Welch t".into(),
        });
    }
    let df =
        (vx + vy).powi(2) / (vx * vx / (x.len() as f64 - 1.0) + vy * vy / (y.len() as f64 - 1.0));
    let half = t_quantile(0.975, df) * se;
    Some(Difference {
        difference: d,
        low: d - half,
        high: d + half,
        p_value: two_sided_p(d / se, df),
        df,
        test: "Welch t".into(),
    })
}

/// A metric's value in each run, with the run's seed.
pub type BySeed = [(u64, f64)];

/// `other − base` for every seed both sides have.
pub fn matched_differences(base: &BySeed, other: &BySeed) -> Vec<f64> {
    other
        .iter()
        .filter_map(|(seed, v)| base.iter().find(|(s, _)| s == seed).map(|(_, w)| v - w))
        .collect()
}

/// `other − base` over seeds: paired when `same_seeds` (both sides ran the
/// same seeds, each once, so a run's seed matches it with its baseline),
/// Welch's test otherwise.
pub fn seed_difference(base: &BySeed, other: &BySeed, same_seeds: bool) -> Option<Difference> {
    if same_seeds {
        paired(&matched_differences(base, other))
    } else {
        let plain = |side: &BySeed| side.iter().map(|(_, v)| *v).collect::<Vec<_>>();
        welch(&plain(other), &plain(base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> serde_json::Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/compare/student_t.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn close(got: f64, want: &serde_json::Value, what: &str) {
        let want = want.as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{what}: {got} vs SciPy {want}"
        );
    }

    #[test]
    fn quantiles_and_cdf_match_scipy() {
        let f = fixture();
        for q in f["quantiles"].as_array().unwrap() {
            let df = q["df"].as_f64().unwrap();
            close(
                t_quantile(0.975, df),
                &q["t"],
                &format!("t.ppf(0.975, {df})"),
            );
        }
        for c in f["cdf"].as_array().unwrap() {
            let (df, t) = (c["df"].as_f64().unwrap(), c["t"].as_f64().unwrap());
            close(t_cdf(t, df), &c["cdf"], &format!("t.cdf({t}, {df})"));
        }
    }

    #[test]
    fn welch_and_paired_tests_match_scipy() {
        let f = fixture();
        let sample = |name: &str| -> Vec<f64> {
            f["samples"][name]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        };
        for w in f["welch"].as_array().unwrap() {
            let (x, y) = (
                sample(w["x"].as_str().unwrap()),
                sample(w["y"].as_str().unwrap()),
            );
            let d = welch(&x, &y).unwrap();
            close(d.df, &w["df"], "df");
            close(d.p_value, &w["p"], "p");
            close(d.low, &w["low"], "low");
            close(d.high, &w["high"], "high");
        }
        let one = &f["one_sample"];
        let values: Vec<f64> = one["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let d = paired(&values).unwrap();
        close(d.p_value, &one["p"], "p");
        close(d.low, &one["low"], "low");
        close(d.high, &one["high"], "high");
        // No spread: equal means are no difference, unequal ones certain.
        assert_eq!(welch(&[1.0, 1.0], &[1.0, 1.0]).unwrap().p_value, 1.0);
        assert_eq!(welch(&[2.0, 2.0], &[1.0, 1.0]).unwrap().p_value, 0.0);
        // One seed: a mean but no interval, no test.
        assert_eq!(estimate(&[3.0]).low, None);
        assert!(paired(&[1.0]).is_none());
    }
}
