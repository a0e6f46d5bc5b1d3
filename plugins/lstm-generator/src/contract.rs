//! The generator keeps the SDK's component contract on both compute paths.

use agon_sdk::{
    reexports::abi_stable::std_types::ROption,
    testing::{check_generator, Task},
    PluginContext, VocabInfo,
};

use crate::LstmGeneratorLibrary;

#[test]
fn the_generator_keeps_the_component_contract_on_both_paths() {
    for compute in ["kernels", "tensor"] {
        let mut context = PluginContext::for_tests(30, 9);
        context.vocab = VocabInfo {
            size: 30,
            bos: 1,
            eos: ROption::RSome(2),
            pad: ROption::RSome(0),
            unk: ROption::RSome(3),
        };
        context.seed = 4;
        context.config_yaml =
            format!("embedding_dim: 8\nhidden_dim: 12\ncompute: {compute}\n").into();
        check_generator::<LstmGeneratorLibrary>("lstm", &context, Task::Unconditional);
    }
}
