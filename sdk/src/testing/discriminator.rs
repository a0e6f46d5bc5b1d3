//! The discriminator contract.

use abi_stable::std_types::RStr;

use super::{
    assert_close, assert_no_panic, assert_refused, ok,
    toy::{self, Task},
    ScratchDir,
};
use crate::{
    author::{root_module, PluginLibrary},
    batch::Batch,
    capabilities::{declares, TOKEN_LOGITS},
    context::PluginContext,
    discriminator::DiscriminatorBox,
    error::ErrorKind,
    manifest::ComponentKind,
    stats::StepOptions,
};

fn build<L: PluginLibrary>(component: &str, context: &PluginContext) -> DiscriminatorBox {
    root_module::<L>().new_discriminator()(RStr::from_str(component), context)
        .into_result()
        .unwrap_or_else(|e| panic!("contract: discriminator `{component}` cannot be built: {e}"))
}

fn probabilities(d: &mut DiscriminatorBox, batch: &Batch, what: &str) -> Vec<f32> {
    let p = d
        .probabilities(batch)
        .into_result()
        .unwrap_or_else(|e| panic!("contract: probabilities ({what}) failed: {e}"))
        .into_vec();
    assert_eq!(
        p.len(),
        batch.targets.rows(),
        "contract: probabilities ({what}): one per row"
    );
    for (i, x) in p.iter().enumerate() {
        assert!(
            x.is_finite() && (0.0..=1.0).contains(x),
            "contract: probabilities ({what}): row {i} is {x}, not in [0, 1]"
        );
    }
    p
}

/// Drives discriminator `component` of library `L`, built from `context`
/// (its `config_yaml` included), through the contract on a toy task;
/// panics naming the first broken rule.
pub fn check_discriminator<L: PluginLibrary>(component: &str, context: &PluginContext, task: Task) {
    super::check_source_declaration::<L>(
        crate::manifest::ComponentKind::Discriminator,
        component,
        task,
    );
    let words = toy::words(context);
    let (real_rows, fake_rows) = (toy::rows(context, 12, 1), toy::rows(context, 12, 2));
    let width = toy::width(&real_rows).max(toy::width(&fake_rows));
    let pad = context.vocab.pad.into_option().unwrap_or(0);
    let real = toy::batch(context, task, &real_rows, pad, width);
    let fake = toy::batch(context, task, &fake_rows, pad, width);

    // Determinism: two components from one context, driven alike.
    let (mut a, mut b) = (
        build::<L>(component, context),
        build::<L>(component, context),
    );
    assert!(a.parameter_count() > 0, "contract: parameter_count is 0");
    for seed in 0..3 {
        let options = StepOptions { seed };
        let x = ok(a.train_step(&real, &fake, &options), "train_step");
        let y = ok(b.train_step(&real, &fake, &options), "train_step");
        assert!(
            x.loss.is_finite(),
            "contract: train_step's loss is {}",
            x.loss
        );
        assert_eq!(
            x.loss.to_bits(),
            y.loss.to_bits(),
            "contract: two components from one context and seed took different steps ({} vs {})",
            x.loss,
            y.loss
        );
    }
    let p = probabilities(&mut a, &real, "after training");
    assert_eq!(
        p,
        probabilities(&mut b, &real, "after training"),
        "contract: scores differ between two components driven alike"
    );

    // A row's score: alone, among other rows, and in a wider batch whose
    // padding holds ordinary words.
    let fill = words[words.len() / 2];
    let wide = toy::batch(context, task, &real_rows, fill, width + 5);
    assert_close(
        &p,
        &probabilities(&mut a, &wide, "wider padding"),
        1e-5,
        "a row's score, in the toy batch and padded wider with other values (does the model read past a row's length? Mask the padding: `Pass::pad` and `Padder` give the mask)",
    );
    let mixed_rows: Vec<Vec<u32>> = real_rows.iter().chain(&fake_rows).cloned().collect();
    let mixed = toy::batch(context, task, &mixed_rows, pad, width);
    let together = probabilities(&mut a, &mixed, "mixed batch");
    assert_close(
        &p,
        &together[..p.len()],
        1e-5,
        "a row's score, in the toy batch and scored with other rows (a row's result must not depend on the other rows of its batch: no statistics over the batch)",
    );
    // Alone (on a conditional task, row 0 keeps its source alone).
    let alone_rows = if task == Task::Unconditional { 3 } else { 1 };
    for (i, row) in real_rows.iter().enumerate().take(alone_rows) {
        let single = toy::batch(context, task, std::slice::from_ref(row), pad, row.len());
        let alone = probabilities(&mut a, &single, "a single row");
        assert_close(
            &p[i..=i],
            &alone,
            1e-5,
            "a row's score, in the toy batch and scored alone (a row's result must not depend on the other rows of its batch: no statistics over the batch; and does the model read past a row's length? Mask the padding: `Pass::pad` and `Padder` give the mask)",
        );
    }

    // The optional per-token logits: as declared.
    check_token_logits::<L>(component, context, task, &mut a, &real_rows, &words);

    // Save and load: the same scores and the same next step.
    let dir = ScratchDir::new("discriminator");
    ok(a.save(RStr::from_str(dir.path())), "save");
    let mut c = build::<L>(component, context);
    ok(c.load(RStr::from_str(dir.path())), "load");
    assert_eq!(
        p,
        probabilities(&mut c, &real, "after load"),
        "contract: a loaded component scores differently"
    );
    let options = StepOptions { seed: 9 };
    let x = a
        .train_step(&real, &fake, &options)
        .into_result()
        .map(|s| s.loss);
    let y = c
        .train_step(&real, &fake, &options)
        .into_result()
        .map(|s| s.loss);
    assert_eq!(
        x.map(f32::to_bits).ok(),
        y.map(f32::to_bits).ok(),
        "contract: after save and load the next step differs (is the optimiser state saved?)"
    );

    // The optional relaxed rows (ABI 1.2): as declared. `c` is `a`'s twin
    // (loaded from it and stepped alike), for the paired rows' step.
    super::relaxed_contract::check_relaxed_discriminator::<L>(
        component, context, &mut a, &mut c, &real,
    );

    // Long training stays finite.
    for seed in 10..40 {
        let stats = ok(
            a.train_step(&real, &fake, &StepOptions { seed }),
            "a training step",
        );
        assert!(
            stats.loss.is_finite(),
            "contract: the loss became {} after {seed} steps",
            stats.loss
        );
    }
    probabilities(&mut a, &mixed, "after 40 steps");

    // Bad input: refused, never a panic.
    let mut bad_rows = real_rows.clone();
    bad_rows[0][0] = context.vocab.size;
    let bad = toy::batch(context, task, &bad_rows, pad, width);
    assert_refused(
        a.probabilities(&bad).into_result(),
        "an id outside the vocabulary (probabilities)",
    );
    assert_refused(
        a.train_step(&bad, &fake, &StepOptions { seed: 1 })
            .into_result(),
        "an id outside the vocabulary (train_step)",
    );
    let empty = toy::batch(context, task, &[], pad, 1);
    assert_no_panic(a.probabilities(&empty).into_result(), "an empty batch");
    assert_no_panic(
        a.train_step(&empty, &empty, &StepOptions { seed: 1 })
            .into_result(),
        "a training step on empty batches",
    );
    let wrong_task = match task {
        Task::Unconditional => Task::Conditional,
        Task::Conditional => Task::Unconditional,
    };
    let other = toy::batch(context, wrong_task, &real_rows, pad, width);
    assert_no_panic(
        a.probabilities(&other).into_result(),
        "a batch of the other kind of task",
    );
}

/// A discriminator that declares [`TOKEN_LOGITS`] gives one finite logit
/// per real token, the same for a row alone and padded wider, and causal
/// (a position's logit moves neither with the row's later tokens nor with
/// the row's end); one that does not answers `Unsupported`.
fn check_token_logits<L: PluginLibrary>(
    component: &str,
    context: &PluginContext,
    task: Task,
    d: &mut DiscriminatorBox,
    rows: &[Vec<u32>],
    words: &[u32],
) {
    let pad = context.vocab.pad.into_option().unwrap_or(0);
    let width = toy::width(rows);
    let batch = toy::batch(context, task, rows, pad, width);
    let declared = declares(
        &L::capabilities(),
        ComponentKind::Discriminator,
        component,
        TOKEN_LOGITS,
    );
    if !declared {
        match d.token_logits(&batch).into_result() {
            Err(e) if e.kind() == ErrorKind::Unsupported => {}
            Ok(_) => panic!(
                "contract: token_logits answers, but `{component}` does not declare `{TOKEN_LOGITS}` in PluginLibrary::capabilities; declare it"
            ),
            Err(e) => panic!(
                "contract: token_logits of a discriminator that does not declare it must say Unsupported, not: {e}"
            ),
        }
        return;
    }
    let mut logits = |batch: &Batch, what: &str| -> Vec<f32> {
        let values = d
            .token_logits(batch)
            .into_result()
            .unwrap_or_else(|e| {
                panic!("contract: `{component}` declares `{TOKEN_LOGITS}` but token_logits ({what}) failed: {e}")
            })
            .into_vec();
        assert_eq!(
            values.len(),
            batch.targets.token_count(),
            "contract: token_logits ({what}): one per real token"
        );
        assert!(
            values.iter().all(|x| x.is_finite()),
            "contract: token_logits ({what}) is not finite: {values:?}"
        );
        values
    };
    let all = logits(&batch, "toy batch");
    let fill = words[words.len() / 2];
    let wide = toy::batch(context, task, rows, fill, width + 5);
    assert_close(
        &all,
        &logits(&wide, "wider padding"),
        1e-5,
        "token logits, in the toy batch and padded wider with other values (does the model read past a row's length? Mask the padding: `Pass::pad` and `Padder` give the mask)",
    );
    let first = rows[0].len();
    let single = toy::batch(context, task, &rows[..1], pad, first);
    assert_close(
        &all[..first],
        &logits(&single, "a single row"),
        1e-5,
        "token logits, in the toy batch and of a row scored alone (a row's result must not depend on the other rows of its batch: no statistics over the batch; and does the model read past a row's length? Mask the padding: `Pass::pad` and `Padder` give the mask)",
    );

    // Causal: position t judges the row's first t + 1 tokens, so neither
    // the tokens after it nor whether there are any may move its logit. A
    // model that pools over the whole row, or reads the row's length,
    // passes every check above, and its dense rewards would pay each token
    // for what follows it.
    let longest = rows.iter().max_by_key(|row| row.len()).unwrap();
    let kept = longest.len() / 2;
    // The row's last token (EOS, where the vocabulary has one) stays.
    let last = longest.len() - 1;
    let mut altered = longest.clone();
    for (t, id) in altered.iter_mut().enumerate().take(last).skip(kept) {
        let other = words[(t * 3 + 1) % words.len()];
        *id = if other == *id {
            words[(t * 3 + 2) % words.len()]
        } else {
            other
        };
    }
    let one = |row: &[u32]| toy::batch(context, task, &[row.to_vec()], pad, row.len());
    let before = logits(&one(longest), "a single row");
    let changed = logits(&one(&altered), "the row with its later tokens changed");
    let prefix = logits(&one(&longest[..kept]), "the row's first tokens alone");
    for (what, other) in [
        ("when only its tokens {kept}.. changed", &changed),
        ("when the row was cut after {kept} tokens", &prefix),
    ] {
        for t in 0..kept {
            assert!(
                (before[t] - other[t]).abs() <= 1e-5 * before[t].abs().max(other[t].abs()).max(1.0),
                "contract: token_logits is not causal: position {t}'s logit went from {} to {} {}. Position t must judge the row's first t + 1 tokens alone (read left to right: a left-to-right RNN, a causal convolution, attention masked to the past; no length feature), or the host's dense credit rewards each token for what follows it",
                before[t],
                other[t],
                what.replace("{kept}", &kept.to_string())
            );
        }
    }
}
