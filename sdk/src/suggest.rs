//! "Did you mean": the closest of some names to a misspelt one. Used by the
//! host for config keys and plugin names, and by plugins for their own names.

/// The candidate closest to `word` by edit distance, when it is close enough
/// to be a likely typo (at most a third of the word's length, at least 1,
/// at most 3 edits).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_name_is_suggested_and_a_far_one_is_not() {
        let names = ["name", "seed", "device", "training"];
        assert_eq!(closest("trainig", names), Some("training"));
        assert_eq!(closest("seeds", names), Some("seed"));
        assert_eq!(closest("colour", names), None);
        assert_eq!(closest("seed", names), None, "an exact name is no typo");
    }
}
