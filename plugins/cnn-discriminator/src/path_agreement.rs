//! The kernels path (the fused convolution op, hand-written gradients and
//! tabulated scoring) and the tensor path (unfolded matmuls and autograd,
//! what a GPU runs) give the same step and the same scores on the CPU.

use agon_sdk::{
    testing::assert_close, Batch, DiscriminatorImpl, PluginContext, StepOptions, TokenBatch,
};

use crate::discriminator::CnnDiscriminator;

fn discriminator(compute: &str) -> CnnDiscriminator {
    let mut context = PluginContext::for_tests(30, 12);
    context.seed = 9;
    context.config_yaml = format!(
        "embedding_dim: 8\nfilter_sizes: [2, 3, 5]\nfilter_counts: [6, 4, 5]\noptimizer: {{lr: 0.01}}\ncompute: {compute}\n"
    )
    .into();
    CnnDiscriminator::new(&context).unwrap()
}

fn rows(offset: u32) -> Batch {
    let rows: Vec<Vec<u32>> = (0..10u32)
        .map(|r| {
            (0..(4 + r % 8))
                .map(|t| offset + (r * 3 + t * 7) % 13)
                .collect()
        })
        .collect();
    Batch::unconditional(TokenBatch::from_rows(&rows, 0))
}

/// `a` and `b` equal to 1e-5, relative.
fn close(a: f32, b: f32, what: &str) {
    assert_close(&[a], &[b], 1e-5, &format!("{what} (kernels, tensor)"));
}

#[test]
fn one_step_and_the_scores_after_it_agree_between_the_paths() {
    let (mut kernels, mut tensor) = (discriminator("kernels"), discriminator("tensor"));
    let (real, fake) = (rows(4), rows(16));
    let step = StepOptions { seed: 2 };
    let (a, b) = (
        kernels.train_step(&real, &fake, &step).unwrap(),
        tensor.train_step(&real, &fake, &step).unwrap(),
    );
    close(a.loss, b.loss, "D loss");
    close(
        a.get("accuracy").unwrap(),
        b.get("accuracy").unwrap(),
        "D accuracy",
    );
    close(
        a.get("grad_norm").unwrap(),
        b.get("grad_norm").unwrap(),
        "D gradient norm",
    );
    // Enough rows that the kernels path scores through its tables.
    let many: Vec<Vec<u32>> = (0..600u32)
        .map(|r| {
            (0..(2 + r % 11))
                .map(|t| 4 + (r * 11 + t * 5) % 25)
                .collect()
        })
        .collect();
    let many = Batch::unconditional(TokenBatch::from_rows(&many, 0));
    for _ in 0..2 {
        let (a, b) = (
            kernels.probabilities(&many).unwrap(),
            tensor.probabilities(&many).unwrap(),
        );
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5, "P(real): kernels {x} vs tensor {y}");
        }
    }
}
