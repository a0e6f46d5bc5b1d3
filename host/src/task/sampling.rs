//! Drawing many samples from a generator, and the per-token NLL of many
//! sequences, in chunks the plugins can hold.

use abi_stable::std_types::ROption;
use agon_sdk::{seeds::derive_seed, Batch, Policy, SampleRequest, TokenBatch};

use crate::components::Generator;

/// Most sequences sampled or scored in one plugin call (bounds the size of
/// the logits the generator materialises: rows × vocabulary floats).
pub const CHUNK: usize = 1024;

/// `count` samples from `generator`, drawn in chunks of [`CHUNK`]; chunk `k`
/// uses the seed `derive_seed(seed, k)`.
pub fn sample_many(
    generator: &mut Generator,
    count: usize,
    max_len: u32,
    temperature: f32,
    seed: u64,
) -> anyhow::Result<Vec<Vec<u32>>> {
    let mut sequences = Vec::with_capacity(count);
    let mut chunk = 0;
    while sequences.len() < count {
        let n = CHUNK.min(count - sequences.len());
        let batch = generator.sample(&SampleRequest {
            count: n as u32,
            max_len,
            temperature,
            seed: derive_seed(seed, &chunk.to_string()),
            policy: Policy::Current,
            sources: ROption::RNone,
        })?;
        sequences.extend(batch.iter_rows().map(<[u32]>::to_vec));
        chunk += 1;
    }
    Ok(sequences)
}

/// Per-token mean NLL of `sequences` under `generator`.
pub fn per_token_nll(generator: &mut Generator, sequences: &[Vec<u32>]) -> anyhow::Result<f64> {
    let mut total = 0.0f64;
    let mut tokens = 0usize;
    for chunk in sequences.chunks(CHUNK) {
        let batch = Batch::unconditional(TokenBatch::from_rows(chunk, 0));
        total -= generator
            .log_likelihood(&batch)?
            .iter()
            .map(|&v| f64::from(v))
            .sum::<f64>();
        tokens += batch.targets.token_count();
    }
    Ok(total / tokens.max(1) as f64)
}
