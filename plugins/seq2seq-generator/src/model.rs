//! The encoder–decoder as a kit model: the SDK's generator kit
//! ([`agon_sdk::kits::KitGenerator`]) does training, sampling, rollouts,
//! decoding and checkpoints; this file says how to start a call (encode the
//! sources) and take a decoder step.

use agon_sdk::{
    kits::{GeneratorModel, RowWise, SourceUse},
    toolkit::SeededInit,
    PluginContext, PluginError, PluginResult, TokenBatch,
};
use candle_core::{Device, Result, Tensor};
use candle_nn::VarBuilder;

use crate::{
    attention::Memory,
    config::Seq2SeqConfig,
    decoder,
    encoder::encode,
    weights::{is_bias, Seq2SeqWeights},
};

/// The attention encoder–decoder (see the crate doc).
pub struct Seq2Seq {
    w: Seq2SeqWeights,
    pad: u32,
}

/// What the decoder steps of one call read: the sources' annotations,
/// one row per decoder row, and the vocabulary projection, built once per
/// call (it copies `W_o`) and shared by every row.
#[derive(Clone)]
pub struct Seq2SeqMemory {
    pub attention: Memory,
    /// [`decoder::output_matrix`].
    pub output: Tensor,
}

impl RowWise for Seq2SeqMemory {
    fn select_rows(&self, index: &Tensor) -> Result<Self> {
        Ok(Seq2SeqMemory {
            attention: self.attention.gather(index)?,
            output: self.output.clone(),
        })
    }

    fn first_rows(&self, rows: usize) -> Result<Self> {
        Ok(Seq2SeqMemory {
            attention: self.attention.narrow(rows)?,
            output: self.output.clone(),
        })
    }

    fn concat_rows(parts: &[Self]) -> Result<Self> {
        let field = |f: fn(&Memory) -> &Tensor| -> Result<Tensor> {
            Tensor::cat(
                &parts.iter().map(|p| f(&p.attention)).collect::<Vec<_>>(),
                0,
            )
        };
        let output = match parts.first() {
            Some(first) => first.output.clone(),
            None => candle_core::bail!("no memories to join"),
        };
        Ok(Seq2SeqMemory {
            attention: Memory {
                values: field(|m| &m.values)?,
                keys: field(|m| &m.keys)?,
                mask_bias: field(|m| &m.mask_bias)?,
            },
            output,
        })
    }
}

impl GeneratorModel for Seq2Seq {
    type Config = Seq2SeqConfig;
    type Memory = Seq2SeqMemory;
    /// `[N, H]`: the decoder state.
    type State = Tensor;
    const NAME: &'static str = "seq2seq";
    const SOURCES: SourceUse = SourceUse::Required;

    fn new(vb: VarBuilder, context: &PluginContext, config: &Seq2SeqConfig) -> PluginResult<Self> {
        config.validate().map_err(PluginError::config)?;
        Ok(Seq2Seq {
            w: Seq2SeqWeights::new(vb, context.vocab.size as usize, config)?,
            pad: context.vocab.pad.into_option().unwrap_or(0),
        })
    }

    fn start(
        &self,
        sources: Option<&TokenBatch>,
        _rows: usize,
        device: &Device,
    ) -> PluginResult<(Seq2SeqMemory, Tensor)> {
        let sources = sources.ok_or_else(|| {
            PluginError::input("the seq2seq generator needs a source for every row")
        })?;
        let encoded = encode(&self.w, sources, self.pad, device)?;
        let memory = Seq2SeqMemory {
            attention: encoded.memory,
            output: decoder::output_matrix(&self.w)?,
        };
        Ok((memory, encoded.init_state))
    }

    fn step(
        &self,
        memory: &Seq2SeqMemory,
        state: &Tensor,
        tokens: &Tensor,
    ) -> PluginResult<(Tensor, Tensor)> {
        let (s, logits) = decoder::step(&self.w, &memory.output, &memory.attention, state, tokens)?;
        Ok((logits, s))
    }

    fn teacher_forced_logits(
        &self,
        memory: &Seq2SeqMemory,
        state: &Tensor,
        inputs: &Tensor,
    ) -> PluginResult<Tensor> {
        Ok(decoder::teacher_forced_logits(
            &self.w,
            &memory.output,
            &memory.attention,
            state,
            inputs,
        )?)
    }

    fn prefix_states(
        &self,
        memory: &Seq2SeqMemory,
        state: &Tensor,
        inputs: &Tensor,
    ) -> PluginResult<Tensor> {
        let (rows, steps) = inputs.dims2()?;
        let unrolled = decoder::unroll(&self.w, &memory.attention, state, inputs)?;
        Ok(unrolled
            .states
            .reshape((rows * steps, self.w.hidden_dim()))?)
    }

    fn init(config: &Seq2SeqConfig, name: &str, _dims: &[usize]) -> SeededInit {
        if is_bias(name) {
            SeededInit::Const(0.0)
        } else {
            SeededInit::Uniform(config.init_scale)
        }
    }

    /// The file name of every checkpoint written before the kit.
    fn checkpoint_file() -> String {
        "seq2seq-generator.safetensors".to_string()
    }
}
