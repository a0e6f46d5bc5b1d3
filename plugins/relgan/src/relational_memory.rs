//! The relational memory core of RelGAN's generator (Santoro et al. 2018,
//! "Relational recurrent neural networks"; the variant RelGAN's code and
//! TextGAN-PyTorch's `relational_rnn_general.py` use): a few memory slots
//! that attend over themselves and the new input with multi-head
//! attention, then an MLP, each with a residual connection and layer norm,
//! gated into the old memory like an LSTM's cell.

use agon_sdk::toolkit::LayerNorm;
use candle_core::{Device, Module, Result, Tensor, D};
use candle_nn::{linear, Linear, VarBuilder};

/// The core's sizes.
#[derive(Clone, Copy, Debug)]
pub struct MemoryShape {
    /// Memory slots.
    pub slots: usize,
    /// Attention heads.
    pub heads: usize,
    /// Size of each head's values (and keys); a slot is `heads × head_size`.
    pub head_size: usize,
}

impl MemoryShape {
    /// Size of one slot.
    pub fn slot_size(&self) -> usize {
        self.heads * self.head_size
    }
}

/// One relational memory core; its state is the memory, `[N, slots ×
/// slot_size]`.
pub struct RelationalMemory {
    shape: MemoryShape,
    input_projection: Linear,
    qkv: Linear,
    qkv_norm: LayerNorm,
    attention_norm: LayerNorm,
    mlp: [Linear; 2],
    mlp_norm: LayerNorm,
    input_gate: Linear,
    memory_gate: Linear,
}

impl RelationalMemory {
    /// A core reading inputs of size `input`.
    pub fn new(vb: VarBuilder, input: usize, shape: MemoryShape) -> Result<Self> {
        let size = shape.slot_size();
        // The toolkit's layer norm: Candle's fused one passes no gradient.
        let norm = |size, name| LayerNorm::new(vb.pp(name), size, 1e-5);
        Ok(RelationalMemory {
            shape,
            input_projection: linear(input, size, vb.pp("input_projection"))?,
            // Queries, keys and values of every head: keys as wide as values.
            qkv: linear(size, 3 * size, vb.pp("qkv"))?,
            qkv_norm: norm(3 * size, "qkv_norm")?,
            attention_norm: norm(size, "attention_norm")?,
            mlp: [
                linear(size, size, vb.pp("mlp.0"))?,
                linear(size, size, vb.pp("mlp.1"))?,
            ],
            mlp_norm: norm(size, "mlp_norm")?,
            input_gate: linear(size, 2 * size, vb.pp("input_gate"))?,
            memory_gate: linear(size, 2 * size, vb.pp("memory_gate"))?,
        })
    }

    /// The initial memory of `rows` rows: slot `i` is the `i`-th unit
    /// vector (RelGAN's `initial_state`, an identity padded with zeros).
    pub fn initial(&self, rows: usize, device: &Device) -> Result<Tensor> {
        let (slots, size) = (self.shape.slots, self.shape.slot_size());
        let mut memory = vec![0f32; slots * size];
        for i in 0..slots.min(size) {
            memory[i * size + i] = 1.0;
        }
        Tensor::from_vec(memory, (1, slots * size), device)?.repeat((rows, 1))
    }

    /// One step: reads `input` (`[N, input]`) into `memory` (`[N, slots ×
    /// slot_size]`); returns the new memory, which is also the output.
    pub fn step(&self, memory: &Tensor, input: &Tensor) -> Result<Tensor> {
        let rows = input.dim(0)?;
        let (slots, size) = (self.shape.slots, self.shape.slot_size());
        let memory = memory.reshape((rows, slots, size))?;
        let input = self.input_projection.forward(input)?.unsqueeze(1)?;
        let both = Tensor::cat(&[&memory, &input], 1)?;
        let attended = self.attend(&both)?;
        let both = self.attention_norm.forward(&(both + attended)?)?;
        let mut mlp = both.clone();
        for layer in &self.mlp {
            mlp = layer.forward(&mlp)?.relu()?;
        }
        let both = self.mlp_norm.forward(&(both + mlp)?)?;
        // The slots' rows; the input's row is dropped.
        let candidate = both.narrow(1, 0, slots)?;
        let gates = self
            .memory_gate
            .forward(&memory.tanh()?)?
            .broadcast_add(&self.input_gate.forward(&input)?)?;
        let input_gate = candle_nn::ops::sigmoid(&gates.narrow(2, 0, size)?)?;
        // Forget bias 1, as in RelGAN.
        let forget_gate = candle_nn::ops::sigmoid(&(gates.narrow(2, size, size)? + 1.0)?)?;
        let next = ((input_gate * candidate.tanh()?)? + (forget_gate * memory)?)?;
        next.reshape((rows, slots * size))
    }

    /// Multi-head scaled dot-product attention of `x` (`[N, S, size]`)
    /// over itself.
    fn attend(&self, x: &Tensor) -> Result<Tensor> {
        let (rows, positions, size) = x.dims3()?;
        let (heads, head) = (self.shape.heads, self.shape.head_size);
        let qkv = self.qkv_norm.forward(&self.qkv.forward(x)?)?;
        // [N, S, heads, 3·head] → [N, heads, S, 3·head]
        let qkv = qkv
            .reshape((rows, positions, heads, 3 * head))?
            .transpose(1, 2)?
            .contiguous()?;
        let q = (qkv.narrow(3, 0, head)? * (head as f64).powf(-0.5))?.contiguous()?;
        let k = qkv.narrow(3, head, head)?.contiguous()?;
        let v = qkv.narrow(3, 2 * head, head)?.contiguous()?;
        let weights = candle_nn::ops::softmax(&q.matmul(&k.t()?.contiguous()?)?, D::Minus1)?;
        weights
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((rows, positions, size))
    }
}
