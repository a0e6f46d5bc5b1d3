use agon_sdk::kits::KitGenerator;
use agon_sdk::testing::{check_conditional_generator_weight_gradients, check_generator, Task};
use agon_sdk::{Batch, GeneratorImpl, MleOptions, PluginContext, PluginLibrary, TokenBatch};

use crate::{GruSeq2Seq, MyLabSeq2SeqGenerators};

fn generator(config: &str) -> KitGenerator<GruSeq2Seq> {
    let mut context = PluginContext::for_tests(10, 6); // vocab 10, max_len 6, cpu, seed 0
    context.config_yaml = config.into();
    KitGenerator::new(&context).unwrap()
}

/// (source, target) pairs as a batch.
fn pairs(sources: &[Vec<u32>], targets: &[Vec<u32>]) -> Batch {
    Batch::conditional(
        TokenBatch::from_rows(targets, 0),
        TokenBatch::from_rows(sources, 0),
    )
}

fn options(seed: u64) -> MleOptions {
    MleOptions {
        seed,
        scheduled_sampling: 0.0,
    }
}

/// Trained to copy its source, the model reads it: each target is likelier
/// after its own source than after another row's.
#[test]
fn mle_learns_to_read_the_source_and_checkpoints_round_trip() {
    let sources = vec![vec![4u32, 5, 6], vec![7, 8], vec![9, 4, 4, 5], vec![6]];
    let mut g = generator("hidden_dim: 16\ntraining: {optimizer: {lr: 0.02}}\n");
    let copy = pairs(&sources, &sources);
    let first = g.mle_step(&copy, &options(0)).unwrap().loss;
    for seed in 1..80 {
        g.mle_step(&copy, &options(seed)).unwrap();
    }
    let last = g.mle_step(&copy, &options(80)).unwrap().loss;
    assert!(last < first, "{first} → {last}");

    let mut shifted = sources.clone();
    shifted.rotate_left(1);
    let matched = g.log_likelihood(&copy).unwrap();
    let mismatched = g.log_likelihood(&pairs(&shifted, &sources)).unwrap();
    for (row, (m, x)) in matched.iter().zip(&mismatched).enumerate() {
        assert!(m > x, "row {row}: own source {m}, another's {x}");
    }

    let dir = tempfile::tempdir().unwrap();
    g.save(dir.path()).unwrap();
    let mut loaded = generator("hidden_dim: 16\n");
    loaded.load(dir.path()).unwrap();
    assert_eq!(loaded.log_likelihood(&copy).unwrap(), matched);
}

#[test]
fn a_zero_size_is_refused_and_every_key_is_documented() {
    let mut context = PluginContext::for_tests(10, 6);
    context.config_yaml = "hidden_dim: 0\n".into();
    assert!(KitGenerator::<GruSeq2Seq>::new(&context).is_err());
    for component in MyLabSeq2SeqGenerators::components() {
        assert_eq!(component.check_config_docs(), Ok(()));
    }
}

/// The gradient of the MLE loss reaches every weight, the encoder's
/// included: autograd against finite differences on (source, target) pairs.
#[test]
fn the_mle_loss_reaches_every_weight() {
    let g = generator("embedding_dim: 4\nhidden_dim: 4\n");
    let pairs = [(vec![4u32, 5, 6], vec![7u32, 8]), (vec![9], vec![5, 6, 4])];
    check_conditional_generator_weight_gradients(&g, &pairs, 3);
}

/// The SDK's contract on a conditional task: built through the guard as the
/// host builds it, deterministic, the same after save and load, each row
/// independent of the others and of its padding, calls without sources
/// refused without a panic.
#[test]
fn keeps_the_component_contract() {
    let mut context = PluginContext::for_tests(30, 10);
    context.config_yaml = "embedding_dim: 8\nhidden_dim: 16\n".into();
    check_generator::<MyLabSeq2SeqGenerators>("gru-seq2seq", &context, Task::Conditional);
}
