use agon_sdk::{
    kits::KitDiscriminator,
    testing::{check_discriminator, Task},
    Batch, DiscriminatorImpl, PluginContext, StepOptions, StepStats, TokenBatch,
};

use crate::{LstmDiscriminator, LstmDiscriminatorLibrary};

const SMALL: &str = "embedding_dim: 8\nhidden_dim: 8\ntraining: {optimizer: {lr: 0.01}}\n";

fn context(config: &str) -> PluginContext {
    let mut context = PluginContext::for_tests(40, 8);
    context.seed = 1;
    context.config_yaml = config.into();
    context
}

fn discriminator(config: &str) -> KitDiscriminator<LstmDiscriminator> {
    KitDiscriminator::new(&context(config)).unwrap()
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

#[test]
fn keeps_the_discriminator_contract_with_and_without_layer_norm_on_both_compute_paths() {
    for compute in ["kernels", "tensor"] {
        let small = format!("{SMALL}compute: {compute}\n");
        let normed = format!("{small}layer_norm: true\n");
        for config in [&small, &normed] {
            check_discriminator::<LstmDiscriminatorLibrary>(
                "lstm-per-token",
                &context(config),
                Task::Unconditional,
            );
        }
    }
}

#[test]
fn the_kernel_and_candles_lstm_train_to_the_same_scores() {
    // With dropout on both sides of the LSTM and layer norm: the paths
    // differ only in float rounding.
    let config = |compute: &str| {
        context(&format!("embedding_dim: 8\nhidden_dim: 8\ncompute: {compute}\nlayer_norm: true\ntraining: {{optimizer: {{lr: 0.01}}, dropout: 0.2}}\n"))
    };
    agon_sdk::testing::check_discriminator_paths_agree::<LstmDiscriminatorLibrary>(
        "lstm-per-token",
        &config("kernels"),
        &config("tensor"),
        Task::Unconditional,
    );
}

#[test]
fn learns_to_tell_two_token_distributions_apart_at_every_position() {
    let mut d = discriminator(SMALL);
    let (real, fake) = (rows(0, 8), rows(20, 5));
    let mut last = StepStats::default();
    for step in 0..60 {
        last = d
            .train_step(&real, &fake, &StepOptions { seed: step })
            .unwrap();
    }
    // Trained per position: the accuracy is over tokens.
    assert!(last.get("accuracy").unwrap() > 0.95, "{last:?}");
    let real_scores = d.token_logits(&real).unwrap();
    let fake_scores = d.token_logits(&fake).unwrap();
    assert_eq!(real_scores.len(), 16 * 8);
    assert_eq!(fake_scores.len(), 16 * 5);
    assert!(
        real_scores.iter().all(|&l| l > 0.0) && fake_scores.iter().all(|&l| l < 0.0),
        "{real_scores:?} {fake_scores:?}"
    );
}

#[test]
fn a_position_sees_only_the_tokens_up_to_it_and_the_row_is_scored_at_its_end() {
    let mut d = discriminator(SMALL);
    let full = vec![3u32, 9, 4, 12, 7, 5];
    let scores = d
        .token_logits(&Batch::unconditional(TokenBatch::from_rows(
            std::slice::from_ref(&full),
            0,
        )))
        .unwrap();
    for len in 1..full.len() {
        let prefix = d
            .token_logits(&Batch::unconditional(TokenBatch::from_rows(
                &[full[..len].to_vec()],
                0,
            )))
            .unwrap();
        agon_sdk::testing::assert_close(&prefix, &scores[..len], 1e-5, "a prefix's token logits");
    }
    let p = d
        .probabilities(&Batch::unconditional(TokenBatch::from_rows(
            std::slice::from_ref(&full),
            0,
        )))
        .unwrap()[0];
    let expected = 1.0 / (1.0 + (-scores[full.len() - 1]).exp());
    assert!(
        (p - expected).abs() < 1e-6,
        "{p} vs sigmoid(last logit) {expected}"
    );
}

#[test]
fn a_pretrained_embedding_is_read_from_a_file_kept_fixed_and_checked() {
    let dir = std::env::temp_dir().join(format!("agon-lstm-d-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("glove.safetensors");
    let device = candle_core::Device::Cpu;
    let table = candle_core::Tensor::arange(0f32, 40.0 * 3.0, &device)
        .unwrap()
        .reshape((40, 3))
        .unwrap();
    let wrong = candle_core::Tensor::zeros((39, 3), candle_core::DType::F32, &device).unwrap();
    candle_core::safetensors::save(
        &std::collections::HashMap::from([
            ("embedding".to_string(), table),
            ("wrong".to_string(), wrong),
        ]),
        &file,
    )
    .unwrap();
    let with = format!(
        "{SMALL}pretrained_embedding: {{file: {}}}\n",
        file.display()
    );
    // The LSTM reads 3 more inputs (4 gates × hidden 8 × 3 more weights);
    // the fixed table itself is not a parameter.
    let (plain, pretrained) = (discriminator(SMALL), discriminator(&with));
    assert_eq!(
        pretrained.parameter_count(),
        plain.parameter_count() + 4 * 8 * 3
    );
    check_discriminator::<LstmDiscriminatorLibrary>(
        "lstm-per-token",
        &context(&with),
        Task::Unconditional,
    );
    for (config, needle) in [
        (
            format!(
                "{SMALL}pretrained_embedding: {{file: {}, tensor: wrong}}\n",
                file.display()
            ),
            "has shape [39, 3], but this task's vocabulary has 40 ids",
        ),
        (
            format!(
                "{SMALL}pretrained_embedding: {{file: {}, tensor: nope}}\n",
                file.display()
            ),
            "has no tensor `nope`",
        ),
    ] {
        let error = KitDiscriminator::<LstmDiscriminator>::new(&context(&config))
            .err()
            .unwrap();
        assert!(error.to_string().contains(needle), "{error}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// With `layer_norm: true` a step still trains the LSTM and the embedding
/// below the norm (Candle's fused layer norm passed them no gradient).
#[test]
fn a_training_step_reaches_the_lstm_through_the_layer_norm() {
    let mut d = discriminator(&format!("{SMALL}layer_norm: true\n"));
    let weights = |d: &KitDiscriminator<LstmDiscriminator>| {
        let dir = std::env::temp_dir().join(format!("agon-layer-norm-step-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        d.save(&dir).unwrap();
        let file = std::fs::read_dir(&dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let tensors = agon_sdk::toolkit::load_tensors(&file, &candle_core::Device::Cpu).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        tensors
    };
    let before = weights(&d);
    d.train_step(&rows(4, 6), &rows(20, 6), &StepOptions { seed: 1 })
        .unwrap();
    let after = weights(&d);
    let mut names: Vec<&String> = before.keys().collect();
    names.sort();
    for name in [
        "model.lstm.weight_ih_l0",
        "model.lstm.weight_hh_l0",
        "model.embedding",
    ] {
        let (b, a) = (
            before
                .get(name)
                .unwrap_or_else(|| panic!("{name} not in {names:?}")),
            &after[name],
        );
        let change = (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(change > 0.0, "{name} did not change");
    }
}

/// The training loss's gradient (per token) reaches every weight, through
/// the LSTM kernel and the layer norm (autograd against finite
/// differences).
#[test]
fn the_training_loss_reaches_every_weight() {
    let real = [vec![1u32, 2, 3, 4], vec![5, 6]];
    let fake = [vec![7u32, 7], vec![8, 9, 10]];
    for config in [
        "embedding_dim: 4\nhidden_dim: 4\n",
        "embedding_dim: 4\nhidden_dim: 4\nlayer_norm: true\n",
    ] {
        let d = discriminator(config);
        let checked = agon_sdk::testing::check_weight_gradients(&d, &real, &fake, 3, 5);
        assert!(checked > 40, "{config}: {checked} checked");
    }
}
