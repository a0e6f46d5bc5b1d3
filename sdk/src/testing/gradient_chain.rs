//! The gradient check of Gumbel-softmax training across the boundary: the
//! host's loss on a discriminator's logits of real and relaxed generated
//! rows, sent back through the discriminator's input gradient into the
//! generator's policy step, is the derivative of that loss in the
//! generator's weights. Needs `candle` too.

use abi_stable::std_types::ROption;

use super::entries::Entries;
use crate::{
    kits::{DiscriminatorModel, GeneratorModel, KitDiscriminator, KitGenerator},
    relaxed::{RelaxedBatch, RelaxedSampleRequest},
    toolkit::sorted_vars,
};

/// A loss of the discriminator's logits of `rows` real rows followed by as
/// many generated ones: its value and its gradient per logit.
pub type LogitLoss<'a> = dyn Fn(&[f32]) -> (f64, Vec<f32>) + 'a;

/// The chain's loss at the generator's current weights, and the hard ids
/// its relaxed samples took (the loss is smooth only while they stay).
fn chain_loss<G: GeneratorModel, D: DiscriminatorModel>(
    g: &KitGenerator<G>,
    d: &KitDiscriminator<D>,
    real: &RelaxedBatch,
    request: &RelaxedSampleRequest,
    dropout_seed: u64,
    loss: &LogitLoss,
) -> (f64, Vec<u32>, RelaxedBatch) {
    let samples = g.relaxed_sample(request).expect("relaxed_sample");
    let fake = RelaxedBatch {
        lengths: samples.ids.lengths.clone(),
        width: request.max_len,
        soft: samples.soft,
        sources: ROption::RNone,
    };
    let batch = real.concat(&fake).expect("real and generated rows");
    let logits = d
        .relaxed_logits(&batch, Some(dropout_seed))
        .expect("relaxed_logits");
    (loss(&logits).0, samples.ids.ids.into_vec(), batch)
}

/// Panics unless the discriminator declares its relaxed path
/// ([`DiscriminatorModel::RELAXED`]) and the generator's weight gradient
/// that the chain gives —
/// `loss`'s gradient per logit, through `d.relaxed_input_gradient` (same
/// dropout seed), into the generator's surrogate `Σ gradient · soft(θ)` —
/// matches central finite differences of `loss` in every `stride`-th
/// entry of every generator weight. Perturbations that flip a hard sample
/// are skipped (the loss jumps there); at most a tenth may be. Returns how
/// many entries were checked.
///
/// The rows `d` scores are `real` first, then the `request.count` relaxed
/// samples of `g`; `loss` gets their logits in that order and returns its
/// value and its derivative in each logit. Use a small vocabulary and
/// widths (every checked entry costs two passes through both models).
///
/// # Example
///
/// A discriminator author's test under RSGAN's generator loss,
/// `mean softplus(r − f)` over the pairs of a real logit `r` and a generated
/// one `f` (the host's `gumbel.loss: rsgan`), with the SDK's small
/// [`BigramGenerator`](super::BigramGenerator) as the generator (a generator
/// author does the same with [`MeanPoolDiscriminator`](super::MeanPoolDiscriminator);
/// another lab's plugin crate cannot be linked in beside yours):
///
/// ```
/// use agon_sdk::kits::{DiscriminatorModel, KitDiscriminator, KitGenerator, Pass, RelaxedRows, Rows, SourceUse};
/// use agon_sdk::testing::{check_gradient_chain, one_hot_rows, BigramGenerator};
/// use agon_sdk::toolkit::{masked_mean, MaskedEmbedding};
/// use agon_sdk::{PluginContext, PluginResult, RelaxedSampleRequest};
/// use candle_core::{Module, Tensor};
/// use candle_nn::{linear, Linear, VarBuilder};
///
/// // The discriminator under test: mean of the token embeddings → logit.
/// agon_sdk::discriminator_config! {
///     pub struct MeanConfig {
///         embedding_dim: usize = 4; "Embedding size."; dimension,
///     }
/// }
/// struct Mean {
///     embedding: MaskedEmbedding,
///     output: Linear,
/// }
/// impl DiscriminatorModel for Mean {
///     type Config = MeanConfig;
///     const NAME: &'static str = "mean";
///     const SOURCES: SourceUse = SourceUse::Never;
///     const RELAXED: bool = true;
///     fn new(vb: VarBuilder, context: &PluginContext, c: &MeanConfig) -> PluginResult<Self> {
///         let vocab = context.vocab.size as usize;
///         Ok(Mean {
///             embedding: MaskedEmbedding::new(vb.clone(), vocab, c.embedding_dim)?,
///             output: linear(c.embedding_dim, 1, vb.pp("output"))?,
///         })
///     }
///     fn logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Tensor> {
///         let padded = pass.pad(&rows.targets, 1)?;
///         let embedded = self.embedding.masked(&padded.ids, &padded.mask)?;
///         Ok(self.output.forward(&masked_mean(&embedded, &padded.mask)?)?.squeeze(1)?)
///     }
///     fn relaxed_logits(&self, rows: &RelaxedRows, _: &mut Pass) -> PluginResult<Option<Tensor>> {
///         let embedded = self.embedding.relaxed(&rows.soft, &rows.mask)?;
///         let pooled = masked_mean(&embedded, &rows.mask)?;
///         Ok(Some(self.output.forward(&pooled)?.squeeze(1)?))
///     }
/// }
///
/// let (vocab, width) = (7, 4);
/// let context = PluginContext::for_tests(vocab, width);
/// let g = KitGenerator::<BigramGenerator>::new(&context).unwrap();
/// let d = KitDiscriminator::<Mean>::new(&context).unwrap();
/// let real = one_hot_rows(&[vec![4, 5, 6], vec![5, 2]], width as usize, vocab as usize);
/// let request = RelaxedSampleRequest {
///     count: 2, // as many generated rows as real ones: RSGAN pairs them
///     max_len: width,
///     inverse_temperature: 2.0,
///     seed: 11,
///     sources: None.into(), // an unconditional task
/// };
/// // Logits: the real rows', then the generated rows'.
/// let rsgan_generator_loss = |logits: &[f32]| {
///     let (real, fake) = logits.split_at(logits.len() / 2);
///     let n = real.len() as f64;
///     let mut gradient = vec![0f32; logits.len()];
///     let mut value = 0.0;
///     for (i, (&r, &f)) in real.iter().zip(fake).enumerate() {
///         let x = f64::from(r - f);
///         value += x.exp().ln_1p() / n; // softplus(r − f)
///         let slope = 1.0 / (1.0 + (-x).exp()) / n; // its derivative in r
///         gradient[i] = slope as f32;
///         gradient[real.len() + i] = -slope as f32;
///     }
///     (value, gradient)
/// };
/// let checked = check_gradient_chain(&g, &d, &real, &request, 3, 1, &rsgan_generator_loss);
/// assert!(checked > 0);
/// ```
pub fn check_gradient_chain<G: GeneratorModel, D: DiscriminatorModel>(
    g: &KitGenerator<G>,
    d: &KitDiscriminator<D>,
    real: &RelaxedBatch,
    request: &RelaxedSampleRequest,
    dropout_seed: u64,
    stride: usize,
    loss: &LogitLoss,
) -> usize {
    assert!(
        D::RELAXED,
        "{}'s model declares `const RELAXED: bool = false`, so the host refuses it under `algorithm: gumbel` whatever its relaxed path computes: set `const RELAXED: bool = true` (and implement `relaxed_logits`)",
        D::NAME
    );
    let (_, base_ids, batch) = chain_loss(g, d, real, request, dropout_seed, loss);
    let logits = d
        .relaxed_logits(&batch, Some(dropout_seed))
        .expect("relaxed_logits");
    let upstream = loss(&logits).1;
    let input = d
        .relaxed_input_gradient(&batch, &upstream, Some(dropout_seed))
        .expect("relaxed_input_gradient");
    let generated = &input[real.soft.len()..];
    let surrogate = g
        .relaxed_surrogate(request, generated)
        .expect("the generator's surrogate");
    let grads = surrogate.graph.backward().expect("backward");
    let eps = 1e-3f32;
    let (mut checked, mut skipped) = (0, 0);
    for (name, var) in sorted_vars(g.varmap()) {
        let entries = Entries::of(&var, &grads);
        for k in (0..entries.original.len()).step_by(stride.max(1)) {
            let at = |delta: f32| {
                entries.step(k, delta);
                let (value, ids, _) = chain_loss(g, d, real, request, dropout_seed, loss);
                (value, ids)
            };
            let ((plus, plus_ids), (minus, minus_ids)) = (at(eps), at(-eps));
            if plus_ids != base_ids || minus_ids != base_ids {
                skipped += 1;
                continue;
            }
            let numeric = (plus - minus) / (2.0 * f64::from(eps));
            let exact = f64::from(entries.analytic[k]);
            assert!(
                (numeric - exact).abs() <= 2e-3 + 2e-2 * exact.abs(),
                "{name}[{k}]: finite differences of the chain {numeric}, its gradient {exact}"
            );
            checked += 1;
        }
        entries.restore();
    }
    assert!(
        skipped * 10 <= checked,
        "{skipped} skipped, {checked} checked"
    );
    checked
}
