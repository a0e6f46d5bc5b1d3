//! The Monte-Carlo rollout scheduler with real plugins: a Q-value for every
//! position, the last scored directly, and batched calls that give exactly
//! what one call per prefix and rollout would.

use abi_stable::std_types::ROption;
use agon::{
    components::{Discriminator, Generator, Reward, SharedContext},
    train::rollout::{job_seed, q_values, RolloutSettings, Scorer},
};
use agon_integration_tests::{build_dir, ComponentBuilder};
use agon_sdk::{
    Batch, Policy, PrefixJob, RewardInput, RolloutRequest, SampleRequest, TokenBatch, VocabInfo,
};

const MAX_LEN: u32 = 6;

struct Parts {
    generator: Generator,
    discriminator: Discriminator,
    reward: Reward,
    _components: ComponentBuilder,
}

fn parts() -> Parts {
    parts_with(VocabInfo {
        size: 40,
        bos: 0,
        eos: ROption::RNone,
        pad: ROption::RNone,
        unk: ROption::RNone,
    })
}

fn parts_with(vocab: VocabInfo) -> Parts {
    let shared = SharedContext {
        device: "cpu".into(),
        seed: 3,
        vocab,
        max_len: MAX_LEN,
        run_dir: String::new(),
        origin: Default::default(),
    };
    let mut build = ComponentBuilder::new(&[build_dir()], shared);
    let spec = ComponentBuilder::spec;
    Parts {
        generator: build.generator(&spec(
            "agon/lstm-generator",
            None,
            "{embedding_dim: 8, hidden_dim: 8}",
        )),
        discriminator: build.discriminator(&spec(
            "rnn-lab/gru-discriminator",
            None,
            "{embedding_dim: 8, hidden_dim: 8}",
        )),
        reward: build.reward(&spec("agon/rewards", Some("discriminator"), "")),
        _components: build,
    }
}

fn samples(generator: &mut Generator, count: u32) -> TokenBatch {
    generator
        .sample(&SampleRequest {
            count,
            max_len: MAX_LEN,
            temperature: 1.0,
            seed: 17,
            policy: Policy::Current,
            sources: ROption::RNone,
        })
        .unwrap()
}

fn settings(rollouts: usize, token_budget: usize) -> RolloutSettings {
    RolloutSettings {
        rollouts,
        token_budget,
        max_len: MAX_LEN,
        temperature: 1.0,
    }
}

#[test]
fn every_position_gets_a_q_value_and_the_last_is_the_score_of_the_sequence() {
    let Parts {
        mut generator,
        mut discriminator,
        mut reward,
        ..
    } = parts();
    let samples = samples(&mut generator, 5);
    let mut scorer = Scorer {
        discriminator: Some(&mut discriminator),
        reward: &mut reward,
    };
    let (q, stats) = q_values(
        &mut generator,
        &mut scorer,
        &samples,
        &settings(4, 100_000),
        99,
    )
    .unwrap();
    assert_eq!(q.len(), 5 * MAX_LEN as usize);
    assert!(
        q.iter().all(|&v| v > 0.0 && v < 1.0),
        "every position has a reward (a mean of probabilities): {q:?}"
    );
    let finished = scorer.score(samples.clone()).unwrap();
    for row in 0..5 {
        assert_eq!(
            q[row * MAX_LEN as usize + MAX_LEN as usize - 1],
            finished[row],
            "row {row}"
        );
    }
    assert_eq!(
        stats.generator_calls, 1,
        "all 5 × 5 prefixes × 4 rollouts fit in one call"
    );
    assert_eq!(stats.sequences, 5 * 5 * 4);
    assert_eq!(
        stats.scoring_calls, 2,
        "one for the rollouts, one for the finished sequences"
    );
}

#[test]
fn batched_q_values_equal_one_call_per_prefix_and_rollout() {
    let Parts {
        mut generator,
        mut discriminator,
        mut reward,
        ..
    } = parts();
    let samples = samples(&mut generator, 3);
    let rollouts = 3;
    let seed = 5;
    let mut scorer = Scorer {
        discriminator: Some(&mut discriminator),
        reward: &mut reward,
    };
    let (batched, _) = q_values(
        &mut generator,
        &mut scorer,
        &samples,
        &settings(rollouts, 100_000),
        seed,
    )
    .unwrap();

    // The naive computation of the original SeqGAN code: one generator call
    // and one scoring call per (prefix, rollout).
    let width = MAX_LEN as usize;
    let mut naive = vec![0.0f32; 3 * width];
    let mut calls = 0;
    for row in 0..3 {
        for prefix_len in 1..width {
            let mut total = 0.0;
            for n in 0..rollouts {
                let completion = generator
                    .rollout(&RolloutRequest {
                        sequences: samples.clone(),
                        jobs: vec![PrefixJob {
                            row: row as u32,
                            prefix_len: prefix_len as u32,
                            seed: job_seed(seed, row, prefix_len),
                            first_rollout: n as u32,
                        }]
                        .into(),
                        rollouts_per_job: 1,
                        max_len: MAX_LEN,
                        temperature: 1.0,
                        sources: ROption::RNone,
                    })
                    .unwrap();
                calls += 1;
                let p = discriminator
                    .probabilities(&Batch::unconditional(completion.clone()))
                    .unwrap();
                total += reward
                    .rewards(&RewardInput {
                        sequences: completion,
                        sources: ROption::RNone,
                        references: ROption::RNone,
                        discriminator: ROption::RSome(p.into()),
                    })
                    .unwrap()[0];
            }
            naive[row * width + prefix_len - 1] = total / rollouts as f32;
        }
        let p = discriminator
            .probabilities(&Batch::unconditional(TokenBatch::from_rows(
                &[samples.row(row)],
                0,
            )))
            .unwrap();
        naive[row * width + width - 1] = p[0];
    }
    assert_eq!(calls, 3 * 5 * 3);
    for (i, (b, n)) in batched.iter().zip(&naive).enumerate() {
        assert!(
            (b - n).abs() < 1e-5,
            "position {i}: batched {b} vs naive {n}"
        );
    }
}

#[test]
fn the_token_budget_bounds_every_call_without_changing_the_result() {
    let Parts {
        mut generator,
        mut discriminator,
        mut reward,
        ..
    } = parts();
    let samples = samples(&mut generator, 4);
    let mut scorer = Scorer {
        discriminator: Some(&mut discriminator),
        reward: &mut reward,
    };
    let (unbounded, _) = q_values(
        &mut generator,
        &mut scorer,
        &samples,
        &settings(8, 1_000_000),
        1,
    )
    .unwrap();
    // 3 sequences of 6 tokens per call: fewer than the 8 rollouts of one
    // prefix, so rollouts are split across calls too.
    let (bounded, stats) =
        q_values(&mut generator, &mut scorer, &samples, &settings(8, 18), 1).unwrap();
    assert!(
        stats.largest_call <= 3,
        "largest call {}",
        stats.largest_call
    );
    assert_eq!(stats.sequences, 4 * 5 * 8);
    for (a, b) in unbounded.iter().zip(&bounded) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
}

#[test]
fn variable_length_sequences_get_q_values_up_to_their_eos_and_zero_after() {
    // A text-like vocabulary: 0 pad, 1 bos, 2 eos; an untrained generator
    // over 6 ids ends a row early often.
    let Parts {
        mut generator,
        mut discriminator,
        mut reward,
        ..
    } = parts_with(VocabInfo {
        size: 6,
        bos: 1,
        eos: ROption::RSome(2),
        pad: ROption::RSome(0),
        unk: ROption::RNone,
    });
    let samples = samples(&mut generator, 12);
    let lengths: Vec<usize> = samples.lengths.iter().map(|&l| l as usize).collect();
    assert!(
        lengths.iter().any(|&l| l < MAX_LEN as usize) && lengths.iter().any(|&l| l > 1),
        "the seed gives rows of several lengths: {lengths:?}"
    );
    for row in 0..samples.rows() {
        let tokens = samples.row(row);
        if tokens.len() < MAX_LEN as usize {
            assert_eq!(tokens.last(), Some(&2), "a short row ends with EOS");
        }
        assert!(
            !tokens[..tokens.len() - 1].contains(&2),
            "nothing after EOS"
        );
    }
    let mut scorer = Scorer {
        discriminator: Some(&mut discriminator),
        reward: &mut reward,
    };
    let (q, _) = q_values(&mut generator, &mut scorer, &samples, &settings(3, 40), 8).unwrap();
    let finished = scorer.score(samples.clone()).unwrap();
    let width = MAX_LEN as usize;
    for (row, &len) in lengths.iter().enumerate() {
        let q_row = &q[row * width..(row + 1) * width];
        assert!(
            q_row[..len].iter().all(|&v| v > 0.0 && v < 1.0),
            "{q_row:?}"
        );
        assert!(q_row[len..].iter().all(|&v| v == 0.0), "padding: {q_row:?}");
        assert_eq!(
            q_row[len - 1],
            finished[row],
            "the last real position is D(sequence)"
        );
    }
    // Completions of an unfinished prefix are sequences of their own: each
    // is at most max_len long and stops at its first EOS.
    let completions = generator
        .rollout(&RolloutRequest {
            sequences: samples.clone(),
            jobs: (0..samples.rows())
                .filter(|&r| lengths[r] > 1)
                .map(|r| PrefixJob {
                    row: r as u32,
                    prefix_len: 1,
                    seed: 4,
                    first_rollout: 0,
                })
                .collect::<Vec<_>>()
                .into(),
            rollouts_per_job: 2,
            max_len: MAX_LEN,
            temperature: 1.0,
            sources: ROption::RNone,
        })
        .unwrap();
    for row in completions.iter_rows() {
        assert!(row.len() <= width);
        if let Some(p) = row.iter().position(|&t| t == 2) {
            assert_eq!(p, row.len() - 1, "{row:?}");
        }
    }
}
