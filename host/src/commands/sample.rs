//! `agon sample RUN_DIR -n N`: sequences from a run's latest checkpoint (or
//! its end-of-MLE snapshot), as text for text tasks, as ids otherwise; for
//! conditional tasks, one per test source, after the source and a tab.

use std::io::Write;

use crate::{
    cli::SampleArgs,
    config::{ExperimentConfig, TaskKind},
    task::{
        sampling::{sample_conditional, sample_many},
        text::hypothesis,
        ParallelData,
    },
    text::Vocabulary,
};

/// One line per sequence: the text (text tasks, unless `ids`), else the ids.
fn render(
    config: &ExperimentConfig,
    vocabulary: Option<&Vocabulary>,
    sequence: &[u32],
    ids: bool,
) -> String {
    match vocabulary {
        Some(vocabulary) if !ids => {
            let tokens: Vec<&str> = hypothesis(sequence)
                .iter()
                .map(|&id| vocabulary.token(id))
                .collect();
            config
                .task
                .tokenizer
                .clone()
                .unwrap_or_default()
                .detokenize(&tokens)
        }
        _ => sequence
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(" "),
    }
}

pub fn run(args: SampleArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.temperature.is_finite() && args.temperature > 0.0,
        "--temperature must be a positive number"
    );
    crate::notes::quiet_data_notes();
    // `final` names the latest checkpoint, as in `agon eval --snapshots`.
    let snapshot = args
        .snapshot
        .as_deref()
        .filter(|name| *name != crate::eval::FINAL);
    crate::assemble::refuse_sweep_dir(
        &args.run_dir,
        &format!(
            "sample from one of its runs (`agon sample {}/runs/<cell>`; `agon sweep status {}` lists them)",
            args.run_dir.display(),
            args.run_dir.display()
        ),
    )?;
    let (config, vocabulary, mut generator) =
        crate::assemble::load_run_generator(&args.run_dir, snapshot)?;
    let seed = args.seed.unwrap_or(config.seed);
    let max_len = crate::assemble::run_shape(&config, vocabulary.as_ref())?.max_len;
    let mut text = String::new();
    if config.task.kind == TaskKind::Conditional {
        // One sample per test source, printed after its source and a tab.
        let vocab_file = args.run_dir.join(crate::assemble::VOCAB_FILE);
        let data = ParallelData::load(
            &config.task,
            vocabulary.as_ref().map(|v| (v, vocab_file.as_path())),
        )?;
        let sources = &data.test_sources[..args.count.min(data.test_sources.len())];
        let sequences =
            sample_conditional(&mut generator, sources, max_len, args.temperature, seed)?;
        for (source, sequence) in sources.iter().zip(&sequences) {
            text.push_str(&render(&config, vocabulary.as_ref(), source, args.ids));
            text.push('\t');
            text.push_str(&render(&config, vocabulary.as_ref(), sequence, args.ids));
            text.push('\n');
        }
    } else {
        let sequences = sample_many(&mut generator, args.count, max_len, args.temperature, seed)?;
        for sequence in &sequences {
            text.push_str(&render(&config, vocabulary.as_ref(), sequence, args.ids));
            text.push('\n');
        }
    }
    match &args.output {
        Some(path) => crate::run_dir::write_atomic(path, text.as_bytes())?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}
