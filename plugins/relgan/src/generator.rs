//! RelGAN's generator: embedding, a recurrent core (relational memory or
//! LSTM), and a linear layer to the vocabulary's logits. The generator kit
//! trains it by MLE, policy gradient and, through its relaxed samples,
//! Gumbel-softmax gradients.

use agon_sdk::kits::{stepped_teacher_forced_logits, GeneratorModel, SourceUse};
use agon_sdk::toolkit::{linear, pytorch_like, ComputePath, Linear, Lstm, SeededInit};
use agon_sdk::{PluginContext, PluginResult, TokenBatch};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{embedding, rnn::LSTMState, Embedding, VarBuilder};

use crate::generator_config::{Core, RelganGeneratorConfig};
use crate::relational_memory::{MemoryShape, RelationalMemory};

/// The recurrent core; its state is one tensor per row either way.
enum Recurrence {
    /// State `[N, slots × slot_size]`: the memory.
    Memory(RelationalMemory),
    /// State `[N, 2 × hidden]`: `h` then `c`. The toolkit's LSTM: Candle's
    /// for a step, one kernel for a teacher-forced pass on the CPU.
    Lstm { lstm: Lstm, hidden: usize },
}

/// The model.
pub struct RelganGenerator {
    embedding: Embedding,
    core: Recurrence,
    /// The toolkit's `Linear`: its bias gradient is one pass over the
    /// logits' rows, where Candle's was the dearest part of the step.
    output: Linear,
}

impl GeneratorModel for RelganGenerator {
    type Config = RelganGeneratorConfig;
    type Memory = ();
    type State = Tensor;
    const NAME: &'static str = "relgan-generator";
    const SOURCES: SourceUse = SourceUse::Never;

    fn new(vb: VarBuilder, context: &PluginContext, config: &Self::Config) -> PluginResult<Self> {
        let vocab = context.vocab.size as usize;
        let (core, width) = match config.core {
            Core::RelationalMemory => {
                let shape = MemoryShape {
                    slots: config.mem_slots,
                    heads: config.num_heads,
                    head_size: config.head_size,
                };
                let memory = RelationalMemory::new(vb.pp("memory"), config.embedding_dim, shape)?;
                (Recurrence::Memory(memory), shape.slots * shape.slot_size())
            }
            Core::Lstm => {
                let path = config.compute.resolve(vb.device())?;
                let lstm =
                    Lstm::on_path(vb.pp("lstm"), config.embedding_dim, config.hidden_dim, path)?;
                let hidden = config.hidden_dim;
                (Recurrence::Lstm { lstm, hidden }, hidden)
            }
        };
        Ok(RelganGenerator {
            embedding: embedding(vocab, config.embedding_dim, vb.pp("embedding"))?,
            core,
            output: linear(width, vocab, vb.pp("output"))?,
        })
    }

    fn start(
        &self,
        _sources: Option<&TokenBatch>,
        rows: usize,
        device: &Device,
    ) -> PluginResult<((), Tensor)> {
        let state = match &self.core {
            Recurrence::Memory(memory) => memory.initial(rows, device)?,
            Recurrence::Lstm { hidden, .. } => {
                Tensor::zeros((rows, 2 * hidden), DType::F32, device)?
            }
        };
        Ok(((), state))
    }

    fn step(
        &self,
        _memory: &(),
        state: &Tensor,
        tokens: &Tensor,
    ) -> PluginResult<(Tensor, Tensor)> {
        let x = self.embedding.forward(tokens)?;
        let (output, next) = match &self.core {
            Recurrence::Memory(memory) => {
                let next = memory.step(state, &x)?;
                (next.clone(), next)
            }
            Recurrence::Lstm { lstm, hidden } => {
                let previous = LSTMState::new(
                    state.narrow(1, 0, *hidden)?,
                    state.narrow(1, *hidden, *hidden)?,
                );
                let next = lstm.step(&x, &previous)?;
                let h = next.h().clone();
                (h.clone(), Tensor::cat(&[&h, next.c()], 1)?)
            }
        };
        Ok((self.output.forward(&output)?, next))
    }

    /// The LSTM core on the kernel path: the embedding and the whole
    /// recurrence each once for all positions, and the output layer left to
    /// the kit's fused loss. The kernel starts from a zero state, which is
    /// `start`'s; any other state (and the relational memory) steps.
    fn teacher_forced_hidden(
        &self,
        _memory: &(),
        state: &Tensor,
        inputs: &Tensor,
    ) -> PluginResult<Option<(Tensor, &Linear)>> {
        if let Recurrence::Lstm { lstm, .. } = &self.core {
            if lstm.path() == ComputePath::Kernels && is_zero(state)? {
                let (rows, steps) = inputs.dims2()?;
                let states = lstm.states(&self.embedding.forward(inputs)?)?;
                return Ok(Some((states.reshape((rows * steps, ()))?, &self.output)));
            }
        }
        Ok(None)
    }

    /// [`Self::teacher_forced_hidden`]'s states through the output layer in
    /// one matmul where it has them; stepping otherwise.
    fn teacher_forced_logits(
        &self,
        memory: &(),
        state: &Tensor,
        inputs: &Tensor,
    ) -> PluginResult<Tensor> {
        match self.teacher_forced_hidden(memory, state, inputs)? {
            Some((hidden, output)) => Ok(output.forward(&hidden)?),
            None => stepped_teacher_forced_logits(self, memory, state, inputs),
        }
    }

    /// PyTorch's defaults, with layer norms starting at the identity and
    /// the LSTM's `U(±1/√hidden)` under candle's variable names.
    fn init(config: &Self::Config, name: &str, dims: &[usize]) -> SeededInit {
        let last = name.rsplit('.').next().unwrap_or(name);
        if name.contains("norm.") {
            return SeededInit::Const(if last == "weight" { 1.0 } else { 0.0 });
        }
        if last.ends_with("_l0") {
            return SeededInit::Uniform(1.0 / (config.hidden_dim as f32).sqrt());
        }
        let _ = dims;
        pytorch_like(name, dims)
    }
}

/// Whether every value of `state` is zero (a few values a row: cheap).
fn is_zero(state: &Tensor) -> PluginResult<bool> {
    if state.elem_count() == 0 {
        return Ok(true);
    }
    Ok(state.abs()?.max_all()?.to_scalar::<f32>()? == 0.0)
}
