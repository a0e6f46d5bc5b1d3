//! distinct-n (Li et al. 2016): distinct n-grams over all n-grams of a set
//! of generated sequences — the dialogue papers' diversity measure.

use std::collections::HashSet;

/// Distinct n-grams / total n-grams over `sequences` (0 when there are no
/// n-grams).
pub fn distinct_n<T: AsRef<[u32]>>(sequences: &[T], n: usize) -> f64 {
    let mut seen = HashSet::new();
    let mut total = 0usize;
    for sequence in sequences {
        let sequence = sequence.as_ref();
        if n == 0 || sequence.len() < n {
            continue;
        }
        for gram in sequence.windows(n) {
            seen.insert(gram);
            total += 1;
        }
    }
    if total == 0 {
        0.0
    } else {
        seen.len() as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_distinct_over_total_across_sequences() {
        let s = [vec![1, 2, 1, 2], vec![1, 2]];
        assert_eq!(distinct_n(&s, 1), 2.0 / 6.0);
        assert_eq!(distinct_n(&s, 2), 2.0 / 4.0);
        assert_eq!(distinct_n(&s, 5), 0.0);
    }
}
