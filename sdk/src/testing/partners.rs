//! Small kit models to test a component against the other side of the
//! gradient chain: [`BigramGenerator`] for a discriminator author,
//! [`MeanPoolDiscriminator`] for a generator author.
//!
//! Why not the other lab's crate? Two plugin crates cannot be linked into
//! one test binary: each library macro exports the library's root symbol
//! under one fixed name (the host looks it up by that name), and the linker
//! refuses the second. These partners are plain models, not libraries.

use candle_core::{Device, Module, Tensor};
use candle_nn::{embedding, linear, Embedding, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

use crate::{
    batch::TokenBatch,
    context::PluginContext,
    error::PluginResult,
    kits::{
        DiscriminatorConfig, DiscriminatorModel, DiscriminatorTraining, GeneratorConfig,
        GeneratorModel, GeneratorTraining, Pass, RelaxedRows, Rows, SourceUse,
    },
    toolkit::{masked_mean, MaskedEmbedding},
};

/// [`BigramGenerator`]'s config: the embedding size, and the kit's
/// training keys.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BigramConfig {
    pub embedding_dim: usize,
    pub training: GeneratorTraining,
}

impl Default for BigramConfig {
    fn default() -> Self {
        BigramConfig {
            embedding_dim: 4,
            training: GeneratorTraining::default(),
        }
    }
}

impl GeneratorConfig for BigramConfig {
    const DOCS: &'static [(&'static str, &'static str)] = &[("embedding_dim", "Embedding size.")];
    fn training(&self) -> GeneratorTraining {
        self.training.clone()
    }
}

/// A bigram language model on the generator kit: the next token's logits
/// from the last token's embedding. Every kit method works on it, relaxed
/// samples and the policy step included, so a discriminator's test can
/// send gradients into it (`check_gradient_chain`).
pub struct BigramGenerator {
    embedding: Embedding,
    output: Linear,
}

impl GeneratorModel for BigramGenerator {
    type Config = BigramConfig;
    type Memory = ();
    type State = ();
    const NAME: &'static str = "bigram";
    const SOURCES: SourceUse = SourceUse::Never;

    fn new(vb: VarBuilder, context: &PluginContext, config: &BigramConfig) -> PluginResult<Self> {
        let vocab = context.vocab.size as usize;
        Ok(BigramGenerator {
            embedding: embedding(vocab, config.embedding_dim, vb.pp("embedding"))?,
            output: linear(config.embedding_dim, vocab, vb.pp("output"))?,
        })
    }

    fn start(&self, _: Option<&TokenBatch>, _: usize, _: &Device) -> PluginResult<((), ())> {
        Ok(((), ()))
    }

    fn step(&self, _: &(), _: &(), tokens: &Tensor) -> PluginResult<(Tensor, ())> {
        Ok((self.output.forward(&self.embedding.forward(tokens)?)?, ()))
    }
}

/// [`MeanPoolDiscriminator`]'s config: the embedding size, and the kit's
/// training keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeanPoolConfig {
    pub embedding_dim: usize,
    pub training: DiscriminatorTraining,
}

impl Default for MeanPoolConfig {
    fn default() -> Self {
        MeanPoolConfig {
            embedding_dim: 4,
            training: DiscriminatorTraining::default(),
        }
    }
}

impl DiscriminatorConfig for MeanPoolConfig {
    const DOCS: &'static [(&'static str, &'static str)] = &[("embedding_dim", "Embedding size.")];
    fn training(&self) -> &DiscriminatorTraining {
        &self.training
    }
    fn dimensions(&self) -> Vec<(&'static str, usize)> {
        vec![("embedding_dim", self.embedding_dim)]
    }
}

/// The mean of a row's token embeddings through a linear layer, on the
/// discriminator kit, reading ids and relaxed rows (`RELAXED`): a
/// generator's test can score its relaxed samples with it and send the
/// input gradient back (`check_gradient_chain`).
pub struct MeanPoolDiscriminator {
    embedding: MaskedEmbedding,
    output: Linear,
}

impl DiscriminatorModel for MeanPoolDiscriminator {
    type Config = MeanPoolConfig;
    const NAME: &'static str = "mean-pool";
    const SOURCES: SourceUse = SourceUse::Never;
    const RELAXED: bool = true;

    fn new(vb: VarBuilder, context: &PluginContext, config: &MeanPoolConfig) -> PluginResult<Self> {
        let vocab = context.vocab.size as usize;
        Ok(MeanPoolDiscriminator {
            embedding: MaskedEmbedding::new(vb.clone(), vocab, config.embedding_dim)?,
            output: linear(config.embedding_dim, 1, vb.pp("output"))?,
        })
    }

    fn logits(&self, rows: &Rows, pass: &mut Pass) -> PluginResult<Tensor> {
        let padded = pass.pad(&rows.targets, 1)?;
        let embedded = self.embedding.masked(&padded.ids, &padded.mask)?;
        let pooled = masked_mean(&embedded, &padded.mask)?;
        Ok(self.output.forward(&pooled)?.squeeze(1)?)
    }

    fn relaxed_logits(&self, rows: &RelaxedRows, _: &mut Pass) -> PluginResult<Option<Tensor>> {
        let embedded = self.embedding.relaxed(&rows.soft, &rows.mask)?;
        let pooled = masked_mean(&embedded, &rows.mask)?;
        Ok(Some(self.output.forward(&pooled)?.squeeze(1)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        kits::{KitDiscriminator, KitGenerator},
        relaxed::RelaxedSampleRequest,
        testing::{
            check_gradient_chain, check_relaxed_input_gradient, check_relaxed_rows_score_as_ids,
            one_hot_rows,
        },
    };

    /// The partners work on their own: the discriminator's relaxed rows
    /// score as its ids and its input gradient matches finite differences,
    /// and the chain from its logits into the generator's weights holds.
    #[test]
    fn the_partners_pass_the_relaxed_checks_and_the_gradient_chain() {
        let (vocab, width) = (7, 5);
        let context = PluginContext::for_tests(vocab, width);
        let mut d = KitDiscriminator::<MeanPoolDiscriminator>::new(&context).unwrap();
        let rows = [vec![4, 5, 6], vec![5, 2], vec![1, 2, 3, 4, 5]];
        check_relaxed_rows_score_as_ids(&mut d, &rows, vocab as usize, &[5, 7]);
        let batch = one_hot_rows(&rows, width as usize, vocab as usize);
        check_relaxed_input_gradient(&d, &batch, &[1.0, -0.5, 0.25], 1);

        let g = KitGenerator::<BigramGenerator>::new(&context).unwrap();
        let real = one_hot_rows(&rows[..2], width as usize, vocab as usize);
        let request = RelaxedSampleRequest {
            count: 2,
            max_len: width,
            inverse_temperature: 2.0,
            seed: 5,
            sources: None.into(),
        };
        // The mean generated logit, to be raised: −mean(f).
        let loss = |logits: &[f32]| {
            let fake = &logits[2..];
            let value = -fake.iter().map(|&f| f64::from(f)).sum::<f64>() / 2.0;
            let mut gradient = vec![0f32; logits.len()];
            gradient[2..].fill(-0.5);
            (value, gradient)
        };
        assert!(check_gradient_chain(&g, &d, &real, &request, 3, 1, &loss) > 0);
    }
}
