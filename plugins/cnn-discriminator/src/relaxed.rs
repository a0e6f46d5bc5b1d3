//! Relaxed rows (plugin ABI 1.2, `algorithm: gumbel`): SeqGAN's CNN scoring
//! rows given as one distribution over the vocabulary per position, with
//! the gradient the generator trains on.
//!
//! A relaxed row is read as its ids are: each position's expected
//! embedding (`soft · embedding`), then the pad id's embedding at every
//! position past the row's length up to the input length, so a one-hot row
//! scores exactly as its ids do. The row's logit is `l_real − l_generated`
//! of the two-class output, whose sigmoid is the probability
//! `probabilities` gives. These run as Candle ops on every device (the
//! fused kernels of the ids path read ids); dropout is drawn from the
//! caller's seed, so the logits a gradient refers to are the ones the host
//! saw.

use agon_sdk::{
    relaxed::RelaxedBatch,
    toolkit::{dropout, rng_from_seed},
    PluginError, PluginResult, StepOptions, StepStats,
};
use candle_core::{Module, Tensor, Var};

use crate::discriminator::CnnDiscriminator;

impl CnnDiscriminator {
    /// `batch`'s rows as the `[B, input_len, V]` values the network reads:
    /// each row's distributions up to its length, the pad id one-hot after.
    pub(crate) fn relaxed_input(&self, batch: &RelaxedBatch) -> PluginResult<Tensor> {
        let (rows, width, len) = (batch.rows(), batch.width as usize, self.input_len);
        // The guard has checked `soft` holds rows × width × this many values.
        let vocab = self.model.embedding.dim(0)?;
        if width > len {
            return Err(PluginError::input(format!(
                "relaxed rows {width} positions wide; this discriminator reads at most {len} (the task's max_len)"
            )));
        }
        let mut values = vec![0f32; rows * len * vocab];
        for (r, (row, &length)) in values
            .chunks_mut((len * vocab).max(1))
            .zip(batch.lengths.iter())
            .enumerate()
        {
            let length = length as usize;
            let given = &batch.soft[r * width * vocab..][..length * vocab];
            row[..length * vocab].copy_from_slice(given);
            for position in row[length * vocab..].chunks_mut(vocab) {
                position[self.pad as usize] = 1.0;
            }
        }
        Ok(Tensor::from_vec(values, (rows, len, vocab), &self.device)?)
    }

    /// `[B]` logits of the `[B, input_len, V]` rows `soft`; training
    /// dropout from `dropout_seed`, none without one.
    fn relaxed_logit_tensor(
        &self,
        soft: &Tensor,
        dropout_seed: Option<u64>,
    ) -> PluginResult<Tensor> {
        let (rows, len, vocab) = soft.dims3()?;
        let embedded = soft
            .reshape((rows * len, vocab))?
            .matmul(&self.model.embedding)?
            .reshape((rows, len, ()))?;
        let features = self
            .model
            .highway(&self.model.pooled_embedded(&embedded)?)?;
        let features = match dropout_seed {
            Some(seed) => dropout(
                &features,
                self.config.dropout_keep,
                &mut rng_from_seed(seed),
            )?,
            None => features,
        };
        let logits = self.model.output.forward(&features)?;
        Ok((logits.narrow(1, 1, 1)? - logits.narrow(1, 0, 1)?)?.squeeze(1)?)
    }

    /// `Σ upstream · logits` of `soft`.
    fn relaxed_surrogate(
        &self,
        soft: &Tensor,
        upstream: &[f32],
        dropout_seed: Option<u64>,
    ) -> PluginResult<Tensor> {
        let logits = self.relaxed_logit_tensor(soft, dropout_seed)?;
        let upstream = Tensor::from_slice(upstream, upstream.len(), &self.device)?;
        Ok((logits * upstream)?.sum_all()?)
    }

    pub(crate) fn relaxed_logits_of(
        &self,
        batch: &RelaxedBatch,
        dropout_seed: Option<u64>,
    ) -> PluginResult<Vec<f32>> {
        let soft = self.relaxed_input(batch)?;
        Ok(self
            .relaxed_logit_tensor(&soft, dropout_seed)?
            .to_vec1::<f32>()?)
    }

    pub(crate) fn relaxed_input_gradient_of(
        &self,
        batch: &RelaxedBatch,
        upstream: &[f32],
        dropout_seed: Option<u64>,
    ) -> PluginResult<Vec<f32>> {
        let input = Var::from_tensor(&self.relaxed_input(batch)?)?;
        let grads = self
            .relaxed_surrogate(input.as_tensor(), upstream, dropout_seed)?
            .backward()?;
        let (rows, width) = (batch.rows(), batch.width as usize);
        let (_, len, vocab) = input.as_tensor().dims3()?;
        let full = match grads.get(input.as_tensor()) {
            Some(g) => g.flatten_all()?.to_vec1::<f32>()?,
            None => vec![0.0; rows * len * vocab],
        };
        // The batch's own positions, zero past each row's length (the pad
        // ids there are this discriminator's, not the caller's values).
        let mut gradient = vec![0f32; rows * width * vocab];
        for (r, &length) in batch.lengths.iter().enumerate() {
            let n = length as usize * vocab;
            gradient[r * width * vocab..][..n].copy_from_slice(&full[r * len * vocab..][..n]);
        }
        Ok(gradient)
    }

    /// One step minimising `Σ upstream · logits` plus the output layer's
    /// L2 penalty (`l2_lambda`, as in every training step of this
    /// discriminator); reports that loss.
    pub(crate) fn relaxed_train_step_of(
        &mut self,
        batch: &RelaxedBatch,
        upstream: &[f32],
        options: &StepOptions,
    ) -> PluginResult<StepStats> {
        self.tables = None;
        self.scored_since_change = 0;
        let soft = self.relaxed_input(batch)?;
        let surrogate = self.relaxed_surrogate(&soft, upstream, Some(options.seed))?;
        let loss = (surrogate + self.model.output_l2(self.config.l2_lambda)?)?;
        let norm = self.params.minimise(&loss, "discriminator")?;
        Ok(StepStats::new(loss.to_scalar::<f32>()?, batch.rows()).with("grad_norm", norm))
    }
}

#[cfg(test)]
mod tests {
    use agon_sdk::{testing::check_relaxed_input_gradient_of, PluginContext, TokenBatch};

    use super::*;

    const VOCAB: u32 = 12;

    fn discriminator(compute: &str) -> CnnDiscriminator {
        let mut context = PluginContext::for_tests(VOCAB, 6);
        context.seed = 3;
        context.config_yaml = format!(
            "embedding_dim: 5\nfilter_sizes: [2, 3]\nfilter_counts: [4, 3]\ndropout_keep: 0.75\ncompute: {compute}\noptimizer: {{lr: 0.01}}\n"
        )
        .into();
        CnnDiscriminator::new(&context).unwrap()
    }

    /// Rows of lengths 6, 4 and 2, as one-hot rows mixed with a spread
    /// distribution (so every word of every position carries weight).
    fn relaxed_rows() -> RelaxedBatch {
        let ids = TokenBatch::from_rows(
            &[vec![1u32, 5, 7, 2, 9, 3], vec![4, 4, 8, 1], vec![11, 6]],
            0,
        );
        let mut batch = RelaxedBatch::one_hot(&ids, 6, VOCAB as usize, Default::default()).unwrap();
        let lengths: Vec<usize> = batch.lengths.iter().map(|&l| l as usize).collect();
        for (i, x) in batch.soft.iter_mut().enumerate() {
            let (row, position) = (i / (6 * VOCAB as usize), i / VOCAB as usize % 6);
            if position < lengths[row] {
                *x = 0.7 * *x + 0.3 * ((i * 7 % 11) as f32 + 1.0) / (6.0 * VOCAB as f32);
            }
        }
        batch
    }

    /// The gradient the generator trains on, against central finite
    /// differences of `Σ upstream · logits`, with dropout drawn from the
    /// same seed and without; zero past each row's length.
    #[test]
    fn the_relaxed_input_gradient_matches_finite_differences() {
        for compute in ["kernels", "tensor"] {
            for dropout_seed in [None, Some(9)] {
                check_relaxed_input_gradient_of(
                    &mut discriminator(compute),
                    &relaxed_rows(),
                    &[0.5, -1.0, 0.25],
                    3,
                    dropout_seed,
                );
            }
        }
    }

    /// Rows wider than the task's longest are refused with the width this
    /// discriminator reads, never a panic.
    #[test]
    fn rows_wider_than_the_input_are_refused() {
        let d = discriminator("tensor");
        let ids = TokenBatch::from_rows(&[vec![1u32, 2]], 0);
        let wide = RelaxedBatch::one_hot(&ids, 9, VOCAB as usize, Default::default()).unwrap();
        let err = d.relaxed_logits_of(&wide, None).unwrap_err();
        assert!(
            err.message()
                .contains("9 positions wide; this discriminator reads at most 6"),
            "{err}"
        );
    }

    /// Steps along the host's gradient move the logits the way it asks:
    /// an upstream of −1 on every row (a loss falling as the logits rise)
    /// raises them.
    #[test]
    fn relaxed_training_steps_follow_the_hosts_gradient() {
        let mut d = discriminator("kernels");
        let batch = relaxed_rows();
        let before: f32 = d.relaxed_logits_of(&batch, None).unwrap().iter().sum();
        for seed in 0..20 {
            let stats = d
                .relaxed_train_step_of(&batch, &[-1.0, -1.0, -1.0], &StepOptions { seed })
                .unwrap();
            assert!(stats.loss.is_finite());
        }
        let after: f32 = d.relaxed_logits_of(&batch, None).unwrap().iter().sum();
        assert!(after > before + 0.1, "{before} → {after}");
    }
}
