//! Beam search over the sources of a batch, all rows' beams in one model
//! step per position.
//!
//! Each source row keeps `k` hypotheses (slots). A step scores the `2k` best
//! continuations of every live slot, and per row takes the `2k` best
//! overall, in order: an EOS among the first `k` finishes a hypothesis
//! (scored `log p / len^α`, `len` counting the EOS); the first `k` non-EOS
//! continuations form the next beam (fairseq's rule, which makes `k = 1`
//! exactly greedy decoding). A row stops once it has `k` finished
//! hypotheses; at `max_len` its live hypotheses are finished as they are.
//! The best finished hypothesis by normalised score is the output.

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use super::{model::checked_step, GeneratorModel, RowWise};
use crate::{error::PluginResult, toolkit::softmax_kernels::log_sum_exp};

/// What [`beam_search`] needs besides the model and the sources.
#[derive(Clone, Copy, Debug)]
pub(super) struct BeamSettings {
    pub beam: usize,
    pub max_len: usize,
    pub length_penalty: f32,
    pub bos: u32,
    pub eos: Option<u32>,
}

/// A continuation: its total log-probability, the slot it extends, the token.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    score: f32,
    parent: usize,
    token: u32,
}

/// The best output of each of `sources` rows, from their `memory` and
/// initial `state`.
#[allow(clippy::too_many_arguments)]
pub(super) fn beam_search<M: GeneratorModel>(
    model: &M,
    memory: &M::Memory,
    state: &M::State,
    sources: usize,
    vocab: usize,
    device: &Device,
    settings: BeamSettings,
) -> PluginResult<Vec<Vec<u32>>> {
    let k = settings.beam.max(1);
    let device = device.clone();
    let normalise = |score: f32, len: usize| score / (len as f32).powf(settings.length_penalty);
    let mut finished: Vec<Vec<(f32, Vec<u32>)>> = vec![Vec::new(); sources];
    if settings.max_len == 0 || sources == 0 {
        return Ok(vec![Vec::new(); sources]);
    }

    // Slot `a·k + j` is hypothesis `j` of the `a`-th searching row.
    let mut searching: Vec<usize> = (0..sources).collect();
    let repeat: Vec<u32> = (0..sources * k).map(|i| (i / k) as u32).collect();
    let repeat = Tensor::new(repeat.as_slice(), &device)?;
    let mut memory = memory.select_rows(&repeat)?;
    let mut state = state.select_rows(&repeat)?;
    // Only the first slot of a row is alive at first, so its k best
    // continuations fill the beam instead of k copies of the same one.
    let mut scores: Vec<f32> = (0..sources * k)
        .map(|i| if i % k == 0 { 0.0 } else { f32::NEG_INFINITY })
        .collect();
    let mut tokens: Vec<Vec<u32>> = vec![Vec::new(); sources * k];
    let mut inputs = vec![settings.bos; sources * k];

    for t in 0..settings.max_len {
        let input = Tensor::new(inputs.as_slice(), &device)?;
        let (logits, next_state) = checked_step(model, &memory, &state, &input, vocab)?;
        let logits = logits.flatten_all()?.to_vec1::<f32>()?;
        // The 2k best continuations of every live slot, in parallel.
        let per_slot: Vec<Vec<Candidate>> = logits
            .par_chunks(vocab)
            .zip(scores.par_iter())
            .enumerate()
            .map_init(
                || (Vec::new(), Vec::new()),
                |(scratch, blocks), (slot, (row, &score))| {
                    if score == f32::NEG_INFINITY {
                        return Vec::new();
                    }
                    let lse = log_sum_exp(row, scratch, blocks);
                    top_n(row, 2 * k)
                        .into_iter()
                        .map(|(token, logit)| Candidate {
                            score: score + (logit - lse),
                            parent: slot,
                            token,
                        })
                        .collect()
                },
            )
            .collect();

        let last_step = t + 1 == settings.max_len;
        let mut kept_rows = Vec::new(); // positions `a` of rows still searching
        let mut next: Vec<Candidate> = Vec::new();
        for (a, &source) in searching.iter().enumerate() {
            let mut candidates: Vec<Candidate> = per_slot[a * k..(a + 1) * k]
                .iter()
                .flatten()
                .copied()
                .collect();
            // Stable: ties keep slot order, then token order (lowest id first).
            candidates.sort_by(|x, y| y.score.total_cmp(&x.score));
            candidates.truncate(2 * k);
            let mut beam = Vec::with_capacity(k);
            for (rank, c) in candidates.iter().enumerate() {
                if Some(c.token) == settings.eos {
                    if rank < k {
                        let mut hypothesis = tokens[c.parent].clone();
                        hypothesis.push(c.token);
                        finished[source].push((normalise(c.score, t + 1), hypothesis));
                    }
                } else if beam.len() < k {
                    beam.push(*c);
                }
            }
            if finished[source].len() >= k || last_step || beam.is_empty() {
                if finished[source].len() < k {
                    // Out of length (or of continuations): finish what is live.
                    for c in &beam {
                        let mut hypothesis = tokens[c.parent].clone();
                        hypothesis.push(c.token);
                        finished[source].push((normalise(c.score, t + 1), hypothesis));
                    }
                }
                continue;
            }
            while beam.len() < k {
                // A dead slot: never extended (its score is −∞).
                beam.push(Candidate {
                    score: f32::NEG_INFINITY,
                    parent: a * k,
                    token: settings.bos,
                });
            }
            kept_rows.push(a);
            next.extend(beam);
        }
        if kept_rows.is_empty() {
            break;
        }
        let parents: Vec<u32> = next.iter().map(|c| c.parent as u32).collect();
        state = next_state.select_rows(&Tensor::new(parents.as_slice(), &device)?)?;
        if kept_rows.len() < searching.len() {
            // Every slot of a row attends to the same source: any k of them do.
            let slots: Vec<u32> = kept_rows
                .iter()
                .flat_map(|&a| (a * k..(a + 1) * k).map(|s| s as u32))
                .collect();
            memory = memory.select_rows(&Tensor::new(slots.as_slice(), &device)?)?;
            searching = kept_rows.iter().map(|&a| searching[a]).collect();
        }
        tokens = next
            .iter()
            .map(|c| {
                let mut hypothesis = tokens[c.parent].clone();
                hypothesis.push(c.token);
                hypothesis
            })
            .collect();
        scores = next.iter().map(|c| c.score).collect();
        inputs = next.iter().map(|c| c.token).collect();
    }
    Ok(finished
        .into_iter()
        .map(|hypotheses| {
            // The first of the best: earlier finished wins ties.
            let mut best: Option<(f32, Vec<u32>)> = None;
            for (score, hypothesis) in hypotheses {
                if best.as_ref().is_none_or(|(b, _)| score > *b) {
                    best = Some((score, hypothesis));
                }
            }
            best.map(|(_, h)| h).unwrap_or_default()
        })
        .collect())
}

/// The `n` largest values with their indices, largest first; among equal
/// values the lower index comes first.
fn top_n(values: &[f32], n: usize) -> Vec<(u32, f32)> {
    let mut best: Vec<(u32, f32)> = Vec::with_capacity(n + 1);
    for (i, &v) in values.iter().enumerate() {
        if best.len() == n && !best.last().is_some_and(|&(_, b)| v > b) {
            continue;
        }
        let at = best.partition_point(|&(_, b)| b >= v);
        best.insert(at, (i as u32, v));
        best.truncate(n);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_n_is_sorted_and_stable() {
        let values = [0.5f32, 2.0, -1.0, 2.0, 3.0, 0.5];
        assert_eq!(top_n(&values, 3), vec![(4, 3.0), (1, 2.0), (3, 2.0)]);
        assert_eq!(top_n(&values, 10).len(), 6);
        assert_eq!(top_n(&values, 1), vec![(4, 3.0)]);
    }
}
