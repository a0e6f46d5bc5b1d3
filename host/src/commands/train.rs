//! `agon train`: resolve and build the configured components, then run.

use abi_stable::std_types::ROption;
use agon_registry::Registry;
use agon_sdk::{
    yaml, Batch, ComponentKind, MleOptions, Policy, RewardInput, SampleRequest, TokenBatch,
    VocabInfo,
};
use anyhow::{bail, Context};

use crate::{
    cli::TrainArgs,
    components::{self, Discriminator, Generator, Reward, SharedContext},
    config::{load_experiment, ExperimentConfig},
    data, run_dir,
};

/// Everything built from a config, before anything is written.
struct Experiment {
    config: ExperimentConfig,
    generator: Generator,
    discriminator: Option<Discriminator>,
    reward: Option<Reward>,
    train_data: Option<Vec<Vec<u32>>>,
    plugins: Vec<serde_json::Value>,
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let config = load_experiment(&args.config, &args.overrides)?;
    let run_path = run_dir::choose(args.out.as_deref(), &config.name)?;
    // Everything that can fail on bad input happens before the run
    // directory exists, so a refused run leaves nothing behind.
    let mut experiment = build(config, &run_path)?;
    std::fs::create_dir_all(&run_path)
        .with_context(|| format!("cannot create run directory {}", run_path.display()))?;
    let result =
        write_run_metadata(&experiment, &run_path).and_then(|()| wiring_check(&mut experiment));
    if result.is_err() && !run_path.join("checkpoints").exists() {
        // Nothing worth keeping was written: leave no half-made run directory.
        let _ = std::fs::remove_dir_all(&run_path);
    }
    result?;
    println!("run directory: {}", run_path.display());
    Ok(())
}

fn build(config: ExperimentConfig, run_path: &std::path::Path) -> anyhow::Result<Experiment> {
    let task = &config.task;
    let train_data = match &task.train_data {
        Some(path) => Some(data::read_token_ids(path, task.vocab_size, task.max_len)?),
        None => None,
    };
    let shared = SharedContext {
        device: config.device.clone(),
        seed: config.seed,
        vocab: VocabInfo {
            size: task.vocab_size,
            bos: task.start_token,
            eos: ROption::RNone,
            pad: ROption::RNone,
            unk: ROption::RNone,
        },
        max_len: task.max_len,
        run_dir: run_path.to_string_lossy().into_owned(),
    };
    if task.start_token >= task.vocab_size {
        bail!(
            "task.start_token {} is outside the vocabulary of {} ids",
            task.start_token,
            task.vocab_size
        );
    }
    let mut registry = Registry::from_environment();
    for warning in &registry.index().warnings {
        eprintln!("warning: {warning}");
    }
    let mut plugins = Vec::new();
    let mut record = |place: &str, resolved: &agon_registry::ResolvedComponent| {
        plugins.push(serde_json::json!({
            "place": place,
            "component": resolved.label(),
            "path": resolved.library.path,
            "sha256": resolved.library.sha256,
        }));
    };

    let resolved = components::resolve(
        &mut registry,
        &config.generator,
        ComponentKind::Generator,
        "generator",
        &config.device,
    )?;
    record("generator", &resolved);
    let generator = Generator::new(&resolved, &config.generator, "generator", &shared, 1)?;

    let reward = match &config.reward {
        Some(spec) => {
            let resolved = components::resolve(
                &mut registry,
                spec,
                ComponentKind::Reward,
                "reward",
                &config.device,
            )?;
            record("reward", &resolved);
            Some(Reward::new(&resolved, spec, "reward", &shared, 3)?)
        }
        None => None,
    };
    let discriminator = match &config.discriminator {
        Some(spec) => {
            let resolved = components::resolve(
                &mut registry,
                spec,
                ComponentKind::Discriminator,
                "discriminator",
                &config.device,
            )?;
            record("discriminator", &resolved);
            Some(Discriminator::new(
                &resolved,
                spec,
                "discriminator",
                &shared,
                2,
            )?)
        }
        None => None,
    };
    if reward.as_ref().is_some_and(|r| r.needs_discriminator) && discriminator.is_none() {
        bail!("the reward needs a discriminator, but the config has no `discriminator:` section");
    }
    Ok(Experiment {
        config,
        generator,
        discriminator,
        reward,
        train_data,
        plugins,
    })
}

fn write_run_metadata(experiment: &Experiment, run_path: &std::path::Path) -> anyhow::Result<()> {
    run_dir::write_atomic(
        &run_path.join("config.yaml"),
        yaml::to_string(&experiment.config)?.as_bytes(),
    )?;
    run_dir::write_atomic(
        &run_path.join("plugins.json"),
        serde_json::to_string_pretty(&experiment.plugins)?.as_bytes(),
    )
}

/// Calls every configured component once: sample, score, reward, MLE step.
fn wiring_check(experiment: &mut Experiment) -> anyhow::Result<()> {
    let max_len = experiment.config.task.max_len;
    let seed = experiment.config.seed;
    let samples = experiment.generator.sample(&SampleRequest {
        count: 8,
        max_len,
        temperature: 1.0,
        seed,
        policy: Policy::Current,
        sources: ROption::RNone,
    })?;
    println!(
        "{}: {} parameters, sampled {} sequences",
        experiment.generator.label,
        experiment.generator.parameter_count(),
        samples.rows()
    );
    let scores = match &mut experiment.discriminator {
        Some(d) => {
            let scores = d.probabilities(&Batch::unconditional(samples.clone()))?;
            println!(
                "{}: {} parameters, P(real) of the samples: {:.3?}",
                d.label,
                d.parameter_count(),
                scores
            );
            Some(scores)
        }
        None => None,
    };
    if let Some(reward) = &mut experiment.reward {
        if let Some(data) = &experiment.train_data {
            reward.set_corpus(&TokenBatch::from_rows(data, 0))?;
        }
        let rewards = reward.rewards(&RewardInput {
            sequences: samples.clone(),
            sources: ROption::RNone,
            references: ROption::RNone,
            discriminator: scores.map(Into::into).into(),
        })?;
        println!("{}: rewards {:.3?}", reward.label, rewards);
    }
    if let Some(data) = &experiment.train_data {
        let batch: Vec<&Vec<u32>> = data.iter().take(8).collect();
        let batch = TokenBatch::from_rows(&batch, 0);
        let stats = experiment.generator.mle_step(
            &Batch::unconditional(batch),
            &MleOptions {
                seed,
                scheduled_sampling: 0.0,
            },
        )?;
        println!(
            "{}: one MLE step on the training data, loss {:.4}",
            experiment.generator.label, stats.loss
        );
    }
    Ok(())
}
