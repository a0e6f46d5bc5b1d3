//! Experiment configs: any bytes (and any `--set` overrides) give a config
//! or an error, never a panic or a hang.
#![no_main]

use std::path::Path;

use agon_sdk::yaml;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first line holds `--set` overrides separated by tabs; the rest is
    // the file.
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(0);
    let (head, body) = data.split_at(split);
    let overrides: Vec<String> = std::str::from_utf8(head)
        .map(|h| {
            h.split('\t')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let body = body.strip_prefix(b"\n").unwrap_or(body);
    if let Ok(config) =
        agon::config::parse_experiment(body.to_vec(), Path::new("fuzz.yaml"), &overrides)
    {
        // A config that loads can be saved and loads again to the same
        // config (the run directory's config.yaml is read back on resume).
        let text = yaml::to_string(&config).expect("a config serialises");
        let again = agon::config::parse_experiment(
            text.clone().into_bytes(),
            Path::new("config.yaml"),
            &[],
        )
        .expect("a saved config loads");
        assert_eq!(yaml::to_string(&again).unwrap(), text);
    }
});
