//! What the kit does with a model's per-row values (its encoded sources and
//! its recurrent state) without knowing their shape: take rows by index,
//! keep the first rows, join row sets.

use candle_core::{Result, Tensor};

/// Values with one entry per row along their first dimension: a tensor
/// `[N, …]`, a tuple of them (an LSTM's `(h, c)`), a struct of them (a
/// model implements this for its own types), or `()` for nothing.
///
/// The kit uses it to follow rows through generation: rows that finish
/// leave the batch ([`RowWise::first_rows`], [`RowWise::select_rows`]);
/// a rollout starts from the cached state after its prefix and attends to
/// its own source ([`RowWise::select_rows`]); a beam repeats each source
/// `k` times.
pub trait RowWise: Clone + Sized {
    /// Rows `index` (`[M]` u32), in that order; an index may repeat.
    fn select_rows(&self, index: &Tensor) -> Result<Self>;

    /// The first `rows` rows.
    fn first_rows(&self, rows: usize) -> Result<Self>;

    /// The rows of `parts`, one after another.
    fn concat_rows(parts: &[Self]) -> Result<Self>;
}

impl RowWise for Tensor {
    fn select_rows(&self, index: &Tensor) -> Result<Self> {
        self.index_select(index, 0)
    }

    fn first_rows(&self, rows: usize) -> Result<Self> {
        self.narrow(0, 0, rows)
    }

    fn concat_rows(parts: &[Self]) -> Result<Self> {
        Tensor::cat(parts, 0)
    }
}

impl RowWise for () {
    fn select_rows(&self, _: &Tensor) -> Result<Self> {
        Ok(())
    }

    fn first_rows(&self, _: usize) -> Result<Self> {
        Ok(())
    }

    fn concat_rows(_: &[Self]) -> Result<Self> {
        Ok(())
    }
}

impl<A: RowWise, B: RowWise> RowWise for (A, B) {
    fn select_rows(&self, index: &Tensor) -> Result<Self> {
        Ok((self.0.select_rows(index)?, self.1.select_rows(index)?))
    }

    fn first_rows(&self, rows: usize) -> Result<Self> {
        Ok((self.0.first_rows(rows)?, self.1.first_rows(rows)?))
    }

    fn concat_rows(parts: &[Self]) -> Result<Self> {
        let (a, b): (Vec<A>, Vec<B>) = parts.iter().cloned().unzip();
        Ok((A::concat_rows(&a)?, B::concat_rows(&b)?))
    }
}

impl<T: RowWise> RowWise for Vec<T> {
    /// Each element's rows (the layers of a stacked RNN, say).
    fn select_rows(&self, index: &Tensor) -> Result<Self> {
        self.iter().map(|t| t.select_rows(index)).collect()
    }

    fn first_rows(&self, rows: usize) -> Result<Self> {
        self.iter().map(|t| t.first_rows(rows)).collect()
    }

    fn concat_rows(parts: &[Self]) -> Result<Self> {
        let layers = parts.first().map_or(0, Vec::len);
        (0..layers)
            .map(|l| {
                let layer: Vec<T> = parts.iter().map(|p| p[l].clone()).collect();
                T::concat_rows(&layer)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn tuples_and_layers_follow_their_rows() {
        let h = Tensor::new(&[[1f32], [2.], [3.]], &Device::Cpu).unwrap();
        let c = Tensor::new(&[[10f32], [20.], [30.]], &Device::Cpu).unwrap();
        let state = vec![(h.clone(), c.clone()), (c, h)];
        let index = Tensor::new(&[2u32, 0, 2], &Device::Cpu).unwrap();
        let picked = state.select_rows(&index).unwrap();
        assert_eq!(
            picked[0].0.to_vec2::<f32>().unwrap(),
            vec![vec![3.], vec![1.], vec![3.]]
        );
        assert_eq!(
            picked[1].0.to_vec2::<f32>().unwrap(),
            vec![vec![30.], vec![10.], vec![30.]]
        );
        let joined =
            <Vec<_> as RowWise>::concat_rows(&[state.first_rows(1).unwrap(), picked]).unwrap();
        assert_eq!(
            joined[0].1.to_vec2::<f32>().unwrap(),
            vec![vec![10.], vec![30.], vec![10.], vec![30.]]
        );
    }
}
