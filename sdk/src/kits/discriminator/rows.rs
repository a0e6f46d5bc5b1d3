//! The rows a kit model scores, taken from the host's batches.

use crate::{
    batch::{Batch, TokenBatch},
    error::{PluginError, PluginResult},
};

/// Whether a model reads the sources of a conditional task's rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceUse {
    /// Scores targets alone; batches with sources are refused (the host
    /// would otherwise think the model judges a target given its source).
    Never,
    /// Scores (source, target) pairs; batches without sources are refused.
    Required,
}

/// Row-aligned targets and, for a model that reads them, sources (each cut
/// to the model's `max_source_len`). Rows keep their own lengths: pad them
/// with [`super::Pass::pad`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    pub targets: Vec<Vec<u32>>,
    /// `Some` exactly when the model's [`SourceUse`] is `Required`.
    pub sources: Option<Vec<Vec<u32>>>,
}

impl Rows {
    /// The rows of `batch` for a model named `component` that reads sources
    /// as `use_` says, each source cut to its first `max_source_len` tokens.
    pub fn from_batch(
        batch: &Batch,
        component: &str,
        use_: SourceUse,
        max_source_len: Option<usize>,
    ) -> PluginResult<Rows> {
        let targets = batch.targets.iter_rows().map(<[u32]>::to_vec).collect();
        let sources = row_sources(
            batch.sources.as_ref().into_option(),
            component,
            use_,
            max_source_len,
        )?;
        Ok(Rows { targets, sources })
    }

    /// `self`'s rows followed by `other`'s.
    pub fn stacked(mut self, other: Rows) -> Rows {
        self.targets.extend(other.targets);
        if let (Some(mine), Some(theirs)) = (&mut self.sources, other.sources) {
            mine.extend(theirs);
        }
        self
    }

    /// The sources, row-aligned with the targets; empty for a model that
    /// does not read them (the kit only builds rows with sources for models
    /// whose [`SourceUse`] is `Required`).
    pub fn source_rows(&self) -> &[Vec<u32>] {
        self.sources.as_deref().unwrap_or_default()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Each target row's length (relaxed rows carry theirs in
    /// [`super::RelaxedRows::lengths`]).
    pub fn lengths(&self) -> Vec<usize> {
        self.targets.iter().map(Vec::len).collect()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Rows `start..start + count` (fewer at the end).
    pub fn slice(&self, start: usize, count: usize) -> Rows {
        let end = (start + count).min(self.len());
        Rows {
            targets: self.targets[start..end].to_vec(),
            sources: self.sources.as_ref().map(|s| s[start..end].to_vec()),
        }
    }
}

/// The sources a model named `component` reads from a batch's `sources`:
/// `None` for a model that reads none (refusing a batch that has them),
/// each row cut to its first `max_source_len` tokens for one that needs
/// them (refusing a batch without).
pub(super) fn row_sources(
    sources: Option<&TokenBatch>,
    component: &str,
    use_: SourceUse,
    max_source_len: Option<usize>,
) -> PluginResult<Option<Vec<Vec<u32>>>> {
    match (use_, sources) {
        (SourceUse::Never, None) => Ok(None),
        (SourceUse::Never, Some(_)) => Err(PluginError::unsupported(format!(
            "{component} scores sequences alone; it does not read sources \
             (use a discriminator that scores (source, target) pairs for a conditional task)"
        ))),
        (SourceUse::Required, None) => Err(PluginError::input(format!(
            "{component} scores (source, target) pairs and needs a conditional task: \
             this batch has no sources"
        ))),
        (SourceUse::Required, Some(sources)) => {
            let cut = max_source_len.unwrap_or(usize::MAX);
            Ok(Some(
                sources
                    .iter_rows()
                    .map(|row| row[..row.len().min(cut)].to_vec())
                    .collect(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TokenBatch;

    #[test]
    fn sources_are_cut_and_refused_or_required_as_declared() {
        let targets = TokenBatch::from_rows(&[vec![4, 2], vec![5, 6, 2]], 0);
        let sources = TokenBatch::from_rows(&[vec![7, 8, 9, 2], vec![9, 2]], 0);
        let conditional = Batch::conditional(targets.clone(), sources);
        let rows = Rows::from_batch(&conditional, "x", SourceUse::Required, Some(3)).unwrap();
        assert_eq!(rows.sources, Some(vec![vec![7, 8, 9], vec![9, 2]]));
        assert_eq!(rows.targets, vec![vec![4, 2], vec![5, 6, 2]]);
        assert_eq!(rows.slice(1, 5).targets, vec![vec![5, 6, 2]]);

        let plain = Batch::unconditional(targets);
        let err = Rows::from_batch(&plain, "pair-x", SourceUse::Required, None).unwrap_err();
        assert!(err.message().contains("pair-x") && err.message().contains("conditional task"));
        let err = Rows::from_batch(&conditional, "seq-x", SourceUse::Never, None).unwrap_err();
        assert!(err.message().contains("seq-x") && err.message().contains("does not read sources"));
        assert_eq!(
            Rows::from_batch(&plain, "seq-x", SourceUse::Never, None)
                .unwrap()
                .sources,
            None
        );
    }
}
