use agon_sdk::kits::KitGenerator;
use agon_sdk::testing::{check_generator, check_generator_weight_gradients, text_context, Task};
use agon_sdk::{Batch, GeneratorImpl, MleOptions, PluginContext, PluginLibrary, TokenBatch};

use crate::{GruLm, MyLabGenerators};

fn generator(config: &str) -> KitGenerator<GruLm> {
    let mut context = PluginContext::for_tests(10, 6); // vocab 10, max_len 6, cpu, seed 0
    context.config_yaml = config.into();
    KitGenerator::new(&context).unwrap()
}

#[test]
fn mle_lowers_the_loss_and_checkpoints_round_trip() {
    let batch = Batch::unconditional(TokenBatch::from_rows(&[vec![4u32, 5, 6], vec![7, 8]], 0));
    let mut g = generator("hidden_dim: 16\n");
    let options = |seed| MleOptions {
        seed,
        scheduled_sampling: 0.0,
    };
    let first = g.mle_step(&batch, &options(0)).unwrap().loss;
    for seed in 1..20 {
        g.mle_step(&batch, &options(seed)).unwrap();
    }
    let last = g.mle_step(&batch, &options(20)).unwrap().loss;
    assert!(last < first, "{first} → {last}");

    let dir = tempfile::tempdir().unwrap();
    g.save(dir.path()).unwrap();
    let mut loaded = generator("hidden_dim: 16\n");
    loaded.load(dir.path()).unwrap();
    assert_eq!(
        loaded.log_likelihood(&batch).unwrap(),
        g.log_likelihood(&batch).unwrap()
    );
}

#[test]
fn a_zero_size_is_refused_and_every_key_is_documented() {
    let mut context = PluginContext::for_tests(10, 6);
    context.config_yaml = "hidden_dim: 0\n".into();
    assert!(KitGenerator::<GruLm>::new(&context).is_err());
    for component in MyLabGenerators::components() {
        assert_eq!(component.check_config_docs(), Ok(()));
    }
}

/// The gradient of the MLE loss reaches every weight: autograd against
/// finite differences. (An op without a backward, such as candle-nn's
/// `softmax_last_dim`, would cut the weights before it off without an
/// error.)
#[test]
fn the_mle_loss_reaches_every_weight() {
    let g = generator("embedding_dim: 4\nhidden_dim: 4\n");
    check_generator_weight_gradients(&g, &[vec![4u32, 5, 6], vec![7, 8]], 3);
}

/// The SDK's contract: built through the guard as the host builds it,
/// deterministic, the same after save and load, rollouts that keep their
/// prefixes, bad input refused without a panic; with the oracle's ids (no
/// EOS) and with a text task's (rows end at EOS).
#[test]
fn keeps_the_component_contract() {
    for mut context in [PluginContext::for_tests(30, 10), text_context(30, 10)] {
        context.config_yaml = "embedding_dim: 8\nhidden_dim: 16\n".into();
        check_generator::<MyLabGenerators>("gru-lm", &context, Task::Unconditional);
    }
}
