//! The relational memory core of RelGAN's generator (Santoro et al. 2018,
//! "Relational recurrent neural networks"; Sonnet's `RelationalMemory`,
//! which RelGAN's code uses): a few memory slots that attend over
//! themselves and the new input with multi-head attention, then an MLP,
//! each with a residual connection and a layer norm per position, gated
//! into the old memory like an LSTM's cell (input bias 0, forget bias 1).
//! `scripts/reference/relational_memory.py` computes one step in PyTorch
//! for the test that pins it.

use agon_sdk::toolkit::{linear, LayerNorm, Linear};
use candle_core::{Device, Module, Result, Tensor, D};
use candle_nn::VarBuilder;

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
        // Sonnet's MLP, as RelGAN's code uses it: ReLU between the layers,
        // none after the last (TextGAN-PyTorch's port adds one there and
        // shares one layer's weights between both).
        let mlp = self.mlp[1].forward(&self.mlp[0].forward(&both)?.relu()?)?;
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

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor};
    use candle_nn::{VarBuilder, VarMap};

    use super::*;

    fn fixture() -> serde_json::Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/relational_memory/reference.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn rows(value: &serde_json::Value) -> Vec<Vec<f32>> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                row.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect()
            })
            .collect()
    }

    fn assert_close(got: &Tensor, want: &[Vec<f32>], what: &str) {
        let got = got.to_vec2::<f32>().unwrap();
        for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
            assert!((g - w).abs() < 1e-5, "{what}: {got:?} against {want:?}");
        }
    }

    /// Two steps of a small core with PyTorch's weights give PyTorch's
    /// memories (scripts/reference/relational_memory.py).
    #[test]
    fn two_steps_match_the_pytorch_reference() {
        let reference = fixture();
        let device = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let shape = MemoryShape {
            slots: reference["slots"].as_u64().unwrap() as usize,
            heads: reference["heads"].as_u64().unwrap() as usize,
            head_size: reference["head_size"].as_u64().unwrap() as usize,
        };
        let input = reference["input"].as_u64().unwrap() as usize;
        let core = RelationalMemory::new(vb, input, shape).unwrap();
        let weights = reference["weights"].as_object().unwrap();
        let data = varmap.data().lock().unwrap();
        assert_eq!(data.len(), weights.len(), "{:?}", data.keys());
        for (name, var) in data.iter() {
            let weight = &weights[name];
            let values: Vec<f32> = weight["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            let dims: Vec<usize> = weight["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            var.set(&Tensor::from_vec(values, dims, &device).unwrap())
                .unwrap();
        }
        drop(data);
        let mut memory = core.initial(2, &device).unwrap();
        assert_close(&memory, &rows(&reference["initial"]), "initial memory");
        let inputs = reference["inputs"].as_array().unwrap();
        let memories = reference["memories"].as_array().unwrap();
        for (t, (input, want)) in inputs.iter().zip(memories).enumerate() {
            let input = rows(input);
            let x = Tensor::new(input, &device).unwrap();
            memory = core.step(&memory, &x).unwrap();
            assert_close(
                &memory,
                &rows(want),
                &format!("memory after step {}", t + 1),
            );
        }
    }
}
