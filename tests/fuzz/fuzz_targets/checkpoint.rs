//! Run-directory metadata read on resume: a checkpoint's `state.json`, the
//! vocabulary `vocab.txt` and metrics rows give a value or an error, never
//! a panic.
#![no_main]

use std::path::Path;

use agon::{text::Vocabulary, train::checkpoint::parse_state, train::metrics::MetricsRow};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_state(data, Path::new("state.json"));
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(vocabulary) = Vocabulary::parse(text, Path::new("vocab.txt")) {
            assert!(vocabulary.len() >= 4);
            for id in 0..vocabulary.len() as u32 {
                assert_eq!(vocabulary.id(vocabulary.token(id)), id);
            }
        }
        for line in text.lines() {
            let _ = serde_json::from_str::<MetricsRow>(line);
        }
    }
});
