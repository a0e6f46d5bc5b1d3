//! Gumbel(0, 1) noise from uniform random bits, `−ln(−ln u)`, vectorised.
//!
//! RelGAN's relaxed samples draw one Gumbel value per word of the
//! vocabulary per position: 6.4 million per pass at SeqGAN's oracle sizes.
//! Two libm `ln` calls in f64 per draw were a tenth of a whole adversarial
//! step. Here the logarithm is a branch-free polynomial (Cephes' `logf`,
//! ~1 ulp on normal inputs) the compiler vectorises; every instruction set
//! runs the same scalar code, without fused multiply-adds, so the noise has
//! the same bits on every CPU.

/// `2^-23`: the spacing of the uniform grid. With 23 bits every midpoint
/// `(k + ½) · 2^-23` is exact in f32, the largest `1 − 2^-24`; with 24 the
/// top cell's midpoint would round to 1.
const GRID: f32 = 1.0 / 8_388_608.0;

/// `ln x` for a positive normal `x`, to about 1 ulp (Cephes `logf`).
#[inline(always)]
pub fn ln_positive(x: f32) -> f32 {
    let bits = x.to_bits();
    // x = m · 2^e with m in [0.5, 1).
    let mut e = ((bits >> 23) & 0xff) as i32 - 126;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    // m in [√½, √2) after the shift, so ln m is small and the series
    // converges fast.
    let small = m < std::f32::consts::FRAC_1_SQRT_2;
    e -= i32::from(small);
    let m = if small { m + m } else { m } - 1.0;
    let z = m * m;
    let mut y = 7.037_683_6e-2;
    for c in [
        -1.151_461_1e-1,
        1.167_699_9e-1,
        -1.242_014_1e-1,
        1.424_932_3e-1,
        -1.666_805_8e-1,
        2.000_071_5e-1,
        -2.499_999_4e-1,
        3.333_333e-1,
    ] {
        y = y * m + c;
    }
    let e = e as f32;
    let y = y * m * z + e * -2.121_944_4e-4 - 0.5 * z;
    m + y + e * 0.693_359_4
}

/// One Gumbel(0, 1) value from 32 random bits: `u` is the midpoint of one
/// of 2^23 equal cells of (0, 1) (never 0 or 1, so the value is finite:
/// within [−2.82, 16.7], which holds all but 1.2e-7 of the distribution).
#[inline(always)]
pub fn gumbel_from_bits(bits: u32) -> f32 {
    let u = ((bits >> 9) as f32 + 0.5) * GRID;
    -ln_positive(-ln_positive(u))
}

/// `out[i] = gumbel_from_bits(bits[i])`, with the widest version of the
/// loop this CPU runs.
pub fn gumbel_from_bits_into(bits: &[u32], out: &mut [f32]) {
    gumbel_from_bits_into_kernel()(bits, out)
}

/// `out[i] = gumbel_from_bits(bits[i])` for `i` below both lengths.
pub type GumbelFromBitsInto = fn(bits: &[u32], out: &mut [f32]);

crate::widest::widest_versions! {
    /// The widest [`GumbelFromBitsInto`] this CPU runs.
    pub fn gumbel_from_bits_into_kernel() -> GumbelFromBitsInto,
    every version: gumbel_from_bits_into_versions,
    portable: gumbel_from_bits_into_portable(bits: &[u32], out: &mut [f32]),
    features: ["avx512f", "avx2"],
}

#[inline(always)]
fn gumbel_from_bits_into_portable(bits: &[u32], out: &mut [f32]) {
    for (o, &b) in out.iter_mut().zip(bits) {
        *o = gumbel_from_bits(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logarithm_is_within_two_ulp_of_libm() {
        let mut x = f32::MIN_POSITIVE;
        while x < 1e30 {
            for k in 0..64 {
                let v = x * (1.0 + k as f32 / 64.0);
                let exact = f64::from(v).ln();
                let got = f64::from(ln_positive(v));
                let ulp = f64::from(f32::EPSILON) * exact.abs().max(f64::from(f32::MIN_POSITIVE));
                assert!(
                    (got - exact).abs()
                        <= 2.0 * ulp + 1e-7 * f64::from(u8::from(exact.abs() < 1.0)),
                    "ln {v}: {got} against {exact}"
                );
            }
            x *= 3.7;
        }
        assert_eq!(ln_positive(1.0), 0.0);
    }

    #[test]
    fn the_noise_is_finite_and_gumbel_distributed() {
        // Bits spread over the whole range: the extremes stay finite.
        let bits: Vec<u32> = (0..200_000u32)
            .map(|i| i.wrapping_mul(2_654_435_761))
            .chain([0, u32::MAX])
            .collect();
        let mut out = vec![0f32; bits.len()];
        gumbel_from_bits_into(&bits, &mut out);
        let bad: Vec<(u32, f32)> = bits
            .iter()
            .zip(&out)
            .filter(|(_, g)| !(g.is_finite() && (-2.82..=16.7).contains(*g)))
            .map(|(&b, &g)| (b, g))
            .take(5)
            .collect();
        assert!(bad.is_empty(), "outside [−2.82, 16.7]: {bad:?}");
        for (name, kernel) in gumbel_from_bits_into_versions() {
            let mut got = vec![0f32; bits.len()];
            kernel(&bits, &mut got);
            for (&b, &g) in bits.iter().zip(&got) {
                assert_eq!(
                    g.to_bits(),
                    gumbel_from_bits(b).to_bits(),
                    "{name}: the bits of the scalar function"
                );
            }
        }
        // Gumbel(0, 1): mean γ = 0.5772, variance π²/6 = 1.6449.
        let n = out.len() as f64;
        let mean = out.iter().map(|&g| f64::from(g)).sum::<f64>() / n;
        let var = out
            .iter()
            .map(|&g| (f64::from(g) - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!((mean - 0.577_215_7).abs() < 0.01, "{mean}");
        assert!((var - 1.644_934).abs() < 0.03, "{var}");
        // Against the f64 formula at the same u.
        for &b in bits.iter().step_by(997) {
            let u = (f64::from(b >> 9) + 0.5) / 8_388_608.0;
            let exact = -(-u.ln()).ln();
            assert!((f64::from(gumbel_from_bits(b)) - exact).abs() < 2e-6 * (1.0 + exact.abs()));
        }
    }
}
