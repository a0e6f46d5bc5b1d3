//! Behaviour of the whole component on a toy reverse task.

use std::sync::{Mutex, OnceLock};

use super::*;
use agon_sdk::{
    reexports::abi_stable::std_types::ROption, toolkit::rng_from_seed, Batch, DecodeRequest,
    ErrorKind, GeneratorImpl, MleOptions, PluginContext, PluginError, PluginLibrary, Policy,
    PrefixJob, RolloutRequest, SampleRequest, StepOptions, TokenBatch, VocabInfo,
};

const CHECKPOINT_FILE: &str = "seq2seq-generator.safetensors";
use rand::Rng;

const VOCAB: u32 = 12;
const EOS: u32 = 2;
const MAX_LEN: u32 = 7;
const SMALL: &str =
    "embedding_dim: 16\nhidden_dim: 32\nattention_dim: 32\noutput_dim: 32\noptimizer: {lr: 0.01}\n";

fn context(config: &str, seed: u64) -> PluginContext {
    let mut context = PluginContext::for_tests(VOCAB, MAX_LEN);
    context.vocab = VocabInfo {
        size: VOCAB,
        bos: 1,
        eos: ROption::RSome(EOS),
        pad: ROption::RSome(0),
        unk: ROption::RSome(3),
    };
    context.seed = seed;
    context.config_yaml = config.into();
    context
}

fn generator(seed: u64) -> Seq2SeqGenerator {
    Seq2SeqGenerator::new(&context(SMALL, seed)).unwrap()
}

/// The toy task: reverse 3–6 content tokens (ids 4..12), both sides
/// ending with EOS.
fn reverse_pairs(n: usize, seed: u64) -> (TokenBatch, TokenBatch) {
    let mut rng = rng_from_seed(seed);
    let mut sources = Vec::new();
    let mut targets = Vec::new();
    for _ in 0..n {
        let len = rng.random_range(3..=6);
        let x: Vec<u32> = (0..len).map(|_| rng.random_range(4..VOCAB)).collect();
        let mut source = x.clone();
        source.push(EOS);
        let mut target: Vec<u32> = x.into_iter().rev().collect();
        target.push(EOS);
        sources.push(source);
        targets.push(target);
    }
    (
        TokenBatch::from_rows(&sources, 0),
        TokenBatch::from_rows(&targets, 0),
    )
}

fn mle(seed: u64) -> MleOptions {
    MleOptions {
        seed,
        scheduled_sampling: 0.0,
    }
}

fn decode(g: &mut Seq2SeqGenerator, sources: &TokenBatch, beam_size: u32) -> TokenBatch {
    g.decode(&DecodeRequest {
        sources: sources.clone(),
        max_len: MAX_LEN,
        beam_size,
        length_penalty: 0.0,
    })
    .unwrap()
}

struct Trained {
    generator: Mutex<Seq2SeqGenerator>,
    first_loss: f32,
    last_loss: f32,
}

/// One model trained on the reverse task, shared by the tests that need
/// a model that has learnt something.
fn trained() -> &'static Trained {
    static TRAINED: OnceLock<Trained> = OnceLock::new();
    TRAINED.get_or_init(|| {
        let mut g = generator(7);
        let mut first_loss = f32::NAN;
        let mut last_loss = f32::NAN;
        for step in 0..600 {
            let (sources, targets) = reverse_pairs(32, 1000 + step);
            let stats = g
                .mle_step(&Batch::conditional(targets, sources), &mle(step))
                .unwrap();
            if step == 0 {
                first_loss = stats.loss;
            }
            last_loss = stats.loss;
        }
        Trained {
            generator: Mutex::new(g),
            first_loss,
            last_loss,
        }
    })
}

fn exact_rows(a: &TokenBatch, b: &TokenBatch) -> usize {
    (0..a.rows()).filter(|&r| a.row(r) == b.row(r)).count()
}

#[test]
fn mle_learns_to_reverse_and_greedy_decoding_reproduces_the_targets() {
    let trained = trained();
    assert!(
        trained.last_loss < 0.1 * trained.first_loss,
        "loss {} → {}",
        trained.first_loss,
        trained.last_loss
    );
    let mut g = trained.generator.lock().unwrap();
    let (sources, targets) = reverse_pairs(40, 1);
    let decoded = decode(&mut g, &sources, 1);
    let exact = exact_rows(&decoded, &targets);
    assert!(exact >= 36, "{exact} of 40 rows reversed exactly");
}

#[test]
fn sources_condition_the_output() {
    let mut g = trained().generator.lock().unwrap();
    let sources = TokenBatch::from_rows(&[vec![4u32, 5, 6, 7, EOS], vec![8, 9, 10, 11, EOS]], 0);
    let decoded = decode(&mut g, &sources, 1);
    assert_ne!(decoded.row(0), decoded.row(1));
    // Samples with the same seed differ between the two sources.
    let mut same_seed = |sources: TokenBatch| {
        g.sample(&SampleRequest {
            count: sources.rows() as u32,
            max_len: MAX_LEN,
            temperature: 1.0,
            seed: 3,
            policy: Policy::Current,
            sources: ROption::RSome(sources),
        })
        .unwrap()
    };
    let a = same_seed(TokenBatch::from_rows(&vec![vec![4u32, 5, 6, 7, EOS]; 8], 0));
    let b = same_seed(TokenBatch::from_rows(
        &vec![vec![8u32, 9, 10, 11, EOS]; 8],
        0,
    ));
    assert_eq!(exact_rows(&a, &b), 0, "{a:?}\n{b:?}");
}

#[test]
fn wider_beams_score_at_least_as_well_as_greedy_decoding() {
    let mut g = generator(3);
    for step in 0..15 {
        let (sources, targets) = reverse_pairs(32, 500 + step);
        g.mle_step(&Batch::conditional(targets, sources), &mle(step))
            .unwrap();
    }
    let (sources, _) = reverse_pairs(24, 2);
    let greedy = decode(&mut g, &sources, 1);
    let beam = decode(&mut g, &sources, 4);
    let mean_ll = |g: &mut Seq2SeqGenerator, out: &TokenBatch| {
        let ll = g
            .log_likelihood(&Batch::conditional(out.clone(), sources.clone()))
            .unwrap();
        ll.iter().sum::<f32>() / ll.len() as f32
    };
    let (greedy_ll, beam_ll) = (mean_ll(&mut g, &greedy), mean_ll(&mut g, &beam));
    assert!(
        beam_ll >= greedy_ll - 1e-4,
        "beam {beam_ll} < greedy {greedy_ll}"
    );
    for r in 0..beam.rows() {
        let row = beam.row(r);
        assert!(row.len() == MAX_LEN as usize || row.last() == Some(&EOS));
    }
}

#[test]
fn rollouts_keep_the_prefix_finish_properly_and_do_not_depend_on_batching() {
    let mut g = generator(4);
    let (sources, sequences) = reverse_pairs(3, 9);
    let job = |row: u32, prefix_len: u32, first_rollout: u32| PrefixJob {
        row,
        prefix_len,
        seed: 100 + row as u64 * 10 + prefix_len as u64,
        first_rollout,
    };
    let request = |jobs: Vec<PrefixJob>, rollouts_per_job: u32| RolloutRequest {
        sequences: sequences.clone(),
        jobs: jobs.into(),
        rollouts_per_job,
        max_len: MAX_LEN,
        temperature: 1.0,
        sources: ROption::RSome(sources.clone()),
    };
    let full_len = sequences.lengths[2];
    let jobs = vec![
        job(0, 1, 0),
        job(1, 3, 0),
        job(2, 2, 0),
        job(2, full_len, 0),
    ];
    let together = g.rollout(&request(jobs.clone(), 4)).unwrap();
    assert_eq!(together.rows(), 16);
    for (j, job) in jobs.iter().enumerate() {
        let prefix = &sequences.row(job.row as usize)[..job.prefix_len as usize];
        for n in 0..4 {
            let row = together.row(j * 4 + n);
            assert_eq!(&row[..prefix.len()], prefix, "job {j} rollout {n}");
            let eos_at = row.iter().position(|&t| t == EOS);
            match eos_at {
                Some(at) => assert_eq!(at + 1, row.len(), "nothing after EOS: {row:?}"),
                None => assert_eq!(row.len(), MAX_LEN as usize),
            }
        }
    }
    // A full sequence ending in EOS is not extended.
    assert_eq!(together.row(12), sequences.row(2));
    // The same work split across calls: jobs apart, rollouts in two halves.
    let first = g
        .rollout(&request(vec![job(1, 3, 0), job(0, 1, 0)], 2))
        .unwrap();
    let second = g
        .rollout(&request(vec![job(2, 2, 0), job(0, 1, 2), job(1, 3, 2)], 2))
        .unwrap();
    assert_eq!(first.row(0), together.row(4));
    assert_eq!(first.row(1), together.row(5));
    assert_eq!(first.row(2), together.row(0));
    assert_eq!(first.row(3), together.row(1));
    assert_eq!(second.row(0), together.row(8));
    assert_eq!(second.row(1), together.row(9));
    assert_eq!(second.row(2), together.row(2));
    assert_eq!(second.row(3), together.row(3));
    assert_eq!(second.row(4), together.row(6));
    assert_eq!(second.row(5), together.row(7));
    // The rollouts are not all the same completion.
    let distinct: std::collections::HashSet<&[u32]> = (0..4).map(|n| together.row(n)).collect();
    assert!(distinct.len() > 1);
}

#[test]
fn sampling_is_deterministic_for_a_seed_under_either_policy() {
    let mut g = generator(5);
    let (sources, _) = reverse_pairs(6, 3);
    let request = |seed: u64, policy: Policy| SampleRequest {
        count: 6,
        max_len: MAX_LEN,
        temperature: 1.0,
        seed,
        policy,
        sources: ROption::RSome(sources.clone()),
    };
    for policy in [Policy::Current, Policy::Rollout] {
        let a = g.sample(&request(1, policy)).unwrap();
        assert_eq!(a, g.sample(&request(1, policy)).unwrap());
        assert_ne!(a, g.sample(&request(2, policy)).unwrap());
        for row in a.iter_rows() {
            assert!(row.len() == MAX_LEN as usize || row.last() == Some(&EOS));
        }
    }
    // Row r's stream depends on r only: the first rows of a larger
    // request are the rows of a smaller one.
    let three = g
        .sample(&SampleRequest {
            count: 3,
            sources: ROption::RSome(sources.slice_rows(0, 3)),
            ..request(1, Policy::Current)
        })
        .unwrap();
    let six = g.sample(&request(1, Policy::Current)).unwrap();
    for r in 0..3 {
        assert_eq!(three.row(r), six.row(r));
    }
}

#[test]
fn policy_gradient_follows_the_sign_of_the_reward() {
    let (sources, targets) = reverse_pairs(2, 4);
    let batch = Batch::conditional(targets.clone(), sources);
    let width = targets.width as usize;
    for (sign, should_rise) in [(1.0f32, true), (-1.0, false)] {
        let mut g = generator(6);
        let before = g.log_likelihood(&batch).unwrap();
        // Reward only the first sequence's tokens.
        let mut rewards = vec![0.0f32; 2 * width];
        rewards[..width].iter_mut().for_each(|r| *r = sign);
        g.policy_gradient_step(&batch, &rewards, &StepOptions { seed: 0 })
            .unwrap();
        let after = g.log_likelihood(&batch).unwrap();
        assert_eq!(
            after[0] > before[0],
            should_rise,
            "reward {sign}: {before:?} → {after:?}"
        );
    }
}

#[test]
fn scheduled_sampling_changes_the_inputs_and_still_learns() {
    let (sources, targets) = reverse_pairs(8, 5);
    let batch = Batch::conditional(targets, sources);
    let losses = |rate: f32| {
        let mut g = generator(8);
        let options = MleOptions {
            seed: 3,
            scheduled_sampling: rate,
        };
        let first = g.mle_step(&batch, &options).unwrap().loss;
        for _ in 0..15 {
            g.mle_step(&batch, &options).unwrap();
        }
        (first, g.mle_step(&batch, &options).unwrap().loss)
    };
    let (tf_first, tf_last) = losses(0.0);
    let (ss_first, ss_last) = losses(1.0);
    // Same weights: only the inputs after the first position differ.
    assert_ne!(tf_first, ss_first);
    assert!(
        tf_last < tf_first && ss_last < ss_first,
        "{tf_first}→{tf_last}, {ss_first}→{ss_last}"
    );
}

#[test]
fn rollout_policy_update_is_an_exponential_moving_average() {
    let mut g = generator(9);
    let (sources, targets) = reverse_pairs(4, 6);
    g.mle_step(&Batch::conditional(targets, sources), &mle(0))
        .unwrap();
    let values = |g: &Seq2SeqGenerator, policy: Policy| -> Vec<Vec<f32>> {
        g.weights(policy)
            .iter()
            .map(|(_, t)| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
            .collect()
    };
    let old = values(&g, Policy::Rollout);
    let current = values(&g, Policy::Current);
    assert_ne!(old, current, "the MLE step moved the generator");
    g.update_rollout_policy(0.8).unwrap();
    for ((after, old), current) in values(&g, Policy::Rollout).iter().zip(&old).zip(&current) {
        for ((a, o), c) in after.iter().zip(old).zip(current) {
            assert!((a - (0.8 * o + 0.2 * c)).abs() < 1e-6);
        }
    }
    g.update_rollout_policy(0.0).unwrap();
    assert_eq!(
        values(&g, Policy::Rollout),
        current,
        "rate 0 copies the generator"
    );
    // The copy is independent: training the generator leaves it alone.
    let (sources, targets) = reverse_pairs(4, 7);
    g.mle_step(&Batch::conditional(targets, sources), &mle(1))
        .unwrap();
    assert_eq!(values(&g, Policy::Rollout), current);
    assert!(g.update_rollout_policy(1.5).is_err());
}

#[test]
fn save_then_load_restores_everything_and_refuses_other_models() {
    let dir = tempfile::tempdir().unwrap();
    let (sources, targets) = reverse_pairs(6, 8);
    let batch = Batch::conditional(targets, sources.clone());
    let mut g = generator(10);
    g.mle_step(&batch, &mle(0)).unwrap();
    g.update_rollout_policy(0.5).unwrap();
    g.mle_step(&batch, &mle(1)).unwrap();
    g.save(dir.path()).unwrap();

    let mut fresh = generator(11);
    assert_ne!(
        fresh.log_likelihood(&batch).unwrap(),
        g.log_likelihood(&batch).unwrap()
    );
    fresh.load(dir.path()).unwrap();
    assert_eq!(
        fresh.log_likelihood(&batch).unwrap(),
        g.log_likelihood(&batch).unwrap()
    );
    let rollout_sample = |g: &mut Seq2SeqGenerator| {
        g.sample(&SampleRequest {
            count: 6,
            max_len: MAX_LEN,
            temperature: 1.0,
            seed: 4,
            policy: Policy::Rollout,
            sources: ROption::RSome(sources.clone()),
        })
        .unwrap()
    };
    assert_eq!(rollout_sample(&mut fresh), rollout_sample(&mut g));
    // The optimiser state came along: the next steps agree too.
    let a = g.mle_step(&batch, &mle(2)).unwrap();
    let b = fresh.mle_step(&batch, &mle(2)).unwrap();
    assert_eq!(a.loss, b.loss);
    assert_eq!(
        fresh.log_likelihood(&batch).unwrap(),
        g.log_likelihood(&batch).unwrap()
    );

    let empty = tempfile::tempdir().unwrap();
    let err = fresh.load(empty.path()).unwrap_err();
    assert!(err.message().contains(CHECKPOINT_FILE), "{err}");
    let mut other = Seq2SeqGenerator::new(&context(
        "embedding_dim: 16\nhidden_dim: 30\nattention_dim: 32\noutput_dim: 32\n",
        0,
    ))
    .unwrap();
    let err = other.load(dir.path()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.message().contains(CHECKPOINT_FILE), "{err}");
}

#[test]
fn calls_without_sources_are_refused_clearly() {
    let mut g = generator(12);
    let (_, targets) = reverse_pairs(2, 9);
    let batch = Batch::unconditional(targets.clone());
    let check = |err: PluginError| {
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.message().contains("conditional task"), "{err}");
    };
    check(g.mle_step(&batch, &mle(0)).unwrap_err());
    check(g.log_likelihood(&batch).unwrap_err());
    check(
        g.policy_gradient_step(
            &batch,
            &vec![1.0; targets.ids.len()],
            &StepOptions { seed: 0 },
        )
        .unwrap_err(),
    );
    check(
        g.sample(&SampleRequest {
            count: 2,
            max_len: MAX_LEN,
            temperature: 1.0,
            seed: 0,
            policy: Policy::Current,
            sources: ROption::RNone,
        })
        .unwrap_err(),
    );
    check(
        g.rollout(&RolloutRequest {
            sequences: targets,
            jobs: vec![PrefixJob {
                row: 0,
                prefix_len: 1,
                seed: 0,
                first_rollout: 0,
            }]
            .into(),
            rollouts_per_job: 1,
            max_len: MAX_LEN,
            temperature: 1.0,
            sources: ROption::RNone,
        })
        .unwrap_err(),
    );
    // An empty source row is refused too, not a panic.
    let err = g
        .log_likelihood(&Batch::conditional(
            TokenBatch::from_rows(&[vec![4u32, EOS]], 0),
            TokenBatch::from_rows(&[Vec::<u32>::new()], 0),
        ))
        .unwrap_err();
    assert!(err.message().contains("empty"), "{err}");
}

#[test]
fn the_library_builds_the_component_and_counts_its_parameters() {
    let shared = generator(0).parameter_count();
    let separate = Seq2SeqGenerator::new(&context(&format!("{SMALL}share_embeddings: false\n"), 0))
        .unwrap()
        .parameter_count();
    assert_eq!(separate - shared, u64::from(VOCAB) * 16);
    assert!(crate::Seq2SeqGeneratorLibrary::new_generator("seq2seq", &context(SMALL, 0)).is_ok());
    let err = crate::Seq2SeqGeneratorLibrary::new_generator("lstm", &context(SMALL, 0))
        .err()
        .unwrap();
    assert!(err.message().contains("seq2seq"), "{err}");
    let err = Seq2SeqGenerator::new(&context("hidden_dim: 7\n", 0))
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    let err = Seq2SeqGenerator::new(&context("hiden_dim: 8\n", 0))
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
}

#[test]
fn works_through_the_sdk_guard() {
    let root = agon_sdk::author::root_module::<crate::Seq2SeqGeneratorLibrary>();
    let mut g = root.new_generator()("seq2seq".into(), &context(SMALL, 1)).unwrap();
    let (sources, targets) = reverse_pairs(4, 11);
    let batch = Batch::conditional(targets, sources.clone());
    assert!(g.mle_step(&batch, &mle(0)).unwrap().loss.is_finite());
    let out = g
        .decode(&DecodeRequest {
            sources,
            max_len: MAX_LEN,
            beam_size: 3,
            length_penalty: 1.0,
        })
        .unwrap();
    assert_eq!(out.rows(), 4);
    let err = g
        .log_likelihood(&Batch::unconditional(batch.targets.clone()))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    // Refused, not poisoned: the component still works.
    assert_eq!(g.log_likelihood(&batch).unwrap().len(), 4);
}

#[test]
fn keeps_the_component_contract() {
    agon_sdk::testing::check_generator::<crate::Seq2SeqGeneratorLibrary>(
        "seq2seq",
        &context(SMALL, 2),
        agon_sdk::testing::Task::Conditional,
    );
}

/// The MLE loss of targets given their sources reaches every weight
/// (autograd against finite differences), and the unconditional check
/// refuses this model, pointing at the conditional one.
#[test]
fn the_mle_loss_reaches_every_weight() {
    let g = Seq2SeqGenerator::new(&context(
        "embedding_dim: 4\nhidden_dim: 6\nattention_dim: 5\noutput_dim: 6\n",
        2,
    ))
    .unwrap();
    let (sources, targets) = reverse_pairs(3, 8);
    let pairs: Vec<(Vec<u32>, Vec<u32>)> = sources
        .iter_rows()
        .zip(targets.iter_rows())
        .map(|(s, t)| (s.to_vec(), t.to_vec()))
        .collect();
    let checked = agon_sdk::testing::check_conditional_generator_weight_gradients(&g, &pairs, 3);
    assert!(checked >= 100, "{checked} entries checked");

    let rows: Vec<Vec<u32>> = pairs.into_iter().map(|(_, t)| t).collect();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        agon_sdk::testing::check_generator_weight_gradients(&g, &rows, 3)
    }))
    .unwrap_err();
    let message = caught.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("without sources")
            && message.contains("check_conditional_generator_weight_gradients"),
        "{message}"
    );
}
