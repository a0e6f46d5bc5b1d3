//! Every reward keeps the SDK's component contract.

use agon_sdk::testing::{check_reward, text_context, Task};

use crate::RewardsLibrary;

#[test]
fn every_reward_keeps_the_component_contract() {
    for component in ["discriminator", "log-discriminator", "maligan", "bleu"] {
        check_reward::<RewardsLibrary>(component, &text_context(30, 10), Task::Unconditional);
    }
    for component in ["sentence-bleu", "rouge-l", "mixture"] {
        check_reward::<RewardsLibrary>(component, &text_context(30, 10), Task::Conditional);
    }
}
