use agon_sdk::kits::KitDiscriminator;
use agon_sdk::testing::{
    check_conditional_relaxed_rows_score_as_ids, check_conditional_weight_gradients,
    check_discriminator, check_relaxed_input_gradient, one_hot_pairs, Task,
};
use agon_sdk::{Batch, DiscriminatorImpl, PluginContext, PluginLibrary, StepOptions, TokenBatch};

use crate::{MyLabPairDiscriminators, PairPool};

fn discriminator(config: &str) -> KitDiscriminator<PairPool> {
    let mut context = PluginContext::for_tests(10, 6); // vocab 10, max_len 6, cpu, seed 0
    context.config_yaml = config.into();
    KitDiscriminator::new(&context).unwrap()
}

/// (source, target) pairs as a batch.
fn pairs(sources: &[Vec<u32>], targets: &[Vec<u32>]) -> Batch {
    Batch::conditional(
        TokenBatch::from_rows(targets, 0),
        TokenBatch::from_rows(sources, 0),
    )
}

/// Real pairs are a source and its copy; generated ones the same targets
/// after other rows' sources. The targets alone cannot tell them apart,
/// so learning to means reading the sources.
#[test]
fn learns_which_target_belongs_to_which_source() {
    let sources = vec![vec![4u32, 5], vec![6, 7], vec![8, 9], vec![5, 4, 6]];
    let mut shifted = sources.clone();
    shifted.rotate_left(1);
    let (real, fake) = (pairs(&sources, &sources), pairs(&shifted, &sources));
    let mut d = discriminator(
        "embedding_dim: 8\nhidden_dim: 16\ntraining: {dropout: 0, optimizer: {lr: 0.01}}\n",
    );
    for seed in 0..150 {
        d.train_step(&real, &fake, &StepOptions { seed }).unwrap();
    }
    let (p_real, p_fake) = (
        d.probabilities(&real).unwrap(),
        d.probabilities(&fake).unwrap(),
    );
    for (row, (r, f)) in p_real.iter().zip(&p_fake).enumerate() {
        assert!(r > &0.5 && f < &0.5, "row {row}: real {r}, generated {f}");
    }

    let dir = tempfile::tempdir().unwrap();
    d.save(dir.path()).unwrap();
    let mut loaded = discriminator("embedding_dim: 8\nhidden_dim: 16\n");
    loaded.load(dir.path()).unwrap();
    assert_eq!(loaded.probabilities(&real).unwrap(), p_real);
}

#[test]
fn a_zero_size_is_refused_and_every_key_is_documented() {
    let mut context = PluginContext::for_tests(10, 6);
    context.config_yaml = "hidden_dim: 0\n".into();
    assert!(KitDiscriminator::<PairPool>::new(&context).is_err());
    for component in MyLabPairDiscriminators::components() {
        assert_eq!(component.check_config_docs(), Ok(()));
    }
}

/// The SDK's contract on a conditional task: built through the guard as the
/// host builds it, deterministic, the same after save and load, each row
/// scored alone, rows without sources refused without a panic.
#[test]
fn keeps_the_component_contract() {
    let mut context = PluginContext::for_tests(30, 10);
    context.config_yaml = "embedding_dim: 8\n".into();
    check_discriminator::<MyLabPairDiscriminators>("pair-pool", &context, Task::Conditional);
}

/// The gradient of the training loss reaches every weight, the source
/// embedding's included: autograd against finite differences on (source,
/// target) pairs, dropout included.
#[test]
fn the_training_loss_reaches_every_weight() {
    let real = [(vec![1u32, 2], vec![1u32, 2, 3]), (vec![5], vec![4])];
    let fake = [(vec![1u32, 2], vec![9u32, 9]), (vec![6, 7], vec![8, 7, 6])];
    let d = discriminator("embedding_dim: 8\n");
    check_conditional_weight_gradients(&d, &real, &fake, 5, 3);
}

/// The relaxed path (Gumbel-softmax training): one-hot targets of any width
/// score as their ids, and the gradient the kit returns for the targets is
/// the derivative of the scores (finite differences).
#[test]
fn relaxed_targets_score_as_their_ids_and_differentiate() {
    let pairs = [
        (vec![1u32, 2], vec![1u32, 2, 3]),
        (vec![5], vec![4]),
        (vec![6, 7, 8], vec![9, 8, 7, 6, 5]),
    ];
    let mut d = discriminator("embedding_dim: 8\n");
    check_conditional_relaxed_rows_score_as_ids(&mut d, &pairs, 10, &[6, 8]);
    // Targets between one-hot and uniform, as a generator's relaxed samples are.
    let mut batch = one_hot_pairs(&pairs, 6, 10);
    for (i, x) in batch.soft.iter_mut().enumerate() {
        *x = 0.7 * *x + 0.03 * ((i * 7 % 11) as f32) / 5.0;
    }
    check_relaxed_input_gradient(&d, &batch, &[0.5, -1.0, 0.25], 3);
}
