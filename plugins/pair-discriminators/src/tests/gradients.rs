//! Each component's training loss reaches every weight: autograd against
//! finite differences, on (source, target) pairs.

use agon_sdk::{
    kits::{DiscriminatorModel, KitDiscriminator},
    testing::check_conditional_weight_gradients,
    toolkit::rng_from_seed,
};

use super::toy::{context, small_config, sources, target_of};
use crate::{HierarchicalRnn, PairCnn, PairRnn};

/// Real pairs (each source with its reversed words) and mismatched ones
/// (each target with the next row's source).
type Pair = (Vec<u32>, Vec<u32>);
fn real_and_mismatched() -> (Vec<Pair>, Vec<Pair>) {
    let rows = sources(&mut rng_from_seed(5), 3, 2, 4);
    let real = rows.iter().map(|s| (s.clone(), target_of(s))).collect();
    let mismatched = (0..rows.len())
        .map(|i| (rows[(i + 1) % rows.len()].clone(), target_of(&rows[i])))
        .collect();
    (real, mismatched)
}

fn check<M: DiscriminatorModel>(component: &str) {
    let d = KitDiscriminator::<M>::new(&context(small_config(component), 3))
        .unwrap_or_else(|e| panic!("{component}: {e}"));
    let (real, mismatched) = real_and_mismatched();
    let checked = check_conditional_weight_gradients(&d, &real, &mismatched, 7, 5);
    assert!(checked >= 50, "{component}: {checked} entries checked");
}

#[test]
fn the_pair_cnns_training_loss_reaches_every_weight() {
    check::<PairCnn>("pair-cnn");
}

#[test]
fn the_pair_rnns_training_loss_reaches_every_weight() {
    check::<PairRnn>("pair-rnn");
}

#[test]
fn the_hierarchical_rnns_training_loss_reaches_every_weight() {
    check::<HierarchicalRnn>("hierarchical-rnn");
}
