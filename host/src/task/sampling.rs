//! Drawing many samples from a generator, and the per-token NLL of many
//! sequences, in chunks the plugins can hold.

use abi_stable::std_types::ROption;
use agon_sdk::{seeds::derive_seed, Batch, DecodeRequest, Policy, SampleRequest, TokenBatch};

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

/// One sample per row of `sources` (conditional tasks), in chunks of
/// [`CHUNK`]; chunk `k` uses the seed `derive_seed(seed, k)`.
pub fn sample_conditional(
    generator: &mut Generator,
    sources: &[Vec<u32>],
    max_len: u32,
    temperature: f32,
    seed: u64,
) -> anyhow::Result<Vec<Vec<u32>>> {
    let mut sequences = Vec::with_capacity(sources.len());
    for (chunk, rows) in sources.chunks(CHUNK).enumerate() {
        let batch = generator.sample(&SampleRequest {
            count: rows.len() as u32,
            max_len,
            temperature,
            seed: derive_seed(seed, &chunk.to_string()),
            policy: Policy::Current,
            sources: ROption::RSome(TokenBatch::from_rows(rows, 0)),
        })?;
        sequences.extend(batch.iter_rows().map(<[u32]>::to_vec));
    }
    Ok(sequences)
}

/// Greedy (`beam_size` 1) or beam-search outputs for every row of
/// `sources`, in chunks (beam search holds `beam_size` hypotheses a row).
pub fn decode_many(
    generator: &mut Generator,
    sources: &[Vec<u32>],
    max_len: u32,
    beam_size: u32,
    length_penalty: f32,
) -> anyhow::Result<Vec<Vec<u32>>> {
    let rows_per_call = (CHUNK / beam_size.max(1) as usize).max(1);
    let mut outputs = Vec::with_capacity(sources.len());
    for rows in sources.chunks(rows_per_call) {
        let batch = generator.decode(&DecodeRequest {
            sources: TokenBatch::from_rows(rows, 0),
            max_len,
            beam_size,
            length_penalty,
        })?;
        outputs.extend(batch.iter_rows().map(<[u32]>::to_vec));
    }
    Ok(outputs)
}

/// Each sequence's per-token NLL under `generator` (unconditional tasks):
/// the per-sample scores of paired tests.
pub fn nll_per_sequence(
    generator: &mut Generator,
    sequences: &[Vec<u32>],
) -> anyhow::Result<Vec<f64>> {
    let mut values = Vec::with_capacity(sequences.len());
    for chunk in sequences.chunks(CHUNK) {
        let batch = Batch::unconditional(TokenBatch::from_rows(chunk, 0));
        let likelihoods = generator.log_likelihood(&batch)?;
        for (ll, row) in likelihoods.iter().zip(batch.targets.iter_rows()) {
            values.push(-f64::from(*ll) / row.len().max(1) as f64);
        }
    }
    Ok(values)
}

/// Per-token mean NLL of `sequences` under `generator`, given row-aligned
/// `sources` for conditional tasks.
pub fn per_token_nll(
    generator: &mut Generator,
    sequences: &[Vec<u32>],
    sources: Option<&[Vec<u32>]>,
) -> anyhow::Result<f64> {
    per_token_nll_at(generator, sequences, sources, 1.0)
}

/// [`per_token_nll`] under the generator's distribution at `temperature`,
/// `softmax(logits / temperature)`, the one it samples from at that
/// temperature; needs a generator that declares the
/// `tempered-log-likelihood` capability unless `temperature` is 1.
pub fn per_token_nll_at(
    generator: &mut Generator,
    sequences: &[Vec<u32>],
    sources: Option<&[Vec<u32>]>,
    temperature: f32,
) -> anyhow::Result<f64> {
    let mut total = 0.0f64;
    let mut tokens = 0usize;
    for (k, chunk) in sequences.chunks(CHUNK).enumerate() {
        let targets = TokenBatch::from_rows(chunk, 0);
        let batch = match sources {
            Some(sources) => Batch::conditional(
                targets,
                TokenBatch::from_rows(&sources[k * CHUNK..k * CHUNK + chunk.len()], 0),
            ),
            None => Batch::unconditional(targets),
        };
        let log_likelihood = if temperature == 1.0 {
            generator.log_likelihood(&batch)?
        } else {
            generator.tempered_log_likelihood(&batch, temperature)?
        };
        total -= log_likelihood.iter().map(|&v| f64::from(v)).sum::<f64>();
        tokens += batch.targets.token_count();
    }
    Ok(total / tokens.max(1) as f64)
}
