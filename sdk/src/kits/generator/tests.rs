//! The kit's own behaviour on a toy model: the defaults of the model's
//! optional methods, beam search against greedy decoding, refusals.

use abi_stable::std_types::ROption;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use super::{
    beam::{beam_search, BeamSettings},
    GeneratorConfig, GeneratorModel, GeneratorTraining, KitGenerator, RelaxedKernel,
};
use crate::{
    author::GeneratorImpl,
    batch::{Batch, TokenBatch},
    context::PluginContext,
    error::{ErrorKind, PluginResult},
    generator::{DecodeRequest, MleOptions, Policy, SampleRequest},
    kits::SourceUse,
    relaxed::{RelaxedSampleRequest, RelaxedSamples},
    toolkit::sorted_vars,
};

const VOCAB: u32 = 9;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ToyConfig {
    /// Return logits of the wrong shape (to test the kit's check).
    wrong_shape: bool,
    /// Pass the state through candle-nn's `softmax_last_dim`, which has no
    /// backward: nothing before it gets a gradient.
    forward_only_softmax: bool,
    /// Give hidden states in time-major order (`t·B + b`), not row-major
    /// (to test the weight-gradient check's comparison with the logits).
    time_major: bool,
    /// Start the embedding and the recurrent matrix at zero: the state
    /// starts at 0, so the matrix gets no gradient until the embedding
    /// has moved.
    zero_start: bool,
    training: GeneratorTraining,
}

impl GeneratorConfig for ToyConfig {
    const DOCS: &'static [(&'static str, &'static str)] = &[
        ("wrong_shape", "test only"),
        ("forward_only_softmax", "test only"),
        ("zero_start", "test only"),
        ("time_major", "test only"),
    ];
    fn training(&self) -> GeneratorTraining {
        self.training.clone()
    }
}

/// `h' = tanh(E[token] + m + h·W)`, logits `h'·O`; `m` is the mean of the
/// source's embeddings (conditional) or 0.
pub(crate) struct Toy<const CONDITIONAL: bool> {
    embedding: Tensor,
    source: Tensor,
    w: Tensor,
    out: Tensor,
    wrong_shape: bool,
    forward_only_softmax: bool,
}

const HIDDEN: usize = 6;

impl<const CONDITIONAL: bool> GeneratorModel for Toy<CONDITIONAL> {
    type Config = ToyConfig;
    type Memory = Tensor;
    type State = Tensor;
    const NAME: &'static str = "toy";
    const SOURCES: SourceUse = if CONDITIONAL {
        SourceUse::Required
    } else {
        SourceUse::Never
    };

    fn new(vb: VarBuilder, context: &PluginContext, config: &ToyConfig) -> PluginResult<Self> {
        let vocab = context.vocab.size as usize;
        Ok(Toy {
            embedding: vb.get((vocab, HIDDEN), "embedding")?,
            source: vb.get((vocab, HIDDEN), "source")?,
            w: vb.get((HIDDEN, HIDDEN), "w")?,
            out: vb.get((HIDDEN, vocab), "out")?,
            wrong_shape: config.wrong_shape,
            forward_only_softmax: config.forward_only_softmax,
        })
    }

    fn start(
        &self,
        sources: Option<&TokenBatch>,
        rows: usize,
        device: &Device,
    ) -> PluginResult<(Tensor, Tensor)> {
        let memory = match sources {
            None => Tensor::zeros((rows, HIDDEN), DType::F32, device)?,
            Some(sources) => {
                let means = sources
                    .iter_rows()
                    .map(|row| {
                        let ids = Tensor::new(row, device)?;
                        self.source.index_select(&ids, 0)?.mean(0)
                    })
                    .collect::<candle_core::Result<Vec<_>>>()?;
                Tensor::stack(&means, 0)?
            }
        };
        let state = Tensor::zeros((rows, HIDDEN), DType::F32, device)?;
        Ok((memory, state))
    }

    fn step(&self, memory: &Tensor, h: &Tensor, tokens: &Tensor) -> PluginResult<(Tensor, Tensor)> {
        let x = self.embedding.index_select(tokens, 0)?;
        let mut h = ((x + memory)? + h.matmul(&self.w)?)?.tanh()?;
        if self.forward_only_softmax {
            h = candle_nn::ops::softmax_last_dim(&h)?;
        }
        let logits = h.matmul(&self.out)?;
        let logits = if self.wrong_shape {
            logits.narrow(1, 0, 3)?
        } else {
            logits
        };
        Ok((logits, h))
    }

    fn init(config: &ToyConfig, name: &str, _: &[usize]) -> crate::toolkit::SeededInit {
        if config.zero_start && (name == "embedding" || name == "w") {
            return crate::toolkit::SeededInit::Const(0.0);
        }
        crate::toolkit::SeededInit::Uniform(0.8)
    }
}

fn context(config: &str) -> PluginContext {
    let mut context = PluginContext::for_tests(VOCAB, 6);
    context.vocab.bos = 1;
    context.vocab.eos = ROption::RSome(2);
    context.vocab.pad = ROption::RSome(0);
    context.config_yaml = config.into();
    context.seed = 5;
    context
}

fn rows(rows: &[&[u32]]) -> TokenBatch {
    let rows: Vec<Vec<u32>> = rows.iter().map(|r| r.to_vec()).collect();
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    TokenBatch::from_rows_with_width(&rows, 0, width)
}

fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
    }
}

/// Row `r`'s log-likelihood by hand: one step at a time, one row alone.
fn stepped_log_likelihood(g: &KitGenerator<Toy<true>>, source: &[u32], target: &[u32]) -> f32 {
    let model = g.model();
    let device = Device::Cpu;
    let (memory, mut h) = model.start(Some(&rows(&[source])), 1, &device).unwrap();
    let mut input = 1u32; // BOS
    let mut total = 0.0;
    for &token in target {
        let (logits, next) = model
            .step(&memory, &h, &Tensor::new(&[input], &device).unwrap())
            .unwrap();
        let log_probs = candle_nn::ops::log_softmax(&logits, 1).unwrap();
        total += log_probs.get(0).unwrap().to_vec1::<f32>().unwrap()[token as usize];
        h = next;
        input = token;
    }
    total
}

#[test]
fn the_default_teacher_forced_pass_matches_stepping_each_row_alone() {
    let mut g = KitGenerator::<Toy<true>>::new(&context("")).unwrap();
    let sources = rows(&[&[4, 5, 2], &[6, 2]]);
    let targets = rows(&[&[7, 8, 2], &[3]]);
    let batch = Batch::conditional(targets.clone(), sources.clone());
    let ll = g.log_likelihood(&batch).unwrap();
    let by_hand: Vec<f32> = (0..2)
        .map(|r| stepped_log_likelihood(&g, sources.row(r), targets.row(r)))
        .collect();
    close(&ll, &by_hand);
}

#[test]
fn the_default_prefix_states_are_row_major() {
    let g = KitGenerator::<Toy<true>>::new(&context("")).unwrap();
    let model = g.model();
    let device = Device::Cpu;
    let sources = rows(&[&[4, 2], &[6, 5, 2], &[7, 2]]);
    let (memory, state) = model.start(Some(&sources), 3, &device).unwrap();
    let inputs = Tensor::new(&[[1u32, 4, 5, 6], [1, 7, 7, 3], [1, 2, 8, 8]], &device).unwrap();
    let states = model.prefix_states(&memory, &state, &inputs).unwrap();
    assert_eq!(states.dims(), [12, HIDDEN]);
    for b in 0..3 {
        let mut h = state.get(b).unwrap().unsqueeze(0).unwrap();
        let m = memory.get(b).unwrap().unsqueeze(0).unwrap();
        for t in 0..4 {
            let token = inputs.get(b).unwrap().narrow(0, t, 1).unwrap();
            h = model.step(&m, &h, &token).unwrap().1;
            close(
                &h.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                &states.get(b * 4 + t).unwrap().to_vec1::<f32>().unwrap(),
            );
        }
    }
}

#[test]
fn a_beam_of_one_is_greedy_decoding_and_wider_beams_score_no_worse() {
    let mut g = KitGenerator::<Toy<true>>::new(&context("")).unwrap();
    let targets = rows(&[&[7, 8, 2], &[3, 4, 2], &[5, 2]]);
    let sources = rows(&[&[4, 5, 2], &[6, 2], &[8, 8, 2]]);
    for seed in 0..20 {
        g.mle_step(
            &Batch::conditional(targets.clone(), sources.clone()),
            &MleOptions {
                seed,
                scheduled_sampling: 0.0,
            },
        )
        .unwrap();
    }
    let decode = |g: &mut KitGenerator<Toy<true>>, beam_size: u32| {
        g.decode(&DecodeRequest {
            sources: sources.clone(),
            max_len: 6,
            beam_size,
            length_penalty: 0.0,
        })
        .unwrap()
    };
    let greedy = decode(&mut g, 1);
    let model = g.model();
    let (memory, state) = model.start(Some(&sources), 3, &Device::Cpu).unwrap();
    let settings = BeamSettings {
        beam: 1,
        max_len: 6,
        length_penalty: 0.0,
        bos: 1,
        eos: Some(2),
    };
    let beam_one = beam_search(
        model,
        &memory,
        &state,
        3,
        VOCAB as usize,
        &Device::Cpu,
        settings,
    )
    .unwrap();
    for (r, row) in beam_one.iter().enumerate() {
        assert_eq!(row.as_slice(), greedy.row(r), "row {r}");
    }
    let wide = decode(&mut g, 4);
    let mean = |g: &mut KitGenerator<Toy<true>>, out: &TokenBatch| {
        let ll = g
            .log_likelihood(&Batch::conditional(out.clone(), sources.clone()))
            .unwrap();
        ll.iter().sum::<f32>() / 3.0
    };
    let (greedy_ll, wide_ll) = (mean(&mut g, &greedy), mean(&mut g, &wide));
    assert!(wide_ll >= greedy_ll - 1e-4, "{wide_ll} < {greedy_ll}");
}

#[test]
fn logits_of_the_wrong_shape_are_an_error_naming_the_model() {
    let mut g = KitGenerator::<Toy<false>>::new(&context("wrong_shape: true\n")).unwrap();
    let err = g
        .sample(&SampleRequest {
            count: 2,
            max_len: 4,
            temperature: 1.0,
            seed: 0,
            policy: Policy::Current,
            sources: ROption::RNone,
        })
        .unwrap_err();
    assert!(
        err.message()
            .contains("toy: step gave logits of shape [2, 3]"),
        "{err}"
    );
    let err = g
        .log_likelihood(&Batch::unconditional(rows(&[&[4, 5]])))
        .unwrap_err();
    assert!(err.message().contains("teacher_forced_logits"), "{err}");
}

#[test]
fn a_language_model_refuses_sources_and_decoding() {
    let mut g = KitGenerator::<Toy<false>>::new(&context("")).unwrap();
    let batch = Batch::conditional(rows(&[&[4, 5]]), rows(&[&[6, 2]]));
    let err = g.log_likelihood(&batch).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    let err = g
        .decode(&DecodeRequest {
            sources: rows(&[&[6, 2]]),
            max_len: 4,
            beam_size: 1,
            length_penalty: 0.0,
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    let mut conditional = KitGenerator::<Toy<true>>::new(&context("")).unwrap();
    let err = conditional
        .log_likelihood(&Batch::unconditional(rows(&[&[4, 5]])))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.message().contains("without sources"), "{err}");
}

#[test]
fn training_keys_are_checked_with_their_spelling() {
    let err = KitGenerator::<Toy<false>>::new(&context("training: {grad_clip: -1}\n"))
        .err()
        .unwrap();
    assert!(err.message().contains("training.grad_clip"), "{err}");
    let err =
        KitGenerator::<Toy<false>>::new(&context("training: {adversarial_optimizer: {lr: 0}}\n"))
            .err()
            .unwrap();
    assert!(
        err.message().contains("training.adversarial_optimizer.lr"),
        "{err}"
    );
}

fn relaxed_request(inverse_temperature: f32, seed: u64) -> RelaxedSampleRequest {
    RelaxedSampleRequest {
        count: 4,
        max_len: 5,
        inverse_temperature,
        seed,
        sources: ROption::RNone,
    }
}

#[test]
fn relaxed_samples_are_distributions_up_to_each_rows_end_and_repeat_under_a_seed() {
    let g = KitGenerator::<Toy<false>>::new(&context("")).unwrap();
    let v = VOCAB as usize;
    let request = relaxed_request(2.0, 11);
    let samples = g.relaxed_sample(&request).unwrap();
    assert_eq!(samples.ids.rows(), 4);
    assert_eq!(samples.soft.len(), 4 * 5 * v);
    for r in 0..4 {
        let len = samples.ids.lengths[r] as usize;
        assert!((1..=5).contains(&len));
        // A row ends at EOS (kept) or at max_len.
        assert!(
            len == 5 || samples.ids.row(r)[len - 1] == 2,
            "{:?}",
            samples.ids.row(r)
        );
        for t in 0..5 {
            let position = &samples.soft[(r * 5 + t) * v..(r * 5 + t + 1) * v];
            let sum: f32 = position.iter().sum();
            if t < len {
                assert!((sum - 1.0).abs() < 1e-5, "row {r} position {t}: {sum}");
            } else {
                assert_eq!(sum, 0.0, "row {r} position {t} is past the row's end");
            }
        }
    }
    assert_eq!(g.relaxed_sample(&request).unwrap(), samples);
    let none = RelaxedSampleRequest {
        count: 0,
        ..request.clone()
    };
    assert!(g.relaxed_sample(&none).unwrap().soft.is_empty());
    let empty = RelaxedSampleRequest {
        max_len: 0,
        ..request.clone()
    };
    assert_eq!(g.relaxed_sample(&empty).unwrap().ids.rows(), 4);
    assert_ne!(
        g.relaxed_sample(&relaxed_request(2.0, 12)).unwrap().soft,
        samples.soft
    );
    // A large inverse temperature makes the soft rows the hard samples.
    let sharp = g.relaxed_sample(&relaxed_request(1e4, 11)).unwrap();
    assert_eq!(
        sharp.ids, samples.ids,
        "the noise, not β, picks the hard ids"
    );
    for r in 0..4 {
        for (t, &id) in sharp.ids.row(r).iter().enumerate() {
            let at = (r * 5 + t) * v + id as usize;
            assert!(sharp.soft[at] > 0.999, "row {r} position {t}");
        }
    }
}

/// The policy step's gradient is that of `Σ gradient · soft(θ)`: checked
/// by central finite differences on every weight of the toy model (the
/// Gumbel noise fixed by the seed), for the fused CPU kernel (the closed-form
/// gradient) and for tensor ops (autograd).
#[test]
fn the_relaxed_policy_gradient_matches_finite_differences() {
    for kernel in [RelaxedKernel::Fused, RelaxedKernel::Tensor] {
        relaxed_policy_gradient_matches_finite_differences(kernel);
    }
}

fn relaxed_policy_gradient_matches_finite_differences(kernel: RelaxedKernel) {
    let g = KitGenerator::<Toy<false>>::new(&context("")).unwrap();
    let request = relaxed_request(1.5, 11);
    let upstream: Vec<f32> = (0..4 * 5 * VOCAB as usize)
        .map(|i| ((i * 37 % 11) as f32 - 5.0) / 5.0)
        .collect();
    let surrogate = g
        .relaxed_surrogate_with(&request, &upstream, kernel)
        .unwrap();
    let grads = surrogate.graph.backward().unwrap();
    // The surrogate, and the hard ids it was computed along: it is smooth
    // only while no argmax flips, so a perturbation that flips one is
    // skipped rather than differenced across the jump.
    let value = |g: &KitGenerator<Toy<false>>| {
        let surrogate = g
            .relaxed_surrogate_with(&request, &upstream, kernel)
            .unwrap();
        let ids = g.relaxed_sample_with(&request, kernel).unwrap().ids;
        (f64::from(surrogate.value), ids)
    };
    let base_ids = value(&g).1;
    let eps = 1e-3f32;
    let (mut checked, mut skipped) = (0, 0);
    for (name, var) in sorted_vars(g.varmap()) {
        // No gradient: the surrogate does not read the variable (the
        // unconditional toy's source embedding), so its differences are 0.
        let analytic = match grads.get(var.as_tensor()) {
            Some(grad) => grad.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            None => vec![0.0; var.as_tensor().elem_count()],
        };
        let original = var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let shape = var.as_tensor().shape().clone();
        // Every 3rd entry of all four variables.
        for k in (0..original.len()).step_by(3) {
            let at = |delta: f32| {
                let mut values = original.clone();
                values[k] += delta;
                var.set(&Tensor::from_vec(values, &shape, &Device::Cpu).unwrap())
                    .unwrap();
                value(&g)
            };
            let ((plus, plus_ids), (minus, minus_ids)) = (at(eps), at(-eps));
            if plus_ids != base_ids || minus_ids != base_ids {
                skipped += 1;
                continue;
            }
            let numeric = (plus - minus) / (2.0 * f64::from(eps));
            let exact = f64::from(analytic[k]);
            assert!(
                (numeric - exact).abs() <= 5e-3 + 1e-2 * exact.abs(),
                "{kernel:?}: {name}[{k}]: finite differences {numeric}, gradient {exact}"
            );
            checked += 1;
        }
        var.set(&Tensor::from_vec(original, &shape, &Device::Cpu).unwrap())
            .unwrap();
    }
    assert!(
        skipped * 10 <= checked,
        "{kernel:?}: {skipped} skipped, {checked} checked"
    );
    assert!(checked > 60, "{kernel:?}: {checked}");
}

/// The fused CPU kernel and tensor ops draw the same samples (the same ids,
/// the relaxed rows to rounding) and give the same surrogate and weight
/// gradients, for a request whose rows end at different positions.
#[test]
fn the_fused_kernel_and_tensor_ops_agree() {
    let g = KitGenerator::<Toy<false>>::new(&context("")).unwrap();
    let mut lengths = std::collections::BTreeSet::new();
    for (beta, seed) in [(0.7f32, 2u64), (1.5, 11), (40.0, 5), (1.0, 8), (3.0, 9)] {
        let request = RelaxedSampleRequest {
            count: 16,
            ..relaxed_request(beta, seed)
        };
        let fused = g
            .relaxed_sample_with(&request, RelaxedKernel::Fused)
            .unwrap();
        let tensor = g
            .relaxed_sample_with(&request, RelaxedKernel::Tensor)
            .unwrap();
        assert_eq!(fused.ids, tensor.ids, "β {beta}");
        lengths.extend(fused.ids.lengths.iter().copied());
        for (a, b) in fused.soft.iter().zip(tensor.soft.iter()) {
            assert!(
                (a - b).abs() <= 1e-6 + 1e-5 * b.abs(),
                "{a} vs {b} at β {beta}"
            );
        }
        let upstream: Vec<f32> = (0..fused.soft.len())
            .map(|i| ((i * 13 % 7) as f32 - 3.0) / 3.0)
            .collect();
        let a = g
            .relaxed_surrogate_with(&request, &upstream, RelaxedKernel::Fused)
            .unwrap();
        let b = g
            .relaxed_surrogate_with(&request, &upstream, RelaxedKernel::Tensor)
            .unwrap();
        assert!(
            (a.value - b.value).abs() <= 1e-4 * (1.0 + b.value.abs()),
            "{} vs {}",
            a.value,
            b.value
        );
        let (ga, gb) = (a.graph.backward().unwrap(), b.graph.backward().unwrap());
        for (name, var) in sorted_vars(g.varmap()) {
            let flat = |grads: &candle_core::backprop::GradStore| match grads.get(var.as_tensor()) {
                Some(g) => g.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                None => vec![0.0; var.as_tensor().elem_count()],
            };
            for (x, y) in flat(&ga).iter().zip(&flat(&gb)) {
                assert!(
                    (x - y).abs() <= 1e-4 + 1e-3 * y.abs(),
                    "{name}: {x} vs {y} at β {beta}"
                );
            }
        }
    }
    // Rows ended early (at the end of sequence) and ran to the full
    // length: both kernels masked finished rows the same way.
    assert!(lengths.len() >= 3 && lengths.contains(&5), "{lengths:?}");
}

#[test]
fn the_relaxed_policy_step_moves_the_weights_and_refuses_bad_gradients() {
    let mut g = KitGenerator::<Toy<false>>::new(&context("")).unwrap();
    let request = relaxed_request(1.5, 3);
    let size = 4 * 5 * VOCAB as usize;
    let err = g
        .relaxed_policy_step(&request, &vec![0.0; size - 1])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let mut bad = vec![0.0; size];
    bad[3] = f32::NAN;
    let err = g.relaxed_policy_step(&request, &bad).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Numerical, "{err}");
    // A gradient of +1 on id 7 at every position asks for less of it.
    let before = g.relaxed_sample(&request).unwrap();
    let v = VOCAB as usize;
    let mut push = vec![0.0; size];
    for chunk in push.chunks_mut(v) {
        chunk[7] = 1.0;
    }
    let mass = |s: &RelaxedSamples| -> f32 { s.soft.chunks(v).map(|c| c[7]).sum() };
    let stats = g.relaxed_policy_step(&request, &push).unwrap();
    assert!(stats.get("grad_norm").is_some_and(|n| n > 0.0), "{stats:?}");
    let after = g.relaxed_sample(&request).unwrap();
    assert!(
        mass(&after) < mass(&before),
        "{} → {}",
        mass(&before),
        mass(&after)
    );
}

/// A policy step after a relaxed sample of the same request takes the
/// pass the sample kept instead of recomputing it: the same loss, gradient
/// norm and weights as a generator that never sampled, to the last bit. A
/// pass kept for another request or other weights is not used.
#[test]
fn a_policy_step_from_the_kept_sample_is_the_recomputed_step_to_the_bit() {
    let request = RelaxedSampleRequest {
        count: 16,
        max_len: 5,
        inverse_temperature: 1.5,
        seed: 11,
        sources: ROption::RNone,
    };
    let other = RelaxedSampleRequest {
        seed: 12,
        ..request.clone()
    };
    let upstream: Vec<f32> = (0..16 * 5 * VOCAB as usize)
        .map(|i| ((i * 37 % 11) as f32 - 5.0) / 5.0)
        .collect();
    let new = || KitGenerator::<Toy<false>>::new(&context("")).unwrap();
    // Every weight's bits, in name order, folded into one hash so that a
    // failure prints a line, not the weights.
    let weights = |g: &KitGenerator<Toy<false>>| -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for (_, var) in sorted_vars(g.varmap()) {
            let values = var.as_tensor().flatten_all().unwrap();
            let values = values.to_vec1::<f32>().unwrap();
            values.iter().for_each(|v| v.to_bits().hash(&mut hasher));
        }
        hasher.finish()
    };
    let step = |g: &mut KitGenerator<Toy<false>>| {
        let stats = g.relaxed_policy_step(&request, &upstream).unwrap();
        let norm = stats.get("grad_norm").unwrap();
        (stats.loss.to_bits(), norm.to_bits(), weights(g))
    };
    let lengths = new().relaxed_sample(&request).unwrap().ids.lengths;
    assert!(
        lengths.iter().any(|&l| l < 5) && lengths.contains(&5),
        "rows should end at different positions: {lengths:?}"
    );

    let want = step(&mut new());
    let mut kept = new();
    kept.relaxed_sample(&request).unwrap();
    assert_eq!(kept.kept_pass(), (true, 0));
    assert_eq!(step(&mut kept), want);
    assert_eq!(kept.kept_pass(), (false, 1));

    let mut other_request = new();
    other_request.relaxed_sample(&other).unwrap();
    assert_eq!(step(&mut other_request), want);
    assert_eq!(other_request.kept_pass(), (false, 0));

    // Only the fused CPU path keeps a pass; any other call drops it.
    let tensor = new();
    tensor
        .relaxed_sample_with(&request, RelaxedKernel::Tensor)
        .unwrap();
    assert_eq!(tensor.kept_pass(), (false, 0));
    let mut sampled = new();
    sampled.relaxed_sample(&request).unwrap();
    let ids = SampleRequest {
        count: 2,
        max_len: 3,
        temperature: 1.0,
        seed: 1,
        policy: Policy::Current,
        sources: ROption::RNone,
    };
    GeneratorImpl::sample(&mut sampled, &ids).unwrap();
    assert_eq!(sampled.kept_pass(), (false, 0));

    // Weights moved between the sample and the step (as a perturbation
    // or a checkpoint load would move them): recomputed on the new ones.
    let nudge = |g: &KitGenerator<Toy<false>>| {
        let (_, var) = &sorted_vars(g.varmap())[0];
        var.set(&(var.as_tensor() + 0.01).unwrap()).unwrap();
    };
    let mut fresh_moved = new();
    nudge(&fresh_moved);
    let want_moved = step(&mut fresh_moved);
    assert_ne!(want_moved, want);
    let mut other_weights = new();
    other_weights.relaxed_sample(&request).unwrap();
    nudge(&other_weights);
    assert_eq!(step(&mut other_weights), want_moved);
    assert_eq!(other_weights.kept_pass(), (false, 0));
}

/// The MLE loss's gradient reaches every weight (finite differences
/// agree), and a model whose state passes through an op without a backward
/// is caught, naming the first weight it cut off.
#[test]
#[cfg(feature = "testing")]
fn the_generator_weight_gradient_check_passes_a_sound_model_and_catches_a_forward_only_op() {
    let rows = [vec![3u32, 4, 5, 2], vec![6, 2], vec![7, 8, 3]];
    let g = KitGenerator::<Toy<false>>::new(&context("{}")).unwrap();
    let checked = crate::testing::check_generator_weight_gradients(&g, &rows, 1);
    assert!(checked >= 100, "{checked} entries checked");

    // What the check says of a model built with `config`; it must fail.
    let failure = |config: &str| {
        let g = KitGenerator::<Toy<false>>::new(&context(config)).unwrap();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::testing::check_generator_weight_gradients(&g, &rows, 1)
        }))
        .unwrap_err();
        caught.downcast_ref::<String>().cloned().unwrap_or_default()
    };

    let message = failure("forward_only_softmax: true\n");
    assert!(
        message.contains("no gradient reaches `embedding`") && message.contains("softmax_last_dim"),
        "{message}"
    );

    // Finite differences agree with the zero gradient of a matrix that
    // starts at zero while the state is zero; the check still fails it.
    // (`source`, which no unconditional row uses, gets no gradient either
    // and passes: it is not at zero. A zero weight the loss never uses
    // passes too, see the discriminator kit's test.)
    let message = failure("zero_start: true\n");
    assert!(
        message.starts_with(
            "w: every entry starts at 0 and no gradient reaches it until the other weights move"
        ),
        "{message}"
    );
}

thread_local! {
    /// How many times a `Bigram<true>` gave its hidden states on this
    /// thread (each test runs on its own).
    static HIDDEN_STATES_GIVEN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A bigram model whose output layer is the toolkit's `Linear`; with
/// `HIDDEN_HOOK` it gives the kit its hidden states
/// (`teacher_forced_hidden`), so MLE steps on the CPU take the fused loss.
struct Bigram<const HIDDEN_HOOK: bool> {
    embedding: Tensor,
    output: crate::toolkit::Linear,
    wrong_shape: bool,
    time_major: bool,
}

impl<const HIDDEN_HOOK: bool> GeneratorModel for Bigram<HIDDEN_HOOK> {
    type Config = ToyConfig;
    type Memory = ();
    type State = ();
    const NAME: &'static str = "bigram";
    const SOURCES: SourceUse = SourceUse::Never;

    fn new(vb: VarBuilder, context: &PluginContext, config: &ToyConfig) -> PluginResult<Self> {
        let vocab = context.vocab.size as usize;
        Ok(Bigram {
            embedding: vb.get((vocab, HIDDEN), "embedding")?,
            output: crate::toolkit::linear(HIDDEN, vocab, vb.pp("output"))?,
            wrong_shape: config.wrong_shape,
            time_major: config.time_major,
        })
    }

    fn start(&self, _: Option<&TokenBatch>, _: usize, _: &Device) -> PluginResult<((), ())> {
        Ok(((), ()))
    }

    fn step(&self, _: &(), _: &(), tokens: &Tensor) -> PluginResult<(Tensor, ())> {
        use candle_core::Module;
        let x = self.embedding.index_select(tokens, 0)?;
        Ok((self.output.forward(&x)?, ()))
    }

    fn teacher_forced_hidden(
        &self,
        _: &(),
        _: &(),
        inputs: &Tensor,
    ) -> PluginResult<Option<(Tensor, &crate::toolkit::Linear)>> {
        if !HIDDEN_HOOK {
            return Ok(None);
        }
        HIDDEN_STATES_GIVEN.with(|given| given.set(given.get() + 1));
        let order = if self.time_major {
            inputs.t()?.contiguous()?
        } else {
            inputs.clone()
        };
        let hidden = self.embedding.index_select(&order.flatten_all()?, 0)?;
        let hidden = if self.wrong_shape {
            hidden.narrow(1, 0, HIDDEN - 1)?
        } else {
            hidden
        };
        Ok(Some((hidden, &self.output)))
    }
}

/// MLE and policy-gradient steps through the fused loss
/// (`teacher_forced_hidden`) train as the logits' path does: the same
/// losses and weights, step after step, to rounding; a model that gives hidden states of the wrong width is
/// refused by name.
#[test]
fn training_steps_on_a_models_hidden_states_equal_those_on_its_logits() {
    let mut fused = KitGenerator::<Bigram<true>>::new(&context("")).unwrap();
    let mut logits = KitGenerator::<Bigram<false>>::new(&context("")).unwrap();
    // Rows of several lengths: padding is in the loss's rows.
    let batch = Batch::unconditional(rows(&[&[4, 5, 6, 2], &[7, 2], &[3, 3, 8]]));
    let given = || HIDDEN_STATES_GIVEN.with(std::cell::Cell::get);
    let before = given();
    for seed in 0..5 {
        let options = MleOptions {
            seed,
            scheduled_sampling: 0.0,
        };
        let (a, b) = (
            fused.mle_step(&batch, &options).unwrap(),
            logits.mle_step(&batch, &options).unwrap(),
        );
        assert!(
            (a.loss - b.loss).abs() < 1e-5,
            "step {seed}: {} against {}",
            a.loss,
            b.loss
        );
    }
    // Policy-gradient steps take the fused loss too, rewards of either sign.
    let width = batch.targets.width as usize;
    let rewards: Vec<f32> = (0..3 * width).map(|i| (i as f32 * 0.37).sin()).collect();
    for seed in 0..3 {
        let options = crate::stats::StepOptions { seed };
        let (a, b) = (
            fused
                .policy_gradient_step(&batch, &rewards, &options)
                .unwrap(),
            logits
                .policy_gradient_step(&batch, &rewards, &options)
                .unwrap(),
        );
        assert!(
            (a.loss - b.loss).abs() < 1e-5,
            "policy step {seed}: {} against {}",
            a.loss,
            b.loss
        );
    }
    // Every step went through the hidden states (one pass a step).
    assert_eq!(given() - before, 8);
    let weights = |vars: Vec<(String, candle_core::Var)>| -> Vec<f32> {
        vars.iter()
            .flat_map(|(_, v)| {
                v.as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
            })
            .collect()
    };
    let (a, b) = (
        weights(sorted_vars(fused.varmap())),
        weights(sorted_vars(logits.varmap())),
    );
    close(&a, &b);
    // The two paths really differ: the fused one sums in another order.
    assert_ne!(a, b);

    let mut wrong = KitGenerator::<Bigram<true>>::new(&context("wrong_shape: true\n")).unwrap();
    let err = wrong
        .mle_step(
            &batch,
            &MleOptions {
                seed: 0,
                scheduled_sampling: 0.0,
            },
        )
        .unwrap_err();
    assert!(
        err.message()
            .contains("bigram: teacher_forced_hidden gave hidden states of shape [12, 5]"),
        "{err}"
    );
}

/// The weight-gradient check holds a model's hidden states to its logits:
/// hidden states in the wrong order pass finite differences of the fused
/// loss alone, and are caught by the comparison.
#[cfg(feature = "testing")]
#[test]
fn the_weight_gradient_check_catches_hidden_states_out_of_order() {
    use crate::testing::check_generator_weight_gradients;
    let rows = vec![vec![4, 5, 6, 2], vec![7, 3, 8, 2]];
    let sound = KitGenerator::<Bigram<true>>::new(&context("")).unwrap();
    assert!(check_generator_weight_gradients(&sound, &rows, 3) > 10);
    let shuffled = KitGenerator::<Bigram<true>>::new(&context("time_major: true\n")).unwrap();
    let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check_generator_weight_gradients(&shuffled, &rows, 3)
    }))
    .unwrap_err();
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("bigram: the MLE loss from teacher_forced_hidden's hidden states"),
        "{message}"
    );
}
