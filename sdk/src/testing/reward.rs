//! The reward contract.

use abi_stable::std_types::{ROption, RStr};

use super::{
    assert_refused, ok,
    toy::{self, Task},
};
use crate::{
    author::{root_module, PluginLibrary},
    context::PluginContext,
    reward::{RewardBox, RewardInput},
};

fn build<L: PluginLibrary>(component: &str, context: &PluginContext) -> RewardBox {
    root_module::<L>().new_reward()(RStr::from_str(component), context)
        .into_result()
        .unwrap_or_else(|e| panic!("contract: reward `{component}` cannot be built: {e}"))
}

/// Drives reward `component` of library `L`, built from `context`,
/// through the contract on a toy task; panics naming the first broken rule.
pub fn check_reward<L: PluginLibrary>(component: &str, context: &PluginContext, task: Task) {
    super::check_source_declaration::<L>(crate::manifest::ComponentKind::Reward, component, task);
    let rows = toy::rows(context, 9, 4);
    let width = toy::width(&rows);
    let pad = context.vocab.pad.into_option().unwrap_or(0);
    let corpus = toy::token_batch(&toy::rows(context, 20, 5), pad, context.max_len as usize);
    let input = |rows: &[Vec<u32>], fill: u32, width: usize, d: &RewardBox| -> RewardInput {
        let batch = toy::batch(context, task, rows, fill, width);
        let references = match task {
            Task::Unconditional => ROption::RNone,
            Task::Conditional => ROption::RSome(toy::token_batch(rows, pad, width)),
        };
        RewardInput {
            sequences: batch.targets,
            sources: batch.sources,
            references,
            discriminator: match d.needs_discriminator() {
                true => ROption::RSome(
                    (0..rows.len())
                        .map(|i| (i % 4) as f32 / 4.0 + 0.1)
                        .collect(),
                ),
                false => ROption::RNone,
            },
        }
    };
    let (mut a, mut b) = (
        build::<L>(component, context),
        build::<L>(component, context),
    );
    for r in [&mut a, &mut b] {
        ok(r.set_corpus(&corpus), "set_corpus");
    }
    let base = input(&rows, pad, width, &a);
    let x = ok(a.rewards(&base), "rewards").into_vec();
    assert_eq!(
        x.len(),
        rows.len(),
        "contract: {} rewards for {} rows",
        x.len(),
        rows.len()
    );
    assert!(
        x.iter().all(|r| r.is_finite()),
        "contract: a reward is not finite: {x:?}"
    );
    let y = ok(b.rewards(&base), "rewards").into_vec();
    assert_eq!(x, y, "contract: two rewards from one context disagree");
    let words = toy::words(context);
    let wide = input(&rows, words[words.len() / 2], width + 3, &a);
    let z = ok(a.rewards(&wide), "rewards").into_vec();
    assert_eq!(x, z, "contract: rewards depend on the batch's padding");

    let mut bad_rows = rows.clone();
    bad_rows[0][0] = context.vocab.size;
    assert_refused(
        a.rewards(&input(&bad_rows, pad, width, &a)).into_result(),
        "an id outside the vocabulary",
    );
}
