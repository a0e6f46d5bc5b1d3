//! The toy task the contract drives components on.

use crate::{batch::Batch, context::PluginContext, TokenBatch};

/// Whether the component is used on a conditional task (its batches carry
/// sources) or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    Unconditional,
    Conditional,
}

/// Ids the toy rows use: every id of the vocabulary but the specials.
pub(super) fn words(context: &PluginContext) -> Vec<u32> {
    let vocab = &context.vocab;
    let specials = [
        Some(vocab.bos),
        vocab.eos.into_option(),
        vocab.pad.into_option(),
        vocab.unk.into_option(),
    ];
    let words: Vec<u32> = (0..vocab.size)
        .filter(|id| !specials.contains(&Some(*id)))
        .collect();
    assert!(
        words.len() >= 4,
        "contract: give the context a vocabulary of at least 4 ordinary words"
    );
    words
}

/// `count` rows of 2..=`max_len` words (ending in EOS when the vocabulary
/// has one), drawn deterministically from `salt`.
pub(super) fn rows(context: &PluginContext, count: usize, salt: u32) -> Vec<Vec<u32>> {
    let words = words(context);
    let max_len = (context.max_len as usize).max(2);
    let eos = context.vocab.eos.into_option();
    (0..count as u32)
        .map(|r| {
            let len = 2 + ((r * 7 + salt * 3) as usize) % (max_len - 1);
            let mut row: Vec<u32> = (0..len as u32)
                .map(|t| words[((r * 13 + t * 5 + salt * 11) as usize) % words.len()])
                .collect();
            if let Some(eos) = eos {
                *row.last_mut().unwrap() = eos;
            }
            row
        })
        .collect()
}

/// `rows` as a batch of width `width`, its padding filled with `fill`.
pub(super) fn token_batch(rows: &[Vec<u32>], fill: u32, width: usize) -> TokenBatch {
    TokenBatch::from_rows_with_width(rows, fill, width)
}

/// A batch of `rows`, with sources (other toy rows) on a conditional task.
pub(super) fn batch(
    context: &PluginContext,
    task: Task,
    rows: &[Vec<u32>],
    fill: u32,
    width: usize,
) -> Batch {
    let targets = token_batch(rows, fill, width);
    match task {
        Task::Unconditional => Batch::unconditional(targets),
        Task::Conditional => {
            let sources = sources_for(context, rows.len());
            let widest = sources.iter().map(Vec::len).max().unwrap_or(1);
            Batch::conditional(targets, token_batch(&sources, fill, widest + width % 3))
        }
    }
}

/// One source per row (the same for the same row count).
pub(super) fn sources_for(context: &PluginContext, count: usize) -> Vec<Vec<u32>> {
    rows(context, count, 97)
}

/// The widest row of `rows`.
pub(super) fn width(rows: &[Vec<u32>]) -> usize {
    rows.iter().map(Vec::len).max().unwrap_or(1)
}
