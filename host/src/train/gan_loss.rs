//! The GAN objectives of gradient-based adversarial training (RelGAN's
//! Gumbel-softmax family): from the discriminator's logits on real and
//! generated rows, the discriminator's and the generator's loss and their
//! gradients with respect to every logit.
//!
//! The host owns the loss, so any discriminator that returns logits and
//! takes a gradient per logit trains under every objective here. The
//! formulas are TextGAN-PyTorch's (`utils/helpers.py`, `get_losses`), each
//! mean taken over rows; `scripts/reference/gan_losses.py` computes them with
//! PyTorch's autograd for the fixture the tests compare against. Everything
//! is computed in `f64` from the numerically stable forms (`softplus`, never
//! `log(sigmoid)`), so saturated logits give finite losses and gradients.

use serde::{Deserialize, Serialize};

/// Which GAN objective (`training.adversarial.loss`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GanLoss {
    /// The non-saturating GAN: D minimises `BCE(real, 1) + BCE(fake, 0)`,
    /// G minimises `BCE(fake, 1)`.
    Standard,
    /// The relativistic standard GAN (RelGAN's choice): D minimises
    /// `BCE(real − fake, 1)`, G minimises `BCE(fake − real, 1)`, over pairs
    /// of one real and one generated row.
    #[default]
    Rsgan,
    /// The hinge loss: D minimises `mean relu(1 − real) + mean relu(1 +
    /// fake)`, G minimises `−mean fake`.
    Hinge,
}

/// Which side's loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Discriminator,
    Generator,
}

/// A loss and its gradient with respect to each real and each generated
/// row's logit.
#[derive(Clone, Debug, PartialEq)]
pub struct LossGradients {
    pub loss: f64,
    pub real: Vec<f64>,
    pub fake: Vec<f64>,
}

impl GanLoss {
    /// `side`'s loss on D's logits of `real` and `fake` rows, with its
    /// gradients. Refuses empty inputs, and for `rsgan` unequal counts
    /// (each real row is paired with the generated row of the same index).
    pub fn evaluate(self, side: Side, real: &[f32], fake: &[f32]) -> Result<LossGradients, String> {
        if real.is_empty() || fake.is_empty() {
            return Err(format!(
                "a GAN loss needs real and generated rows ({} real, {} generated)",
                real.len(),
                fake.len()
            ));
        }
        if self == GanLoss::Rsgan && real.len() != fake.len() {
            return Err(format!(
                "the rsgan loss pairs real and generated rows: {} real, {} generated",
                real.len(),
                fake.len()
            ));
        }
        Ok(match (self, side) {
            (GanLoss::Standard, Side::Discriminator) => {
                // softplus(−r) is BCE(r, 1), softplus(f) is BCE(f, 0).
                let (lr, gr) = mean_of(real, |r| (softplus(-r), -sigmoid(-r)));
                let (lf, gf) = mean_of(fake, |f| (softplus(f), sigmoid(f)));
                LossGradients {
                    loss: lr + lf,
                    real: gr,
                    fake: gf,
                }
            }
            (GanLoss::Standard, Side::Generator) => {
                let (loss, fake) = mean_of(fake, |f| (softplus(-f), -sigmoid(-f)));
                LossGradients {
                    loss,
                    real: vec![0.0; real.len()],
                    fake,
                }
            }
            (GanLoss::Rsgan, side) => {
                // BCE(x, 1) = softplus(−x) with x = r − f (D) or f − r (G).
                let sign = if side == Side::Discriminator {
                    1.0
                } else {
                    -1.0
                };
                let n = real.len() as f64;
                let mut loss = 0.0;
                let (mut d_real, mut d_fake) = (Vec::with_capacity(real.len()), Vec::new());
                for (&r, &f) in real.iter().zip(fake) {
                    let x = sign * (f64::from(r) - f64::from(f));
                    loss += softplus(-x);
                    let dx = -sigmoid(-x) / n;
                    d_real.push(sign * dx);
                    d_fake.push(-sign * dx);
                }
                LossGradients {
                    loss: loss / n,
                    real: d_real,
                    fake: d_fake,
                }
            }
            (GanLoss::Hinge, Side::Discriminator) => {
                let (lr, gr) =
                    mean_of(real, |r| if r < 1.0 { (1.0 - r, -1.0) } else { (0.0, 0.0) });
                let (lf, gf) =
                    mean_of(fake, |f| if f > -1.0 { (1.0 + f, 1.0) } else { (0.0, 0.0) });
                LossGradients {
                    loss: lr + lf,
                    real: gr,
                    fake: gf,
                }
            }
            (GanLoss::Hinge, Side::Generator) => {
                let (loss, fake) = mean_of(fake, |f| (-f, -1.0));
                LossGradients {
                    loss,
                    real: vec![0.0; real.len()],
                    fake,
                }
            }
        })
    }
}

/// The mean over `logits` of a per-logit `(value, derivative)`, with each
/// derivative divided by the count as the mean's gradient is.
fn mean_of(logits: &[f32], term: impl Fn(f64) -> (f64, f64)) -> (f64, Vec<f64>) {
    let n = logits.len() as f64;
    let mut total = 0.0;
    let gradients = logits
        .iter()
        .map(|&x| {
            let (value, derivative) = term(f64::from(x));
            total += value;
            derivative / n
        })
        .collect();
    (total / n, gradients)
}

/// `log(1 + eˣ)` without overflow.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `1 / (1 + e⁻ˣ)` without overflow.
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn floats(v: &Value) -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    }

    /// Every case of `scripts/reference/gan_losses.py` (PyTorch autograd,
    /// float64): the loss and every gradient to 1e-6 of f32 inputs.
    #[test]
    fn losses_and_gradients_match_the_pytorch_reference() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/gan_losses/reference.json"
        );
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let cases = fixture["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 9);
        for case in cases {
            let kind: GanLoss = serde_json::from_value(case["kind"].clone()).unwrap();
            let real: Vec<f32> = floats(&case["real"]).iter().map(|&x| x as f32).collect();
            let fake: Vec<f32> = floats(&case["fake"]).iter().map(|&x| x as f32).collect();
            for (side, key) in [
                (Side::Discriminator, "discriminator"),
                (Side::Generator, "generator"),
            ] {
                let got = kind.evaluate(side, &real, &fake).unwrap();
                let want = &case[key];
                let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * (1.0 + b.abs());
                assert!(
                    close(got.loss, want["loss"].as_f64().unwrap()),
                    "{kind:?} {key} loss {} vs {}",
                    got.loss,
                    want["loss"]
                );
                for (name, got, want) in [
                    ("real", &got.real, floats(&want["d_real"])),
                    ("fake", &got.fake, floats(&want["d_fake"])),
                ] {
                    assert_eq!(got.len(), want.len());
                    for (g, w) in got.iter().zip(&want) {
                        assert!(close(*g, *w), "{kind:?} {key} ∂{name}: {got:?} vs {want:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn rsgan_refuses_unpaired_rows_and_every_loss_refuses_empty_sides() {
        let err = GanLoss::Rsgan
            .evaluate(Side::Discriminator, &[0.0, 1.0], &[0.0])
            .unwrap_err();
        assert!(err.contains("pairs"), "{err}");
        for kind in [GanLoss::Standard, GanLoss::Rsgan, GanLoss::Hinge] {
            assert!(kind.evaluate(Side::Generator, &[], &[1.0]).is_err());
        }
        assert!(GanLoss::Standard
            .evaluate(Side::Discriminator, &[0.0, 1.0], &[0.5])
            .is_ok());
    }

    #[test]
    fn names_are_the_config_spellings() {
        for (name, kind) in [
            ("standard", GanLoss::Standard),
            ("rsgan", GanLoss::Rsgan),
            ("hinge", GanLoss::Hinge),
        ] {
            assert_eq!(agon_sdk::yaml::from_str::<GanLoss>(name).unwrap(), kind);
        }
        assert!(agon_sdk::yaml::from_str::<GanLoss>("wgan").is_err());
    }
}
