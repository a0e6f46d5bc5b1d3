//! The kernels path (hand-written CPU gradients and host-vector decoding)
//! and the tensor path (Candle ops and autograd, what a GPU runs) give the
//! same steps and the same samples from the same weights, on the CPU.

use agon_sdk::{
    testing::assert_close, Batch, GeneratorImpl, MleOptions, PluginContext, Policy, SampleRequest,
    StepOptions, TokenBatch,
};

use crate::generator::LstmGenerator;

fn generator(compute: &str) -> LstmGenerator {
    let mut context = PluginContext::for_tests(40, 10);
    context.seed = 7;
    context.config_yaml = format!("embedding_dim: 16\nhidden_dim: 24\ncompute: {compute}\n").into();
    LstmGenerator::new(&context).unwrap()
}

fn batch() -> Batch {
    let rows: Vec<Vec<u32>> = (0..12u32)
        .map(|r| (0..(3 + r % 7)).map(|t| 4 + (r * 5 + t * 3) % 36).collect())
        .collect();
    Batch::unconditional(TokenBatch::from_rows(&rows, 0))
}

/// `a` and `b` equal to 1e-5, relative.
fn close(a: f32, b: f32, what: &str) {
    assert_close(&[a], &[b], 1e-5, &format!("{what} (kernels, tensor)"));
}

#[test]
fn one_mle_step_one_policy_gradient_step_and_sampling_agree_between_the_paths() {
    let (mut kernels, mut tensor) = (generator("kernels"), generator("tensor"));
    let batch = batch();
    let options = MleOptions {
        seed: 3,
        scheduled_sampling: 0.0,
    };
    let (a, b) = (
        kernels.mle_step(&batch, &options).unwrap(),
        tensor.mle_step(&batch, &options).unwrap(),
    );
    close(a.loss, b.loss, "MLE loss");
    close(
        a.get("grad_norm").unwrap(),
        b.get("grad_norm").unwrap(),
        "MLE gradient norm",
    );

    let width = batch.targets.width as usize;
    let rewards: Vec<f32> = (0..batch.targets.rows() * width)
        .map(|i| ((i * 7) % 11) as f32 / 10.0 - 0.5)
        .collect();
    let step = StepOptions { seed: 4 };
    let (a, b) = (
        kernels
            .policy_gradient_step(&batch, &rewards, &step)
            .unwrap(),
        tensor
            .policy_gradient_step(&batch, &rewards, &step)
            .unwrap(),
    );
    close(a.loss, b.loss, "policy-gradient loss");
    close(
        a.get("grad_norm").unwrap(),
        b.get("grad_norm").unwrap(),
        "policy-gradient norm",
    );

    // The weights after both steps: every row's log-likelihood.
    let (a, b) = (
        kernels.log_likelihood(&batch).unwrap(),
        tensor.log_likelihood(&batch).unwrap(),
    );
    for (x, y) in a.iter().zip(&b) {
        close(*x, *y, "log-likelihood after the steps");
    }

    // The same seeded draws from the same distributions.
    let request = SampleRequest {
        count: 32,
        max_len: 10,
        temperature: 1.0,
        seed: 11,
        policy: Policy::Current,
        sources: agon_sdk::reexports::abi_stable::std_types::ROption::RNone,
    };
    let (a, b) = (
        kernels.sample(&request).unwrap(),
        tensor.sample(&request).unwrap(),
    );
    let same = a
        .iter_rows()
        .zip(b.iter_rows())
        .filter(|(x, y)| x == y)
        .count();
    // A draw that falls within float rounding of a bucket boundary may
    // differ; anything more is a defect.
    assert!(same >= 30, "{same} of 32 sampled rows agree");
}
