//! The generator contract holds a declared optional method to its
//! behaviour: a one-softmax toy generator whose tempered log-likelihood is
//! right, wrong, undeclared or declared but missing.

use std::path::Path;

use super::{check_generator, Task};
use crate::{
    author::{GeneratorImpl, PluginLibrary},
    batch::{Batch, TokenBatch},
    capabilities::{ComponentCapabilities, TEMPERED_LOG_LIKELIHOOD},
    context::PluginContext,
    error::{PluginError, PluginResult},
    generator::{MleOptions, RolloutRequest, SampleRequest},
    manifest::{ComponentInfo, ComponentKind},
    seeds::derive_seed,
    stats::{StepOptions, StepStats},
};

#[derive(Clone, Copy, PartialEq)]
enum Tempering {
    Right,
    /// Ignores the temperature.
    Untempered,
    /// The default `Unsupported`.
    Missing,
}

/// Every token from one learned softmax; gradient steps on its logits.
struct Unigram {
    logits: Vec<f32>,
    tempering: Tempering,
}

fn log_softmax(logits: &[f32], temperature: f32) -> Vec<f32> {
    let scaled: Vec<f32> = logits.iter().map(|l| l / temperature).collect();
    let max = scaled.iter().cloned().fold(f32::MIN, f32::max);
    let lse = max + scaled.iter().map(|s| (s - max).exp()).sum::<f32>().ln();
    scaled.iter().map(|s| s - lse).collect()
}

/// `count` rows of `length` ids drawn from `softmax(logits / temperature)`,
/// each from its own stream (splitmix64) seeded by `seed` and its index.
fn draw(logits: &[f32], temperature: f32, seed: u64, row: &str, length: usize) -> Vec<u32> {
    let probs: Vec<f32> = log_softmax(logits, temperature)
        .iter()
        .map(|l| l.exp())
        .collect();
    let mut state = derive_seed(seed, row);
    (0..length)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let u = ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32;
            let mut total = 0.0;
            probs
                .iter()
                .position(|p| {
                    total += p;
                    u < total
                })
                .unwrap_or(probs.len() - 1) as u32
        })
        .collect()
}

impl Unigram {
    fn step(&mut self, batch: &Batch, weight: impl Fn(usize, usize) -> f32) -> f32 {
        let probs: Vec<f32> = log_softmax(&self.logits, 1.0)
            .iter()
            .map(|l| l.exp())
            .collect();
        let mut gradient = vec![0.0f32; self.logits.len()];
        let mut loss = 0.0;
        for (r, row) in batch.targets.iter_rows().enumerate() {
            for (t, &token) in row.iter().enumerate() {
                let w = weight(r, t);
                loss -= w * probs[token as usize].ln();
                gradient[token as usize] -= w;
                for (g, p) in gradient.iter_mut().zip(&probs) {
                    *g += w * p;
                }
            }
        }
        for (l, g) in self.logits.iter_mut().zip(gradient) {
            *l -= 0.5 * g;
        }
        loss
    }

    fn scored(&self, batch: &Batch, temperature: f32) -> Vec<f32> {
        let log_probs = log_softmax(&self.logits, temperature);
        batch
            .targets
            .iter_rows()
            .map(|row| row.iter().map(|&t| log_probs[t as usize]).sum())
            .collect()
    }
}

impl GeneratorImpl for Unigram {
    fn mle_step(&mut self, batch: &Batch, _: &MleOptions) -> PluginResult<StepStats> {
        let per_token = 1.0 / batch.targets.token_count().max(1) as f32;
        Ok(StepStats::new(
            self.step(batch, |_, _| per_token),
            batch.targets.rows(),
        ))
    }

    fn log_likelihood(&mut self, batch: &Batch) -> PluginResult<Vec<f32>> {
        Ok(self.scored(batch, 1.0))
    }

    fn tempered_log_likelihood(
        &mut self,
        batch: &Batch,
        temperature: f32,
    ) -> PluginResult<Vec<f32>> {
        match self.tempering {
            Tempering::Right => Ok(self.scored(batch, temperature)),
            Tempering::Untempered => Ok(self.scored(batch, 1.0)),
            Tempering::Missing => Err(PluginError::unsupported("not implemented")),
        }
    }

    fn sample(&mut self, request: &SampleRequest) -> PluginResult<TokenBatch> {
        let length = request.max_len as usize;
        let rows: Vec<Vec<u32>> = (0..request.count as usize)
            .map(|r| {
                draw(
                    &self.logits,
                    request.temperature,
                    request.seed,
                    &r.to_string(),
                    length,
                )
            })
            .collect();
        Ok(TokenBatch::from_rows_with_width(&rows, 0, length))
    }

    fn rollout(&mut self, request: &RolloutRequest) -> PluginResult<TokenBatch> {
        let length = request.max_len as usize;
        let mut rows = Vec::new();
        for job in request.jobs.iter() {
            let prefix = &request.sequences.row(job.row as usize)[..job.prefix_len as usize];
            for n in 0..request.rollouts_per_job {
                let rest = length.saturating_sub(prefix.len());
                let label = (job.first_rollout + n).to_string();
                let mut row = prefix.to_vec();
                row.extend(draw(
                    &self.logits,
                    request.temperature,
                    job.seed,
                    &label,
                    rest,
                ));
                rows.push(row);
            }
        }
        Ok(TokenBatch::from_rows_with_width(&rows, 0, length))
    }

    fn policy_gradient_step(
        &mut self,
        batch: &Batch,
        rewards: &[f32],
        _: &StepOptions,
    ) -> PluginResult<StepStats> {
        let width = batch.targets.width as usize;
        let per_row = 1.0 / batch.targets.rows().max(1) as f32;
        let loss = self.step(batch, |r, t| rewards[r * width + t] * per_row);
        Ok(StepStats::new(loss, batch.targets.rows()))
    }

    fn update_rollout_policy(&mut self, _: f32) -> PluginResult<()> {
        Ok(()) // rollouts use the current logits
    }

    fn parameter_count(&self) -> u64 {
        self.logits.len() as u64
    }

    fn save(&self, dir: &Path) -> PluginResult<()> {
        let bytes: Vec<u8> = self.logits.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(dir.join("unigram.bin"), bytes).map_err(|e| PluginError::io(e.to_string()))
    }

    fn load(&mut self, dir: &Path) -> PluginResult<()> {
        let bytes =
            std::fs::read(dir.join("unigram.bin")).map_err(|e| PluginError::io(e.to_string()))?;
        self.logits = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Ok(())
    }
}

struct Toys;

const NAMES: [&str; 4] = ["right", "untempered", "undeclared", "declared-missing"];

impl PluginLibrary for Toys {
    const NAMESPACE: &'static str = "test";
    const NAME: &'static str = "broken-generators";
    const VERSION: &'static str = "0.1.0";

    fn components() -> Vec<ComponentInfo> {
        NAMES
            .iter()
            .map(|n| ComponentInfo::new(ComponentKind::Generator, n, "toy", &()))
            .collect()
    }

    fn capabilities() -> Vec<ComponentCapabilities> {
        ["right", "untempered", "declared-missing"]
            .iter()
            .map(|n| {
                ComponentCapabilities::new(ComponentKind::Generator, n, &[TEMPERED_LOG_LIKELIHOOD])
            })
            .collect()
    }

    fn new_generator(name: &str, context: &PluginContext) -> PluginResult<Box<dyn GeneratorImpl>> {
        // Distinct logits, so tempering changes the distribution.
        let logits = (0..context.vocab.size)
            .map(|v| (v % 7) as f32 * 0.3)
            .collect();
        let tempering = match name {
            "untempered" => Tempering::Untempered,
            "declared-missing" => Tempering::Missing,
            _ => Tempering::Right,
        };
        Ok(Box::new(Unigram { logits, tempering }))
    }
}

fn context() -> PluginContext {
    PluginContext::for_tests(20, 8)
}

#[test]
fn a_correct_tempered_generator_passes() {
    check_generator::<Toys>("right", &context(), Task::Unconditional);
}

#[test]
#[should_panic(expected = "against (log p(v) − log p(w)) / T")]
fn ignoring_the_temperature_fails() {
    check_generator::<Toys>("untempered", &context(), Task::Unconditional);
}

#[test]
#[should_panic(expected = "does not declare `tempered-log-likelihood`")]
fn an_undeclared_method_that_answers_fails() {
    check_generator::<Toys>("undeclared", &context(), Task::Unconditional);
}

#[test]
#[should_panic(expected = "declares `tempered-log-likelihood` but it failed")]
fn a_declared_method_that_is_missing_fails() {
    check_generator::<Toys>("declared-missing", &context(), Task::Unconditional);
}
