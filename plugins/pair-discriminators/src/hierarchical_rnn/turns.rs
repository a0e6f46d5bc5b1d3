//! Dialogues laid out as utterances for one batched utterance-GRU pass and
//! gathered back into per-row sequences of turns.

use agon_sdk::kits::Rows;

/// Every utterance of a batch, and where each row's turns sit among them.
#[derive(Debug, PartialEq)]
pub struct Dialogues {
    /// Context turns of every row, then every response.
    pub utterances: Vec<Vec<u32>>,
    /// `[rows × steps]` indices into the encoded utterances, row-major: a
    /// row's context turns in order, its response, then `utterances.len()`
    /// (the index of an appended zero vector) as padding.
    pub index: Vec<u32>,
    /// `[rows × steps]` 1 at real turns, 0 at padding.
    pub mask: Vec<f32>,
    /// Turns per row of the longest dialogue (context turns + response).
    pub steps: usize,
}

impl Dialogues {
    /// Splits each context at `separator` (dropping the separators and empty
    /// turns; a context without any real token is one empty turn, encoded as
    /// the zero state) or keeps it whole when `separator` is `None`.
    pub fn new(rows: &Rows, separator: Option<u32>) -> Self {
        let contexts: Vec<Vec<Vec<u32>>> = rows
            .source_rows()
            .iter()
            .map(|source| split_turns(source, separator))
            .collect();
        let steps = contexts.iter().map(Vec::len).max().unwrap_or(0) + 1;
        let context_count: usize = contexts.iter().map(Vec::len).sum();
        let padding = (context_count + rows.len()) as u32;
        let mut index = Vec::with_capacity(rows.len() * steps);
        let mut mask = Vec::with_capacity(rows.len() * steps);
        let mut next = 0u32;
        for (row, turns) in contexts.iter().enumerate() {
            index.extend(next..next + turns.len() as u32);
            next += turns.len() as u32;
            index.push((context_count + row) as u32);
            let real = turns.len() + 1;
            index.resize(index.len() + steps - real, padding);
            mask.extend((0..steps).map(|s| if s < real { 1.0 } else { 0.0 }));
        }
        let mut utterances: Vec<Vec<u32>> = contexts.into_iter().flatten().collect();
        utterances.extend(rows.targets.iter().cloned());
        Dialogues {
            utterances,
            index,
            mask,
            steps,
        }
    }
}

fn split_turns(source: &[u32], separator: Option<u32>) -> Vec<Vec<u32>> {
    let turns: Vec<Vec<u32>> = match separator {
        Some(sep) => source
            .split(|&id| id == sep)
            .filter(|turn| !turn.is_empty())
            .map(<[u32]>::to_vec)
            .collect(),
        None => vec![source.to_vec()],
    };
    if turns.is_empty() {
        vec![Vec::new()]
    } else {
        turns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_are_split_and_gathered_in_order_with_padding() {
        let pairs = Rows {
            targets: vec![vec![10, 2], vec![11, 2]],
            sources: Some(vec![vec![5, 9, 6, 7, 9, 9, 8], vec![4]]),
        };
        let dialogues = Dialogues::new(&pairs, Some(9));
        assert_eq!(
            dialogues.utterances,
            vec![
                vec![5],
                vec![6, 7],
                vec![8],
                vec![4],
                vec![10, 2],
                vec![11, 2]
            ]
        );
        assert_eq!(dialogues.steps, 4);
        assert_eq!(dialogues.index, vec![0, 1, 2, 4, 3, 5, 6, 6]);
        assert_eq!(dialogues.mask, vec![1., 1., 1., 1., 1., 1., 0., 0.]);
        let whole = Dialogues::new(&pairs, None);
        assert_eq!(whole.steps, 2);
        assert_eq!(whole.index, vec![0, 2, 1, 3]);
    }
}
