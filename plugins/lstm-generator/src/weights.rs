//! The LSTM language model's parameters and its forward computations.

use agon_sdk::toolkit::target_log_probs;
use candle_core::{Result, Tensor, D};
use candle_nn::VarBuilder;

/// Parameters of embedding → LSTM → output layer, in the fused layout
/// (gate order i, f, g, o; `w_ih: [4H, E]`, `w_hh: [4H, H]`).
#[derive(Clone)]
pub struct LstmWeights {
    pub embedding: Tensor,
    pub w_ih: Tensor,
    pub w_hh: Tensor,
    pub bias: Tensor,
    pub out_w: Tensor,
    pub out_b: Tensor,
}

/// Hidden and cell state of a batch: `[N, H]` each.
#[derive(Clone)]
pub struct LstmState {
    pub h: Tensor,
    pub c: Tensor,
}

impl LstmWeights {
    pub fn new(vb: VarBuilder, vocab: usize, embedding: usize, hidden: usize) -> Result<Self> {
        Ok(LstmWeights {
            embedding: vb.get((vocab, embedding), "embedding")?,
            w_ih: vb.get((4 * hidden, embedding), "lstm.w_ih")?,
            w_hh: vb.get((4 * hidden, hidden), "lstm.w_hh")?,
            bias: vb.get(4 * hidden, "lstm.bias")?,
            out_w: vb.get((vocab, hidden), "output.weight")?,
            out_b: vb.get(vocab, "output.bias")?,
        })
    }

    /// A copy that shares no storage and records no gradients (the rollout policy).
    pub fn detached_copy(&self) -> Result<Self> {
        let copy = |t: &Tensor| t.detach().copy();
        Ok(LstmWeights {
            embedding: copy(&self.embedding)?,
            w_ih: copy(&self.w_ih)?,
            w_hh: copy(&self.w_hh)?,
            bias: copy(&self.bias)?,
            out_w: copy(&self.out_w)?,
            out_b: copy(&self.out_b)?,
        })
    }

    /// The same weights (shared storage, so later updates show through)
    /// without autograd tracking: inference through it records no graph.
    pub fn detached(&self) -> Self {
        LstmWeights::from_tensors(self.tensors().map(|t| t.detach()))
    }

    /// The tensors, in a fixed order, for element-wise updates.
    pub fn tensors(&self) -> [&Tensor; 6] {
        [
            &self.embedding,
            &self.w_ih,
            &self.w_hh,
            &self.bias,
            &self.out_w,
            &self.out_b,
        ]
    }

    pub fn from_tensors(t: [Tensor; 6]) -> Self {
        let [embedding, w_ih, w_hh, bias, out_w, out_b] = t;
        LstmWeights {
            embedding,
            w_ih,
            w_hh,
            bias,
            out_w,
            out_b,
        }
    }

    pub fn hidden_dim(&self) -> usize {
        self.w_hh.dims()[1]
    }

    /// `E[ids] · W_ihᵀ + b` for any shape of ids → `[..., 4H]`.
    pub fn input_projection(&self, ids: &Tensor) -> Result<Tensor> {
        let dims = ids.dims().to_vec();
        let flat = ids.flatten_all()?;
        let x = self.embedding.index_select(&flat, 0)?;
        let proj = x.matmul(&self.w_ih.t()?)?.broadcast_add(&self.bias)?;
        let mut out_dims = dims;
        out_dims.push(proj.dim(1)?);
        proj.reshape(out_dims)
    }

    /// One LSTM step from projected inputs `[N, 4H]`.
    pub fn step(&self, projected_input: &Tensor, state: &LstmState) -> Result<LstmState> {
        let gates = (projected_input + state.h.matmul(&self.w_hh.t()?)?)?;
        let chunks = gates.chunk(4, D::Minus1)?;
        let i = candle_nn::ops::sigmoid(&chunks[0])?;
        let f = candle_nn::ops::sigmoid(&chunks[1])?;
        let g = chunks[2].tanh()?;
        let o = candle_nn::ops::sigmoid(&chunks[3])?;
        let c = ((f * &state.c)? + (i * g)?)?;
        let h = (o * c.tanh()?)?;
        Ok(LstmState { h, c })
    }

    /// Logits `[N, V]` from hidden states `[N, H]`.
    pub fn logits(&self, h: &Tensor) -> Result<Tensor> {
        // [h, 1] · [Wᵀ; b]: the bias rides in the matmul, so its gradient
        // comes out of the matmul's backward instead of a column sum over
        // the [N, V] gradient (a strided reduction, slow on the CPU).
        let ones = Tensor::ones((h.dim(0)?, 1), h.dtype(), h.device())?;
        let h1 = Tensor::cat(&[h, &ones], 1)?;
        h1.matmul(&self.output_matrix()?)
    }

    /// `[Wᵀ; b]`, `[H + 1, V]`: the output layer as one matrix.
    pub fn output_matrix(&self) -> Result<Tensor> {
        Tensor::cat(&[&self.out_w.t()?, &self.out_b.unsqueeze(0)?], 0)
    }

    /// The zero state for `n` rows.
    pub fn zero_state(&self, n: usize) -> Result<LstmState> {
        let h = Tensor::zeros(
            (n, self.hidden_dim()),
            self.bias.dtype(),
            self.bias.device(),
        )?;
        Ok(LstmState { h: h.clone(), c: h })
    }

    /// Teacher-forced pass over `inputs: [B, T]`; returns the hidden states
    /// `[B, T, H]` and, when `keep_cells`, the cell states too.
    pub fn unroll(&self, inputs: &Tensor, keep_cells: bool) -> Result<(Tensor, Option<Tensor>)> {
        let (rows, steps) = inputs.dims2()?;
        let projected = self.input_projection(inputs)?;
        let mut state = self.zero_state(rows)?;
        let mut hs = Vec::with_capacity(steps);
        let mut cs = Vec::with_capacity(if keep_cells { steps } else { 0 });
        for t in 0..steps {
            state = self.step(&projected.narrow(1, t, 1)?.squeeze(1)?, &state)?;
            hs.push(state.h.clone());
            if keep_cells {
                cs.push(state.c.clone());
            }
        }
        let cells = if keep_cells {
            Some(Tensor::stack(&cs, 1)?)
        } else {
            None
        };
        Ok((Tensor::stack(&hs, 1)?, cells))
    }

    /// Per-position log-probabilities of `targets` given teacher-forced
    /// `inputs` (both `[B, T]`) → `[B, T]`.
    pub fn target_log_probs(&self, inputs: &Tensor, targets: &Tensor) -> Result<Tensor> {
        self.tempered_target_log_probs(inputs, targets, 1.0)
    }

    /// [`Self::target_log_probs`] under `softmax(logits / temperature)`,
    /// scaled as sampling scales them (by `1 / temperature`); temperature 1
    /// leaves the logits untouched.
    pub fn tempered_target_log_probs(
        &self,
        inputs: &Tensor,
        targets: &Tensor,
        temperature: f32,
    ) -> Result<Tensor> {
        let (rows, steps) = inputs.dims2()?;
        let (hs, _) = self.unroll(inputs, false)?;
        let mut logits = self.logits(&hs.reshape((rows * steps, self.hidden_dim()))?)?;
        if temperature != 1.0 {
            logits = logits.affine(f64::from(1.0 / temperature), 0.0)?;
        }
        target_log_probs(&logits, &targets.flatten_all()?)?.reshape((rows, steps))
    }
}
