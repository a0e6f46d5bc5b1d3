//! The relaxed rows' embedding product `soft · table` as one op whose
//! backward pass computes only the gradients the graph needs.
//!
//! Candle's matmul differentiates both operands whether or not they need
//! it. In a discriminator's training step on relaxed rows the rows are
//! data, yet their gradient (`[B·W, V]`, 51 MB at SeqGAN's oracle sizes,
//! a product as large as the forward one) was computed, zeroed and summed
//! into; when the host asks for the gradient with respect to the rows, the
//! table's was computed too. This op skips whichever operand does not
//! track its gradient, and gives the rows' gradient in their own shape
//! (no reshape node to sum it through). A kit's request for the rows
//! (`rows_gradient.rs`) goes further: their gradient written once into a
//! buffer the kit takes, outside autograd (and the table's skipped), or no
//! gradient for rows the kit tracked for another call.
//!
//! The forward pass looks up a block of rows that are all one-hot or zero
//! (the real half of a step's batch) instead of multiplying it by the
//! table: `1 · w` plus exact zeros is `w`, so the values are the
//! product's to the bit (a test holds them to it), at no multiplications.
//! A block with any other row is multiplied as before.

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Storage, Tensor};
use rayon::prelude::*;

use super::{
    block_matmul::{last_rows_alone_have_the_bits, matmul_as_candle, matmul_into, Operand, Write},
    row_blocks::contiguous as values,
    rows_gradient::{self, RowsGradient},
};

/// Rows of `soft` per parallel task.
const ROWS_PER_TASK: usize = 64;

/// `soft` `[B, W, V]` · `table` `[V, E]` → `[B, W, E]`.
pub(super) struct RelaxedEmbedding;

impl CustomOp2 for RelaxedEmbedding {
    fn name(&self) -> &'static str {
        "relaxed-embedding"
    }

    fn cpu_fwd(
        &self,
        soft: &CpuStorage,
        soft_layout: &Layout,
        table: &CpuStorage,
        table_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (rows, width, vocab) = soft_layout.shape().dims3()?;
        let (table_vocab, dim) = table_layout.shape().dims2()?;
        if table_vocab != vocab {
            candle_core::bail!(
                "relaxed embedding: rows over {vocab} ids, a table of {table_vocab}"
            );
        }
        let (soft, table) = (
            values(soft, soft_layout, "relaxed embedding: the rows")?,
            values(table, table_layout, "relaxed embedding: the table")?,
        );
        let mut out = vec![0f32; rows * width * dim];
        out.par_chunks_mut(ROWS_PER_TASK * dim)
            .zip(soft.par_chunks(ROWS_PER_TASK * vocab))
            .for_each(|(out, soft)| match one_hot_ids(soft, vocab) {
                Some(ids) => look_up(out, &ids, table, dim),
                None => {
                    let m = soft.len() / vocab;
                    matmul_into(
                        out,
                        Write::Overwrite,
                        soft,
                        Operand::Plain,
                        table,
                        Operand::Plain,
                        (m, vocab, dim),
                    );
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((rows, width, dim))))
    }

    fn bwd(
        &self,
        soft: &Tensor,
        table: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (rows, width, vocab) = soft.dims3()?;
        let dim = table.dim(1)?;
        let grad = grad.reshape((rows * width, dim))?;
        let mode = rows_gradient::mode_of(soft);
        let soft_grad = match mode {
            Some(RowsGradient::Deliver { from_row }) => {
                // The rows wanted (a step's generated half), with the bits
                // the whole product, autograd's, would give them; computed
                // alone where that holds (`block_matmul.rs`).
                let (all, skipped) = (rows * width, from_row.min(rows) * width);
                let values = if skipped == all {
                    Vec::new()
                } else if last_rows_alone_have_the_bits((all, dim, vocab), all - skipped) {
                    rows_gradient_values(&grad.narrow(0, skipped, all - skipped)?, table)?
                } else {
                    let mut values = rows_gradient_values(&grad, table)?;
                    values.drain(..skipped * vocab);
                    values
                };
                rows_gradient::deliver(soft, values);
                None
            }
            Some(RowsGradient::Skip) => None,
            None if soft.track_op() => {
                Some(grad.matmul(&table.t()?)?.reshape((rows, width, vocab))?)
            }
            None => None,
        };
        let delivers = matches!(mode, Some(RowsGradient::Deliver { .. }));
        let table_grad = if table.track_op() && !delivers {
            Some(soft.reshape((rows * width, vocab))?.t()?.matmul(&grad)?)
        } else {
            None
        };
        Ok((soft_grad, table_grad))
    }
}

/// The id of each of `soft`'s rows (`vocab` values each) when every row is
/// one-hot (`Some(id)`) or all zeros (`None`): the real rows of a relaxed
/// batch, and their padding. `None` as soon as one row is anything else,
/// which for a generated row is known after its first pass.
fn one_hot_ids(soft: &[f32], vocab: usize) -> Option<Vec<Option<u32>>> {
    soft.chunks(vocab)
        .map(|row| {
            // Counted over the whole row, so the compiler vectorises it; a
            // NaN counts as a nonzero that is not 1.
            let (nonzero, ones) = row.iter().fold((0u32, 0u32), |(nonzero, ones), &v| {
                (nonzero + u32::from(v != 0.0), ones + u32::from(v == 1.0))
            });
            match (nonzero, ones) {
                (0, _) => Some(None),
                (1, 1) => Some(row.iter().position(|&v| v == 1.0).map(|id| id as u32)),
                _ => None,
            }
        })
        .collect()
}

/// `out[r] = table[ids[r]]` (zeros for `None`): the product of one-hot rows
/// and the table without multiplying by their zeros. `+ 0.0` gives the
/// product's values to the bit: a sum of `1 · w` and exact zeros is `w`,
/// except that it turns `-0.0` into `+0.0`, as adding `+0.0` does.
fn look_up(out: &mut [f32], ids: &[Option<u32>], table: &[f32], dim: usize) {
    for (out, id) in out.chunks_mut(dim).zip(ids) {
        match id {
            Some(id) => {
                let row = &table[*id as usize * dim..(*id as usize + 1) * dim];
                for (o, &w) in out.iter_mut().zip(row) {
                    *o = w + 0.0;
                }
            }
            None => out.fill(0.0),
        }
    }
}

/// `grad · tableᵀ` (`[N, E] · [E, V]`), the rows' gradient, as values: on
/// the CPU written once into the buffer that is delivered, by the very
/// call Candle's matmul makes (`block_matmul::matmul_as_candle`, so the
/// same values to the bit); elsewhere by that matmul.
fn rows_gradient_values(grad: &Tensor, table: &Tensor) -> Result<Vec<f32>> {
    let (n, dim) = grad.dims2()?;
    let vocab = table.dim(0)?;
    let (grad, table) = (grad.contiguous()?, table.contiguous()?);
    let (grad_storage, grad_layout) = grad.storage_and_layout();
    let (table_storage, table_layout) = table.storage_and_layout();
    let (Storage::Cpu(grad_cpu), Storage::Cpu(table_cpu)) = (&*grad_storage, &*table_storage)
    else {
        drop((grad_storage, table_storage));
        return grad.matmul(&table.t()?)?.flatten_all()?.to_vec1::<f32>();
    };
    let grad = values(grad_cpu, grad_layout, "relaxed embedding: the gradient")?;
    let table = values(table_cpu, table_layout, "relaxed embedding: the table")?;
    let mut out = vec![0f32; n * vocab];
    matmul_as_candle(
        &mut out,
        grad,
        Operand::Plain,
        table,
        Operand::Transposed,
        (n, dim, vocab),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolkit::{
        rows_gradient::RowsGradientRequest,
        test_tensors::{bits, weighted_sum_grads},
    };
    use candle_core::{Device, Var};

    /// Values and both gradients as Candle's matmul gives them; an operand
    /// that does not track gets none.
    /// Rows `[3, 70, 11]` (210 rows: several tasks), a table `[11, 5]`
    /// and weights `[3, 70, 5]` for a loss `Σ weights ⊙ embedded`.
    fn operands(device: &Device) -> (Var, Var, Tensor) {
        let (b, w, v, e) = (3, 70, 11, 5);
        let soft: Vec<f32> = (0..b * w * v)
            .map(|i| ((i * 31 % 17) as f32) / 17.0)
            .collect();
        let table: Vec<f32> = (0..v * e).map(|i| (i as f32 * 0.3).cos()).collect();
        let weights = Tensor::arange(0f32, (b * w * e) as f32, device)
            .unwrap()
            .affine(0.01, -1.0)
            .unwrap()
            .reshape((b, w, e))
            .unwrap();
        (
            Var::from_vec(soft, (b, w, v), device).unwrap(),
            Var::from_vec(table, (v, e), device).unwrap(),
            weights,
        )
    }

    #[test]
    fn the_op_is_the_matmul_and_differentiates_only_what_tracks() {
        let device = Device::Cpu;
        let (soft, table, weights) = operands(&device);
        let (b, w, v) = soft.dims3().unwrap();
        let e = table.dim(1).unwrap();
        let grads_of = |y: &Tensor| weighted_sum_grads(y, &weights);
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();

        let op = soft
            .as_tensor()
            .apply_op2(table.as_tensor(), RelaxedEmbedding)
            .unwrap();
        let reference = soft
            .as_tensor()
            .reshape((b * w, v))
            .unwrap()
            .matmul(table.as_tensor())
            .unwrap()
            .reshape((b, w, e))
            .unwrap();
        for (x, y) in flat(&op).iter().zip(flat(&reference)) {
            assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{x} vs {y}");
        }
        let (g_op, g_ref) = (grads_of(&op), grads_of(&reference));
        for var in [&soft, &table] {
            let (x, y) = (
                g_op.get(var.as_tensor()).unwrap(),
                g_ref.get(var.as_tensor()).unwrap(),
            );
            assert_eq!(x.dims(), y.dims());
            for (x, y) in flat(x).iter().zip(flat(y)) {
                assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{x} vs {y}");
            }
        }

        // Rows as data: no gradient for them, the table's unchanged.
        let data = soft.as_tensor().detach();
        let grads = grads_of(&data.apply_op2(table.as_tensor(), RelaxedEmbedding).unwrap());
        assert!(grads.get(&data).is_none());
        assert_eq!(
            flat(grads.get(table.as_tensor()).unwrap()),
            flat(g_op.get(table.as_tensor()).unwrap())
        );
        // A frozen table: the rows' gradient only.
        let frozen = table.as_tensor().detach();
        let grads = grads_of(
            &soft
                .as_tensor()
                .apply_op2(&frozen, RelaxedEmbedding)
                .unwrap(),
        );
        assert!(grads.get(&frozen).is_none());
        assert_eq!(
            flat(grads.get(soft.as_tensor()).unwrap()),
            flat(g_op.get(soft.as_tensor()).unwrap())
        );
    }

    /// A request to deliver the rows' gradient gets autograd's values to
    /// the bit, outside autograd, and no table gradient; a request to skip
    /// it gets none and the table's gradient unchanged; the request ends
    /// when dropped.
    #[test]
    fn a_request_has_the_rows_gradient_delivered_or_skipped() {
        let device = Device::Cpu;
        let (soft, table, weights) = operands(&device);
        let backward = || {
            let y = soft
                .as_tensor()
                .apply_op2(table.as_tensor(), RelaxedEmbedding)
                .unwrap();
            weighted_sum_grads(&y, &weights)
        };
        let autograd = backward();
        let rows_want = bits(autograd.get(soft.as_tensor()).unwrap());
        let table_want = bits(autograd.get(table.as_tensor()).unwrap());

        let request =
            RowsGradientRequest::new(soft.as_tensor(), RowsGradient::Deliver { from_row: 0 });
        let grads = backward();
        assert!(grads.get(soft.as_tensor()).is_none());
        assert!(grads.get(table.as_tensor()).is_none());
        let delivered = request.take().expect("the rows' gradient was delivered");
        let delivered: Vec<u32> = delivered.iter().map(|x| x.to_bits()).collect();
        assert_eq!(delivered, rows_want);
        assert!(request.take().is_none(), "taken once");
        drop(request);

        // From a later row on: the same bits for those rows, none before.
        let (rows, width, vocab) = soft.as_tensor().dims3().unwrap();
        for from_row in 1..=rows {
            let request =
                RowsGradientRequest::new(soft.as_tensor(), RowsGradient::Deliver { from_row });
            backward();
            let delivered = request.take().expect("the rows' gradient was delivered");
            let delivered: Vec<u32> = delivered.iter().map(|x| x.to_bits()).collect();
            assert_eq!(
                delivered,
                rows_want[from_row * width * vocab..],
                "from {from_row}"
            );
        }

        let request = RowsGradientRequest::new(soft.as_tensor(), RowsGradient::Skip);
        let grads = backward();
        assert!(grads.get(soft.as_tensor()).is_none());
        assert_eq!(bits(grads.get(table.as_tensor()).unwrap()), table_want);
        assert!(request.take().is_none());
        drop(request);

        // Dropped: autograd as before.
        let grads = backward();
        assert_eq!(bits(grads.get(soft.as_tensor()).unwrap()), rows_want);
    }
    /// One-hot and all-zero rows are looked up, to the bit of the product
    /// they replace (a table with zeros of both signs, extremes and
    /// subnormals); a block with any other row is multiplied.
    #[test]
    fn one_hot_rows_are_looked_up_to_the_bit_of_the_product() {
        // A vocabulary wider than one of the product's blocks of the inner
        // dimension, and a partial tile of columns.
        let (vocab, dim) = (5003, 70);
        let mut table: Vec<f32> = (0..vocab * dim)
            .map(|i| ((i * 7919 % 1013) as f32 - 506.0) * 0.37)
            .collect();
        for (i, special) in [
            -0.0f32,
            0.0,
            f32::MIN_POSITIVE / 4.0,
            -3.4e38,
            3.4e38,
            -1e-42,
        ]
        .into_iter()
        .enumerate()
        {
            table[(i * 5 + 2) * dim + i * 3] = special;
        }
        let rows = 64;
        let mut soft = vec![0f32; rows * vocab];
        for r in 0..rows {
            if r % 9 != 4 {
                soft[r * vocab + (r * 13 + 2) % vocab] = 1.0;
            }
        }
        let ids = one_hot_ids(&soft, vocab).expect("one-hot rows");
        assert_eq!(ids[4], None);
        assert_eq!(ids[0], Some(2));
        let mut looked_up = vec![f32::NAN; rows * dim];
        look_up(&mut looked_up, &ids, &table, dim);
        let mut product = vec![f32::NAN; rows * dim];
        let shape = (rows, vocab, dim);
        let plain = Operand::Plain;
        matmul_into(
            &mut product,
            Write::Overwrite,
            &soft,
            plain,
            &table,
            plain,
            shape,
        );
        assert_eq!(bits_of(&looked_up), bits_of(&product));

        // Anything else in the block: not one-hot.
        for other in [0.5f32, 2.0, f32::NAN, -1.0] {
            let mut block = soft.clone();
            block[40 * vocab + 1] = other;
            assert!(one_hot_ids(&block, vocab).is_none(), "{other}");
        }
        let mut two_ones = soft.clone();
        two_ones[3 * vocab + 30] = 1.0;
        assert!(one_hot_ids(&two_ones, vocab).is_none());
    }

    fn bits_of(values: &[f32]) -> Vec<u32> {
        values.iter().map(|v| v.to_bits()).collect()
    }
}
