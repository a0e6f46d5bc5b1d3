//! The documentation lines of the SDK kits' `training:` blocks, one per
//! key, for `agon plugins show`. Outside the `candle` feature: the host,
//! which builds without Candle, reads them too, to send a kit key set in
//! the wrong place to the component that has it.

// The lines both kits' blocks share.
const ADAM_BETA1: &str =
    "Adam's decay rate for its running mean of gradients, between 0 and 1 (0.9 is usual).";
const ADAM_BETA2: &str =
    "Adam's decay rate for its running mean of squared gradients, between 0 and 1 (0.999 is usual).";
const ADAM_EPS: &str =
    "Small constant added to the denominator of every Adam update so it never divides by zero.";
const ADAM_WEIGHT_DECAY: &str = "L2 penalty: this times each weight is added to its gradient before the Adam update; 0 disables it.";
const GRAD_CLIP: &str = "Largest norm of all gradients together; a larger gradient is scaled down to it; 0 turns clipping off.";

/// One line per key of the `training:` block, for `agon plugins show`:
/// a kit model's docs are `&[MY_DOCS, DISCRIMINATOR_TRAINING_DOCS].concat()`
/// (`kits::discriminator_info` does this).
pub const DISCRIMINATOR_TRAINING_DOCS: &[(&str, &str)] = &[
    (
        "training",
        "How the discriminator is trained and scored (the same keys for every discriminator built on the SDK's kit).",
    ),
    (
        "training.dropout",
        "Probability of zeroing each feature the model drops out while training, at least 0 and below 1; 0 turns dropout off.",
    ),
    ("training.optimizer", "Adam, the optimiser of every training step."),
    ("training.optimizer.lr", "Learning rate of Adam (default 0.001)."),
    ("training.optimizer.beta1", ADAM_BETA1),
    ("training.optimizer.beta2", ADAM_BETA2),
    ("training.optimizer.eps", ADAM_EPS),
    ("training.optimizer.weight_decay", ADAM_WEIGHT_DECAY),
    ("training.grad_clip", GRAD_CLIP),
    (
        "training.score_chunk",
        "Rows scored per forward pass when the host asks for probabilities, at least 1; bounds memory on large batches.",
    ),
    (
        "training.relaxed_chunk",
        "Rows per forward and backward pass under `algorithm: gumbel` (relaxed rows), 0 for the whole batch at once (default); a training step sums the chunks' gradients before its one update. Bounds the pass's memory at large batches or vocabularies, at some speed (a chunked call recomputes the forward pass the kit otherwise keeps between calls); with dropout, each chunk draws its own masks.",
    ),
];

/// One line per key of the `training:` block, for `agon plugins show`.
pub const GENERATOR_TRAINING_DOCS: &[(&str, &str)] = &[
    (
        "training",
        "How the generator is trained (the same keys for every generator built on the SDK's kit).",
    ),
    ("training.optimizer", "Adam of the MLE steps."),
    ("training.optimizer.lr", "Learning rate of the MLE steps' Adam (default 0.001)."),
    ("training.optimizer.beta1", ADAM_BETA1),
    ("training.optimizer.beta2", ADAM_BETA2),
    ("training.optimizer.eps", ADAM_EPS),
    ("training.optimizer.weight_decay", ADAM_WEIGHT_DECAY),
    (
        "training.adversarial_optimizer",
        "Adam of the adversarial steps (policy-gradient steps, and under `algorithm: gumbel` the steps through the discriminator's gradient), with moments of its own, fresh when the adversarial phase starts.",
    ),
    (
        "training.adversarial_optimizer.lr",
        "Learning rate of the adversarial steps' Adam (default 0.001).",
    ),
    (
        "training.adversarial_optimizer.beta1",
        "Adam's decay rate for its running mean of adversarial gradients, between 0 and 1 (0.9 is usual).",
    ),
    (
        "training.adversarial_optimizer.beta2",
        "Adam's decay rate for its running mean of squared adversarial gradients, between 0 and 1 (0.999 is usual).",
    ),
    (
        "training.adversarial_optimizer.eps",
        "Small constant added to the denominator of every adversarial Adam update so it never divides by zero.",
    ),
    (
        "training.adversarial_optimizer.weight_decay",
        "L2 penalty of adversarial steps: this times each weight is added to its gradient; 0 disables it.",
    ),
    ("training.grad_clip", GRAD_CLIP),
];
