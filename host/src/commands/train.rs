//! `agon train CONFIG` and `agon train --resume RUN_DIR`.

use std::path::Path;

use abi_stable::std_types::ROption;
use agon_registry::{Registry, ResolvedComponent};
use agon_sdk::{yaml, ComponentKind, VocabInfo};
use anyhow::{anyhow, bail, Context};

use crate::{
    cli::TrainArgs,
    components::{self, Discriminator, Generator, Reward, SharedContext},
    config::{load_experiment, ExperimentConfig, TaskKind},
    data, run_dir,
    task::OracleTask,
    train::{checkpoint, interrupt::Interrupt, Components, RunOutcome, Trainer},
};

/// Everything built from a config, before anything is written.
pub struct Built {
    pub components: Components,
    /// What was resolved, with checksums (saved as plugins.json).
    pub plugins: Vec<serde_json::Value>,
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    match (&args.resume, &args.config) {
        (Some(run_path), None) => resume(run_path, args.stop_after),
        (None, Some(config)) => start(
            config,
            &args.overrides,
            args.out.as_deref(),
            args.stop_after,
        ),
        _ => bail!("give either a CONFIG to start a run or --resume RUN_DIR, not both"),
    }
}

fn start(
    config_path: &Path,
    overrides: &[String],
    out: Option<&Path>,
    stop_after: Option<usize>,
) -> anyhow::Result<()> {
    let config = load_experiment(config_path, overrides)?;
    let run_path = run_dir::choose(out, &config.name)?;
    // Everything that can fail on bad input happens before the run
    // directory exists, so a refused run leaves nothing behind.
    let built = build(&config, &run_path)?;
    std::fs::create_dir_all(&run_path)
        .with_context(|| format!("cannot create run directory {}", run_path.display()))?;
    let result = (|| {
        run_dir::write_atomic(
            &run_path.join("config.yaml"),
            yaml::to_string(&config)?.as_bytes(),
        )?;
        run_dir::write_atomic(
            &run_path.join("plugins.json"),
            serde_json::to_string_pretty(&built.plugins)?.as_bytes(),
        )?;
        println!("run directory: {}", run_path.display());
        let mut trainer = Trainer::new(config, run_path.clone(), built.components, None)?;
        trainer.stop_after = stop_after;
        trainer.interrupt = Interrupt::install();
        trainer.run()
    })();
    if result.is_err() && checkpoint::find(&run_path).ok().flatten().is_none() {
        // Nothing resumable was written: leave no half-made run directory.
        let _ = std::fs::remove_dir_all(&run_path);
    }
    report(result?, &run_path)
}

fn report(outcome: RunOutcome, run_path: &Path) -> anyhow::Result<()> {
    match outcome {
        RunOutcome::Finished => println!("done: {}", run_path.display()),
        RunOutcome::Stopped => println!(
            "stopped as asked; continue with `agon train --resume {}`",
            run_path.display()
        ),
        RunOutcome::Interrupted => bail!(
            "interrupted; the run is checkpointed: continue with `agon train --resume {}`",
            run_path.display()
        ),
    }
    Ok(())
}

/// The resolved config of a run directory and its newest checkpoint.
fn open_run(
    run_path: &Path,
) -> anyhow::Result<(
    ExperimentConfig,
    Option<(std::path::PathBuf, checkpoint::CheckpointState)>,
)> {
    let config_path = run_path.join("config.yaml");
    if !config_path.exists() {
        bail!(
            "{} is not a run directory (it has no config.yaml)",
            run_path.display()
        );
    }
    Ok((
        load_experiment(&config_path, &[])?,
        checkpoint::find(run_path)?,
    ))
}

fn resume(run_path: &Path, stop_after: Option<usize>) -> anyhow::Result<()> {
    let (config, found) = open_run(run_path)?;
    let (checkpoint_dir, state) = found.ok_or_else(|| {
        anyhow!(
            "{} has no checkpoint to resume from; start the run again",
            run_path.display()
        )
    })?;
    let mut built = build(&config, run_path)?;
    warn_if_plugins_changed(run_path, &built.plugins);
    checkpoint::restore(
        &checkpoint_dir,
        &mut built.components.generator,
        built.components.discriminator.as_mut(),
    )
    .with_context(|| format!("cannot restore checkpoint {}", checkpoint_dir.display()))?;
    println!(
        "resuming {} at {} step {}",
        run_path.display(),
        state.position.phase.name(),
        state.position.step
    );
    let mut trainer = Trainer::new(
        config,
        run_path.to_path_buf(),
        built.components,
        Some(state),
    )?;
    trainer.stop_after = stop_after;
    trainer.interrupt = Interrupt::install();
    report(trainer.run()?, run_path)
}

fn warn_if_plugins_changed(run_path: &Path, plugins: &[serde_json::Value]) {
    let recorded: Vec<serde_json::Value> = std::fs::read_to_string(run_path.join("plugins.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    for plugin in plugins {
        let same = recorded
            .iter()
            .any(|r| r["place"] == plugin["place"] && r["sha256"] == plugin["sha256"]);
        if !same {
            eprintln!(
                "warning: {} is not the library this run started with; the resumed run may differ from an uninterrupted one",
                plugin["component"]
            );
        }
    }
}

/// The shared context of a config.
pub fn shared_context(config: &ExperimentConfig, run_path: &Path) -> SharedContext {
    SharedContext {
        device: config.device.clone(),
        seed: config.seed,
        vocab: VocabInfo {
            size: config.task.vocab_size,
            bos: config.task.start_token,
            eos: ROption::RNone,
            pad: ROption::RNone,
            unk: ROption::RNone,
        },
        max_len: config.task.max_len,
        run_dir: run_path.to_string_lossy().into_owned(),
    }
}

/// Resolves the generator of `config` and builds it.
pub fn build_generator(
    registry: &mut Registry,
    config: &ExperimentConfig,
    shared: &SharedContext,
) -> anyhow::Result<(Generator, ResolvedComponent)> {
    let resolved = components::resolve(
        registry,
        &config.generator,
        ComponentKind::Generator,
        "generator",
        &config.device,
    )?;
    let generator = Generator::new(&resolved, &config.generator, "generator", shared, 1)?;
    Ok((generator, resolved))
}

/// Resolves the discriminator of `config` (if it has one) and builds it.
pub fn build_discriminator(
    registry: &mut Registry,
    config: &ExperimentConfig,
    shared: &SharedContext,
) -> anyhow::Result<Option<(Discriminator, ResolvedComponent)>> {
    let Some(spec) = &config.discriminator else {
        return Ok(None);
    };
    let resolved = components::resolve(
        registry,
        spec,
        ComponentKind::Discriminator,
        "discriminator",
        &config.device,
    )?;
    let discriminator = Discriminator::new(&resolved, spec, "discriminator", shared, 2)?;
    Ok(Some((discriminator, resolved)))
}

/// Resolves the reward of `config` (if it has one) and builds it.
pub fn build_reward(
    registry: &mut Registry,
    config: &ExperimentConfig,
    shared: &SharedContext,
) -> anyhow::Result<Option<(Reward, ResolvedComponent)>> {
    let Some(spec) = &config.reward else {
        return Ok(None);
    };
    let resolved = components::resolve(
        registry,
        spec,
        ComponentKind::Reward,
        "reward",
        &config.device,
    )?;
    let reward = Reward::new(&resolved, spec, "reward", shared, 3)?;
    Ok(Some((reward, resolved)))
}

/// Validates `config` and builds every component and the task.
pub fn build(config: &ExperimentConfig, run_path: &Path) -> anyhow::Result<Built> {
    let task = &config.task;
    config
        .training
        .validate()
        .map_err(|e| anyhow!("config: {e}"))?;
    if task.start_token >= task.vocab_size {
        bail!(
            "task.start_token {} is outside the vocabulary of {} ids",
            task.start_token,
            task.vocab_size
        );
    }
    let train_data = match &task.train_data {
        Some(path) => Some(data::read_token_ids(path, task.vocab_size, task.max_len)?),
        None => None,
    };
    if let Some(train) = &train_data {
        if train.len() < config.training.batch_size {
            bail!(
                "training.batch_size is {} but {} holds only {} sequences; lower the batch size",
                config.training.batch_size,
                task.train_data
                    .as_deref()
                    .unwrap_or(Path::new(""))
                    .display(),
                train.len()
            );
        }
    }
    let shared = shared_context(config, run_path);
    let mut registry = Registry::from_environment();
    for warning in &registry.index().warnings {
        eprintln!("warning: {warning}");
    }
    let mut plugins = Vec::new();
    let mut record = |place: &str, resolved: &ResolvedComponent| {
        plugins.push(serde_json::json!({
            "place": place,
            "component": resolved.label(),
            "path": resolved.library.path,
            "sha256": resolved.library.sha256,
        }));
    };

    let (generator, resolved) = build_generator(&mut registry, config, &shared)?;
    record("generator", &resolved);
    let discriminator = match build_discriminator(&mut registry, config, &shared)? {
        Some((discriminator, resolved)) => {
            record("discriminator", &resolved);
            Some(discriminator)
        }
        None => None,
    };
    let reward = match build_reward(&mut registry, config, &shared)? {
        Some((reward, resolved)) => {
            record("reward", &resolved);
            Some(reward)
        }
        None => None,
    };
    if reward.as_ref().is_some_and(|r| r.needs_discriminator) && discriminator.is_none() {
        bail!("the reward needs a discriminator, but the config has no `discriminator:` section");
    }
    if config.training.adversarial.epochs > 0 && reward.is_none() {
        bail!("training.adversarial.epochs is {} but the config has no `reward:` section; add one or set the epochs to 0", config.training.adversarial.epochs);
    }
    let task = match task.kind {
        TaskKind::SyntheticOracle => {
            let spec = task.oracle.as_ref().ok_or_else(|| {
                anyhow!(
                    "task.oracle is missing: the synthetic-oracle task needs an oracle generator"
                )
            })?;
            let resolved = components::resolve(
                &mut registry,
                spec,
                ComponentKind::Generator,
                "task.oracle",
                &config.device,
            )?;
            record("task.oracle", &resolved);
            let oracle = Generator::new(&resolved, spec, "task.oracle", &shared, 4)?;
            OracleTask::new(
                oracle,
                train_data,
                task.train_samples,
                task.heldout_samples,
                task.eval_samples,
                task.max_len,
                config.seed,
            )?
        }
    };
    Ok(Built {
        components: Components {
            generator,
            discriminator,
            reward,
            task,
        },
        plugins,
    })
}

/// A run directory's config and generator with its latest weights.
pub fn load_run_generator(run_path: &Path) -> anyhow::Result<(ExperimentConfig, Generator)> {
    let (config, found) = open_run(run_path)?;
    let (checkpoint_dir, _) =
        found.ok_or_else(|| anyhow!("{} has no checkpoint yet", run_path.display()))?;
    let mut registry = Registry::from_environment();
    let shared = shared_context(&config, run_path);
    let (mut generator, _) = build_generator(&mut registry, &config, &shared)?;
    generator
        .load(&checkpoint_dir.join("generator"))
        .with_context(|| format!("cannot restore checkpoint {}", checkpoint_dir.display()))?;
    Ok((config, generator))
}
