use agon_sdk::kits::{GeneratorModel, KitGenerator};
use agon_sdk::testing::{check_conditional_generator_weight_gradients, check_generator, Task};
use agon_sdk::{Batch, GeneratorImpl, MleOptions, PluginContext, PluginLibrary, TokenBatch};

use crate::{GruSeq2Seq, GruSeq2SeqConfig, MyLabSeq2SeqGenerators};

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

/// `teacher_forced_logits`, which attends at every position at once, gives
/// what running `step` position by position gives (the kit's default), on
/// sources of two lengths (the shorter one padded).
#[test]
fn the_batched_teacher_forced_pass_equals_stepping() {
    use candle_core::{DType, Device, Tensor};
    let device = Device::Cpu;
    let context = PluginContext::for_tests(10, 6);
    let config = GruSeq2SeqConfig {
        embedding_dim: 4,
        hidden_dim: 8,
        ..GruSeq2SeqConfig::default()
    };
    let weights = candle_nn::VarMap::new();
    let vb = candle_nn::VarBuilder::from_varmap(&weights, DType::F32, &device);
    let model = GruSeq2Seq::new(vb, &context, &config).unwrap();
    let sources = TokenBatch::from_rows(&[vec![4u32, 5, 6, 7], vec![8]], 0);
    let (memory, state) = model.start(Some(&sources), 2, &device).unwrap();
    let inputs = Tensor::new(&[[1u32, 4, 5], [1, 9, 2]], &device).unwrap();
    let at_once = model
        .teacher_forced_logits(&memory, &state, &inputs)
        .unwrap();
    let mut h = state;
    let mut stepped = Vec::new();
    for t in 0..3 {
        let column = inputs.narrow(1, t, 1).unwrap().squeeze(1).unwrap();
        let (logits, next) = model.step(&memory, &h, &column).unwrap();
        stepped.push(logits);
        h = next;
    }
    let stepped = Tensor::stack(&stepped, 1)
        .unwrap()
        .reshape((6, ()))
        .unwrap();
    let gap = (at_once - stepped)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(gap < 1e-5, "largest difference {gap}");
}
