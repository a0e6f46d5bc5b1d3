//! The plugin index: any file content gives an index (damaged entries
//! dropped with a warning), never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let index = agon_registry::Index::parse(text, Path::new("plugins-index.json"));
    for entry in index.entries() {
        assert_eq!(index.get(&entry.path), Some(entry));
        let _ = entry.manifest.qualified_name();
    }
});
