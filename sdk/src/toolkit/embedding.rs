//! A token embedding whose padding positions are zero.

use candle_core::{DType, Result, Tensor};
use candle_nn::VarBuilder;

use super::relaxed_embedding::RelaxedEmbedding;

/// A `[V, E]` embedding table (variable `embedding` under the builder's
/// prefix).
pub struct MaskedEmbedding {
    table: Tensor,
}

impl MaskedEmbedding {
    pub fn new(vb: VarBuilder, vocab: usize, dim: usize) -> Result<Self> {
        Ok(MaskedEmbedding {
            table: vb.get((vocab, dim), "embedding")?,
        })
    }

    /// A fixed table `[V, E]` (read from a file, say): looked up like a
    /// trained one, but not a variable, so no optimiser changes it and no
    /// checkpoint holds it.
    pub fn frozen(table: Tensor) -> Self {
        MaskedEmbedding {
            table: table.detach(),
        }
    }

    /// `[B, W, E]` embeddings of ids `[B, W]`, padding included: for a
    /// model that never lets a padding position reach a real one's output
    /// (a left-to-right recurrence read at real positions only), the
    /// masking multiply of [`MaskedEmbedding::masked`] is wasted work.
    pub fn lookup(&self, ids: &Tensor) -> Result<Tensor> {
        let (rows, width) = ids.dims2()?;
        self.table
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((rows, width, ()))
    }

    /// `[B, W, E]` embeddings of ids `[B, W]`, zero where `mask` (`[B, W]`)
    /// is 0, so that padding contributes nothing downstream.
    pub fn masked(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        self.lookup(ids)?.broadcast_mul(&mask.unsqueeze(2)?)
    }

    /// `[B, W, E]` embeddings of relaxed rows `soft` (`[B, W, V]`, one
    /// distribution over the vocabulary per position): each position's
    /// expected embedding `soft · table`, zero where `mask` (`[B, W]`) is 0.
    /// A one-hot position gives exactly its id's embedding, and gradients
    /// reach `soft` (Gumbel-softmax training passes them on to the
    /// generator).
    ///
    /// On the CPU the product is one op that differentiates only the
    /// operands that need it (`relaxed_embedding.rs`): rows that are data
    /// get no gradient, and a gradient asked of the rows computes none for
    /// the table. It looks up blocks of one-hot rows (a batch's real rows)
    /// instead of multiplying them, to the same bits.
    pub fn relaxed(&self, soft: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (rows, width, vocab) = soft.dims3()?;
        let embedded = if soft.device().is_cpu() && soft.dtype() == DType::F32 {
            soft.contiguous()?
                .apply_op2(&self.table.contiguous()?, RelaxedEmbedding)?
        } else {
            soft.reshape((rows * width, vocab))?
                .matmul(&self.table)?
                .reshape((rows, width, ()))?
        };
        embedded.broadcast_mul(&mask.unsqueeze(2)?)
    }
}
