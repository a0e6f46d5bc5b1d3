//! Deriving independent seeds from one run seed.
//!
//! Host and plugins derive every random stream from the run's seed and a
//! label (`"mle/3/shuffle"`, a weight's name, a rollout's number) instead of
//! drawing seeds from a shared generator. Streams then do not depend on the
//! order in which they are used, and a resumed run needs no RNG state.

/// A seed for the sub-stream `label` of `seed` (FNV-1a of the label mixed
/// into the seed by SplitMix64's finaliser).
pub fn derive_seed(seed: u64, label: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in label.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = seed ^ hash;
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_seeds_both_change_the_stream() {
        assert_eq!(derive_seed(3, "a"), derive_seed(3, "a"));
        assert_ne!(derive_seed(3, "a"), derive_seed(3, "b"));
        assert_ne!(derive_seed(3, "a"), derive_seed(4, "a"));
        assert_ne!(derive_seed(0, "1/23"), derive_seed(0, "12/3"));
    }
}
