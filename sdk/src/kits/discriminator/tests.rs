//! The kit's relaxed-row methods on a toy model: they agree with scoring
//! ids on one-hot rows, their input gradient matches finite differences,
//! and a training step follows the host's gradient.

use abi_stable::std_types::ROption;
use candle_core::{Module, Tensor};
use candle_nn::{linear, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

use super::{
    DiscriminatorConfig, DiscriminatorModel, DiscriminatorTraining, KitDiscriminator, Pass,
    RelaxedRows, Rows, SourceUse,
};
use crate::{
    author::DiscriminatorImpl,
    batch::{Batch, TokenBatch},
    context::PluginContext,
    error::{ErrorKind, PluginResult},
    relaxed::{PairedRows, RelaxedBatch},
    stats::StepOptions,
    toolkit::{masked_mean, MaskedEmbedding},
};

const VOCAB: usize = 7;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ToyConfig {
    /// Read ids only (no relaxed path).
    ids_only: bool,
    /// Read the relaxed rows through a copy, out of the toolkit's reach:
    /// their gradient comes from autograd, not a delivery.
    copy_rows: bool,
    /// Pass the features through candle-nn's `softmax_last_dim`, which has
    /// no backward: nothing before it gets a gradient.
    forward_only_softmax: bool,
    /// Add a weight matrix the logits never read, which the kit's default
    /// initialisation starts at zero.
    unused_zero_weight: bool,
    /// Add this to every relaxed row's logit: a relaxed path that disagrees
    /// with the ids path.
    relaxed_offset: f64,
    /// (`PerTokenToy`) Score rows through a head of their own, which
    /// per-token training never reaches.
    separate_row_head: bool,
    training: DiscriminatorTraining,
}

impl DiscriminatorConfig for ToyConfig {
    const DOCS: &'static [(&'static str, &'static str)] = &[
        ("ids_only", "test only"),
        ("copy_rows", "test only"),
        ("forward_only_softmax", "test only"),
        ("unused_zero_weight", "test only"),
        ("relaxed_offset", "test only"),
        ("separate_row_head", "test only"),
    ];
    fn training(&self) -> &DiscriminatorTraining {
        &self.training
    }
}

/// `tanh(mean of embeddings) → dropout → linear`.
struct Toy {
    embedding: MaskedEmbedding,
    output: Linear,
    ids_only: bool,
    copy_rows: bool,
    forward_only_softmax: bool,
    relaxed_offset: f64,
}

impl Toy {
    fn head(&self, embedded: &Tensor, mask: &Tensor, pass: &mut Pass) -> PluginResult<Tensor> {
        let mut features = masked_mean(embedded, mask)?.tanh()?;
        if self.forward_only_softmax {
            features = candle_nn::ops::softmax_last_dim(&features)?;
        }
        Ok(self.output.forward(&pass.dropout(&features)?)?.squeeze(1)?)
    }
}

impl DiscriminatorModel for Toy {
    type Config = ToyConfig;
    const NAME: &'static str = "toy";
    const SOURCES: SourceUse = SourceUse::Never;

    fn new(vb: VarBuilder, context: &PluginContext, config: &ToyConfig) -> PluginResult<Self> {
        if config.unused_zero_weight {
            vb.get((2, 3), "spare")?;
        }
        Ok(Toy {
            embedding: MaskedEmbedding::new(vb.clone(), context.vocab.size as usize, 5)?,
            output: linear(5, 1, vb.pp("output"))?,
            ids_only: config.ids_only,
            copy_rows: config.copy_rows,
            forward_only_softmax: config.forward_only_softmax,
            relaxed_offset: config.relaxed_offset,
        })
    }

    fn logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Tensor> {
        let padded = pass.pad(&rows.targets, 1)?;
        let embedded = self.embedding.masked(&padded.ids, &padded.mask)?;
        self.head(&embedded, &padded.mask, pass)
    }

    fn relaxed_logits(&self, rows: &RelaxedRows, pass: &mut Pass) -> PluginResult<Option<Tensor>> {
        if self.ids_only {
            return Ok(None);
        }
        let soft = if self.copy_rows {
            rows.soft.affine(1.0, 0.0)?
        } else {
            rows.soft.clone()
        };
        let embedded = self.embedding.relaxed(&soft, &rows.mask)?;
        let logits = self.head(&embedded, &rows.mask, pass)?;
        Ok(Some((logits + self.relaxed_offset)?))
    }
}

fn toy(config: &str) -> KitDiscriminator<Toy> {
    let mut context = PluginContext::for_tests(VOCAB as u32, 6);
    context.config_yaml = config.into();
    context.seed = 3;
    context.vocab.pad = ROption::RSome(0);
    KitDiscriminator::new(&context).unwrap()
}

/// Rows of ids as one-hot relaxed rows, `width` positions each.
fn one_hot(rows: &[&[u32]], width: usize) -> RelaxedBatch {
    RelaxedBatch::one_hot(
        &TokenBatch::from_rows(rows, 0),
        width,
        VOCAB,
        ROption::RNone,
    )
    .unwrap()
}

/// Three rows of distributions (lengths 3, 1, 4), `width` 4.
fn relaxed_rows() -> RelaxedBatch {
    let mut batch = one_hot(&[&[1, 2, 3], &[4], &[5, 6, 1, 2]], 4);
    for (i, x) in batch.soft.iter_mut().enumerate() {
        *x = 0.5 * *x + 0.5 * ((i * 13 % 7) as f32 + 1.0) / 28.0;
    }
    batch
}

#[test]
fn relaxed_logits_of_one_hot_rows_are_the_logits_of_their_ids() {
    let mut d = toy("");
    let ids: [&[u32]; 3] = [&[1, 2, 3], &[4], &[5, 6, 1, 2]];
    let logits = d.relaxed_logits(&one_hot(&ids, 5), None).unwrap();
    let rows: Vec<Vec<u32>> = ids.iter().map(|r| r.to_vec()).collect();
    let probabilities = d
        .probabilities(&Batch::unconditional(TokenBatch::from_rows(&rows, 0)))
        .unwrap();
    for (logit, p) in logits.iter().zip(&probabilities) {
        let sigmoid = 1.0 / (1.0 + (-logit).exp());
        assert!(
            (sigmoid - p).abs() < 1e-6,
            "{logits:?} vs {probabilities:?}"
        );
    }
}

/// The central difference of `Σ upstream · relaxed_logits(batch,
/// dropout_seed)` in `batch.soft[at]`.
fn finite_difference(
    d: &KitDiscriminator<Toy>,
    batch: &RelaxedBatch,
    upstream: &[f32],
    dropout_seed: Option<u64>,
    at: usize,
) -> f64 {
    let eps = 1e-2f32;
    let surrogate = |batch: &RelaxedBatch| -> f64 {
        let logits = d.relaxed_logits(batch, dropout_seed).unwrap();
        logits
            .iter()
            .zip(upstream)
            .map(|(l, u)| f64::from(l * u))
            .sum()
    };
    let mut plus = batch.clone();
    plus.soft[at] += eps;
    let mut minus = batch.clone();
    minus.soft[at] -= eps;
    (surrogate(&plus) - surrogate(&minus)) / (2.0 * f64::from(eps))
}

/// `∂(Σ upstream · logits)/∂soft` against central finite differences on
/// every value of every row's real positions; zero past their lengths.
#[test]
fn the_relaxed_input_gradient_matches_finite_differences() {
    let d = toy("");
    let batch = relaxed_rows();
    let upstream = [0.7f32, -1.3, 0.4];
    let gradient = d.relaxed_input_gradient(&batch, &upstream, None).unwrap();
    assert_eq!(gradient.len(), batch.soft.len());
    for r in 0..3 {
        for t in 0..4 {
            for v in 0..VOCAB {
                let at = (r * 4 + t) * VOCAB + v;
                if t >= batch.lengths[r] as usize {
                    assert_eq!(gradient[at], 0.0, "row {r} position {t} is past its end");
                    continue;
                }
                let numeric = finite_difference(&d, &batch, &upstream, None, at);
                let exact = f64::from(gradient[at]);
                assert!(
                    (numeric - exact).abs() <= 1e-4 + 1e-2 * exact.abs(),
                    "row {r} position {t} id {v}: finite differences {numeric}, autograd {exact}"
                );
            }
        }
    }
    assert!(gradient.iter().any(|g| g.abs() > 1e-3));
}

#[test]
fn a_relaxed_training_step_follows_the_hosts_gradient() {
    let mut d = toy("training: {dropout: 0.0}");
    let batch = relaxed_rows();
    let before = d.relaxed_logits(&batch, None).unwrap();
    // The gradient of −Σ logits: every logit should rise.
    let options = StepOptions { seed: 9 };
    let stats = d
        .relaxed_train_step(&batch, &[-1.0, -1.0, -1.0], &options)
        .unwrap();
    assert!(stats.get("grad_norm").is_some_and(|n| n > 0.0), "{stats:?}");
    let after = d.relaxed_logits(&batch, None).unwrap();
    for (b, a) in before.iter().zip(&after) {
        assert!(a > b, "{before:?} → {after:?}");
    }
}

#[test]
fn relaxed_calls_refuse_what_does_not_fit() {
    let d = toy("");
    let batch = relaxed_rows();
    let err = d.relaxed_input_gradient(&batch, &[1.0], None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let mut short = batch.clone();
    short.soft.pop();
    assert_eq!(
        d.relaxed_logits(&short, None).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let mut long = batch.clone();
    long.lengths[0] = 5;
    assert_eq!(
        d.relaxed_logits(&long, None).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let empty = RelaxedBatch {
        lengths: Vec::new().into(),
        width: 4,
        soft: Vec::new().into(),
        sources: ROption::RNone,
    };
    let err = toy("")
        .relaxed_train_step(&empty, &[], &StepOptions { seed: 1 })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let mut unpaired = batch.clone();
    unpaired.sources = ROption::RSome(TokenBatch::from_rows(&[vec![1u32], vec![2]], 0));
    let err = d.relaxed_logits(&unpaired, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(
        err.message().contains("2 sources for 3 relaxed rows"),
        "{err}"
    );
    let err = toy("ids_only: true")
        .relaxed_logits(&batch, None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(err.message().contains("relaxed_logits"), "{err}");
}

/// `training.relaxed_chunk` takes the rows through the model a few at a
/// time: without dropout the logits, the input gradient and a training
/// step are the unchunked ones to rounding, whatever the chunk.
#[test]
fn relaxed_chunks_give_the_unchunked_logits_gradient_and_step() {
    let batch = relaxed_rows();
    let upstream = [0.7f32, -1.3, 0.4];
    let whole = toy("training: {dropout: 0.0}");
    let logits = whole.relaxed_logits(&batch, None).unwrap();
    let gradient = whole
        .relaxed_input_gradient(&batch, &upstream, None)
        .unwrap();
    let mut stepped = toy("training: {dropout: 0.0}");
    let options = StepOptions { seed: 9 };
    let step = stepped
        .relaxed_train_step(&batch, &upstream, &options)
        .unwrap();
    let after = stepped.relaxed_logits(&batch, None).unwrap();
    assert!(after.iter().zip(&logits).any(|(a, b)| (a - b).abs() > 1e-4));
    let close = |a: &[f32], b: &[f32], what: &str| {
        assert_eq!(a.len(), b.len(), "{what}");
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 1e-6 + 1e-5 * y.abs(),
                "{what}: {a:?} vs {b:?}"
            );
        }
    };
    for chunk in [1, 2, 3, 5] {
        let config = format!("training: {{dropout: 0.0, relaxed_chunk: {chunk}}}");
        let d = toy(&config);
        close(&d.relaxed_logits(&batch, None).unwrap(), &logits, &config);
        close(
            &d.relaxed_input_gradient(&batch, &upstream, None).unwrap(),
            &gradient,
            &config,
        );
        let mut d = toy(&config);
        let stats = d.relaxed_train_step(&batch, &upstream, &options).unwrap();
        close(&[stats.loss], &[step.loss], &config);
        close(
            &[stats.get("grad_norm").unwrap()],
            &[step.get("grad_norm").unwrap()],
            &config,
        );
        close(&d.relaxed_logits(&batch, None).unwrap(), &after, &config);
    }
}

/// With dropout, each chunk draws its own masks, and the input gradient
/// is still the gradient of the logits the host saw for that seed (finite
/// differences of chunked `relaxed_logits`); one chunk as wide as the
/// batch is the unchunked call exactly.
#[test]
fn chunked_relaxed_gradients_follow_the_chunked_logits_under_dropout() {
    let batch = relaxed_rows();
    let upstream = [0.7f32, -1.3, 0.4];
    let seed = Some(21);
    let whole = toy("training: {dropout: 0.5}");
    assert_eq!(
        toy("training: {dropout: 0.5, relaxed_chunk: 3}")
            .relaxed_logits(&batch, seed)
            .unwrap(),
        whole.relaxed_logits(&batch, seed).unwrap()
    );
    let d = toy("training: {dropout: 0.5, relaxed_chunk: 2}");
    let gradient = d.relaxed_input_gradient(&batch, &upstream, seed).unwrap();
    let mut checked = 0;
    for at in (0..batch.soft.len()).step_by(5) {
        let (r, t) = (at / (4 * VOCAB), at / VOCAB % 4);
        if t >= batch.lengths[r] as usize {
            continue;
        }
        let numeric = finite_difference(&d, &batch, &upstream, seed, at);
        let exact = f64::from(gradient[at]);
        assert!(
            (numeric - exact).abs() <= 1e-4 + 1e-2 * exact.abs(),
            "value {at}: finite differences {numeric}, autograd {exact}"
        );
        checked += 1;
    }
    assert!(checked > 8, "{checked} checked");
    assert!(gradient.iter().any(|g| g.abs() > 1e-3));
}

/// A training step after `relaxed_logits` on the same rows and dropout
/// seed trains from the pass that call kept: it is the step of a
/// discriminator that never scored the rows, to the last bit. A pass kept
/// for another seed, other rows or other weights is not used, nor one of
/// a batch taken in chunks; any other call drops it.
#[test]
fn a_step_from_the_kept_logits_pass_is_the_recomputed_step_to_the_bit() {
    let batch = relaxed_rows();
    let upstream = [0.7f32, -1.3, 0.4];
    let options = StepOptions { seed: 21 };
    let config = "training: {dropout: 0.5}";
    let ids = |rows: &[&[u32]]| {
        let rows: Vec<Vec<u32>> = rows.iter().map(|r| r.to_vec()).collect();
        Batch::unconditional(TokenBatch::from_rows(&rows, 0))
    };
    let (real, fake) = (ids(&[&[1, 2], &[3]]), ids(&[&[4, 5, 6], &[2]]));
    let bits = |stats: &crate::stats::StepStats| {
        (
            stats.loss.to_bits(),
            stats.get("grad_norm").unwrap().to_bits(),
        )
    };
    let nudge = |d: &KitDiscriminator<Toy>| {
        let (_, var) = &crate::toolkit::sorted_vars(d.varmap())[0];
        var.set(&(var.as_tensor() + 0.01).unwrap()).unwrap();
    };
    // Scores `scored` with the step's seed, then steps on `batch`: the
    // step's loss and norm, the logits after it, and (kept now, passes
    // used).
    let step_after = |config: &str,
                      scored: &RelaxedBatch,
                      seed: u64,
                      between: &dyn Fn(&mut KitDiscriminator<Toy>)| {
        let mut d = toy(config);
        d.relaxed_logits(scored, Some(seed)).unwrap();
        between(&mut d);
        let stats = bits(&d.relaxed_train_step(&batch, &upstream, &options).unwrap());
        let kept = d.kept_pass();
        (stats, d.relaxed_logits(&batch, None).unwrap(), kept)
    };
    let nothing = |_: &mut KitDiscriminator<Toy>| {};
    // What the cases must equal: steps recomputed from scratch.
    let mut fresh = toy(config);
    let want = bits(
        &fresh
            .relaxed_train_step(&batch, &upstream, &options)
            .unwrap(),
    );
    let want_after = fresh.relaxed_logits(&batch, None).unwrap();
    let moved = |d: &mut KitDiscriminator<Toy>| nudge(d);
    let mut fresh_nudged = toy(config);
    nudge(&fresh_nudged);
    let want_nudged = bits(
        &fresh_nudged
            .relaxed_train_step(&batch, &upstream, &options)
            .unwrap(),
    );
    assert_ne!(want_nudged, want);

    // Used: the same rows and seed, or rows differing only past their
    // lengths, or a chunk as wide as the batch.
    let mut padded = batch.clone();
    padded.soft[(4 + 1) * VOCAB + 3] = 0.5; // row 1 has length 1
    for (config, scored) in [
        (config, &batch),
        (config, &padded),
        ("training: {dropout: 0.5, relaxed_chunk: 3}", &batch),
    ] {
        let (stats, after, kept) = step_after(config, scored, options.seed, &nothing);
        assert_eq!((stats, kept), (want, (false, 1)), "{config}");
        assert_eq!(after, want_after, "{config}");
    }
    // Not used: another seed, other rows, weights moved in between.
    let mut changed = batch.clone();
    changed.soft[VOCAB + 2] += 0.25;
    assert_eq!(step_after(config, &batch, 22, &nothing).0, want);
    assert_eq!(step_after(config, &batch, 22, &nothing).2, (false, 0));
    assert_eq!(
        step_after(config, &changed, options.seed, &nothing).2,
        (false, 0)
    );
    assert_eq!(step_after(config, &changed, options.seed, &nothing).0, want);
    let (stats, _, kept) = step_after(config, &batch, options.seed, &moved);
    assert_eq!((stats, kept), (want_nudged, (false, 0)));
    // Not kept: rows taken in chunks, or scored without dropout.
    let chunked = toy("training: {dropout: 0.5, relaxed_chunk: 2}");
    chunked.relaxed_logits(&batch, Some(options.seed)).unwrap();
    assert_eq!(chunked.kept_pass(), (false, 0));
    let evaluation = toy(config);
    evaluation.relaxed_logits(&batch, None).unwrap();
    assert_eq!(evaluation.kept_pass(), (false, 0));
    // Dropped by any other call: an ids step.
    let mut d = toy(config);
    d.relaxed_logits(&batch, Some(options.seed)).unwrap();
    assert_eq!(d.kept_pass(), (true, 0));
    d.train_step(&real, &fake, &options).unwrap();
    assert_eq!(d.kept_pass(), (false, 0));
}

/// The input gradient after `relaxed_logits` on the same rows and dropout
/// seed differentiates the pass that call kept: the gradient of a
/// discriminator that never scored the rows, to the last bit, whether the
/// toolkit's embedding delivers the rows' gradient or autograd computes
/// it (a model reading its rows through a copy). A pass of another seed
/// is not used; a training step on a kept pass is unchanged by the rows
/// being tracked.
#[test]
fn the_input_gradient_from_the_kept_logits_pass_is_the_recomputed_one_to_the_bit() {
    let batch = relaxed_rows();
    let upstream = [0.7f32, -1.3, 0.4];
    let seed = 21;
    let bits = |values: Vec<f32>| -> Vec<u32> { values.iter().map(|x| x.to_bits()).collect() };
    let gradient = |d: &KitDiscriminator<Toy>, seed: u64| {
        bits(
            d.relaxed_input_gradient(&batch, &upstream, Some(seed))
                .unwrap(),
        )
    };
    let delivered = "training: {dropout: 0.5}";
    let copied = "{copy_rows: true, training: {dropout: 0.5}}";
    let want = gradient(&toy(delivered), seed);
    assert!(want.iter().any(|&g| f32::from_bits(g).abs() > 1e-3));
    for config in [delivered, copied] {
        assert_eq!(gradient(&toy(config), seed), want, "{config}: recomputed");
        let d = toy(config);
        d.relaxed_logits(&batch, Some(seed)).unwrap();
        assert_eq!(gradient(&d, seed), want, "{config}: kept");
        assert_eq!(d.kept_pass(), (false, 1), "{config}");
        let d = toy(config);
        d.relaxed_logits(&batch, Some(seed + 1)).unwrap();
        assert_eq!(gradient(&d, seed), want, "{config}: another seed kept");
        assert_eq!(d.kept_pass(), (false, 0), "{config}");

        let options = StepOptions { seed };
        let step = |d: &mut KitDiscriminator<Toy>| {
            let stats = d.relaxed_train_step(&batch, &upstream, &options).unwrap();
            let after = bits(KitDiscriminator::relaxed_logits(d, &batch, None).unwrap());
            (stats.loss.to_bits(), after)
        };
        let mut d = toy(config);
        d.relaxed_logits(&batch, Some(seed)).unwrap();
        assert_eq!(step(&mut d), step(&mut toy(config)), "{config}: step");
        assert_eq!(d.kept_pass(), (false, 1), "{config}");
    }
}

/// A discriminator with only the 1.2 relaxed methods: the kit's (its
/// inherent ones: the toy declares no `RELAXED`), behind an implementation
/// that leaves the `paired_*` methods to their defaults, as a plugin
/// written before ABI 1.3 does.
struct RelaxedOnly(KitDiscriminator<Toy>);

impl DiscriminatorImpl for RelaxedOnly {
    fn train_step(
        &mut self,
        real: &Batch,
        generated: &Batch,
        options: &StepOptions,
    ) -> PluginResult<crate::stats::StepStats> {
        self.0.train_step(real, generated, options)
    }
    fn probabilities(&mut self, batch: &Batch) -> PluginResult<Vec<f32>> {
        self.0.probabilities(batch)
    }
    fn parameter_count(&self) -> u64 {
        self.0.parameter_count()
    }
    fn save(&self, dir: &std::path::Path) -> PluginResult<()> {
        self.0.save(dir)
    }
    fn load(&mut self, dir: &std::path::Path) -> PluginResult<()> {
        self.0.load(dir)
    }
    fn relaxed_logits(
        &mut self,
        batch: &RelaxedBatch,
        dropout_seed: Option<u64>,
    ) -> PluginResult<Vec<f32>> {
        KitDiscriminator::relaxed_logits(&self.0, batch, dropout_seed)
    }
    fn relaxed_input_gradient(
        &mut self,
        batch: &RelaxedBatch,
        upstream: &[f32],
        dropout_seed: Option<u64>,
    ) -> PluginResult<Vec<f32>> {
        KitDiscriminator::relaxed_input_gradient(&self.0, batch, upstream, dropout_seed)
    }
    fn relaxed_train_step(
        &mut self,
        batch: &RelaxedBatch,
        upstream: &[f32],
        options: &StepOptions,
    ) -> PluginResult<crate::stats::StepStats> {
        KitDiscriminator::relaxed_train_step(&mut self.0, batch, upstream, options)
    }
}

/// Paired rows (ABI 1.3: real rows as ids) are the batch they stand for
/// to the bit: the kit's logits, the generated rows' part of the input
/// gradient and a training step equal the 1.2 calls on
/// `PairedRows::joined`, recomputed or from a kept pass, whole or in
/// chunks (one of real rows alone, one mixed), delivered by the toolkit's
/// embedding or computed by autograd; and so do the SDK's defaults, which
/// join the rows for a discriminator that implements only the 1.2 calls.
/// A pass kept for one form of the rows is not used by a call in the
/// other.
#[test]
fn paired_rows_are_the_joined_batch_to_the_bit() {
    let real = TokenBatch::from_rows(&[vec![2u32, 3], vec![6, 1, 1, 4], vec![5]], 0);
    let paired = PairedRows {
        real,
        generated: relaxed_rows(),
    };
    let joined = paired.joined(VOCAB).unwrap();
    let upstream = [0.7f32, -1.3, 0.4, 0.2, -0.5, 0.9];
    let real_values = joined.soft.len() - paired.generated.soft.len();
    let bits = |values: Vec<f32>| -> Vec<u32> { values.iter().map(|x| x.to_bits()).collect() };
    let configs = [
        "training: {dropout: 0.5}",
        "{copy_rows: true, training: {dropout: 0.5}}",
        "training: {dropout: 0.5, relaxed_chunk: 2}",
        "training: {dropout: 0.5, relaxed_chunk: 4}",
    ];
    for config in configs {
        for seed in [None, Some(21)] {
            let want_logits = bits(toy(config).relaxed_logits(&joined, seed).unwrap());
            let logits = bits(toy(config).paired_logits(&paired, seed).unwrap());
            assert_eq!(logits, want_logits, "{config} {seed:?}: logits");

            let all = toy(config)
                .relaxed_input_gradient(&joined, &upstream, seed)
                .unwrap();
            let want = bits(all[real_values..].to_vec());
            assert!(want.iter().any(|&g| f32::from_bits(g).abs() > 1e-3));
            let recomputed = toy(config)
                .paired_input_gradient(&paired, &upstream, seed)
                .unwrap();
            assert_eq!(bits(recomputed), want, "{config} {seed:?}: recomputed");
            let d = toy(config);
            d.paired_logits(&paired, seed).unwrap();
            let kept = d.paired_input_gradient(&paired, &upstream, seed).unwrap();
            assert_eq!(bits(kept), want, "{config} {seed:?}: after scoring");
            let mut only = RelaxedOnly(toy(config));
            let defaults = (
                bits(only.paired_logits(&paired, seed).unwrap()),
                bits(
                    only.paired_input_gradient(&paired, &upstream, seed)
                        .unwrap(),
                ),
            );
            assert_eq!(defaults, (want_logits, want), "{config} {seed:?}: defaults");
        }
        let options = StepOptions { seed: 21 };
        let after = |d: &mut KitDiscriminator<Toy>, stats: crate::stats::StepStats| {
            let logits = bits(KitDiscriminator::relaxed_logits(d, &joined, None).unwrap());
            (stats.loss.to_bits(), stats.sequences, logits)
        };
        let mut d = toy(config);
        let stats = d.relaxed_train_step(&joined, &upstream, &options).unwrap();
        let want = after(&mut d, stats);
        let mut d = toy(config);
        let stats = d.paired_train_step(&paired, &upstream, &options).unwrap();
        assert_eq!(after(&mut d, stats), want, "{config}: step");
        let mut d = toy(config);
        d.paired_logits(&paired, Some(options.seed)).unwrap();
        let stats = d.paired_train_step(&paired, &upstream, &options).unwrap();
        let used = d.kept_pass().1;
        assert_eq!(after(&mut d, stats), want, "{config}: step after scoring");
        let whole = !config.contains("relaxed_chunk");
        assert_eq!(used, usize::from(whole), "{config}: kept pass used");
        let mut only = RelaxedOnly(toy(config));
        let stats = only
            .paired_train_step(&paired, &upstream, &options)
            .unwrap();
        assert_eq!(after(&mut only.0, stats), want, "{config}: default step");
    }
    // A pass kept for the joined batch is not one for the paired rows, nor
    // the reverse, though the model read the same values.
    let config = configs[0];
    let d = toy(config);
    d.relaxed_logits(&joined, Some(21)).unwrap();
    d.paired_input_gradient(&paired, &upstream, Some(21))
        .unwrap();
    assert_eq!(d.kept_pass(), (false, 0));
    let d = toy(config);
    d.paired_logits(&paired, Some(21)).unwrap();
    d.relaxed_input_gradient(&joined, &upstream, Some(21))
        .unwrap();
    assert_eq!(d.kept_pass(), (false, 0));
    // Other real rows: not the kept pass.
    let mut other = paired.clone();
    other.real = TokenBatch::from_rows(&[vec![2u32, 3], vec![6, 1, 1, 4], vec![4]], 0);
    let d = toy(config);
    d.paired_logits(&paired, Some(21)).unwrap();
    d.paired_input_gradient(&other, &upstream, Some(21))
        .unwrap();
    assert_eq!(d.kept_pass(), (false, 0));
}

/// Paired rows that do not fit are refused before the model runs: real
/// rows that do not pair with the generated ones, run past the width, or
/// hold ids outside the vocabulary.
#[test]
fn paired_rows_that_do_not_fit_are_refused() {
    let d = toy("{}");
    let paired = |rows: &[Vec<u32>]| PairedRows {
        real: TokenBatch::from_rows(rows, 0),
        generated: relaxed_rows(),
    };
    for (rows, says) in [
        (vec![vec![1u32], vec![2]], "2 real rows paired with 3"),
        (
            vec![vec![1u32], vec![2], vec![1, 2, 3, 4, 5]],
            "length 5 beside relaxed rows 4 wide",
        ),
        (
            vec![vec![1u32], vec![2], vec![7]],
            "outside the vocabulary of 7",
        ),
    ] {
        let err = d.paired_logits(&paired(&rows), None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(err.message().contains(says), "{err}");
    }
}

/// The training loss's gradient reaches every weight (finite differences
/// agree, dropout included), and a model whose features pass through an op
/// without a backward is caught, naming the weight it cut off.
#[test]
#[cfg(feature = "testing")]
fn the_weight_gradient_check_passes_a_sound_model_and_catches_a_forward_only_op() {
    let real = [vec![1u32, 2, 3], vec![4, 5]];
    let generated = [vec![6u32, 1], vec![2, 2, 3, 4]];
    let d = toy("training: {dropout: 0.3}\n");
    let loss = |d: &KitDiscriminator<Toy>| {
        d.training_loss(
            &Batch::unconditional(TokenBatch::from_rows(&real, 0)),
            &Batch::unconditional(TokenBatch::from_rows(&generated, 0)),
            11,
        )
        .unwrap()
        .0
        .to_scalar::<f32>()
        .unwrap()
    };
    let before = loss(&d);
    let checked = crate::testing::check_weight_gradients(&d, &real, &generated, 11, 1);
    assert!(checked >= 40, "{checked} entries checked");
    assert_eq!(
        loss(&d).to_bits(),
        before.to_bits(),
        "the weights are left as they were"
    );

    let cut = toy("forward_only_softmax: true\n");
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::testing::check_weight_gradients(&cut, &real, &generated, 11, 1)
    }))
    .expect_err("a forward-only softmax must fail the check");
    let message = caught.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("no gradient reaches `embedding") && message.contains("softmax_last_dim"),
        "{message}"
    );

    // A weight matrix at zero that the loss never reads gets no gradient
    // however the other weights move: not a dead start, so it passes.
    let spare = toy("unused_zero_weight: true\n");
    let before = loss(&spare);
    crate::testing::check_weight_gradients(&spare, &real, &generated, 11, 1);
    assert_eq!(
        loss(&spare).to_bits(),
        before.to_bits(),
        "the weights are left as they were"
    );
}

/// A per-token toy: each position's logit from its own token's embedding;
/// a row's from its last position's, or from a head of its own.
struct PerTokenToy {
    embedding: MaskedEmbedding,
    output: Linear,
    row_head: Option<Linear>,
}

impl DiscriminatorModel for PerTokenToy {
    type Config = ToyConfig;
    const NAME: &'static str = "per-token-toy";
    const SOURCES: SourceUse = SourceUse::Never;
    const PER_TOKEN: bool = true;

    fn new(vb: VarBuilder, context: &PluginContext, config: &ToyConfig) -> PluginResult<Self> {
        Ok(PerTokenToy {
            embedding: MaskedEmbedding::new(vb.clone(), context.vocab.size as usize, 5)?,
            output: linear(5, 1, vb.pp("output"))?,
            row_head: match config.separate_row_head {
                true => Some(linear(5, 1, vb.pp("row_head"))?),
                false => None,
            },
        })
    }

    fn token_logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Option<Tensor>> {
        let padded = pass.pad(&rows.targets, 1)?;
        let embedded = self.embedding.masked(&padded.ids, &padded.mask)?.tanh()?;
        Ok(Some(self.output.forward(&embedded)?.squeeze(2)?))
    }

    fn logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Tensor> {
        if let Some(head) = &self.row_head {
            let padded = pass.pad(&rows.targets, 1)?;
            let embedded = self.embedding.masked(&padded.ids, &padded.mask)?;
            let pooled = masked_mean(&embedded, &padded.mask)?;
            return Ok(head.forward(&pooled)?.squeeze(1)?);
        }
        let per_token = self.token_logits(rows, pass)?.unwrap();
        Ok(crate::toolkit::last_positions(&per_token, &rows.lengths())?)
    }
}

/// A per-token model's row logits must come from weights its training
/// reaches: a head of their own, which nothing trains, fails the
/// weight-gradient check, naming it.
#[test]
fn a_per_token_models_row_logits_must_be_trained() {
    let real = vec![vec![1u32, 2, 3], vec![4, 5]];
    let generated = vec![vec![6u32, 1], vec![2, 2, 3, 4]];
    let per_token = |config: &str| {
        let mut context = PluginContext::for_tests(VOCAB as u32, 6);
        context.config_yaml = config.into();
        KitDiscriminator::<PerTokenToy>::new(&context).unwrap()
    };
    crate::testing::check_weight_gradients(&per_token(""), &real, &generated, 11, 1);
    let separate = per_token("separate_row_head: true\n");
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::testing::check_weight_gradients(&separate, &real, &generated, 11, 1)
    }))
    .expect_err("an untrained row head must fail the check");
    let message = caught.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.starts_with("row_head.") && message.contains("last_positions"),
        "{message}"
    );
}

/// The toy with its relaxed path declared (`RELAXED`), as the relaxed-row
/// checks call it through the boundary's methods.
struct DeclaredRelaxed(Toy);

impl DiscriminatorModel for DeclaredRelaxed {
    type Config = ToyConfig;
    const NAME: &'static str = "declared-relaxed";
    const SOURCES: SourceUse = SourceUse::Never;
    const RELAXED: bool = true;

    fn new(vb: VarBuilder, context: &PluginContext, config: &ToyConfig) -> PluginResult<Self> {
        Ok(DeclaredRelaxed(Toy::new(vb, context, config)?))
    }

    fn logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Tensor> {
        self.0.logits(rows, pass)
    }

    fn relaxed_logits(&self, rows: &RelaxedRows, pass: &mut Pass) -> PluginResult<Option<Tensor>> {
        self.0.relaxed_logits(rows, pass)
    }
}

/// The relaxed-row check passes a relaxed path that scores one-hot rows as
/// their ids and fails one that does not; its conditional form, given a
/// model without sources, names the unconditional one.
#[test]
fn the_relaxed_row_check_tells_agreeing_paths_from_others() {
    let declared = |config: &str| {
        let mut context = PluginContext::for_tests(VOCAB as u32, 6);
        context.config_yaml = config.into();
        context.vocab.pad = ROption::RSome(0);
        KitDiscriminator::<DeclaredRelaxed>::new(&context).unwrap()
    };
    let rows = vec![vec![1u32, 2, 3], vec![4], vec![6, 5]];
    crate::testing::check_relaxed_rows_score_as_ids(&mut declared(""), &rows, VOCAB, &[3, 6]);

    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut off = declared("relaxed_offset: 0.5\n");
        crate::testing::check_relaxed_rows_score_as_ids(&mut off, &rows, VOCAB, &[6]);
    }))
    .expect_err("relaxed rows that score otherwise than their ids must fail");
    let message = caught.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("one-hot rows score"), "{message}");

    let pairs: Vec<(Vec<u32>, Vec<u32>)> = rows.iter().map(|r| (vec![1u32], r.clone())).collect();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::testing::check_conditional_relaxed_rows_score_as_ids(
            &mut declared(""),
            &pairs,
            VOCAB,
            &[6],
        );
    }))
    .expect_err("a model without sources refuses rows with them");
    let message = caught.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("check_relaxed_rows_score_as_ids"),
        "{message}"
    );
}

/// `check_gradient_chain` refuses a model whose relaxed path is there but
/// undeclared (the toy's `RELAXED` is false): the host would refuse it
/// under `algorithm: gumbel` whatever its gradient.
#[cfg(feature = "testing")]
#[test]
#[should_panic(expected = "declares `const RELAXED: bool = false`, so the host refuses it")]
fn the_gradient_chain_check_refuses_an_undeclared_relaxed_path() {
    let g = crate::kits::KitGenerator::<crate::kits::generator::tests::Toy<false>>::new(
        &PluginContext::for_tests(VOCAB as u32, 6),
    )
    .unwrap();
    let d = toy("{}");
    let real = one_hot(&[&[1, 2]], 6);
    let request = crate::relaxed::RelaxedSampleRequest {
        count: 1,
        max_len: 6,
        inverse_temperature: 1.0,
        seed: 1,
        sources: None.into(),
    };
    crate::testing::check_gradient_chain(&g, &d, &real, &request, 1, 1, &|logits: &[f32]| {
        (0.0, vec![0.0; logits.len()])
    });
}
