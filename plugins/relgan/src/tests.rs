use abi_stable::std_types::ROption;
use agon_sdk::{
    kits::{KitDiscriminator, RelaxedBatch},
    Batch, DiscriminatorImpl, PluginContext, PluginLibrary, StepOptions, StepStats, TokenBatch,
};

use crate::{RelganDiscriminator, RelganLibrary};

const VOCAB: usize = 30;
const SMALL: &str = "embedding_dim: 8\nrepresentations: 4\nfilter_sizes: [2, 3]\nfilters_per_size: 6\nhidden_dim: 5\n";

fn context(config: &str) -> PluginContext {
    let mut context = PluginContext::for_tests(VOCAB as u32, 8);
    context.seed = 2;
    context.config_yaml = config.into();
    context
}

fn discriminator(config: &str) -> KitDiscriminator<RelganDiscriminator> {
    KitDiscriminator::new(&context(config)).unwrap()
}

fn rows(offset: u32, len: usize) -> Vec<Vec<u32>> {
    (0..16)
        .map(|r| {
            (0..len)
                .map(|t| offset + ((r * 7 + t * 3) % 10) as u32)
                .collect()
        })
        .collect()
}

fn batch(rows: &[Vec<u32>]) -> Batch {
    Batch::unconditional(TokenBatch::from_rows(rows, 0))
}

/// `rows` as one-hot relaxed rows, `width` positions each.
fn one_hot(rows: &[Vec<u32>], width: usize) -> RelaxedBatch {
    let mut soft = vec![0.0; rows.len() * width * VOCAB];
    for (r, row) in rows.iter().enumerate() {
        for (t, &id) in row.iter().enumerate() {
            soft[(r * width + t) * VOCAB + id as usize] = 1.0;
        }
    }
    RelaxedBatch {
        lengths: rows.iter().map(Vec::len).collect(),
        width,
        soft,
        sources: ROption::RNone,
    }
}

#[test]
fn learns_to_tell_two_token_distributions_apart() {
    let mut d = discriminator(&format!("{SMALL}training: {{optimizer: {{lr: 0.01}}}}\n"));
    let (real, fake) = (batch(&rows(0, 8)), batch(&rows(15, 5)));
    let mut last = StepStats::default();
    for step in 0..60 {
        last = d
            .train_step(&real, &fake, &StepOptions { seed: step })
            .unwrap();
    }
    assert!(last.get("accuracy").unwrap() > 0.95, "{last:?}");
}

/// The ids path and the relaxed path are one network: one-hot rows score
/// what their ids score, however wide the host makes the relaxed batch.
#[test]
fn one_hot_relaxed_rows_score_as_their_ids() {
    let mut d = discriminator(SMALL);
    let ids = rows(3, 6);
    let probabilities = d.probabilities(&batch(&ids)).unwrap();
    for width in [6, 8] {
        let logits = d.relaxed_logits(&one_hot(&ids, width), None).unwrap();
        for (logit, p) in logits.iter().zip(&probabilities) {
            let sigmoid = 1.0 / (1.0 + (-logit).exp());
            assert!(
                (sigmoid - p).abs() < 1e-5,
                "width {width}: {sigmoid} vs {p}"
            );
        }
    }
}

/// The gradient the generator trains on, against central finite
/// differences on a sample of the relaxed values.
#[test]
fn the_relaxed_input_gradient_matches_finite_differences() {
    let d = discriminator(SMALL);
    let mut relaxed = one_hot(&rows(3, 6)[..3], 6);
    for (i, x) in relaxed.soft.iter_mut().enumerate() {
        *x = 0.6 * *x + 0.4 * ((i * 11 % 13) as f32 + 1.0) / (13.0 * VOCAB as f32 / 2.0);
    }
    let upstream = [0.5f32, -1.0, 0.25];
    let gradient = d.relaxed_input_gradient(&relaxed, &upstream, None).unwrap();
    let surrogate = |batch: &RelaxedBatch| -> f64 {
        d.relaxed_logits(batch, None)
            .unwrap()
            .iter()
            .zip(&upstream)
            .map(|(l, u)| f64::from(l * u))
            .sum()
    };
    // ReLUs and max-pooling make the scores piecewise smooth: a
    // perturbation whose one-sided slopes disagree crossed a kink, and is
    // skipped rather than differenced across it.
    let eps = 1e-3f32;
    let centre = surrogate(&relaxed);
    let (mut checked, mut skipped) = (0, 0);
    for at in (0..relaxed.soft.len()).step_by(7) {
        let (mut plus, mut minus) = (relaxed.clone(), relaxed.clone());
        plus.soft[at] += eps;
        minus.soft[at] -= eps;
        let (up, down) = (surrogate(&plus), surrogate(&minus));
        let (forward, backward) = (
            (up - centre) / f64::from(eps),
            (centre - down) / f64::from(eps),
        );
        if (forward - backward).abs() > 2e-3 {
            skipped += 1;
            continue;
        }
        let numeric = (up - down) / (2.0 * f64::from(eps));
        let exact = f64::from(gradient[at]);
        assert!(
            (numeric - exact).abs() <= 1e-3 + 2e-2 * exact.abs(),
            "value {at}: finite differences {numeric}, autograd {exact}"
        );
        checked += 1;
    }
    assert!(
        skipped * 10 <= checked,
        "{skipped} skipped, {checked} checked"
    );
    assert!(checked > 70 && gradient.iter().any(|g| g.abs() > 1e-4));
}

#[test]
fn representations_must_divide_the_embedding() {
    let err = KitDiscriminator::<RelganDiscriminator>::new(&context(
        "embedding_dim: 8\nrepresentations: 3\n",
    ))
    .err()
    .unwrap();
    assert!(err.message().contains("must divide embedding_dim"), "{err}");
}

#[test]
fn every_key_of_every_default_config_is_documented() {
    for component in RelganLibrary::components() {
        assert_eq!(component.check_config_docs(), Ok(()));
    }
}

#[test]
fn keeps_the_component_contract() {
    agon_sdk::testing::check_discriminator::<RelganLibrary>(
        "relgan-discriminator",
        &context(SMALL),
        agon_sdk::testing::Task::Unconditional,
    );
}
