//! `agon bench`: times the peer's workloads with the config's plugins.

use std::path::Path;

use agon_registry::Registry;
use anyhow::anyhow;

use crate::assemble::{
    build_discriminator, build_generator, build_reward, run_shape, shared_context,
};
use crate::{
    bench::{self, BenchResult, Workload, WorkloadContext},
    cli::BenchArgs,
    config::load_experiment,
};

/// The discriminator of `dtrain-gru`, at its default config.
const GRU_DISCRIMINATOR: &str = "rnn-lab/gru-discriminator@^0.1";
/// The peer's `dense-step` discriminator: an LSTM of 64 over embeddings of
/// 64, a logit per position, no dropout.
const TOKEN_DISCRIMINATOR: &str = "{plugin: scratchgan-lab/lstm-discriminator@^0.1, config: {embedding_dim: 64, hidden_dim: 64, training: {dropout: 0.0}}}";

/// The peer's `gumbel-step` models: its LSTM generator (embedding 32,
/// hidden 32) on the generator kit, which draws relaxed samples, and a
/// RelGAN discriminator sized as the peer's (embedding 64, one
/// representation, widths 2–5 × 100 maps, no dropout), both with Adam 1e-4;
/// the discriminator takes `--relaxed-chunk` rows per pass.
const RELAXED_GENERATOR: &str = "{plugin: relgan-lab/relgan@^0.1, component: relgan-generator, config: {embedding_dim: 32, core: lstm, hidden_dim: 32, training: {adversarial_optimizer: {lr: 0.0001}}}}";

fn relaxed_discriminator(relaxed_chunk: usize) -> String {
    format!("{{plugin: relgan-lab/relgan@^0.1, component: relgan-discriminator, config: {{embedding_dim: 64, representations: 1, filter_sizes: [2, 3, 4, 5], filters_per_size: 100, training: {{optimizer: {{lr: 0.0001}}, dropout: 0.0, relaxed_chunk: {relaxed_chunk}}}}}}}")
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let workloads = Workload::parse_list(&args.workloads)?;
    anyhow::ensure!(args.repeat >= 1, "--repeat must be at least 1");
    anyhow::ensure!(args.rollouts >= 1, "--rollouts must be at least 1");
    if let Some(threads) = args.threads {
        anyhow::ensure!(threads >= 1, "--threads must be at least 1");
        // Every plugin library carries its own thread pools (rayon, gemm),
        // each sized from this variable when first used, which is after
        // this point: no plugin has run yet.
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
    let config = load_experiment(&args.config, &args.overrides).map_err(|e| {
        if args.config.exists() {
            e
        } else {
            anyhow!(
                "{}: no such config; run `agon bench` from the agon checkout or pass --config",
                args.config.display()
            )
        }
    })?;
    anyhow::ensure!(
        config.task.kind == crate::config::TaskKind::SyntheticOracle,
        "{}: agon bench times the SeqGAN synthetic workloads; pass a synthetic-oracle config",
        args.config.display()
    );
    let shape = run_shape(&config, None)?;
    let shared = shared_context(&config, &shape, Path::new(""));
    let mut registry = Registry::from_environment();
    let (generator, _) = build_generator(&mut registry, &config, &shared)?;
    let discriminator = build_discriminator(&mut registry, &config, &shared)?.map(|(d, _)| d);
    // Refused before any workload runs: what each asked-for workload needs.
    let asked = |needs: fn(Workload) -> bool| -> Vec<&str> {
        workloads
            .iter()
            .filter(|w| needs(**w))
            .map(|w| w.name())
            .collect()
    };
    let needing = asked(Workload::needs_discriminator);
    anyhow::ensure!(
        discriminator.is_some() || needing.is_empty(),
        "{}: workload(s) {} run the config's discriminator, and it has no `discriminator:` section; add one, or leave them out of --workloads",
        args.config.display(),
        needing.join(", ")
    );
    let needing = asked(Workload::needs_reward);
    let reward = match needing.is_empty() {
        true => None,
        false => Some(
            build_reward(&mut registry, &config, &shared)?
                .ok_or_else(|| {
                    anyhow!(
                        "{}: workload(s) {} score rollouts with the config's reward, and it has no `reward:` section; add one, or leave them out of --workloads",
                        args.config.display(),
                        needing.join(", ")
                    )
                })?
                .0,
        ),
    };
    // The discriminators of the named-only workloads, whatever the config's.
    let mut discriminator_for = |workload: Workload, spec: &str| -> anyhow::Result<_> {
        if !workloads.contains(&workload) {
            return Ok(None);
        }
        let mut overrides = args.overrides.clone();
        overrides.push(format!("discriminator={spec}"));
        let config = load_experiment(&args.config, &overrides)?;
        Ok(build_discriminator(&mut registry, &config, &shared)?.map(|(d, _)| d))
    };
    let gru_discriminator = discriminator_for(
        Workload::DtrainGru,
        &format!("{{plugin: {GRU_DISCRIMINATOR}}}"),
    )?;
    let token_discriminator = discriminator_for(Workload::DenseStep, TOKEN_DISCRIMINATOR)?;
    let relaxed_discriminator = discriminator_for(
        Workload::GumbelStep,
        &relaxed_discriminator(args.relaxed_chunk),
    )?;
    let relaxed = match relaxed_discriminator {
        Some(discriminator) => {
            let mut overrides = args.overrides.clone();
            overrides.push(format!("generator={RELAXED_GENERATOR}"));
            let config = load_experiment(&args.config, &overrides)?;
            let (generator, _) = build_generator(&mut registry, &config, &shared)?;
            Some((generator, discriminator))
        }
        None => None,
    };
    let mut context = WorkloadContext {
        generator,
        discriminator,
        gru_discriminator,
        token_discriminator,
        relaxed,
        reward,
        data: WorkloadContext::random_data(shape.vocab.size, shape.max_len, config.seed),
        max_len: shape.max_len,
        rollout_token_budget: config.training.rollout_token_budget,
        rollouts: args.rollouts,
        seed: config.seed,
    };
    if !args.json {
        println!(
            "agon {} (commit {}) on {}, {} thread(s)",
            env!("CARGO_PKG_VERSION"),
            env!("AGON_GIT_COMMIT"),
            crate::machine::Machine::this(),
            threads()
        );
        println!(
            "{:<16} {:>10} {:>12} {:>14}  {:>10}",
            "workload", "seconds", "units", "per second", "peak RSS"
        );
    }
    for workload in workloads {
        eprintln!(
            "agon bench: {} ({} run{})…",
            workload.name(),
            args.repeat,
            if args.repeat == 1 { "" } else { "s" }
        );
        let result = bench::run(workload, &mut context, args.repeat)?;
        print_result(&result, args.json)?;
    }
    Ok(())
}

/// The threads each plugin's pools start with: `RAYON_NUM_THREADS` (which
/// `--threads` sets), else every core.
fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn print_result(result: &BenchResult, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(result)?);
    } else {
        let rss = result
            .peak_rss_mib
            .map(|m| format!("{m:.0} MiB"))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<16} {:>10.3} {:>12} {:>14.1}  {:>10}",
            result.workload,
            result.seconds,
            format!("{} {}", result.units, result.unit),
            result.per_second,
            rss
        );
    }
    Ok(())
}
