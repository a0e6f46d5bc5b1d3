//! The generator contract.

use abi_stable::std_types::{ROption, RStr};

use super::{
    assert_close, assert_refused, ok,
    toy::{self, Task},
    ScratchDir,
};
use crate::{
    author::{root_module, PluginLibrary},
    batch::{Batch, TokenBatch},
    capabilities::{declares, TEMPERED_LOG_LIKELIHOOD},
    context::PluginContext,
    error::ErrorKind,
    generator::{GeneratorBox, MleOptions, Policy, PrefixJob, RolloutRequest, SampleRequest},
    manifest::ComponentKind,
    stats::StepOptions,
};

fn build<L: PluginLibrary>(component: &str, context: &PluginContext) -> GeneratorBox {
    root_module::<L>().new_generator()(RStr::from_str(component), context)
        .into_result()
        .unwrap_or_else(|e| panic!("contract: generator `{component}` cannot be built: {e}"))
}

fn log_likelihood(g: &mut GeneratorBox, batch: &Batch, what: &str) -> Vec<f32> {
    let ll = g
        .log_likelihood(batch)
        .into_result()
        .unwrap_or_else(|e| panic!("contract: log_likelihood ({what}) failed: {e}"))
        .into_vec();
    assert_eq!(
        ll.len(),
        batch.targets.rows(),
        "contract: log_likelihood ({what}): one per row"
    );
    for (i, x) in ll.iter().enumerate() {
        assert!(
            x.is_finite() && *x <= 0.0,
            "contract: log_likelihood ({what}): row {i} is {x}; a sum of log-probabilities is finite and at most 0"
        );
    }
    ll
}

fn mle_loss(g: &mut GeneratorBox, batch: &Batch, seed: u64) -> f32 {
    let options = MleOptions {
        seed,
        scheduled_sampling: 0.0,
    };
    let stats = ok(g.mle_step(batch, &options), "mle_step");
    assert!(
        stats.loss.is_finite(),
        "contract: mle_step's loss is {}",
        stats.loss
    );
    stats.loss
}

/// Drives generator `component` of library `L`, built from `context`,
/// through the contract on a toy task; panics naming the first broken rule.
pub fn check_generator<L: PluginLibrary>(component: &str, context: &PluginContext, task: Task) {
    super::check_source_declaration::<L>(
        crate::manifest::ComponentKind::Generator,
        component,
        task,
    );
    let words = toy::words(context);
    let rows = toy::rows(context, 10, 3);
    let width = toy::width(&rows);
    let pad = context.vocab.pad.into_option().unwrap_or(0);
    let batch = toy::batch(context, task, &rows, pad, width);
    let sources = |count: usize| -> ROption<TokenBatch> {
        match task {
            Task::Unconditional => ROption::RNone,
            Task::Conditional => {
                let s = toy::sources_for(context, count);
                ROption::RSome(toy::token_batch(&s, pad, toy::width(&s)))
            }
        }
    };

    // Determinism of training and sampling.
    let (mut a, mut b) = (
        build::<L>(component, context),
        build::<L>(component, context),
    );
    assert!(a.parameter_count() > 0, "contract: parameter_count is 0");
    for seed in 0..3 {
        let (x, y) = (
            mle_loss(&mut a, &batch, seed),
            mle_loss(&mut b, &batch, seed),
        );
        assert_eq!(
            x.to_bits(),
            y.to_bits(),
            "contract: two generators from one context took different MLE steps ({x} vs {y})"
        );
    }
    let max_len = context.max_len;
    let request = SampleRequest {
        count: 16,
        max_len,
        temperature: 1.0,
        seed: 5,
        policy: Policy::Current,
        sources: sources(16),
    };
    let sampled = ok(a.sample(&request), "sample");
    assert_eq!(
        sampled.rows(),
        16,
        "contract: sample gave {} rows for 16",
        sampled.rows()
    );
    for row in sampled.iter_rows() {
        assert!(
            row.len() <= max_len as usize,
            "contract: a sampled row has {} tokens; max_len is {max_len}",
            row.len()
        );
        assert!(
            row.iter().all(|&id| id < context.vocab.size),
            "contract: a sampled id is outside the vocabulary: {row:?}"
        );
        if let Some(eos) = context.vocab.eos.into_option() {
            if let Some(at) = row.iter().position(|&id| id == eos) {
                assert_eq!(
                    at + 1,
                    row.len(),
                    "contract: a sampled row goes on after EOS: {row:?}"
                );
            }
        }
    }
    let again = ok(b.sample(&request), "sample");
    assert_eq!(
        sampled, again,
        "contract: the same seed sampled different rows"
    );

    // A row's log-likelihood: among other rows, and padded wider with words.
    let ll = log_likelihood(&mut a, &batch, "toy batch");
    assert_eq!(
        ll,
        log_likelihood(&mut b, &batch, "toy batch"),
        "contract: log-likelihoods differ between two generators driven alike"
    );
    let fill = words[words.len() / 2];
    let wide = toy::batch(context, task, &rows, fill, width + 4);
    assert_close(
        &ll,
        &log_likelihood(&mut a, &wide, "wider padding"),
        1e-4,
        "a row's log-likelihood, in the toy batch and padded wider with other values (does the model read past a row's length? Mask the padding: `Pass::pad` and `Padder` give the mask)",
    );
    let more: Vec<Vec<u32>> = rows
        .iter()
        .cloned()
        .chain(toy::rows(context, 6, 8))
        .collect();
    let mixed = toy::batch(context, task, &more, pad, toy::width(&more));
    assert_close(
        &ll,
        &log_likelihood(&mut a, &mixed, "mixed batch")[..ll.len()],
        1e-4,
        "a row's log-likelihood, in the toy batch and scored with other rows (a row's result must not depend on the other rows of its batch: no statistics over the batch)",
    );

    // Rollouts: job-major, prefixes kept, independent of how jobs are split.
    let jobs: Vec<PrefixJob> = (0..4u32)
        .map(|j| PrefixJob {
            row: j,
            prefix_len: 1 + j % 2,
            seed: 100 + j as u64,
            first_rollout: 0,
        })
        .collect();
    let rollout = |g: &mut GeneratorBox, jobs: &[PrefixJob]| -> TokenBatch {
        let request = RolloutRequest {
            sequences: batch.targets.clone(),
            jobs: jobs.to_vec().into(),
            rollouts_per_job: 2,
            max_len,
            temperature: 1.0,
            sources: batch.sources.clone(),
        };
        ok(g.rollout(&request), "rollout")
    };
    let all = rollout(&mut a, &jobs);
    assert_eq!(
        all.rows(),
        8,
        "contract: rollout gave {} rows for 4 jobs × 2",
        all.rows()
    );
    for (r, row) in all.iter_rows().enumerate() {
        let job = &jobs[r / 2];
        let prefix = &batch.targets.row(job.row as usize)[..job.prefix_len as usize];
        assert!(
            row.starts_with(prefix),
            "contract: rollout row {r} does not start with its job's prefix {prefix:?}: {row:?}"
        );
    }
    let (first, second) = (rollout(&mut a, &jobs[..2]), rollout(&mut a, &jobs[2..]));
    let split: Vec<&[u32]> = first.iter_rows().chain(second.iter_rows()).collect();
    assert_eq!(
        all.iter_rows().collect::<Vec<_>>(),
        split,
        "contract: rollouts depend on how the jobs are split into calls"
    );

    // A policy-gradient step and the rollout policy's update.
    let rewards: Vec<f32> = (0..rows.len() * width)
        .map(|i| (i % 5) as f32 / 4.0)
        .collect();
    let stats = ok(
        a.policy_gradient_step(&batch, rewards.as_slice().into(), &StepOptions { seed: 1 }),
        "policy_gradient_step",
    );
    assert!(
        stats.loss.is_finite(),
        "contract: the policy-gradient loss is {}",
        stats.loss
    );
    ok(a.update_rollout_policy(0.5), "update_rollout_policy");

    // Save and load: the same log-likelihoods and the same next step.
    let dir = ScratchDir::new("generator");
    ok(a.save(RStr::from_str(dir.path())), "save");
    let mut c = build::<L>(component, context);
    ok(c.load(RStr::from_str(dir.path())), "load");
    let ll = log_likelihood(&mut a, &batch, "before save");
    assert_eq!(
        ll,
        log_likelihood(&mut c, &batch, "after load"),
        "contract: a loaded generator scores differently"
    );
    let (x, y) = (mle_loss(&mut a, &batch, 7), mle_loss(&mut c, &batch, 7));
    assert_eq!(
        x.to_bits(),
        y.to_bits(),
        "contract: after save and load the next step differs (is the optimiser state saved?)"
    );

    // The optional tempered log-likelihood: as declared.
    check_tempered::<L>(component, context, task, &mut a, &batch, &words);
    // The optional relaxed samples (ABI 1.2): as declared.
    super::relaxed_contract::check_relaxed_generator::<L>(
        component,
        context,
        &mut a,
        batch.sources.as_ref().into_option(),
    );

    // Bad input: refused, never a panic.
    let mut bad_rows = rows.clone();
    bad_rows[0][0] = context.vocab.size;
    let bad = toy::batch(context, task, &bad_rows, pad, width);
    assert_refused(
        a.log_likelihood(&bad).into_result(),
        "an id outside the vocabulary (log_likelihood)",
    );
    assert_refused(
        a.mle_step(
            &bad,
            &MleOptions {
                seed: 1,
                scheduled_sampling: 0.0,
            },
        )
        .into_result(),
        "an id outside the vocabulary (mle_step)",
    );
}

/// A generator that declares [`TEMPERED_LOG_LIKELIHOOD`] equals
/// `log_likelihood` at temperature 1 and tempers as `softmax(logits / T)`:
/// over first tokens, `log p_T(v) − log p_T(w) = (log p(v) − log p(w)) / T`,
/// and the probabilities sum to at most 1. One that does not declare it
/// answers `Unsupported`.
fn check_tempered<L: PluginLibrary>(
    component: &str,
    context: &PluginContext,
    task: Task,
    g: &mut GeneratorBox,
    batch: &Batch,
    words: &[u32],
) {
    let declared = declares(
        &L::capabilities(),
        ComponentKind::Generator,
        component,
        TEMPERED_LOG_LIKELIHOOD,
    );
    if !declared {
        match g.tempered_log_likelihood(batch, 0.5).into_result() {
            Err(e) if e.kind() == ErrorKind::Unsupported => {}
            Ok(_) => panic!(
                "contract: tempered_log_likelihood answers, but `{component}` does not declare `{TEMPERED_LOG_LIKELIHOOD}` in PluginLibrary::capabilities; declare it"
            ),
            Err(e) => panic!(
                "contract: tempered_log_likelihood of a generator that does not declare it must say Unsupported, not: {e}"
            ),
        }
        return;
    }
    let tempered = |g: &mut GeneratorBox, batch: &Batch, t: f32| -> Vec<f32> {
        let values = g
            .tempered_log_likelihood(batch, t)
            .into_result()
            .unwrap_or_else(|e| {
                panic!("contract: `{component}` declares `{TEMPERED_LOG_LIKELIHOOD}` but it failed at T = {t}: {e}")
            })
            .into_vec();
        assert_eq!(
            values.len(),
            batch.targets.rows(),
            "contract: tempered_log_likelihood: one per row"
        );
        assert!(
            values.iter().all(|x| x.is_finite() && *x <= 0.0),
            "contract: tempered_log_likelihood at T = {t} is not a log-probability: {values:?}"
        );
        values
    };
    assert_close(
        &log_likelihood(g, batch, "before tempering"),
        &tempered(g, batch, 1.0),
        1e-5,
        "tempered_log_likelihood at T = 1 against log_likelihood",
    );
    let pad = context.vocab.pad.into_option().unwrap_or(0);
    let firsts: Vec<Vec<u32>> = words.iter().map(|&w| vec![w]).collect();
    let firsts = match task {
        Task::Unconditional => toy::batch(context, task, &firsts, pad, 1),
        Task::Conditional => {
            // One source for every row, so the rows compare p(v | x) with p(w | x).
            let source = toy::sources_for(context, 1).remove(0);
            let sources = vec![source; firsts.len()];
            Batch::conditional(
                toy::token_batch(&firsts, pad, 1),
                toy::token_batch(&sources, pad, toy::width(&sources)),
            )
        }
    };
    let plain = tempered(g, &firsts, 1.0);
    for t in [0.5f32, 2.0] {
        let at_t = tempered(g, &firsts, t);
        let expected: Vec<f32> = plain.iter().map(|x| (x - plain[0]) / t).collect();
        let got: Vec<f32> = at_t.iter().map(|x| x - at_t[0]).collect();
        assert_close(
            &expected,
            &got,
            1e-3,
            &format!("first-token log-probabilities at T = {t}, relative to the first word, against (log p(v) − log p(w)) / T"),
        );
        let total: f32 = at_t.iter().map(|x| x.exp()).sum();
        assert!(
            total <= 1.0 + 1e-4,
            "contract: first-token probabilities at T = {t} sum to {total} > 1"
        );
    }
    assert_refused(
        g.tempered_log_likelihood(batch, 0.0).into_result(),
        "temperature 0 (tempered_log_likelihood)",
    );
}
