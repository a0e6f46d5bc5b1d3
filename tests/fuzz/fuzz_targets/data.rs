//! Data files: token-id files and text files under every tokenizer give
//! sequences or an error naming the line; a vocabulary built from any text
//! survives its own `vocab.txt` round trip.
#![no_main]

use std::path::Path;

use agon::text::{parse_lines, Level, TokenizerConfig, Vocabulary};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.txt");
    if let Ok(sequences) = agon::data::parse_token_ids(data, path, 5000, 20) {
        assert!(sequences
            .iter()
            .all(|s| s.len() <= 20 && s.iter().all(|&id| id < 5000)));
    }
    for (level, lowercase, split_punctuation) in [
        (Level::Word, true, true),
        (Level::Word, false, false),
        (Level::Char, false, true),
    ] {
        let tokenizer = TokenizerConfig {
            level,
            lowercase,
            split_punctuation,
        };
        let Ok(lines) = parse_lines(data, path, &tokenizer) else {
            continue;
        };
        let vocabulary = Vocabulary::build(lines.iter().map(Vec::as_slice), 1, Some(64));
        for line in &lines {
            assert!(!line.is_empty());
            let ids: Vec<u32> = line.iter().map(|t| vocabulary.id(t)).collect();
            assert!(ids.iter().all(|&id| (id as usize) < vocabulary.len()));
            let tokens: Vec<&str> = ids.iter().map(|&id| vocabulary.token(id)).collect();
            let _ = tokenizer.detokenize(&tokens);
        }
        let again = Vocabulary::parse(&vocabulary.to_text(), Path::new("vocab.txt"))
            .expect("a vocabulary agon wrote loads");
        assert_eq!(again, vocabulary);
    }
});
