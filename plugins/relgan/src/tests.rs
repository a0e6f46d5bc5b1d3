use agon_sdk::{
    kits::KitDiscriminator,
    testing::{check_relaxed_input_gradient, check_relaxed_rows_score_as_ids, one_hot_rows},
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
    check_relaxed_rows_score_as_ids(&mut discriminator(SMALL), &rows(3, 6), VOCAB, &[6, 8]);
}

/// The gradient the generator trains on, against finite differences.
#[test]
fn the_relaxed_input_gradient_matches_finite_differences() {
    let mut relaxed = one_hot_rows(&rows(3, 6)[..3], 6, VOCAB);
    for (i, x) in relaxed.soft.iter_mut().enumerate() {
        *x = 0.6 * *x + 0.4 * ((i * 11 % 13) as f32 + 1.0) / (13.0 * VOCAB as f32 / 2.0);
    }
    check_relaxed_input_gradient(&discriminator(SMALL), &relaxed, &[0.5, -1.0, 0.25], 7);
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
fn filter_sizes_must_be_widths() {
    for sizes in ["[]", "[2, 0]"] {
        let err = KitDiscriminator::<RelganDiscriminator>::new(&context(&format!(
            "filter_sizes: {sizes}\n"
        )))
        .err()
        .unwrap();
        assert!(
            err.message().contains("filter_sizes must be non-empty"),
            "{err}"
        );
    }
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

/// A small relational memory.
const SMALL_GENERATOR: &str = "{embedding_dim: 8, mem_slots: 2, num_heads: 2, head_size: 4}";

#[test]
fn the_generator_keeps_the_component_contract_with_either_core() {
    for config in [
        SMALL_GENERATOR,
        "{embedding_dim: 8, core: lstm, hidden_dim: 8}",
    ] {
        agon_sdk::testing::check_generator::<RelganLibrary>(
            "relgan-generator",
            &context(config),
            agon_sdk::testing::Task::Unconditional,
        );
    }
}

#[test]
fn the_generator_learns_a_sequence_by_mle() {
    use agon_sdk::{kits::KitGenerator, GeneratorImpl, MleOptions};
    // RelGAN's MLE learning rate (TextGAN-PyTorch's gen_lr).
    let config = "{embedding_dim: 8, mem_slots: 2, num_heads: 2, head_size: 4, training: {optimizer: {lr: 0.01}}}";
    let mut g = KitGenerator::<crate::RelganGenerator>::new(&context(config)).unwrap();
    let data = batch(&vec![vec![4, 5, 6, 7, 2]; 8]);
    let options = |seed| MleOptions {
        seed,
        scheduled_sampling: 0.0,
    };
    let first = g.mle_step(&data, &options(0)).unwrap().loss;
    let mut last = first;
    for seed in 1..60 {
        last = g.mle_step(&data, &options(seed)).unwrap().loss;
    }
    assert!(last < 0.2 * first, "{first} → {last}");
}

#[test]
fn a_huge_relational_memory_is_refused_with_its_size() {
    use agon_sdk::kits::KitGenerator;
    let err = KitGenerator::<crate::RelganGenerator>::new(&context(
        "{mem_slots: 64, num_heads: 64, head_size: 512}",
    ))
    .err()
    .unwrap();
    assert!(err.message().contains("2097152"), "{err}");
}

/// The training losses reach every weight (autograd against finite
/// differences): the discriminator's, and the generator's MLE loss with
/// either core.
#[test]
fn the_training_losses_reach_every_weight() {
    use agon_sdk::kits::KitGenerator;
    use agon_sdk::testing::{check_generator_weight_gradients, check_weight_gradients};
    let (real, fake) = (rows(3, 5)[..3].to_vec(), rows(12, 4)[..3].to_vec());
    let checked = check_weight_gradients(&discriminator(SMALL), &real, &fake, 4, 7);
    assert!(checked > 40, "discriminator: {checked} checked");
    for config in [
        "{embedding_dim: 4, mem_slots: 1, num_heads: 2, head_size: 2}",
        "{embedding_dim: 4, core: lstm, hidden_dim: 4, compute: kernels}",
        "{embedding_dim: 4, core: lstm, hidden_dim: 4, compute: tensor}",
    ] {
        let g = KitGenerator::<crate::RelganGenerator>::new(&context(config)).unwrap();
        let checked = check_generator_weight_gradients(&g, &real, 7);
        assert!(checked > 40, "{config}: {checked} checked");
    }
}

/// The LSTM core's teacher-forced pass as one kernel trains as the
/// stepped tensor path does: the same MLE losses, step after step, and
/// then the same NLL, up to float rounding.
#[test]
fn the_lstm_cores_kernel_and_tensor_paths_train_alike() {
    use agon_sdk::{kits::KitGenerator, GeneratorImpl, MleOptions};
    let build = |compute: &str| {
        KitGenerator::<crate::RelganGenerator>::new(&context(&format!(
            "{{embedding_dim: 6, core: lstm, hidden_dim: 7, compute: {compute}, training: {{optimizer: {{lr: 0.01}}}}}}"
        )))
        .unwrap()
    };
    let (mut kernels, mut tensor) = (build("kernels"), build("tensor"));
    // Rows of several lengths, so padding is in the pass.
    let data = batch(&[rows(3, 7), rows(5, 4)[..5].to_vec()].concat());
    assert!(data.targets.lengths.iter().any(|&l| l < 7));
    let options = |seed| MleOptions {
        seed,
        scheduled_sampling: 0.0,
    };
    for seed in 0..10 {
        let (a, b) = (
            kernels.mle_step(&data, &options(seed)).unwrap().loss,
            tensor.mle_step(&data, &options(seed)).unwrap().loss,
        );
        assert!(
            (a - b).abs() <= 1e-4 * a.abs().max(1.0),
            "step {seed}: {a} against {b}"
        );
    }
    let (a, b) = (
        kernels.log_likelihood(&data).unwrap(),
        tensor.log_likelihood(&data).unwrap(),
    );
    assert_eq!(a.len(), data.targets.rows());
    agon_sdk::testing::assert_close(&a, &b, 1e-4, "rows' log-likelihoods");
    // The kernel ran: it sums in another order than Candle's steps.
    assert_ne!(a, b, "the kernel path gave the tensor path's bits");
}

#[test]
fn the_relational_memory_refuses_the_kernel_path() {
    use agon_sdk::kits::KitGenerator;
    let err = KitGenerator::<crate::RelganGenerator>::new(&context("{compute: kernels}"))
        .err()
        .unwrap();
    assert!(
        err.message().contains("compute: kernels needs core: lstm"),
        "{err}"
    );
}
