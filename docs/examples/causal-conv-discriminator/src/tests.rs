use agon_sdk::kits::KitDiscriminator;
use agon_sdk::testing::{
    check_discriminator, check_relaxed_input_gradient, check_relaxed_rows_score_as_ids,
    check_weight_gradients, one_hot_rows, Task,
};
use agon_sdk::{Batch, DiscriminatorImpl, PluginContext, PluginLibrary, StepOptions, TokenBatch};

use crate::{CausalConv, MyLabPerTokenDiscriminators};

const SMALL: &str = "embedding_dim: 8\nhidden_dim: 8\n";

fn discriminator(config: &str) -> KitDiscriminator<CausalConv> {
    let mut context = PluginContext::for_tests(10, 6); // vocab 10, max_len 6, cpu, seed 0
    context.config_yaml = config.into();
    KitDiscriminator::new(&context).unwrap()
}

/// The SDK's contract, per-token logits included: one finite logit per
/// real token, the same for a row alone and padded wider, and causal (a
/// position's logit does not move when the tokens after it change).
#[test]
fn keeps_the_component_contract() {
    for width in [1, 3] {
        let mut context = PluginContext::for_tests(30, 10);
        context.config_yaml = format!("{SMALL}kernel_width: {width}\n").into();
        check_discriminator::<MyLabPerTokenDiscriminators>(
            "causal-conv",
            &context,
            Task::Unconditional,
        );
    }
}

/// Trained on every position: where real and generated rows share their
/// first tokens the verdict stays open (both labels, the same input), and
/// from where they part it is decided.
#[test]
fn learns_a_verdict_per_position() {
    let rows = |tail: [u32; 2]| -> Vec<Vec<u32>> {
        (0..8)
            .map(|r| vec![1, 2, tail[r % 2], tail[(r + 1) % 2], tail[r % 2]])
            .collect()
    };
    let real = Batch::unconditional(TokenBatch::from_rows(&rows([3, 4]), 0));
    let fake = Batch::unconditional(TokenBatch::from_rows(&rows([7, 8]), 0));
    let mut d = discriminator(&format!(
        "{SMALL}kernel_width: 2\ntraining: {{optimizer: {{lr: 0.01}}}}\n"
    ));
    for step in 0..200 {
        d.train_step(&real, &fake, &StepOptions { seed: step })
            .unwrap();
    }
    let (real_logits, fake_logits) = (
        d.token_logits(&real).unwrap(),
        d.token_logits(&fake).unwrap(),
    );
    for (position, (r, f)) in real_logits.iter().zip(&fake_logits).enumerate() {
        match position % 5 {
            // The shared prefix [1, 2]: the same logit, near 0 (P = ½).
            0 | 1 => assert!(r == f && r.abs() < 0.1, "position {position}: {r} {f}"),
            _ => assert!(*r > 2.0 && *f < -2.0, "position {position}: {r} {f}"),
        }
    }
    // A row's logit is its last token's.
    let p = d.probabilities(&real).unwrap();
    let last = 1.0 / (1.0 + (-real_logits[4]).exp());
    assert!((p[0] - last).abs() < 1e-6, "{} vs {last}", p[0]);
}

#[test]
fn checkpoints_round_trip_every_tokens_score() {
    let real = Batch::unconditional(TokenBatch::from_rows(&[vec![1u32, 2, 3], vec![4]], 0));
    let fake = Batch::unconditional(TokenBatch::from_rows(&[vec![9u32, 9], vec![8, 7, 6]], 0));
    let mut a = discriminator(SMALL);
    a.train_step(&real, &fake, &StepOptions { seed: 3 })
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    a.save(dir.path()).unwrap();
    let mut b = discriminator(SMALL);
    b.load(dir.path()).unwrap();
    assert_eq!(
        b.token_logits(&real).unwrap(),
        a.token_logits(&real).unwrap()
    );
}

#[test]
fn a_zero_width_is_refused_and_every_key_is_documented() {
    let mut context = PluginContext::for_tests(10, 6);
    context.config_yaml = "kernel_width: 0\n".into();
    let refused = KitDiscriminator::<CausalConv>::new(&context).err().unwrap();
    assert!(refused.to_string().contains("kernel_width"), "{refused}");
    for component in MyLabPerTokenDiscriminators::components() {
        assert_eq!(component.check_config_docs(), Ok(()));
    }
}

/// The gradient of the training loss (every position's) reaches every
/// weight: autograd against finite differences, dropout included.
#[test]
fn the_training_loss_reaches_every_weight() {
    let real = [vec![1u32, 2, 3], vec![4]];
    let fake = [vec![9u32, 9], vec![8, 7, 6]];
    let d = discriminator(&format!("{SMALL}training: {{dropout: 0.2}}\n"));
    check_weight_gradients(&d, &real, &fake, 5, 3);
}

/// The relaxed path (Gumbel-softmax training): one-hot rows of any width
/// score as their ids, and the gradient the kit returns for the rows is
/// the derivative of the scores (finite differences).
#[test]
fn relaxed_rows_score_as_their_ids_and_differentiate() {
    let ids = vec![vec![1u32, 2, 3], vec![4], vec![9, 8, 7, 6, 5]];
    let mut d = discriminator(SMALL);
    check_relaxed_rows_score_as_ids(&mut d, &ids, 10, &[6, 8]);
    // Rows between one-hot and uniform, as a generator's relaxed samples are.
    let mut batch = one_hot_rows(&ids, 6, 10);
    for (i, x) in batch.soft.iter_mut().enumerate() {
        *x = 0.7 * *x + 0.03 * ((i * 7 % 11) as f32) / 5.0;
    }
    check_relaxed_input_gradient(&d, &batch, &[0.5, -1.0, 0.25], 3);
}
