//! Refusals, checkpoints, determinism and the library's listing.

use agon_sdk::{
    Batch, ComponentKind, ErrorKind, PluginLibrary, StepOptions, StepStats, TokenBatch,
};

use super::toy::{context, data_rng, discriminator, real_and_mismatched, sources, COMPONENTS, PAD};
use crate::{HierarchicalRnnConfig, PairCnnConfig, PairDiscriminatorsLibrary, PairRnnConfig};

/// A few steps on toy data; the stats of each.
fn train(d: &mut dyn agon_sdk::DiscriminatorImpl, steps: u64) -> Vec<StepStats> {
    let mut rng = data_rng(21);
    (0..steps)
        .map(|step| {
            let (real, fake) = real_and_mismatched(&sources(&mut rng, 8, 2, 6));
            d.train_step(&real, &fake, &StepOptions { seed: 100 + step })
                .unwrap()
        })
        .collect()
}

fn probe() -> Batch {
    real_and_mismatched(&sources(&mut data_rng(77), 6, 1, 7)).1
}

#[test]
fn unconditional_batches_are_refused_with_a_clear_error() {
    let targets = TokenBatch::from_rows(&[vec![4u32, 5, 2]], PAD);
    let unconditional = Batch::unconditional(targets);
    for component in COMPONENTS {
        let mut d = discriminator(component, 0);
        let err = d.probabilities(&unconditional).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(
            err.message().contains(component)
                && err.message().contains("(source, target) pairs")
                && err.message().contains("conditional task"),
            "{err}"
        );
        let (real, _) = real_and_mismatched(&sources(&mut data_rng(1), 2, 2, 3));
        let err = d
            .train_step(&real, &unconditional, &StepOptions { seed: 0 })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
}

#[test]
fn training_reports_loss_and_accuracy() {
    for component in COMPONENTS {
        let mut d = discriminator(component, 0);
        let stats = &train(d.as_mut(), 1)[0];
        assert_eq!(stats.sequences, 16);
        assert!(stats.loss.is_finite() && stats.loss > 0.0, "{stats:?}");
        let accuracy = stats.get("accuracy").unwrap();
        assert!((0.0..=1.0).contains(&accuracy), "{stats:?}");
        assert!(d.parameter_count() > 0);
    }
}

#[test]
fn save_then_load_into_a_fresh_instance_restores_it() {
    for component in COMPONENTS {
        let dir = std::env::temp_dir().join(format!(
            "agon-pair-discriminators-{component}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut trained = discriminator(component, 1);
        train(trained.as_mut(), 3);
        trained.save(&dir).unwrap();
        let mut fresh = discriminator(component, 2);
        assert_ne!(
            fresh.probabilities(&probe()).unwrap(),
            trained.probabilities(&probe()).unwrap()
        );
        fresh.load(&dir).unwrap();
        assert_eq!(
            fresh.probabilities(&probe()).unwrap(),
            trained.probabilities(&probe()).unwrap(),
            "{component}"
        );
        // Adam's moments came back too: the next step is the same.
        assert_eq!(train(fresh.as_mut(), 1), train(trained.as_mut(), 1));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_seed_determines_initialisation_and_training() {
    for component in COMPONENTS {
        let mut a = discriminator(component, 5);
        let mut b = discriminator(component, 5);
        assert_eq!(train(a.as_mut(), 3), train(b.as_mut(), 3), "{component}");
        assert_eq!(
            a.probabilities(&probe()).unwrap(),
            b.probabilities(&probe()).unwrap()
        );
        let mut c = discriminator(component, 6);
        assert_ne!(
            a.probabilities(&probe()).unwrap(),
            c.probabilities(&probe()).unwrap()
        );
        // The step seed drives dropout: another seed, another step.
        let (real, fake) = real_and_mismatched(&sources(&mut data_rng(3), 8, 2, 6));
        let one = c
            .train_step(&real, &fake, &StepOptions { seed: 1 })
            .unwrap();
        let mut d = discriminator(component, 6);
        let other = d
            .train_step(&real, &fake, &StepOptions { seed: 2 })
            .unwrap();
        assert_ne!(one.loss, other.loss, "{component}");
    }
}

#[test]
fn the_three_components_are_listed_with_their_default_configs() {
    let components = PairDiscriminatorsLibrary::components();
    let names: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, COMPONENTS);
    assert!(components
        .iter()
        .all(|c| c.kind == ComponentKind::Discriminator));
    let default_of = |name: &str| {
        let yaml = components
            .iter()
            .find(|c| c.name.as_str() == name)
            .unwrap()
            .default_config_yaml
            .to_string();
        context(&yaml, 0)
    };
    assert_eq!(
        default_of("pair-cnn").config::<PairCnnConfig>().unwrap(),
        PairCnnConfig::default()
    );
    assert_eq!(
        default_of("hierarchical-rnn")
            .config::<HierarchicalRnnConfig>()
            .unwrap(),
        HierarchicalRnnConfig::default()
    );
    assert_eq!(
        default_of("pair-rnn").config::<PairRnnConfig>().unwrap(),
        PairRnnConfig::default()
    );
    // Each builds from its listed default and scores pairs.
    for name in COMPONENTS {
        let mut d = PairDiscriminatorsLibrary::new_discriminator(name, &default_of(name)).unwrap();
        let p = d.probabilities(&probe()).unwrap();
        assert!(p.len() == 6 && p.iter().all(|p| (0.0..=1.0).contains(p)));
    }
    let err = PairDiscriminatorsLibrary::new_discriminator("nope", &context("", 0))
        .err()
        .unwrap();
    assert!(err.message().contains("pair-cnn"), "{err}");
}

#[test]
fn bad_configs_are_refused() {
    for (component, yaml) in [
        ("pair-cnn", "conv1_filters: 0\n"),
        ("pair-rnn", "training: {dropout: 1.0}\n"),
        // The spelling before the kit's `training:` block.
        ("pair-cnn", "dropout: 0.5\n"),
        ("hierarchical-rnn", "max_source_len: 0\n"),
        ("pair-rnn", "hidden: 3\n"),
    ] {
        let err = PairDiscriminatorsLibrary::new_discriminator(component, &context(yaml, 0))
            .err()
            .unwrap();
        assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
    }
}

#[test]
fn every_pair_discriminator_keeps_the_component_contract() {
    for component in crate::tests::toy::COMPONENTS {
        agon_sdk::testing::check_discriminator::<PairDiscriminatorsLibrary>(
            component,
            &crate::tests::toy::context(crate::tests::toy::small_config(component), 3),
            agon_sdk::testing::Task::Conditional,
        );
    }
}
