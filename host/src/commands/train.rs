//! `agon train CONFIG` and `agon train --resume RUN_DIR`.

use std::path::Path;

use agon_sdk::yaml;
use anyhow::{anyhow, bail, Context};

use crate::{
    assemble::{build, open_run, saved_vocabulary, VOCAB_FILE},
    cli::TrainArgs,
    config::{load_experiment, ExperimentConfig},
    machine::Machine,
    run_dir,
    task::Task,
    train::output::say,
    train::{
        checkpoint,
        interrupt::Interrupt,
        schedule::{self, Lengths, Phase},
        RunOutcome, Trainer,
    },
};

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    crate::train::output::keep_running_on_closed_pipe();
    match (&args.resume, &args.config) {
        (Some(run_path), None) => resume(run_path, &args.overrides, args.stop_after),
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
    let mut config = load_experiment(config_path, overrides)?;
    let run_path = run_dir::choose(out, &config.name)?;
    // Everything that can fail on bad input happens before the run
    // directory exists, so a refused run leaves nothing behind.
    let built = build(&config, &run_path, None)?;
    note_unused_pretraining(&config);
    // The resolved config records the length the data decided.
    config.task.max_len = Some(built.components.task.max_len());
    if let Task::Conditional(task) = &built.components.task {
        config.task.max_source_len = Some(task.data.max_source_len);
    }
    // Every setting the run used, the plugins' defaults included, and the
    // agon that ran it.
    for (place, merged) in &built.merged_configs {
        let spec = match place.as_str() {
            "generator" => Some(&mut config.generator),
            "discriminator" => config.discriminator.as_mut(),
            "reward" => config.reward.as_mut(),
            "task.oracle" => config.task.oracle.as_mut(),
            _ => None,
        };
        if let Some(spec) = spec {
            spec.config = if merged.is_empty() {
                yaml::Value::Null
            } else {
                yaml::parse(merged)?
            };
        }
    }
    config.written_by = Some(crate::config::WrittenBy::this_build());
    std::fs::create_dir_all(&run_path)
        .with_context(|| format!("cannot create run directory {}", run_path.display()))?;
    let result = (|| {
        run_dir::write_atomic(
            &run_path.join("config.yaml"),
            yaml::to_string(&config)?.as_bytes(),
        )?;
        if let Some(vocabulary) = built.components.task.vocabulary() {
            run_dir::write_atomic(&run_path.join(VOCAB_FILE), vocabulary.to_text().as_bytes())?;
        }
        run_dir::write_atomic(
            &run_path.join("plugins.json"),
            serde_json::to_string_pretty(&built.plugins)?.as_bytes(),
        )?;
        say(&format!("run directory: {}", run_path.display()));
        say(&built.components.task.data_summary());
        let mut trainer = Trainer::new(config, run_path.clone(), built.components, None)?;
        trainer.stop_after = stop_after;
        trainer.interrupt = Interrupt::install();
        trainer.run()
    })();
    if result.is_err() && checkpoint::find(&run_path).ok().flatten().is_none() {
        // Nothing resumable was written: leave no half-made run directory.
        let _ = std::fs::remove_dir_all(&run_path);
    }
    report(with_checkpoint_note(result, &run_path)?, &run_path)
}

/// An MLE-only schedule made by setting `adversarial.epochs` to 0 still
/// pretrains the discriminator, which no epoch then uses: its time counts
/// in the run's, against the "compute-matched" baseline it is meant to be.
fn note_unused_pretraining(config: &ExperimentConfig) {
    let training = &config.training;
    let rounds = training.discriminator_pretraining.rounds;
    if training.adversarial.epochs == 0 && rounds > 0 && config.discriminator.is_some() {
        crate::notes::note(&format!(
            "training.adversarial.epochs is 0 but the discriminator is pretrained for {rounds} round(s) (training.discriminator_pretraining.rounds), which no adversarial epoch uses: for an MLE-only run add --set training.discriminator_pretraining.rounds=0 (keep them only to extend the run with adversarial epochs later, by --resume)"
        ));
    }
}

/// A run that failed part-way keeps its last checkpoint (written before the
/// failure, never after it): say where it is.
fn with_checkpoint_note<T>(result: anyhow::Result<T>, run_path: &Path) -> anyhow::Result<T> {
    result.map_err(|error| match checkpoint::find(run_path).ok().flatten() {
        Some((_, state)) => error.context(format!(
            "training stopped; the last good checkpoint ({} step {}) is kept in {}: fix the cause, then `agon train --resume {}`",
            state.position.phase.name(),
            state.position.step,
            run_path.join("checkpoints").display(),
            run_path.display()
        )),
        None => error,
    })
}

fn report(outcome: RunOutcome, run_path: &Path) -> anyhow::Result<()> {
    match outcome {
        RunOutcome::Finished => say(&format!("done: {}", run_path.display())),
        RunOutcome::Stopped => say(&format!(
            "stopped as asked; continue with `agon train --resume {}`",
            run_path.display()
        )),
        RunOutcome::Interrupted => {
            return Err(super::Interrupted(format!(
                "interrupted; the run is checkpointed: continue with `agon train --resume {}`",
                run_path.display()
            ))
            .into())
        }
    }
    Ok(())
}

fn resume(run_path: &Path, overrides: &[String], stop_after: Option<usize>) -> anyhow::Result<()> {
    crate::assemble::refuse_sweep_dir(
        run_path,
        &format!(
            "resume the sweep with `agon sweep SWEEP_FILE --out {}` (its finished cells are skipped, its stopped ones resumed from their checkpoints), or one of its runs with `agon train --resume {}/runs/<cell>`",
            run_path.display(),
            run_path.display()
        ),
    )?;
    let (saved_config, found) = open_run(run_path)?;
    let (checkpoint_dir, state) = found.ok_or_else(|| {
        anyhow!(
            "{} has no checkpoint to resume from; start the run again",
            run_path.display()
        )
    })?;
    for assignment in overrides {
        let key = assignment
            .split_once('=')
            .map_or(assignment.as_str(), |(k, _)| k);
        if !RESUMABLE_KEYS.contains(&key.trim()) {
            bail!(
                "--resume --set {assignment}: a resumed run keeps its config; only the schedule's lengths ({}) can be changed, to extend it. Start a new run to change anything else",
                RESUMABLE_KEYS.join(", ")
            );
        }
    }
    let config_path = run_path.join("config.yaml");
    let mut config = crate::config::load_experiment(&config_path, overrides)?;
    let old = Lengths::of(&saved_config.training);
    let new = Lengths::of(&config.training);
    let position = schedule::extend(state.position, old, new)
        .map_err(|e| anyhow!("--resume {}: {e}", run_path.display()))?;
    if position.phase == Phase::Done {
        say(&format!(
            "{} has finished its schedule ({} MLE epochs, {} discriminator pretraining rounds, {} adversarial epochs); nothing to do. To train longer, raise a length: `agon train --resume {} --set {}={}`",
            run_path.display(),
            old.mle,
            old.discriminator_pretraining,
            old.adversarial,
            run_path.display(),
            schedule::length_key(if old.adversarial > 0 { Phase::Adversarial } else { Phase::Mle }),
            2 * if old.adversarial > 0 { old.adversarial } else { old.mle.max(1) },
        ));
        return Ok(());
    }
    let saved = saved_vocabulary(&config, run_path)?;
    let mut built = build(&config, run_path, saved.as_ref()).map_err(|e| {
        // An MLE-only run given adversarial epochs whose config lacks what
        // they need: a resumed run cannot be given it.
        match e.downcast_ref::<crate::assemble::AdversarialPhaseLacks>() {
            Some(lacking) if old.adversarial == 0 && new.adversarial > 0 => anyhow!(
                "--resume {run} --set training.adversarial.epochs={epochs}: {run} has no adversarial phase, and its config.yaml cannot start one: {lacks}. A resumed run keeps its config (only the schedule's lengths change), so start a new run from a config that has an adversarial phase (the bundled `*-mle.yaml` configs' adversarial ones: the same name without `-mle`)",
                run = run_path.display(),
                epochs = new.adversarial,
                lacks = lacking.lacks,
            ),
            _ => e,
        }
    })?;
    record_plugin_changes(run_path, &built.plugins, state.position)?;
    if config.task.kind == crate::config::TaskKind::Conditional && saved_config.written_by.is_none()
    {
        // Written before agon put every score on one 0–1 scale: its BLEU
        // rows are sacreBLEU's 0–100.
        let rows = crate::train::metrics::rescale(run_path, "bleu", 0.01)?;
        // Once: the run's config now says which agon it is on the scale of.
        let mut marked = saved_config.clone();
        // Not the machine it started on: that is unknown.
        marked.written_by = Some(crate::config::WrittenBy {
            machine: None,
            ..crate::config::WrittenBy::this_build()
        });
        run_dir::write_atomic(&config_path, yaml::to_string(&marked)?.as_bytes())?;
        config.written_by = marked.written_by;
        if rows > 0 {
            crate::notes::note(&format!(
                "{}: its {rows} BLEU values were on sacreBLEU's 0–100 scale and are now on agon's 0–1 scale (divided by 100)",
                run_path.display()
            ));
        }
    }
    checkpoint::restore(
        &checkpoint_dir,
        &mut built.components.generator,
        built.components.discriminator.as_mut(),
    )
    .with_context(|| format!("cannot restore checkpoint {}", checkpoint_dir.display()))?;
    // Written only once the checkpoint is restored: a resume that fails
    // before leaves config.yaml as it was.
    let moved = record_if_machine_changed(run_path, &mut config);
    if new != old || moved {
        run_dir::write_atomic(&config_path, yaml::to_string(&config)?.as_bytes())?;
    }
    if new != old {
        if old.adversarial == 0
            && new.adversarial > 0
            && position.phase != Phase::Mle
            && !checkpoint::snapshot_dir(run_path, "mle").exists()
        {
            // The run had no adversarial phase, so its generator is still
            // the end-of-MLE one that `agon eval` compares against.
            checkpoint::save_snapshot(run_path, "mle", &built.components.generator)?;
        }
        say(&format!(
            "extending {}: {} MLE epochs, {} discriminator pretraining rounds, {} adversarial epochs (was {}, {}, {})",
            run_path.display(),
            new.mle,
            new.discriminator_pretraining,
            new.adversarial,
            old.mle,
            old.discriminator_pretraining,
            old.adversarial
        ));
        note_gumbel_annealing_stretched(&config, position, old, new);
    }
    say(&format!(
        "resuming {} at {} step {}",
        run_path.display(),
        position.phase.name(),
        position.step
    ));
    say(&built.components.task.data_summary());
    let state = checkpoint::CheckpointState { position, ..state };
    let mut trainer = Trainer::new(
        config,
        run_path.to_path_buf(),
        built.components,
        Some(state),
    )?;
    trainer.stop_after = stop_after;
    trainer.interrupt = Interrupt::install();
    report(with_checkpoint_note(trainer.run(), run_path)?, run_path)
}

/// Under `algorithm: gumbel`, an adversarial phase that ran and changes
/// length stretches β's annealing over the new length from the epoch
/// reached (RelGAN's schedules depend on it): a note says where β jumps,
/// and that a fresh run of that length would differ from its second epoch
/// (β starts at 1 either way).
fn note_gumbel_annealing_stretched(
    config: &ExperimentConfig,
    position: schedule::Position,
    old: Lengths,
    new: Lengths,
) {
    use crate::config::Algorithm;
    use crate::train::inverse_temperature::{inverse_temperature, Annealing};
    let adversarial = &config.training.adversarial;
    let annealing = &adversarial.gumbel.inverse_temperature;
    // `position` is where the extended run resumes (a finished run's is
    // already moved into its grown phase).
    let done = match position.phase {
        Phase::Adversarial => position.step,
        _ => 0,
    };
    if adversarial.algorithm != Algorithm::Gumbel
        || annealing.schedule == Annealing::Constant
        || done == 0
        || done >= new.adversarial
        || old.adversarial == new.adversarial
    {
        return;
    }
    let beta = |i, n| inverse_temperature(annealing.schedule, annealing.max, i, n);
    crate::notes::note(&format!(
        "β (the Gumbel-softmax inverse temperature) now anneals over {} adversarial epochs, not {}: it was {:.4} at epoch {done}, and is {:.4} at epoch {} (a fresh run of {} epochs differs from its second adversarial epoch on)",
        new.adversarial,
        old.adversarial,
        beta(done - 1, old.adversarial),
        beta(done, new.adversarial),
        done + 1,
        new.adversarial
    ));
}

/// The keys `--set` may change on `--resume`: the schedule's lengths.
const RESUMABLE_KEYS: [&str; 3] = [
    "training.mle.epochs",
    "training.discriminator_pretraining.rounds",
    "training.adversarial.epochs",
];

/// A run resumed on another kind of machine than it started on gets that
/// machine added to its `written_by.resumed_on` (the caller writes
/// config.yaml), and a note: its numbers from here on need not be those of
/// an uninterrupted run. Returns whether it added one.
fn record_if_machine_changed(run_path: &Path, config: &mut ExperimentConfig) -> bool {
    let here = Machine::this();
    let Some(written_by) = config.written_by.as_mut() else {
        return false;
    };
    let Some(started_on) = written_by.machine.clone() else {
        // Written before agon recorded machines: nothing to compare with.
        return false;
    };
    if started_on == here || written_by.resumed_on.contains(&here) {
        return false;
    }
    written_by.resumed_on.push(here.clone());
    crate::notes::note(&format!(
        "{} was started on {started_on} and resumes on {here}: float rounding differs between kinds of machine, so from here on the run need not match an uninterrupted one (recorded in its config.yaml as written_by.resumed_on)",
        run_path.display()
    ));
    true
}

/// Warns about, and records in plugins.json (an entry with `resumed_at`),
/// each library that is not the build the run started with (or last
/// recorded): `agon compare` names such runs, whose results mix two builds.
fn record_plugin_changes(
    run_path: &Path,
    plugins: &[serde_json::Value],
    at: crate::train::schedule::Position,
) -> anyhow::Result<()> {
    let mut recorded = crate::assemble::recorded_plugins(run_path);
    let mut changed = false;
    for plugin in plugins {
        // Against the build recorded last for its place.
        let same = recorded
            .iter()
            .rev()
            .find(|r| r["place"] == plugin["place"])
            .is_some_and(|r| r["sha256"] == plugin["sha256"]);
        if !same {
            eprintln!(
                "warning: {} is not the library this run started with; the resumed run may differ from an uninterrupted one (recorded in plugins.json)",
                plugin["component"]
            );
            let mut entry = plugin.clone();
            entry["resumed_at"] = format!("{} {}", at.phase.name(), at.step).into();
            recorded.push(entry);
            changed = true;
        }
    }
    if changed {
        run_dir::write_atomic(
            &run_path.join("plugins.json"),
            serde_json::to_string_pretty(&recorded)?.as_bytes(),
        )?;
    }
    Ok(())
}
