//! What a generator author writes: a config and a model that takes one
//! decoding step.

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use serde::{de::DeserializeOwned, Serialize};

use super::{row_wise::RowWise, training::GeneratorTraining};
use crate::{
    batch::TokenBatch,
    context::PluginContext,
    error::{PluginError, PluginResult},
    kits::SourceUse,
    toolkit::{pytorch_like, Linear, SeededInit},
};

/// A kit generator's config: serde with defaults (missing keys take
/// `Default`'s values; unknown keys are refused with `deny_unknown_fields`).
pub trait GeneratorConfig: Serialize + DeserializeOwned + Default + Clone + Send + 'static {
    /// One line per key of the config, for `agon plugins show`. A config
    /// with a `training: GeneratorTraining` block documents its model keys
    /// here and leaves the block to [`Self::TRAINING_DOCS`].
    const DOCS: &'static [(&'static str, &'static str)];

    /// The docs of the training keys, appended to [`Self::DOCS`]: the
    /// `training:` block's by default; a config that spells the keys at its
    /// top level gives `&[ADAM_CONFIG_DOCS, ADVERSARIAL_ADAM_CONFIG_DOCS]`
    /// (from [`crate::toolkit`]) and documents `optimizer.lr`,
    /// `adversarial_optimizer.lr` and `grad_clip` in [`Self::DOCS`].
    const TRAINING_DOCS: &'static [&'static [(&'static str, &'static str)]] =
        &[super::training::GENERATOR_TRAINING_DOCS];

    /// Where the training keys live, as a prefix of error messages:
    /// `"training."` for the block, `""` for top-level keys.
    const TRAINING_PREFIX: &'static str = "training.";

    /// The optimiser settings.
    fn training(&self) -> GeneratorTraining;

    /// Sizes that must be at least 1, by key (checked by the kit).
    fn dimensions(&self) -> Vec<(&'static str, usize)> {
        Vec::new()
    }

    /// Further checks of the model's own keys.
    fn validate(&self) -> PluginResult<()> {
        Ok(())
    }
}

/// An autoregressive generator: everything a lab writes for a new
/// architecture. The kit ([`super::KitGenerator`]) derives from it MLE
/// (teacher forcing and scheduled sampling), log-likelihoods (tempered
/// too), sampling with temperature, Monte-Carlo rollouts that continue
/// from cached prefix states, greedy and beam decoding of sources, the
/// policy-gradient step with its own Adam, the rollout policy's moving
/// average, save/load and the parameter count.
///
/// A model reads position `t`'s input token (BOS first, then the previous
/// target) and a per-row state, and gives logits over the vocabulary and
/// the next state. [`Self::Memory`] is what every step of a call reads
/// besides the state: the encoded sources of a conditional model, `()` for
/// a language model.
///
/// ```
/// use agon_sdk::kits::{GeneratorConfig, GeneratorModel, GeneratorTraining, SourceUse};
/// use agon_sdk::{PluginContext, PluginResult, TokenBatch};
/// use candle_core::{DType, Device, Module, Tensor};
/// use candle_nn::{embedding, gru, linear, Embedding, GRUConfig, Linear, VarBuilder, GRU, RNN};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// #[serde(default, deny_unknown_fields)]
/// pub struct GruLmConfig {
///     pub embedding_dim: usize,
///     pub hidden_dim: usize,
///     pub training: GeneratorTraining,
/// }
///
/// impl Default for GruLmConfig {
///     fn default() -> Self {
///         GruLmConfig { embedding_dim: 32, hidden_dim: 64, training: GeneratorTraining::default() }
///     }
/// }
///
/// impl GeneratorConfig for GruLmConfig {
///     const DOCS: &'static [(&'static str, &'static str)] = &[
///         ("embedding_dim", "Size of each token's embedding, at least 1."),
///         ("hidden_dim", "Size of the GRU's state, at least 1."),
///     ];
///     fn training(&self) -> GeneratorTraining { self.training.clone() }
///     fn dimensions(&self) -> Vec<(&'static str, usize)> {
///         vec![("embedding_dim", self.embedding_dim), ("hidden_dim", self.hidden_dim)]
///     }
/// }
///
/// /// Embedding → GRU → linear: a recurrent language model.
/// pub struct GruLm { embedding: Embedding, gru: GRU, output: Linear, hidden: usize }
///
/// impl GeneratorModel for GruLm {
///     type Config = GruLmConfig;
///     type Memory = ();
///     type State = Tensor;
///     const NAME: &'static str = "gru-lm";
///     const SOURCES: SourceUse = SourceUse::Never;
///
///     fn new(vb: VarBuilder, context: &PluginContext, config: &GruLmConfig) -> PluginResult<Self> {
///         let vocab = context.vocab.size as usize;
///         Ok(GruLm {
///             embedding: embedding(vocab, config.embedding_dim, vb.pp("embedding"))?,
///             gru: gru(config.embedding_dim, config.hidden_dim, GRUConfig::default(), vb.pp("gru"))?,
///             output: linear(config.hidden_dim, vocab, vb.pp("output"))?,
///             hidden: config.hidden_dim,
///         })
///     }
///
///     fn start(&self, _sources: Option<&TokenBatch>, rows: usize, device: &Device) -> PluginResult<((), Tensor)> {
///         Ok(((), Tensor::zeros((rows, self.hidden), DType::F32, device)?))
///     }
///
///     fn step(&self, _memory: &(), h: &Tensor, tokens: &Tensor) -> PluginResult<(Tensor, Tensor)> {
///         let x = self.embedding.forward(tokens)?;
///         let h = self.gru.step(&x, &candle_nn::rnn::GRUState { h: h.clone() })?.h;
///         Ok((self.output.forward(&h)?, h))
///     }
/// }
/// ```
pub trait GeneratorModel: Sized + Send + 'static {
    /// The model's config.
    type Config: GeneratorConfig;
    /// What every step of one call reads besides the state, one entry per
    /// row (rollouts and beams take rows of it): the encoded sources, or
    /// `()`. Anything a call's steps share may ride along unselected.
    type Memory: RowWise;
    /// The recurrent state, one entry per row.
    type State: RowWise;
    /// The component's name, in messages, and the checkpoint file's stem
    /// ([`Self::checkpoint_file`]).
    const NAME: &'static str;
    /// Whether the model reads sources: `Required` for a conditional model
    /// (every call comes with them; the kit refuses calls without),
    /// `Never` for a language model (the kit refuses calls with them).
    const SOURCES: SourceUse;

    /// Builds the network through `vb`. The kit calls it once on the
    /// trainable variables (whose values it then draws again, seeded, with
    /// [`Self::init`]) and again, per call, on detached copies for
    /// inference and on the rollout policy's weights: keep it cheap, and
    /// take every weight from `vb` (nothing random). Relaxed samples on the
    /// CPU run on the trainable variables (the pass is kept for the policy
    /// step), so `step` must not assume inference never records a graph.
    fn new(vb: VarBuilder, context: &PluginContext, config: &Self::Config) -> PluginResult<Self>;

    /// The memory and the initial state of `rows` rows: `sources` is
    /// `Some` (one source per row) exactly when [`Self::SOURCES`] is
    /// `Required`.
    fn start(
        &self,
        sources: Option<&TokenBatch>,
        rows: usize,
        device: &Device,
    ) -> PluginResult<(Self::Memory, Self::State)>;

    /// One step of `N` rows: `tokens` (`[N]` u32) are the inputs (BOS, or
    /// the previous token); returns `[N, V]` logits of the next token and
    /// the state after reading `tokens`. A row's result must not depend on
    /// the other rows.
    fn step(
        &self,
        memory: &Self::Memory,
        state: &Self::State,
        tokens: &Tensor,
    ) -> PluginResult<(Tensor, Self::State)>;

    /// Logits of a teacher-forced pass over `inputs` (`[B, T]`, BOS then
    /// the targets shifted right) from `state`: `[B·T, V]`, row `b`'s step
    /// `t` at `b·T + t`. The default runs [`Self::step`] `T` times;
    /// override it to batch work across positions (an input projection of
    /// every position in one matmul, the output layer in another).
    fn teacher_forced_logits(
        &self,
        memory: &Self::Memory,
        state: &Self::State,
        inputs: &Tensor,
    ) -> PluginResult<Tensor> {
        stepped_teacher_forced_logits(self, memory, state, inputs)
    }

    /// A teacher-forced pass over `inputs` (`[B, T]`) from `state`, up to
    /// the output layer: `[B·T, H]` hidden states (row `b`'s step `t` at
    /// `b·T + t`) and the layer whose logits of them are
    /// [`Self::teacher_forced_logits`]'s. When a model returns `Some`, the
    /// kit's MLE and policy-gradient steps on the CPU take their loss from
    /// them with
    /// [`toolkit::output_layer_nll`](crate::toolkit::output_layer_nll): the
    /// output layer, log-softmax and loss fused per block of rows, with no
    /// `[B·T, V]` logits, log-probabilities or gradients in memory. The
    /// same loss and gradients to rounding (summed in another order, so not
    /// to the bit). The default, `None`, takes the logits; so do scheduled
    /// sampling, evaluation, relaxed samples and every other device. The
    /// layer must have a bias (`toolkit::linear` always makes one; a tied
    /// or bias-free output layer cannot use this).
    ///
    /// `inputs` and `state` are [`Self::teacher_forced_logits`]'s: BOS then
    /// the targets shifted right, padded to the longest row (`T` counts
    /// padded positions too; the kit gives them weight 0), from `start`'s
    /// state. `testing::check_generator_weight_gradients` holds the loss
    /// from these hidden states to the loss from the logits, which catches
    /// states in the wrong order or from another pass.
    ///
    /// A GRU language model (the trait's example, its output layer now the
    /// toolkit's `Linear`, which `step` calls as before):
    ///
    /// ```
    /// # use agon_sdk::kits::{GeneratorConfig, GeneratorModel, GeneratorTraining, SourceUse};
    /// # use agon_sdk::{PluginContext, PluginResult, TokenBatch};
    /// # use candle_core::{DType, Device, Module, Tensor};
    /// # use serde::{Deserialize, Serialize};
    /// use agon_sdk::toolkit::{linear, Linear};
    /// use candle_nn::{embedding, gru, rnn::GRUState, Embedding, GRUConfig, VarBuilder, GRU, RNN};
    /// # #[derive(Clone, Debug, Default, Serialize, Deserialize)]
    /// # #[serde(default, deny_unknown_fields)]
    /// # pub struct GruLmConfig { pub embedding_dim: usize, pub hidden_dim: usize, pub training: GeneratorTraining }
    /// # impl GeneratorConfig for GruLmConfig {
    /// #     const DOCS: &'static [(&'static str, &'static str)] =
    /// #         &[("embedding_dim", "Embedding size."), ("hidden_dim", "GRU size.")];
    /// #     fn training(&self) -> GeneratorTraining { self.training.clone() }
    /// # }
    ///
    /// pub struct GruLm { embedding: Embedding, gru: GRU, output: Linear, hidden: usize }
    ///
    /// impl GeneratorModel for GruLm {
    ///     type Config = GruLmConfig;
    ///     type Memory = ();
    ///     type State = Tensor;
    ///     const NAME: &'static str = "gru-lm";
    ///     const SOURCES: SourceUse = SourceUse::Never;
    ///
    ///     fn new(vb: VarBuilder, context: &PluginContext, config: &GruLmConfig) -> PluginResult<Self> {
    ///         let vocab = context.vocab.size as usize;
    ///         Ok(GruLm {
    ///             embedding: embedding(vocab, config.embedding_dim, vb.pp("embedding"))?,
    ///             gru: gru(config.embedding_dim, config.hidden_dim, GRUConfig::default(), vb.pp("gru"))?,
    ///             output: linear(config.hidden_dim, vocab, vb.pp("output"))?,
    ///             hidden: config.hidden_dim,
    ///         })
    ///     }
    ///
    ///     fn start(&self, _: Option<&TokenBatch>, rows: usize, device: &Device) -> PluginResult<((), Tensor)> {
    ///         Ok(((), Tensor::zeros((rows, self.hidden), DType::F32, device)?))
    ///     }
    ///
    ///     fn step(&self, _: &(), h: &Tensor, tokens: &Tensor) -> PluginResult<(Tensor, Tensor)> {
    ///         let h = self.gru.step(&self.embedding.forward(tokens)?, &GRUState { h: h.clone() })?.h;
    ///         Ok((self.output.forward(&h)?, h))
    ///     }
    ///
    ///     fn teacher_forced_hidden(
    ///         &self,
    ///         _: &(),
    ///         state: &Tensor,
    ///         inputs: &Tensor,
    ///     ) -> PluginResult<Option<(Tensor, &Linear)>> {
    ///         let (rows, steps) = inputs.dims2()?;
    ///         let mut h = state.clone();
    ///         let mut states = Vec::with_capacity(steps);
    ///         for t in 0..steps {
    ///             let tokens = inputs.narrow(1, t, 1)?.squeeze(1)?;
    ///             h = self.gru.step(&self.embedding.forward(&tokens)?, &GRUState { h })?.h;
    ///             states.push(h.clone());
    ///         }
    ///         // [B, T, H] → [B·T, H]: row b's step t at b·T + t (stacking on
    ///         // dimension 0 would put them at t·B + b, which is wrong).
    ///         let hidden = Tensor::stack(&states, 1)?.reshape((rows * steps, self.hidden))?;
    ///         Ok(Some((hidden, &self.output)))
    ///     }
    /// }
    /// ```
    fn teacher_forced_hidden(
        &self,
        memory: &Self::Memory,
        state: &Self::State,
        inputs: &Tensor,
    ) -> PluginResult<Option<(Tensor, &Linear)>> {
        let _ = (memory, state, inputs);
        Ok(None)
    }

    /// The state after every step of a teacher-forced pass over `inputs`
    /// (`[B, T]`) from `state`: `B·T` rows, row `b`'s state after reading
    /// `inputs[b, t]` at `b·T + t`. Rollouts continue from these. The
    /// default runs [`Self::step`] `T` times.
    fn prefix_states(
        &self,
        memory: &Self::Memory,
        state: &Self::State,
        inputs: &Tensor,
    ) -> PluginResult<Self::State> {
        let (rows, steps) = inputs.dims2()?;
        let mut state = state.clone();
        let mut states = Vec::with_capacity(steps);
        for t in 0..steps {
            let column = inputs.narrow(1, t, 1)?.squeeze(1)?.contiguous()?;
            state = self.step(memory, &state, &column)?.1;
            states.push(state.clone());
        }
        // Step-major (t·B + b) → row-major (b·T + t).
        let step_major = Self::State::concat_rows(&states)?;
        let index: Vec<u32> = (0..rows)
            .flat_map(|b| (0..steps).map(move |t| (t * rows + b) as u32))
            .collect();
        Ok(step_major.select_rows(&Tensor::new(index.as_slice(), inputs.device())?)?)
    }

    /// The seeded initialisation of variable `name` (shape `dims`);
    /// PyTorch's defaults by variable name unless overridden.
    fn init(config: &Self::Config, name: &str, dims: &[usize]) -> SeededInit {
        let _ = config;
        pytorch_like(name, dims)
    }

    /// The checkpoint file in a run's generator directory.
    fn checkpoint_file() -> String {
        format!("{}.safetensors", Self::NAME)
    }
}

/// The default [`GeneratorModel::teacher_forced_logits`]: [`GeneratorModel::step`]
/// `T` times. An override that batches only some cases (one core of
/// several, one compute path) calls it for the others.
pub fn stepped_teacher_forced_logits<M: GeneratorModel>(
    model: &M,
    memory: &M::Memory,
    state: &M::State,
    inputs: &Tensor,
) -> PluginResult<Tensor> {
    let (rows, steps) = inputs.dims2()?;
    let mut state = state.clone();
    let mut logits = Vec::with_capacity(steps);
    for t in 0..steps {
        let column = inputs.narrow(1, t, 1)?.squeeze(1)?.contiguous()?;
        let (step_logits, next) = model.step(memory, &state, &column)?;
        logits.push(step_logits);
        state = next;
    }
    Ok(Tensor::stack(&logits, 1)?.reshape((rows * steps, ()))?)
}

/// The kit's checks of a config: its sizes, its training keys, its own.
pub(super) fn validate<C: GeneratorConfig>(config: &C) -> PluginResult<()> {
    for (name, value) in config.dimensions() {
        if value == 0 {
            return Err(PluginError::config(format!(
                "{name} must be at least 1, got 0"
            )));
        }
    }
    config.training().validate(C::TRAINING_PREFIX)?;
    config.validate()
}

/// [`GeneratorModel::step`], with its logits checked to be `[N, vocab]`
/// (a wrong shape would otherwise index out of bounds in the kit).
pub(super) fn checked_step<M: GeneratorModel>(
    model: &M,
    memory: &M::Memory,
    state: &M::State,
    tokens: &Tensor,
    vocab: usize,
) -> PluginResult<(Tensor, M::State)> {
    let (logits, next) = model.step(memory, state, tokens)?;
    let rows = tokens.dim(0)?;
    if logits.dims() != [rows, vocab] {
        return Err(PluginError::other(format!(
            "{}: step gave logits of shape {:?} for {rows} tokens; a generator model's step returns [rows, vocabulary] = [{rows}, {vocab}]",
            M::NAME,
            logits.dims()
        )));
    }
    Ok((logits, next))
}
