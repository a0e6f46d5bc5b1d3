//! No row's score depends on its batch's padding.

use agon_sdk::StepOptions;

use super::toy::{
    data_rng, discriminator, discriminator_with, pairs, real_and_mismatched, small_config, sources,
    COMPONENTS, EOS,
};

/// `P(real)` of one pair alone, and in a batch beside a much longer pair.
fn alone_and_beside_a_long_row(
    d: &mut dyn agon_sdk::DiscriminatorImpl,
    source: Vec<u32>,
    target: Vec<u32>,
    long_source: Vec<u32>,
) -> (f32, f32) {
    let alone = d
        .probabilities(&pairs(
            std::slice::from_ref(&source),
            std::slice::from_ref(&target),
        ))
        .unwrap()[0];
    let long_target: Vec<u32> = (0..19).map(|t| 4 + (t % 8)).chain([EOS]).collect();
    let batched = d
        .probabilities(&pairs(&[long_source, source], &[long_target, target]))
        .unwrap()[1];
    (alone, batched)
}

fn long_source(len: usize) -> Vec<u32> {
    (0..len as u32)
        .map(|t| 4 + (t * 5) % 8)
        .chain([EOS])
        .collect()
}

#[test]
fn a_pair_scores_the_same_alone_and_beside_a_much_longer_pair() {
    for component in COMPONENTS {
        let mut d = discriminator(component, 3);
        // A few steps first, so the weights are not just the initial ones.
        let mut rng = data_rng(5);
        for step in 0..3 {
            let (real, fake) = real_and_mismatched(&sources(&mut rng, 8, 2, 6));
            d.train_step(&real, &fake, &StepOptions { seed: step })
                .unwrap();
        }
        // Odd lengths on both sides, against the CNN's 2×2 pooling.
        let (alone, batched) = alone_and_beside_a_long_row(
            d.as_mut(),
            vec![5, 9, 4, 2],
            vec![7, 6, 5, 8, 2],
            long_source(40),
        );
        assert!(
            (alone - batched).abs() < 1e-5,
            "{component}: {alone} alone, {batched} batched"
        );
    }
}

#[test]
fn hierarchical_turns_are_padded_without_effect() {
    let yaml = format!("{}turn_separator: 3\n", small_config("hierarchical-rnn"));
    let mut d = discriminator_with("hierarchical-rnn", &yaml, 3);
    // One turn beside a context of many turns.
    let mut many_turns = long_source(30);
    for t in [4, 9, 15, 22] {
        many_turns[t] = 3;
    }
    let (alone, batched) =
        alone_and_beside_a_long_row(&mut *d, vec![5, 9, 4, 2], vec![7, 6, 2], many_turns);
    assert!(
        (alone - batched).abs() < 1e-5,
        "{alone} alone, {batched} batched"
    );
    // The separator matters: the same context without it reads differently.
    let whole = discriminator("hierarchical-rnn", 3)
        .probabilities(&pairs(&[vec![5, 3, 4, 2]], &[vec![7, 2]]))
        .unwrap()[0];
    let split = d
        .probabilities(&pairs(&[vec![5, 3, 4, 2]], &[vec![7, 2]]))
        .unwrap()[0];
    assert!((whole - split).abs() > 1e-6, "{whole} vs {split}");
}

#[test]
fn sources_beyond_max_source_len_are_ignored() {
    for component in COMPONENTS {
        let yaml = format!("{}max_source_len: 6\n", small_config(component));
        let mut d = discriminator_with(component, &yaml, 4);
        let target = vec![6, 7, 2];
        let short = d
            .probabilities(&pairs(
                &[vec![4, 5, 6, 7, 8, 9]],
                std::slice::from_ref(&target),
            ))
            .unwrap()[0];
        let long = d
            .probabilities(&pairs(&[vec![4, 5, 6, 7, 8, 9, 10, 11, 2]], &[target]))
            .unwrap()[0];
        assert_eq!(short, long, "{component}");
    }
}
