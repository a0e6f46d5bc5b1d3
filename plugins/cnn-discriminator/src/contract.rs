//! The discriminator keeps the SDK's component contract on both compute
//! paths.

use agon_sdk::{
    testing::{check_discriminator, Task},
    PluginContext,
};

use crate::CnnDiscriminatorLibrary;

#[test]
fn the_discriminator_keeps_the_component_contract_on_both_paths() {
    for compute in ["kernels", "tensor"] {
        let mut context = PluginContext::for_tests(30, 10);
        context.seed = 2;
        context.config_yaml = format!(
            "embedding_dim: 8\nfilter_sizes: [2, 3]\nfilter_counts: [4, 5]\ncompute: {compute}\n"
        )
        .into();
        check_discriminator::<CnnDiscriminatorLibrary>(
            "cnn-highway",
            &context,
            Task::Unconditional,
        );
    }
}
