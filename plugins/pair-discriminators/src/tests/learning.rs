//! Each component learns which target belongs to which source.

use agon_sdk::StepOptions;

use super::toy::{data_rng, discriminator, real_and_mismatched, sources};

/// Trains on fresh pairs each step, then compares held-out real pairs with
/// held-out mismatched ones (the same targets, other rows' sources).
fn learns_the_pairing(component: &str, steps: u64, margin: f32) {
    let mut d = discriminator(component, 7);
    let mut rng = data_rng(11);
    for step in 0..steps {
        let (real, fake) = real_and_mismatched(&sources(&mut rng, 32, 2, 6));
        d.train_step(&real, &fake, &StepOptions { seed: step })
            .unwrap();
    }
    let (real, fake) = real_and_mismatched(&sources(&mut data_rng(99), 128, 2, 6));
    let mean = |p: Vec<f32>| p.iter().sum::<f32>() / p.len() as f32;
    let p_real = mean(d.probabilities(&real).unwrap());
    let p_fake = mean(d.probabilities(&fake).unwrap());
    assert!(
        p_real - p_fake > margin,
        "{component}: mean P(real) {p_real} on real pairs vs {p_fake} on mismatched ones"
    );
}

#[test]
fn pair_cnn_learns_the_pairing() {
    learns_the_pairing("pair-cnn", 80, 0.4);
}

#[test]
fn hierarchical_rnn_learns_the_pairing() {
    learns_the_pairing("hierarchical-rnn", 100, 0.35);
}

#[test]
fn pair_rnn_learns_the_pairing() {
    learns_the_pairing("pair-rnn", 60, 0.4);
}
