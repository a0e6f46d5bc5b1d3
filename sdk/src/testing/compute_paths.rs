//! Two compute paths of one discriminator train alike.

use super::{
    assert_close, ok,
    toy::{self, Task},
};
use crate::{
    author::{root_module, PluginLibrary},
    capabilities::{declares, TOKEN_LOGITS},
    context::PluginContext,
    manifest::ComponentKind,
    stats::StepOptions,
};
use abi_stable::std_types::RStr;

/// Steps both paths take before their scores are compared.
const STEPS: u64 = 10;

/// Builds discriminator `component` of library `L` twice — from `kernels`
/// and from `tensor`, two contexts whose configs differ only in the
/// component's compute path (`compute: kernels` and `compute: tensor`) —
/// trains both 10 steps on the same toy rows with the same seeds,
/// and asserts that they agree up to float rounding: every step's loss
/// within 1e-4 (relative above 1), then the probabilities and, if the
/// component declares them, the per-token logits within 1e-3 (relative
/// above 1). Dropout draws from the step's seed, so it may be on.
pub fn check_discriminator_paths_agree<L: PluginLibrary>(
    component: &str,
    kernels: &PluginContext,
    tensor: &PluginContext,
    task: Task,
) {
    let build = |context: &PluginContext| {
        root_module::<L>().new_discriminator()(RStr::from_str(component), context)
            .into_result()
            .unwrap_or_else(|e| panic!("paths: discriminator `{component}` cannot be built: {e}"))
    };
    let (mut a, mut b) = (build(kernels), build(tensor));
    let (real_rows, fake_rows) = (toy::rows(kernels, 12, 1), toy::rows(kernels, 12, 2));
    let width = toy::width(&real_rows).max(toy::width(&fake_rows));
    let pad = kernels.vocab.pad.into_option().unwrap_or(0);
    let real = toy::batch(kernels, task, &real_rows, pad, width);
    let fake = toy::batch(kernels, task, &fake_rows, pad, width);
    for seed in 0..STEPS {
        let options = StepOptions { seed };
        let x = ok(a.train_step(&real, &fake, &options), "train_step");
        let y = ok(b.train_step(&real, &fake, &options), "train_step");
        assert!(
            (x.loss - y.loss).abs() <= 1e-4 * x.loss.abs().max(1.0),
            "paths: step {seed}'s loss is {} on one path and {} on the other",
            x.loss,
            y.loss
        );
    }
    for (batch, what) in [(&real, "real rows"), (&fake, "generated rows")] {
        let (p, q) = (
            ok(a.probabilities(batch), "probabilities").into_vec(),
            ok(b.probabilities(batch), "probabilities").into_vec(),
        );
        assert_close(&p, &q, 1e-3, &format!("paths: probabilities of the {what}"));
        if declares(
            &L::capabilities(),
            ComponentKind::Discriminator,
            component,
            TOKEN_LOGITS,
        ) {
            let (p, q) = (
                ok(a.token_logits(batch), "token_logits").into_vec(),
                ok(b.token_logits(batch), "token_logits").into_vec(),
            );
            assert_close(&p, &q, 1e-3, &format!("paths: token logits of the {what}"));
        }
    }
}
