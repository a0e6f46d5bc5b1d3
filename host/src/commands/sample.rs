//! `agon sample RUN_DIR -n N`: sequences from a run's latest checkpoint.

use std::io::Write;

use crate::{cli::SampleArgs, task::oracle::sample_many};

pub fn run(args: SampleArgs) -> anyhow::Result<()> {
    let (config, mut generator) = super::train::load_run_generator(&args.run_dir)?;
    anyhow::ensure!(
        args.temperature.is_finite() && args.temperature > 0.0,
        "--temperature must be a positive number"
    );
    let seed = args.seed.unwrap_or(config.seed);
    let sequences = sample_many(
        &mut generator,
        args.count,
        config.task.max_len,
        args.temperature,
        seed,
    )?;
    let mut text = String::new();
    for sequence in &sequences {
        let line: Vec<String> = sequence.iter().map(u32::to_string).collect();
        text.push_str(&line.join(" "));
        text.push('\n');
    }
    match &args.output {
        Some(path) => crate::run_dir::write_atomic(path, text.as_bytes())?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}
