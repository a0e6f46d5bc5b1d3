//! Every reward keeps the SDK's component contract.

use agon_sdk::{
    reexports::abi_stable::std_types::ROption,
    testing::{check_reward, Task},
    PluginContext, VocabInfo,
};

use crate::RewardsLibrary;

fn context() -> PluginContext {
    let mut context = PluginContext::for_tests(30, 10);
    context.vocab = VocabInfo {
        size: 30,
        bos: 1,
        eos: ROption::RSome(2),
        pad: ROption::RSome(0),
        unk: ROption::RSome(3),
    };
    context
}

#[test]
fn every_reward_keeps_the_component_contract() {
    for component in ["discriminator", "log-discriminator", "maligan", "bleu"] {
        check_reward::<RewardsLibrary>(component, &context(), Task::Unconditional);
    }
    for component in ["sentence-bleu", "rouge-l", "mixture"] {
        check_reward::<RewardsLibrary>(component, &context(), Task::Conditional);
    }
}
