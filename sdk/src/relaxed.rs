//! Relaxed samples and rows (since ABI 1.2): what crosses the boundary in
//! gradient-based adversarial training (RelGAN's Gumbel-softmax family).
//!
//! A generator draws *relaxed samples*: hard ids plus, at every position, a
//! distribution over the vocabulary, `softmax(β · (logits + g))` with Gumbel
//! noise `g` drawn from the request's seed. A discriminator scores *relaxed
//! rows* (such distributions, or the one-hot rows of real text) and returns
//! the gradient of the host's loss with respect to them; the generator then
//! steps along that gradient. Only `f32` arrays cross: never a tensor, never
//! a graph. A plugin that needs its graph again can recompute it from the
//! same request, so the calls can come in any order; the kits keep the
//! last pass and use it when the next call asks for exactly that pass on
//! the same weights (`kits::kept_pass`), else recompute.
//!
//! Memory: one crossing of `rows × width × vocabulary` `f32`s, e.g.
//! 64 × 20 × 5,000 × 4 B = 25.6 MB at SeqGAN's oracle size.
//!
//! Since ABI 1.3 a step's rows cross as [`PairedRows`]: the real rows as
//! ids beside the generated relaxed rows, where the 1.2 calls took one
//! [`RelaxedBatch`] holding the real rows one-hot (as many values again,
//! carrying nothing but ids), and the gradient comes back for the
//! generated rows only.

use abi_stable::{
    std_types::{ROption, RVec},
    StableAbi,
};

use crate::{batch::TokenBatch, error::PluginError};

/// Draw relaxed samples (`Generator::relaxed_sample`), or take a step along
/// the gradient with respect to the ones this request draws
/// (`Generator::relaxed_policy_step`).
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct RelaxedSampleRequest {
    /// How many rows. For conditional tasks, must equal the source rows.
    pub count: u32,
    /// Positions per row; rows stop early at EOS.
    pub max_len: u32,
    /// β, the inverse temperature of `softmax(β · (logits + g))` (RelGAN
    /// anneals it from 1 up to `β_max`).
    pub inverse_temperature: f32,
    /// Seed of the Gumbel noise: row `r` draws from a stream derived from
    /// it and `r`, so the same request gives the same samples.
    pub seed: u64,
    /// Sources to condition on (one row each).
    pub sources: ROption<TokenBatch>,
}

/// What `Generator::relaxed_sample` returns.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct RelaxedSamples {
    /// The hard samples `argmax(logits + g)`, `max_len` wide; each row ends
    /// at its EOS (kept) or at `max_len`.
    pub ids: TokenBatch,
    /// `[count, max_len, vocabulary]` row-major: position `t` of row `r` is
    /// `softmax(β · (logits + g))`; zero past the row's length.
    pub soft: RVec<f32>,
}

/// Rows given as distributions over the vocabulary, as a discriminator
/// reads them: generated relaxed samples, or one-hot real text.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct RelaxedBatch {
    /// Each row's length (at most `width`).
    pub lengths: RVec<u32>,
    /// Positions per row in `soft`.
    pub width: u32,
    /// `[rows, width, vocabulary]` row-major; values past a row's length
    /// are ignored.
    pub soft: RVec<f32>,
    /// Row-aligned sources for conditional tasks.
    pub sources: ROption<TokenBatch>,
}

impl RelaxedBatch {
    /// The one-hot rows of `ids`, `width` positions each (rows longer than
    /// `width` are refused).
    pub fn one_hot(
        ids: &TokenBatch,
        width: usize,
        vocab: usize,
        sources: ROption<TokenBatch>,
    ) -> Result<Self, PluginError> {
        let mut soft = vec![0f32; ids.rows() * width * vocab];
        for (r, row) in ids.iter_rows().enumerate() {
            if row.len() > width {
                return Err(PluginError::input(format!(
                    "row {r} has {} tokens, more than the relaxed batch's width {width}",
                    row.len()
                )));
            }
            for (t, &id) in row.iter().enumerate() {
                if id as usize >= vocab {
                    return Err(PluginError::input(format!(
                        "row {r} holds id {id}, outside the vocabulary of {vocab}"
                    )));
                }
                soft[(r * width + t) * vocab + id as usize] = 1.0;
            }
        }
        Ok(RelaxedBatch {
            lengths: ids.lengths.clone(),
            width: width as u32,
            soft: soft.into(),
            sources,
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.lengths.len()
    }

    /// The rows of `self` followed by those of `other` (same width; sources
    /// on both or neither).
    pub fn concat(&self, other: &RelaxedBatch) -> Result<Self, PluginError> {
        let mut joined = self.clone();
        joined.append(other)?;
        Ok(joined)
    }

    /// Appends the rows of `other` (same width; sources on both or
    /// neither), copying its values once.
    pub fn append(&mut self, other: &RelaxedBatch) -> Result<(), PluginError> {
        if self.width != other.width {
            return Err(PluginError::input(format!(
                "relaxed batches of widths {} and {} cannot be joined",
                self.width, other.width
            )));
        }
        let sources = match (&self.sources, &other.sources) {
            (ROption::RNone, ROption::RNone) => ROption::RNone,
            (ROption::RSome(a), ROption::RSome(b)) => {
                let width = a.width.max(b.width) as usize;
                let rows: Vec<&[u32]> = a.iter_rows().chain(b.iter_rows()).collect();
                ROption::RSome(TokenBatch::from_rows_with_width(&rows, 0, width))
            }
            _ => {
                return Err(PluginError::input(
                    "relaxed batches with and without sources cannot be joined",
                ))
            }
        };
        self.lengths.extend(other.lengths.iter().copied());
        // One memcpy: `RVec::extend_from_slice` pushes value by value.
        self.soft.extend_from_copy_slice(&other.soft);
        self.sources = sources;
        Ok(())
    }

    /// Checks the shape against `vocab`: `soft` holds `rows × width × vocab`
    /// finite values and no row is longer than `width`.
    pub fn validate(&self, vocab: u32) -> Result<(), PluginError> {
        self.validate_shape(vocab)?;
        check_finite(&self.soft)
    }

    /// The shape half of [`Self::validate`]: `soft` holds `rows × width ×
    /// vocab` values and no row is longer than `width`; the values are not
    /// read.
    pub fn validate_shape(&self, vocab: u32) -> Result<(), PluginError> {
        let (rows, width) = (self.rows(), self.width as usize);
        let expected = rows * width * vocab as usize;
        if self.soft.len() != expected {
            return Err(PluginError::input(format!(
                "{} relaxed values for {rows} rows × {width} positions × {vocab} ids ({expected} expected)",
                self.soft.len()
            )));
        }
        if let Some(&long) = self.lengths.iter().find(|&&l| l > self.width) {
            return Err(PluginError::input(format!(
                "a relaxed row of length {long} in a batch {width} wide"
            )));
        }
        Ok(())
    }
}

/// Since ABI 1.3. One step's rows for a discriminator, as
/// `algorithm: gumbel` sends them: `real` rows of real text as ids, and as
/// many `generated` relaxed rows; pair `r` is real row `r` and generated
/// row `r`. It stands for the [`RelaxedBatch`] [`PairedRows::joined`]
/// builds — the real rows one-hot, then the generated rows — and the
/// `Discriminator::paired_*` calls answer as the `relaxed_*` calls would
/// on that batch; without its `rows × width × vocabulary` one-hot values
/// (25.6 MB for 64 rows at the oracle's 20 × 5,000).
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct PairedRows {
    /// The real rows, each at most `generated.width` ids long; as many as
    /// `generated` has.
    pub real: TokenBatch,
    /// The generated rows. Their `sources`, in a conditional task, are the
    /// pairs': real row `r` has source `r` too.
    pub generated: RelaxedBatch,
}

impl PairedRows {
    /// Number of pairs (half the rows a discriminator scores).
    pub fn pairs(&self) -> usize {
        self.generated.rows()
    }

    /// Checks the shape against `vocab`: as many real rows as generated
    /// ones, real rows at most `generated.width` long with ids below
    /// `vocab`, and the generated rows' shape
    /// ([`RelaxedBatch::validate_shape`]); their values are not read.
    pub fn validate_shape(&self, vocab: u32) -> Result<(), PluginError> {
        self.generated.validate_shape(vocab)?;
        let (real, pairs) = (self.real.rows(), self.pairs());
        if real != pairs {
            return Err(PluginError::input(format!(
                "{real} real rows paired with {pairs} generated rows (one each expected)"
            )));
        }
        self.real.validate(vocab, "real rows")?;
        let width = self.generated.width;
        if let Some(&long) = self.real.lengths.iter().find(|&&l| l > width) {
            return Err(PluginError::input(format!(
                "a real row of length {long} beside relaxed rows {width} wide"
            )));
        }
        Ok(())
    }

    /// The vocabulary the generated rows are spread over, from their shape
    /// (`None` when they hold no position to tell it by).
    pub fn vocab(&self) -> Option<usize> {
        let positions = self.pairs() * self.generated.width as usize;
        (positions > 0).then(|| self.generated.soft.len() / positions)
    }

    /// The [`RelaxedBatch`] these rows stand for: the real rows one-hot
    /// over `vocab` ids, then the generated rows, each pair's source on
    /// both of its rows.
    pub fn joined(&self, vocab: usize) -> Result<RelaxedBatch, PluginError> {
        // Malformed batches are refused here, not met as a panic in a row
        // lookup (this runs in the host for a library built for 1.2).
        self.real
            .validate(vocab.min(u32::MAX as usize) as u32, "real rows")?;
        if let ROption::RSome(sources) = &self.generated.sources {
            sources.validate(u32::MAX, "sources")?;
        }
        let mut joined = RelaxedBatch::one_hot(
            &self.real,
            self.generated.width as usize,
            vocab,
            self.generated.sources.clone(),
        )?;
        joined.append(&self.generated)?;
        Ok(joined)
    }

    /// [`Self::joined`] over the vocabulary of the generated rows: what the
    /// `paired_*` calls' defaults hand to the 1.2 calls.
    pub fn joined_over_own_vocab(&self) -> Result<RelaxedBatch, PluginError> {
        self.joined(self.vocab().unwrap_or(0))
    }

    /// The generated rows' part of a gradient over [`Self::joined`]'s rows
    /// (a 1.2 `relaxed_input_gradient`): its last `generated.soft.len()`
    /// values, the real rows' part dropped. Refuses a gradient that is not
    /// one value per joined relaxed value.
    pub fn generated_part(&self, mut joined_gradient: Vec<f32>) -> Result<Vec<f32>, PluginError> {
        // The joined rows are as many real rows as generated ones, each as
        // wide and over the same vocabulary.
        let (real, pairs) = (self.real.rows(), self.pairs());
        if real != pairs {
            return Err(PluginError::input(format!(
                "{real} real rows paired with {pairs} generated rows (one each expected)"
            )));
        }
        let generated = self.generated.soft.len();
        let joined = 2 * generated;
        if joined_gradient.len() != joined {
            return Err(PluginError::other(format!(
                "relaxed_input_gradient returned {} values for {joined} relaxed values",
                joined_gradient.len()
            )));
        }
        joined_gradient.drain(..joined - generated);
        Ok(joined_gradient)
    }
}

/// Refuses relaxed values that are not all finite, as
/// [`RelaxedBatch::validate`] does.
pub fn check_finite(values: &[f32]) -> Result<(), PluginError> {
    match first_non_finite(values) {
        Some((_, bad)) => Err(PluginError::numerical(format!(
            "relaxed value {bad} is not finite"
        ))),
        None => Ok(()),
    }
}

/// The first value of `values` that is not finite, with its index.
///
/// Relaxed rows are tens of megabytes; this scans them in blocks the
/// compiler vectorises (a search that stops at the first bad value cannot
/// be), and looks for the value itself only in a block that has one.
pub fn first_non_finite(values: &[f32]) -> Option<(usize, f32)> {
    const BLOCK: usize = 1024;
    values.chunks(BLOCK).enumerate().find_map(|(b, block)| {
        // An all-finite block's values all have exponents below all ones.
        let finite = block.iter().fold(true, |finite, v| {
            finite & (v.to_bits() & 0x7f80_0000 != 0x7f80_0000)
        });
        if finite {
            return None;
        }
        let (i, &bad) = block.iter().enumerate().find(|(_, v)| !v.is_finite())?;
        Some((b * BLOCK + i, bad))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hot_rows_have_a_one_at_each_token_and_zeros_past_the_length() {
        let ids = TokenBatch::from_rows(&[vec![2u32, 0], vec![1]], 0);
        let batch = RelaxedBatch::one_hot(&ids, 3, 3, ROption::RNone).unwrap();
        #[rustfmt::skip]
        let expected = [
            0., 0., 1.,  1., 0., 0.,  0., 0., 0.,
            0., 1., 0.,  0., 0., 0.,  0., 0., 0.,
        ];
        assert_eq!(batch.soft.as_slice(), &expected);
        assert_eq!(batch.lengths.as_slice(), &[2, 1]);
        batch.validate(3).unwrap();
        let joined = batch.concat(&batch).unwrap();
        assert_eq!(joined.rows(), 4);
        assert_eq!(joined.soft.len(), 2 * expected.len());
    }

    #[test]
    fn bad_shapes_are_refused_with_what_was_expected() {
        let ids = TokenBatch::from_rows(&[vec![1u32, 1, 1]], 0);
        let err = RelaxedBatch::one_hot(&ids, 2, 3, ROption::RNone).unwrap_err();
        assert!(err.message().contains("width 2"), "{err:?}");
        let mut batch = RelaxedBatch::one_hot(&ids, 3, 3, ROption::RNone).unwrap();
        let err = batch.validate(4).unwrap_err();
        assert!(err.message().contains("(12 expected)"), "{err:?}");
        batch.soft[0] = f32::NAN;
        assert!(batch.validate(3).is_err());
    }

    #[test]
    fn paired_rows_join_as_one_hot_real_rows_then_the_generated_ones() {
        let real = TokenBatch::from_rows(&[vec![2u32, 0], vec![1]], 0);
        let generated = RelaxedBatch {
            lengths: vec![1u32, 2].into(),
            width: 2,
            soft: (0..12).map(|v| v as f32 / 12.0).collect::<Vec<_>>().into(),
            sources: ROption::RNone,
        };
        let paired = PairedRows {
            real: real.clone(),
            generated: generated.clone(),
        };
        paired.validate_shape(3).unwrap();
        assert_eq!((paired.pairs(), paired.vocab()), (2, Some(3)));
        let expected = RelaxedBatch::one_hot(&real, 2, 3, ROption::RNone)
            .unwrap()
            .concat(&generated)
            .unwrap();
        assert_eq!(paired.joined_over_own_vocab().unwrap(), expected);
        // A gradient over the joined rows: the generated rows' part is its
        // second half, value for value.
        let gradient: Vec<f32> = (0..expected.soft.len()).map(|v| v as f32).collect();
        let part = paired.generated_part(gradient.clone()).unwrap();
        assert_eq!(part, gradient[generated.soft.len()..]);
        let err = paired.generated_part(gradient[1..].to_vec()).unwrap_err();
        assert!(
            err.message().contains("returned 23 values for 24"),
            "{err:?}"
        );
        let unpaired = PairedRows {
            real: TokenBatch::from_rows(&[vec![2u32]], 0),
            generated: generated.clone(),
        };
        let err = unpaired.generated_part(gradient).unwrap_err();
        assert!(
            err.message().contains("1 real rows paired with 2"),
            "{err:?}"
        );
        let one_real = PairedRows {
            real: TokenBatch::from_rows(&[vec![2u32]], 0),
            generated: generated.clone(),
        };
        let err = one_real.validate_shape(3).unwrap_err();
        assert!(
            err.message().contains("1 real rows paired with 2"),
            "{err:?}"
        );
        let long = PairedRows {
            real: TokenBatch::from_rows(&[vec![2u32, 1, 1], vec![1]], 0),
            generated: generated.clone(),
        };
        let err = long.validate_shape(3).unwrap_err();
        assert!(
            err.message()
                .contains("length 3 beside relaxed rows 2 wide"),
            "{err:?}"
        );
        let outside = PairedRows {
            real: TokenBatch::from_rows(&[vec![3u32], vec![1]], 0),
            generated,
        };
        assert!(outside.validate_shape(3).is_err());
    }

    #[test]
    fn the_first_non_finite_value_is_found_in_any_block() {
        let mut values = vec![0.5f32; 5000];
        assert_eq!(first_non_finite(&values), None);
        values[3001] = f32::INFINITY;
        values[4000] = f32::NAN;
        assert_eq!(first_non_finite(&values), Some((3001, f32::INFINITY)));
        values[3001] = f32::MAX;
        let (i, bad) = first_non_finite(&values).unwrap();
        assert_eq!(i, 4000);
        assert!(bad.is_nan());
        values[0] = f32::NEG_INFINITY;
        assert_eq!(first_non_finite(&values), Some((0, f32::NEG_INFINITY)));
    }
}
