use agon_sdk::{
    kits::KitDiscriminator, Batch, DiscriminatorImpl, PluginContext, PluginLibrary, StepOptions,
    StepStats, TokenBatch,
};

use crate::{GruDiscriminator, GruDiscriminatorLibrary};

fn discriminator(config: &str) -> KitDiscriminator<GruDiscriminator> {
    let mut context = PluginContext::for_tests(40, 8);
    context.seed = 1;
    context.config_yaml = config.into();
    KitDiscriminator::new(&context).unwrap()
}

fn rows(offset: u32, len: usize) -> Batch {
    let rows: Vec<Vec<u32>> = (0..16)
        .map(|r| {
            (0..len)
                .map(|t| offset + ((r * 7 + t * 3) % 10) as u32)
                .collect()
        })
        .collect();
    Batch::unconditional(TokenBatch::from_rows(&rows, 0))
}

fn learns(config: &str) {
    let mut d = discriminator(config);
    // Variable lengths: the final state must come from each row's last real token.
    let (real, fake) = (rows(0, 8), rows(20, 5));
    let mut last = StepStats::default();
    for step in 0..60 {
        last = d
            .train_step(&real, &fake, &StepOptions { seed: step })
            .unwrap();
    }
    assert!(last.get("accuracy").unwrap() > 0.95, "{last:?}");
    let p_real = d.probabilities(&real).unwrap();
    let p_fake = d.probabilities(&fake).unwrap();
    assert!(
        p_real.iter().all(|&p| p > 0.5) && p_fake.iter().all(|&p| p < 0.5),
        "{p_real:?} {p_fake:?}"
    );
}

#[test]
fn learns_to_tell_two_token_distributions_apart() {
    learns("embedding_dim: 8\nhidden_dim: 8\ntraining: {optimizer: {lr: 0.01}}\n");
}

#[test]
fn the_bidirectional_variant_is_one_key_and_learns_too() {
    let config =
        "embedding_dim: 8\nhidden_dim: 8\nbidirectional: true\ntraining: {optimizer: {lr: 0.01}}\n";
    learns(config);
    let (one, two) = (
        discriminator("embedding_dim: 8\nhidden_dim: 8\n"),
        discriminator(config),
    );
    // A second GRU (3H·E + 3H·H + 6H) and a wider output layer (+H).
    let extra = 3 * 8 * 8 + 3 * 8 * 8 + 6 * 8 + 8;
    assert_eq!(two.parameter_count(), one.parameter_count() + extra);
}

#[test]
fn a_row_scores_the_same_in_any_batch_and_chunk() {
    let mut d = discriminator(
        "embedding_dim: 8\nhidden_dim: 8\nbidirectional: true\ntraining: {score_chunk: 3}\n",
    );
    let (long, short) = (rows(0, 8), rows(20, 2));
    let alone = d.probabilities(&short).unwrap();
    let mixed: Vec<Vec<u32>> = short
        .targets
        .iter_rows()
        .chain(long.targets.iter_rows())
        .map(<[u32]>::to_vec)
        .collect();
    let together = d
        .probabilities(&Batch::unconditional(TokenBatch::from_rows(&mixed, 0)))
        .unwrap();
    assert_eq!(together.len(), 32);
    for (a, b) in alone.iter().zip(&together) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
}

#[test]
fn sources_are_refused_before_the_model_runs() {
    let mut d = discriminator("embedding_dim: 8\nhidden_dim: 8\n");
    let batch = rows(0, 4);
    let conditional = Batch::conditional(batch.targets.clone(), batch.targets.clone());
    let err = d.probabilities(&conditional).unwrap_err();
    assert!(err.message().contains("does not read sources"), "{err}");
}

#[test]
fn the_old_spelling_of_the_training_keys_is_refused() {
    let mut context = PluginContext::for_tests(40, 8);
    context.config_yaml = "dropout_keep: 0.5\n".into();
    let err = KitDiscriminator::<GruDiscriminator>::new(&context)
        .err()
        .unwrap();
    assert!(err.message().contains("dropout_keep"), "{err}");
}

#[test]
fn every_key_of_every_default_config_is_documented() {
    for component in GruDiscriminatorLibrary::components() {
        assert_eq!(component.check_config_docs(), Ok(()));
    }
}

#[test]
fn keeps_the_component_contract_in_both_directions_on_both_compute_paths() {
    for compute in ["kernels", "tensor"] {
        for bidirectional in [false, true] {
            let mut context = PluginContext::for_tests(40, 10);
            context.config_yaml = format!(
                "embedding_dim: 8\nhidden_dim: 8\nbidirectional: {bidirectional}\ncompute: {compute}\n"
            )
            .into();
            agon_sdk::testing::check_discriminator::<GruDiscriminatorLibrary>(
                "gru",
                &context,
                agon_sdk::testing::Task::Unconditional,
            );
        }
    }
}

#[test]
fn the_kernel_and_the_tensor_ops_train_to_the_same_scores() {
    // With dropout, both directions: the paths differ only in float rounding.
    let config = |compute: &str| {
        let mut context = PluginContext::for_tests(40, 10);
        context.config_yaml = format!("embedding_dim: 8\nhidden_dim: 8\nbidirectional: true\ncompute: {compute}\ntraining: {{optimizer: {{lr: 0.01}}, dropout: 0.2}}\n").into();
        context
    };
    agon_sdk::testing::check_discriminator_paths_agree::<GruDiscriminatorLibrary>(
        "gru",
        &config("kernels"),
        &config("tensor"),
        agon_sdk::testing::Task::Unconditional,
    );
}

/// Relaxed rows (Gumbel-softmax training) go through the same GRUs: one-hot
/// rows score as their ids, in both directions, on both compute paths, and
/// the input gradient is the derivative of the scores.
#[test]
fn relaxed_rows_score_as_their_ids_and_differentiate() {
    use agon_sdk::testing::{
        check_relaxed_input_gradient, check_relaxed_rows_score_as_ids, one_hot_rows,
    };
    let ids: Vec<Vec<u32>> = (0..5)
        .map(|r| {
            (0..(2 + r))
                .map(|t| ((r * 7 + t * 3) % 40) as u32)
                .collect()
        })
        .collect();
    for compute in ["kernels", "tensor"] {
        for bidirectional in [false, true] {
            let mut d = discriminator(&format!(
                "embedding_dim: 6\nhidden_dim: 5\nbidirectional: {bidirectional}\ncompute: {compute}\n"
            ));
            check_relaxed_rows_score_as_ids(&mut d, &ids, 40, &[6, 8]);
            let mut batch = one_hot_rows(&ids[..3], 4, 40);
            for (i, x) in batch.soft.iter_mut().enumerate() {
                *x = 0.7 * *x + 0.3 * ((i * 11 % 13) as f32) / (6.5 * 40.0);
            }
            check_relaxed_input_gradient(&d, &batch, &[0.8, -0.6, 1.1], 5);
        }
    }
}

/// The training loss's gradient reaches every weight, through the toolkit's
/// GRU kernel, both directions (autograd against finite differences).
#[test]
fn the_training_loss_reaches_every_weight() {
    let real = [vec![1u32, 2, 3, 4], vec![5, 6]];
    let fake = [vec![7u32, 7], vec![8, 9, 10]];
    for config in [
        "embedding_dim: 4\nhidden_dim: 4\n",
        "embedding_dim: 4\nhidden_dim: 4\nbidirectional: true\n",
    ] {
        let d = discriminator(config);
        let checked = agon_sdk::testing::check_weight_gradients(&d, &real, &fake, 3, 5);
        assert!(checked > 40, "{config}: {checked} checked");
    }
}
