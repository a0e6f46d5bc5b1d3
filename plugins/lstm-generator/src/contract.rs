//! The generator keeps the SDK's component contract on both compute paths.

use agon_sdk::testing::{check_generator, text_context, Task};

use crate::LstmGeneratorLibrary;

#[test]
fn the_generator_keeps_the_component_contract_on_both_paths() {
    for compute in ["kernels", "tensor"] {
        let mut context = text_context(30, 9);
        context.seed = 4;
        context.config_yaml =
            format!("embedding_dim: 8\nhidden_dim: 12\ncompute: {compute}\n").into();
        check_generator::<LstmGeneratorLibrary>("lstm", &context, Task::Unconditional);
    }
}
