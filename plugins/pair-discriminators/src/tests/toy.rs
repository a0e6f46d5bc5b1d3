//! A toy conditional task: the real target of a source is its reverse, and
//! a fake pairs that target with another row's source, so only the pairing
//! tells real from fake.

use agon_sdk::{
    testing::text_context,
    toolkit::{rng_from_seed, SeededRng},
    Batch, DiscriminatorImpl, PluginContext, PluginLibrary, TokenBatch,
};
use rand::Rng;

use crate::PairDiscriminatorsLibrary;

pub const PAD: u32 = 0;
pub const EOS: u32 = 2;
/// Specials 0–3, then words.
pub const VOCAB: u32 = 12;
pub const COMPONENTS: [&str; 3] = ["pair-cnn", "hierarchical-rnn", "pair-rnn"];

/// Small sizes per component, so a debug build trains in seconds.
pub fn small_config(component: &str) -> &'static str {
    match component {
        "pair-cnn" => "embedding_dim: 8\nconv1_filters: 8\nconv2_filters: 8\ntraining: {optimizer: {lr: 0.01}}\n",
        "hierarchical-rnn" => {
            "embedding_dim: 16\nutterance_hidden_dim: 16\nturn_hidden_dim: 16\ntraining: {optimizer: {lr: 0.01}}\n"
        }
        "pair-rnn" => "embedding_dim: 16\nhidden_dim: 16\nmlp_dim: 16\ntraining: {optimizer: {lr: 0.01}}\n",
        other => panic!("no component {other}"),
    }
}

/// The host's text-task conventions: pad 0, bos 1, eos 2, unk 3.
pub fn context(config_yaml: &str, seed: u64) -> PluginContext {
    let mut context = text_context(VOCAB, 12);
    context.seed = seed;
    context.config_yaml = config_yaml.into();
    context
}

/// `component` with its small config.
pub fn discriminator(component: &str, seed: u64) -> Box<dyn DiscriminatorImpl> {
    discriminator_with(component, small_config(component), seed)
}

pub fn discriminator_with(component: &str, yaml: &str, seed: u64) -> Box<dyn DiscriminatorImpl> {
    PairDiscriminatorsLibrary::new_discriminator(component, &context(yaml, seed))
        .unwrap_or_else(|e| panic!("{component}: {e}"))
}

/// `rows` sources of `min..=max` random words, each ending in EOS.
pub fn sources(rng: &mut SeededRng, rows: usize, min: usize, max: usize) -> Vec<Vec<u32>> {
    (0..rows)
        .map(|_| {
            let len = rng.random_range(min..=max);
            let mut row: Vec<u32> = (0..len).map(|_| rng.random_range(4..VOCAB)).collect();
            row.push(EOS);
            row
        })
        .collect()
}

/// The real target of `source`: its words reversed, then EOS.
pub fn target_of(source: &[u32]) -> Vec<u32> {
    let mut target: Vec<u32> = source[..source.len() - 1].iter().rev().copied().collect();
    target.push(EOS);
    target
}

/// A conditional batch of explicit pairs.
pub fn pairs(sources: &[Vec<u32>], targets: &[Vec<u32>]) -> Batch {
    Batch::conditional(
        TokenBatch::from_rows(targets, PAD),
        TokenBatch::from_rows(sources, PAD),
    )
}

/// (real, mismatched) batches over `sources`: every target is paired with
/// its own source in the first and with the next row's in the second.
pub fn real_and_mismatched(sources: &[Vec<u32>]) -> (Batch, Batch) {
    let targets: Vec<Vec<u32>> = sources.iter().map(|s| target_of(s)).collect();
    let mut shifted = sources.to_vec();
    shifted.rotate_left(1);
    (pairs(sources, &targets), pairs(&shifted, &targets))
}

/// A seeded stream for test data.
pub fn data_rng(seed: u64) -> SeededRng {
    rng_from_seed(seed)
}
