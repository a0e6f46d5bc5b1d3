use agon_sdk::kits::KitDiscriminator;
use agon_sdk::testing::{
    check_discriminator, check_relaxed_input_gradient, check_relaxed_rows_score_as_ids,
    check_weight_gradients, one_hot_rows, Task,
};
use agon_sdk::{Batch, DiscriminatorImpl, PluginContext, PluginLibrary, StepOptions, TokenBatch};

use crate::{MeanPool, MyLabLibrary};

fn discriminator(config: &str) -> KitDiscriminator<MeanPool> {
    let mut context = PluginContext::for_tests(10, 6); // vocab 10, max_len 6, cpu, seed 0
    context.config_yaml = config.into();
    KitDiscriminator::new(&context).unwrap()
}

#[test]
fn seeded_steps_are_reproducible_and_checkpoints_round_trip() {
    let real = Batch::unconditional(TokenBatch::from_rows(&[vec![1u32, 2, 3], vec![4]], 0));
    let fake = Batch::unconditional(TokenBatch::from_rows(&[vec![9u32, 9], vec![8, 7, 6]], 0));
    let (mut a, mut b) = (
        discriminator("embedding_dim: 8\n"),
        discriminator("embedding_dim: 8\n"),
    );
    let stats = a
        .train_step(&real, &fake, &StepOptions { seed: 3 })
        .unwrap();
    assert!(stats.loss.is_finite() && stats.get("accuracy").is_some());
    b.train_step(&real, &fake, &StepOptions { seed: 3 })
        .unwrap();
    let p = a.probabilities(&real).unwrap();
    assert_eq!(p, b.probabilities(&real).unwrap());
    assert!(p.iter().all(|x| (0.0..=1.0).contains(x)));

    let dir = tempfile::tempdir().unwrap();
    a.save(dir.path()).unwrap();
    let mut c = discriminator("embedding_dim: 8\n");
    c.load(dir.path()).unwrap();
    assert_eq!(c.probabilities(&real).unwrap(), p);
}

#[test]
fn a_bad_pooling_is_refused_and_every_key_is_documented() {
    let mut context = PluginContext::for_tests(10, 6);
    context.config_yaml = "pooling: median\n".into();
    assert!(KitDiscriminator::<MeanPool>::new(&context).is_err());
    for component in MyLabLibrary::components() {
        assert_eq!(component.check_config_docs(), Ok(()));
    }
}

/// The SDK's contract: built through the guard as the host builds it,
/// deterministic, the same after save and load, each row scored alone,
/// bad input refused without a panic.
#[test]
fn keeps_the_component_contract() {
    let mut context = PluginContext::for_tests(30, 10);
    context.config_yaml = "embedding_dim: 8\npooling: max\n".into();
    check_discriminator::<MyLabLibrary>("mean-pool", &context, Task::Unconditional);
}

/// The gradient of the training loss reaches every weight: autograd
/// against finite differences, dropout included. (An op without a
/// backward, such as candle-nn's `softmax_last_dim`, would cut the weights
/// before it off without an error.)
#[test]
fn the_training_loss_reaches_every_weight() {
    let real = [vec![1u32, 2, 3], vec![4]];
    let fake = [vec![9u32, 9], vec![8, 7, 6]];
    for pooling in ["mean", "max"] {
        let d = discriminator(&format!("embedding_dim: 8\npooling: {pooling}\n"));
        check_weight_gradients(&d, &real, &fake, 5, 3);
    }
}

/// The relaxed path (Gumbel-softmax training): one-hot rows of any width
/// score as their ids, and the gradient the kit returns for the rows is
/// the derivative of the scores (finite differences).
#[test]
fn relaxed_rows_score_as_their_ids_and_differentiate() {
    let ids = vec![vec![1u32, 2, 3], vec![4], vec![9, 8, 7, 6, 5]];
    for pooling in ["mean", "max"] {
        let mut d = discriminator(&format!("embedding_dim: 8\npooling: {pooling}\n"));
        check_relaxed_rows_score_as_ids(&mut d, &ids, 10, &[6, 8]);
    }
    // Rows between one-hot and uniform, as a generator's relaxed samples are.
    let mut batch = one_hot_rows(&ids, 6, 10);
    for (i, x) in batch.soft.iter_mut().enumerate() {
        *x = 0.7 * *x + 0.03 * ((i * 7 % 11) as f32) / 5.0;
    }
    let d = discriminator("embedding_dim: 8\n");
    check_relaxed_input_gradient(&d, &batch, &[0.5, -1.0, 0.25], 3);
}
