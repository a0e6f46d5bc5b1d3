//! What a sample does within itself, beside what BLEU and Self-BLEU measure
//! across samples: its length, and how much of it repeats itself. A reward
//! or a discriminator can change both without moving BLEU (a collapse into
//! "this set . . . . ." is a repetition, a longer sample a length), so
//! `agon eval` reports them per sample for the paired tests.

use std::collections::HashSet;

/// Tokens of a sample, its end-of-sequence token not counted.
pub fn length(tokens: &[u32]) -> f64 {
    tokens.len() as f64
}

/// The share of a sample's bigrams that repeat a bigram seen earlier in the
/// same sample: 0 for one without repeats (or with fewer than two
/// bigrams), near 1 for one token or pair said over and over.
pub fn repeated_bigrams(tokens: &[u32]) -> f64 {
    let bigrams = tokens.len().saturating_sub(1);
    if bigrams < 2 {
        return 0.0;
    }
    let mut seen = HashSet::with_capacity(bigrams);
    let repeats = tokens
        .windows(2)
        .filter(|pair| !seen.insert((pair[0], pair[1])))
        .count();
    repeats as f64 / bigrams as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collapse_repeats_itself_and_a_plain_sentence_does_not() {
        // "this set . . . . . . ."
        let collapsed = [5, 6, 1, 1, 1, 1, 1, 1, 1];
        assert_eq!(length(&collapsed), 9.0);
        // 8 bigrams: (5,6), (6,1), then (1,1) six times, five of them repeats.
        assert_eq!(repeated_bigrams(&collapsed), 5.0 / 8.0);
        assert_eq!(repeated_bigrams(&[1, 2, 3, 4]), 0.0);
        // "a b a b": (a,b) again once of 3.
        assert_eq!(repeated_bigrams(&[1, 2, 1, 2]), 1.0 / 3.0);
        assert_eq!(repeated_bigrams(&[7, 7]), 0.0);
        assert_eq!(repeated_bigrams(&[]), 0.0);
    }
}
