//! Building a run's pieces from its config — the task's data (read first:
//! a text task's vocabulary sizes the components), the components, the
//! task — and reopening a run directory (its config, vocabulary and
//! generator). Used by `agon train`, `sample`, `eval` and `bench`.

use std::path::Path;

use abi_stable::std_types::ROption;
use agon_registry::{library_file::short_sha256, Registry, ResolvedComponent};
use agon_sdk::{
    capabilities::{declares, SourceDeclaration, REFERENCES_REQUIRED},
    Batch, ComponentKind, RewardInput, TokenBatch, VocabInfo,
};
use anyhow::{anyhow, bail, Context};

use crate::{
    components::{self, Discriminator, Generator, Reward, SharedContext},
    config::{load_experiment, Algorithm, Credit, ExperimentConfig, TaskKind},
    data,
    task::{
        conditional::DEFAULT_EVAL_SOURCES, text::DEFAULT_EVAL_SAMPLES, ConditionalTask, OracleTask,
        ParallelData, Task, TextData, TextTask,
    },
    text::Vocabulary,
    train::{checkpoint, Components},
};

/// Oracle task defaults (SeqGAN's synthetic experiment).
const ORACLE_VOCAB_SIZE: u32 = 5000;
const ORACLE_MAX_LEN: u32 = 20;
pub const ORACLE_SAMPLES: usize = 9984;
pub const ORACLE_HELDOUT: usize = 2000;
/// A text run's vocabulary file.
pub const VOCAB_FILE: &str = "vocab.txt";

/// Everything built from a config, before anything is written.
pub struct Built {
    pub components: Components,
    /// What was resolved, with checksums (saved as plugins.json).
    pub plugins: Vec<serde_json::Value>,
    /// Each component's place in the config (`generator`, `task.oracle`…)
    /// and the config it was built with (the user's over the default).
    pub merged_configs: Vec<(String, String)>,
}

/// The resolved config of a run directory.
pub fn open_config(run_path: &Path) -> anyhow::Result<ExperimentConfig> {
    Ok(open_run(run_path)?.0)
}

/// Refuses a sweep directory given where a command takes a run directory,
/// with `advice`: what that command does with a sweep's runs.
pub fn refuse_sweep_dir(path: &Path, advice: &str) -> anyhow::Result<()> {
    if path.join("manifest.json").is_file() && !path.join("config.yaml").exists() {
        bail!(
            "{} is a sweep directory, not a run directory: {advice}",
            path.display()
        );
    }
    Ok(())
}

/// The resolved config of a run directory and its newest checkpoint.
pub fn open_run(
    run_path: &Path,
) -> anyhow::Result<(
    ExperimentConfig,
    Option<(std::path::PathBuf, checkpoint::CheckpointState)>,
)> {
    let config_path = run_path.join("config.yaml");
    if !config_path.exists() {
        refuse_sweep_dir(
            run_path,
            &format!("name one of its runs ({}/runs/<cell>)", run_path.display()),
        )?;
        if !run_path.exists() {
            // The likeliest slip: a cell name or seed typed by hand.
            let near = run_path
                .parent()
                .zip(run_path.file_name())
                .and_then(|(parent, name)| {
                    let listed = if parent.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        parent
                    };
                    let mut names: Vec<String> = std::fs::read_dir(listed)
                        .ok()?
                        .flatten()
                        .filter(|e| e.path().join("config.yaml").is_file())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect();
                    // The directory's order is the filesystem's: of names
                    // equally near, the first in sorted order.
                    names.sort();
                    agon_sdk::suggest::closest(
                        &name.to_string_lossy(),
                        names.iter().map(String::as_str),
                    )
                    .map(|n| format!(": did you mean {}?", parent.join(n).display()))
                })
                .unwrap_or_default();
            bail!("no such run directory: {}{near}", run_path.display());
        }
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

/// The vocabulary of a text run (its `vocab.txt`); `None` for other tasks.
pub fn saved_vocabulary(
    config: &ExperimentConfig,
    run_path: &Path,
) -> anyhow::Result<Option<Vocabulary>> {
    match config.task.kind {
        TaskKind::Text | TaskKind::Conditional => {
            Ok(Some(Vocabulary::load(&run_path.join(VOCAB_FILE))?))
        }
        TaskKind::SyntheticOracle => Ok(None),
    }
}

/// The vocabulary facts and the longest sequence components are built for.
#[derive(Clone, Debug)]
pub struct TaskShape {
    pub vocab: VocabInfo,
    pub max_len: u32,
}

/// The oracle task's shape, from its config.
fn oracle_shape(config: &ExperimentConfig) -> anyhow::Result<TaskShape> {
    let task = &config.task;
    let size = task.vocab_size.unwrap_or(ORACLE_VOCAB_SIZE);
    let bos = task.start_token.unwrap_or(0);
    if bos >= size {
        bail!("task.start_token {bos} is outside the vocabulary of {size} ids");
    }
    Ok(TaskShape {
        vocab: VocabInfo {
            size,
            bos,
            eos: ROption::RNone,
            pad: ROption::RNone,
            unk: ROption::RNone,
        },
        max_len: task.max_len.unwrap_or(ORACLE_MAX_LEN),
    })
}

/// The shape of a run whose data need not be read: oracle from the config,
/// text from the run's `vocab.txt` and its resolved `max_len`.
pub fn run_shape(
    config: &ExperimentConfig,
    vocabulary: Option<&Vocabulary>,
) -> anyhow::Result<TaskShape> {
    match (config.task.kind, vocabulary) {
        (TaskKind::Text | TaskKind::Conditional, Some(vocabulary)) => Ok(TaskShape {
            vocab: crate::task::text::vocab_info(vocabulary),
            max_len: config.task.max_len.ok_or_else(|| {
                anyhow!(
                    "the run's config.yaml has no task.max_len; it was not written by this agon"
                )
            })?,
        }),
        (TaskKind::Text | TaskKind::Conditional, None) => {
            bail!("a text task needs its vocabulary")
        }
        (TaskKind::SyntheticOracle, _) => oracle_shape(config),
    }
}

/// The shared context of a config.
pub fn shared_context(
    config: &ExperimentConfig,
    shape: &TaskShape,
    run_path: &Path,
) -> SharedContext {
    SharedContext {
        device: config.device.clone(),
        seed: config.seed,
        vocab: shape.vocab.clone(),
        max_len: shape.max_len,
        run_dir: run_path.to_string_lossy().into_owned(),
        origin: config.origin.clone(),
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
        &config.origin,
    )?;
    let generator = Generator::new(&resolved, &config.generator, "generator", shared, 1)?;
    Ok((generator, resolved))
}

/// Resolves the oracle of a synthetic-oracle `config` and builds it.
pub fn build_oracle(
    registry: &mut Registry,
    config: &ExperimentConfig,
    shared: &SharedContext,
) -> anyhow::Result<(Generator, ResolvedComponent)> {
    let spec = config.task.oracle.as_ref().ok_or_else(|| {
        anyhow!("task.oracle is missing: the synthetic-oracle task needs an oracle generator")
    })?;
    let resolved = components::resolve(
        registry,
        spec,
        ComponentKind::Generator,
        "task.oracle",
        &config.device,
        &config.origin,
    )?;
    let oracle = Generator::new(&resolved, spec, "task.oracle", shared, 4)?;
    Ok((oracle, resolved))
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
        &config.origin,
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
        &config.origin,
    )?;
    let reward = Reward::new(&resolved, spec, "reward", shared, 3)?;
    Ok(Some((reward, resolved)))
}

/// The task's data, read before any component is built.
enum Prepared {
    Oracle {
        shape: TaskShape,
        train: Option<Vec<Vec<u32>>>,
    },
    Text(TextData),
    Conditional(ParallelData),
}

/// One training example (target, and source for conditional tasks) for the
/// probes: the oracle's data may not exist yet, so any sequence of ids.
fn first_example(prepared: &Prepared, max_len: u32) -> Batch {
    match prepared {
        Prepared::Oracle { train, .. } => Batch::unconditional(TokenBatch::from_rows(
            &[train
                .as_ref()
                .and_then(|t| t.first().cloned())
                .unwrap_or_else(|| vec![0; max_len as usize])],
            0,
        )),
        Prepared::Text(data) => Batch::unconditional(TokenBatch::from_rows(&data.train[..1], 0)),
        Prepared::Conditional(data) => Batch::conditional(
            TokenBatch::from_rows(&data.train_targets[..1], 0),
            TokenBatch::from_rows(&data.train_sources[..1], 0),
        ),
    }
}

/// Checks what the library of `resolved` (the config's `role`, a `kind`)
/// declares about sources against the task (`conditional`: its rows have
/// sources). `Ok(true)`: the declaration settles it; `Ok(false)`: it
/// declares nothing (a library built before the `sources-*` names), so the
/// caller probes it; an error says why the task cannot use it.
fn fits_declared_sources(
    resolved: &ResolvedComponent,
    role: &str,
    kind: ComponentKind,
    config: &ExperimentConfig,
    conditional: bool,
) -> anyhow::Result<bool> {
    let name = &resolved.component.name;
    let Some(declared) = SourceDeclaration::of(&resolved.library.capabilities, kind, name) else {
        return Ok(false);
    };
    if declared.accepts(conditional) {
        return Ok(true);
    }
    let (label, task) = (resolved.label(), config.task.kind.name());
    let cannot = match kind {
        ComponentKind::Generator => "cannot generate for this task",
        ComponentKind::Discriminator => "cannot score this task's training data",
        ComponentKind::Reward => "cannot score this task's sequences",
    };
    match declared {
        SourceDeclaration::Required => bail!(
            "the {role} ({label}) {cannot}: it declares `sources-required` (it reads each row's source), so it needs a conditional task, and this is a {task} task; choose one for a {task} task"
        ),
        _ => {
            let hint = match kind {
                ComponentKind::Generator => {
                    "conditional tasks need a generator that declares `sources-required` (on the SDK's kit: `SourceUse::Required`), e.g. agon/seq2seq-generator"
                }
                ComponentKind::Discriminator => {
                    "conditional tasks need a discriminator that declares `sources-required` (on the SDK's kit: `SourceUse::Required`), e.g. pair-lab/pair-discriminators"
                }
                ComponentKind::Reward => {
                    "conditional tasks need a reward that declares `sources-optional` or `sources-required`"
                }
            };
            bail!(
                "the {role} ({label}) {cannot}: it declares `sources-never` (it reads targets alone, so it would not see what each target answers); {hint}"
            )
        }
    }
}

/// Whether the reward of `resolved` can have references here: a reward that
/// declares `references-required` needs a conditional task (whose rows'
/// gold targets are the references). `Ok(true)` when settled by
/// declarations, `Ok(false)` when it declares nothing (probe it).
fn fits_declared_references(
    resolved: &ResolvedComponent,
    config: &ExperimentConfig,
    conditional: bool,
) -> anyhow::Result<bool> {
    if !fits_declared_sources(
        resolved,
        "reward",
        ComponentKind::Reward,
        config,
        conditional,
    )? {
        return Ok(false);
    }
    let name = &resolved.component.name;
    if !conditional
        && declares(
            &resolved.library.capabilities,
            ComponentKind::Reward,
            name,
            REFERENCES_REQUIRED,
        )
    {
        bail!(
            "the reward ({}) cannot score this task's sequences: it declares `references-required` (it scores each sequence against its own reference), and a {} task has none; use it on a conditional task, or choose a reward such as `discriminator`",
            resolved.label(),
            config.task.kind.name()
        );
    }
    Ok(true)
}

/// Scores one training example with a throwaway instance of the
/// discriminator, before the run directory exists: a discriminator that
/// cannot score this task's batches (an unconditional one on a translation
/// task, a pair discriminator without sources) is refused now, not after
/// MLE pretraining. (A throwaway instance, so the run's own discriminator
/// starts untouched.) Only for a discriminator whose library declares
/// nothing about sources ([`fits_declared_sources`]).
fn probe_discriminator(
    resolved: &ResolvedComponent,
    config: &ExperimentConfig,
    shared: &SharedContext,
    example: &Batch,
) -> anyhow::Result<()> {
    let spec = config.discriminator.as_ref().expect("resolved from it");
    let mut probe = Discriminator::new(resolved, spec, "discriminator", shared, 2)?;
    probe.probabilities(example).map(drop).with_context(|| {
        format!(
            "the discriminator ({}) cannot score this task's training data; choose one for a {} task",
            resolved.label(),
            config.task.kind.name()
        )
    })
}

/// The same for the reward: a reference reward (`sentence-bleu`, `rouge-l`,
/// `mixture`) on a task without references is refused now. Only for a
/// reward whose library declares nothing ([`fits_declared_references`]).
fn probe_reward(
    resolved: &ResolvedComponent,
    config: &ExperimentConfig,
    shared: &SharedContext,
    example: &Batch,
) -> anyhow::Result<()> {
    let spec = config.reward.as_ref().expect("resolved from it");
    let mut probe = Reward::new(resolved, spec, "reward", shared, 3)?;
    probe.set_corpus(&example.targets)?;
    let input = RewardInput {
        sequences: example.targets.clone(),
        sources: example.sources.clone(),
        references: match &example.sources {
            ROption::RSome(_) => ROption::RSome(example.targets.clone()),
            ROption::RNone => ROption::RNone,
        },
        discriminator: if probe.needs_discriminator {
            ROption::RSome(vec![0.5f32; example.targets.rows()].into())
        } else {
            ROption::RNone
        },
    };
    probe.rewards(&input).map(drop).with_context(|| {
        format!(
            "the reward ({}) cannot score this task's sequences; choose one for a {} task",
            resolved.label(),
            config.task.kind.name()
        )
    })
}

/// Builds every component and the task of `config` (checked when it was
/// loaded). `saved`:
/// the vocabulary of the run being resumed (the data must still give it).
pub fn build(
    config: &ExperimentConfig,
    run_path: &Path,
    saved: Option<&Vocabulary>,
) -> anyhow::Result<Built> {
    build_in(&mut Registry::from_environment(), config, run_path, saved)
}

/// A data file that is not there is refused with the config line (or
/// `--set`) that named it, before anything is read.
pub fn check_data_files_exist(config: &ExperimentConfig) -> anyhow::Result<()> {
    let task = &config.task;
    let single = [
        ("train_data", &task.train_data),
        ("test_data", &task.test_data),
        ("train_source", &task.train_source),
        ("test_source", &task.test_source),
    ];
    let named = single
        .into_iter()
        .filter_map(|(key, path)| path.as_deref().map(|path| (key, path)))
        .chain(
            task.extra_references
                .iter()
                .flatten()
                .map(|path| ("extra_references", path.as_path())),
        );
    for (key, path) in named {
        if std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        if let Err(error) = data::read_data_file(path) {
            let place = config.origin.place_of(&["task", key]);
            return Err(error.context(match place {
                Some(place) => format!("{place}: task.{key}"),
                None => format!("task.{key}"),
            }));
        }
    }
    Ok(())
}

/// [`build`] with the plugins of `registry`: `agon sweep` builds every
/// setting of its grid with one registry, loading each library once.
pub fn build_in(
    registry: &mut Registry,
    config: &ExperimentConfig,
    run_path: &Path,
    saved: Option<&Vocabulary>,
) -> anyhow::Result<Built> {
    let task = &config.task;
    check_data_files_exist(config)?;
    let prepared = match task.kind {
        TaskKind::SyntheticOracle => {
            let shape = oracle_shape(config)?;
            let train = match &task.train_data {
                Some(path) => Some(data::read_token_ids(path, shape.vocab.size, shape.max_len)?),
                None => None,
            };
            Prepared::Oracle { shape, train }
        }
        TaskKind::Text => {
            let vocab_file = run_path.join(VOCAB_FILE);
            Prepared::Text(TextData::load(
                task,
                saved.map(|v| (v, vocab_file.as_path())),
            )?)
        }
        TaskKind::Conditional => {
            let vocab_file = run_path.join(VOCAB_FILE);
            Prepared::Conditional(ParallelData::load(
                task,
                saved.map(|v| (v, vocab_file.as_path())),
            )?)
        }
    };
    let (shape, train_len) = match &prepared {
        Prepared::Oracle { shape, train } => (
            shape.clone(),
            train
                .as_ref()
                .map_or(task.train_samples.unwrap_or(ORACLE_SAMPLES), Vec::len),
        ),
        Prepared::Text(data) => (
            TaskShape {
                vocab: data.vocab_info(),
                max_len: data.max_len,
            },
            data.train.len(),
        ),
        Prepared::Conditional(data) => (
            TaskShape {
                vocab: data.vocab_info(),
                max_len: data.max_len,
            },
            data.train_targets.len(),
        ),
    };
    if train_len < config.training.batch_size {
        bail!(
            "training.batch_size is {} but the training data ({}) holds only {train_len} sequences; lower the batch size",
            config.training.batch_size,
            task.train_data
                .as_deref()
                .map_or("task.train_samples".to_string(), |p| p.display().to_string()),
        );
    }
    let shared = shared_context(config, &shape, run_path);
    for warning in &registry.index().warnings {
        crate::notes::warn(warning);
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

    let mut merged_configs = Vec::new();
    let conditional = matches!(prepared, Prepared::Conditional(_));
    let (generator, resolved) = build_generator(registry, config, &shared)?;
    fits_declared_sources(
        &resolved,
        "generator",
        ComponentKind::Generator,
        config,
        conditional,
    )?;
    record("generator", &resolved);
    merged_configs.push(("generator".to_string(), generator.config_yaml.clone()));
    let example = first_example(&prepared, shape.max_len);
    let discriminator = match build_discriminator(registry, config, &shared)? {
        Some((discriminator, resolved)) => {
            record("discriminator", &resolved);
            merged_configs.push((
                "discriminator".to_string(),
                discriminator.config_yaml.clone(),
            ));
            if !fits_declared_sources(
                &resolved,
                "discriminator",
                ComponentKind::Discriminator,
                config,
                conditional,
            )? {
                probe_discriminator(&resolved, config, &shared, &example)?;
            }
            Some(discriminator)
        }
        None => None,
    };
    let reward = match build_reward(registry, config, &shared)? {
        Some((reward, resolved)) => {
            record("reward", &resolved);
            merged_configs.push(("reward".to_string(), reward.config_yaml.clone()));
            if !fits_declared_references(&resolved, config, conditional)? {
                probe_reward(&resolved, config, &shared, &example)?;
            }
            Some(reward)
        }
        None => None,
    };
    if reward.as_ref().is_some_and(|r| r.needs_discriminator) && discriminator.is_none() {
        let reward_at = config
            .origin
            .place_of(&["reward", "plugin"])
            .map(|place| format!("{place}: "))
            .unwrap_or_default();
        bail!(
            "{reward_at}the {} scores rows with the discriminator's probabilities (it declares needs_discriminator), but the config has no `discriminator:` section; add one, or choose a reward that does not need one",
            reward.as_ref().map_or(String::new(), |r| r.label.clone())
        );
    }
    let adversarial = &config.training.adversarial;
    let dense = adversarial.epochs > 0 && adversarial.credit == Credit::Dense;
    if adversarial.epochs > 0 && adversarial.algorithm == Algorithm::Gumbel {
        check_gumbel(config, &generator, discriminator.as_ref())?;
        if reward.is_some() {
            crate::notes::warn("the `reward:` section is not used: training.adversarial.algorithm is `gumbel`, so the generator learns from the gradient of the discriminator's loss");
        }
        // Set away from their defaults, they say the author expects them
        // to act; `gumbel` reads none of them.
        let defaults = crate::config::AdversarialConfig::default();
        let unread: Vec<&str> = [
            ("rollouts", adversarial.rollouts != defaults.rollouts),
            (
                "rollout_update_rate",
                adversarial.rollout_update_rate != defaults.rollout_update_rate,
            ),
            ("d_epochs", adversarial.d_epochs != defaults.d_epochs),
            ("dense", adversarial.dense != defaults.dense),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect();
        if !unread.is_empty() {
            crate::notes::warn(&format!(
                "training.adversarial.{} not used: training.adversarial.algorithm is `gumbel`, which takes g_steps and d_steps of one batch each and no rollouts",
                match unread.as_slice() {
                    [one] => format!("{one} is"),
                    many => format!("{{{}}} are", many.join(", ")),
                }
            ));
        }
    } else if dense {
        match &discriminator {
            None => return Err(lacks(
                placed(config, &["training", "adversarial", "credit"]),
                "training.adversarial.credit is `dense`, but the config has no `discriminator:` section; dense credit rewards every token with a discriminator's per-token scores".into(),
                ". Add a `discriminator:` that gives them, such as `{plugin: scratchgan-lab/lstm-discriminator@^0.1}` (`agon plugins show PLUGIN` lists a plugin's capabilities: `token-logits`), or set credit to `monte-carlo`",
            )),
            Some(d) if !d.supports_token_logits() => bail!(
                "{}training.adversarial.credit is `dense`, but {} does not provide per-token scores (the `token-logits` capability of plugin ABI 1.1; a model on the SDK's kit declares it with `const PER_TOKEN: bool = true` and `token_logits`, as `agon plugins new discriminator --per-token` writes); use a discriminator that declares it, such as scratchgan-lab/lstm-discriminator (`agon plugins show` lists capabilities), or set credit to `monte-carlo`",
                placed(config, &["discriminator", "plugin"]),
                d.label
            ),
            Some(_) => {}
        }
        if reward.is_some() {
            crate::notes::warn("the `reward:` section is not used: training.adversarial.credit is `dense`, so the discriminator's per-token scores are the rewards");
        }
    } else if adversarial.epochs > 0 && reward.is_none() {
        return Err(lacks(
            placed(config, &["training", "adversarial", "epochs"]),
            format!(
                "training.adversarial.epochs is {} but the config has no `reward:` section",
                adversarial.epochs
            ),
            "; add one (e.g. `reward: {plugin: agon/rewards@^0.1, component: discriminator}`) or set the epochs to 0",
        ));
    }
    let task = match prepared {
        Prepared::Oracle { shape, train } => {
            let (oracle, resolved) = build_oracle(registry, config, &shared)?;
            record("task.oracle", &resolved);
            merged_configs.push(("task.oracle".to_string(), oracle.config_yaml.clone()));
            Task::Oracle(OracleTask::new(
                oracle,
                train,
                task.train_samples.unwrap_or(ORACLE_SAMPLES),
                task.heldout_samples.unwrap_or(ORACLE_HELDOUT),
                task.eval_samples.unwrap_or(ORACLE_SAMPLES),
                shape.max_len,
                config.seed,
            )?)
        }
        Prepared::Text(data) => Task::Text(TextTask::new(
            data,
            task.bleu.clone().unwrap_or_default(),
            task.eval_samples.unwrap_or(DEFAULT_EVAL_SAMPLES),
        )),
        Prepared::Conditional(data) => Task::Conditional(ConditionalTask::new(
            data,
            task.evaluation.clone().unwrap_or_default(),
            task.eval_samples.unwrap_or(DEFAULT_EVAL_SOURCES),
        )),
    };
    Ok(Built {
        components: Components {
            generator,
            discriminator,
            reward,
            task,
        },
        plugins,
        merged_configs,
    })
}

/// A run directory's config, vocabulary (text tasks) and generator with the
/// weights of `snapshot` (`None`: the latest checkpoint; `Some("mle")`: the
/// end of MLE pretraining).
pub fn load_run_generator(
    run_path: &Path,
    snapshot: Option<&str>,
) -> anyhow::Result<(ExperimentConfig, Option<Vocabulary>, Generator)> {
    let (config, found) = open_run(run_path)?;
    let weights = match snapshot {
        None => {
            let (checkpoint_dir, _) =
                found.ok_or_else(|| anyhow!("{} has no checkpoint yet", run_path.display()))?;
            checkpoint_dir.join("generator")
        }
        Some(name) => {
            let dir = checkpoint::snapshot_dir(run_path, name).join("generator");
            if !dir.exists() {
                let have = checkpoint::snapshots(run_path);
                bail!(
                    "{} has no `{name}` snapshot; it has {}. Without --snapshot the latest checkpoint is used (`mle`: the end of MLE pretraining, kept by runs with adversarial epochs; `best`: the best evaluation of the headline metric; `best-nll-test`: the lowest NLL-test)",
                    run_path.display(),
                    if have.is_empty() {
                        "none".to_string()
                    } else {
                        have.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                    }
                );
            }
            dir
        }
    };
    let vocabulary = saved_vocabulary(&config, run_path)?;
    let shape = run_shape(&config, vocabulary.as_ref())?;
    let mut registry = Registry::from_environment();
    let shared = shared_context(&config, &shape, run_path);
    let (mut generator, resolved) = build_generator(&mut registry, &config, &shared)?;
    warn_if_generator_changed(run_path, &resolved);
    generator
        .load(&weights)
        .with_context(|| format!("cannot restore checkpoint {}", weights.display()))?;
    Ok((config, vocabulary, generator))
}

/// Warns (once per run and process) when a run's generator library is not
/// the build the run trained with (`plugins.json`'s sha256): a plugin
/// author who rebuilds would otherwise sample or score new code on old
/// weights without knowing it.
fn warn_if_generator_changed(run_path: &Path, resolved: &ResolvedComponent) {
    let recorded = recorded_plugins(run_path);
    // The last build recorded: a run resumed with a rebuilt library
    // recorded it too (`resumed_at`).
    let Some(entry) = recorded.iter().rev().find(|r| r["place"] == "generator") else {
        return;
    };
    if entry["sha256"].as_str() == Some(resolved.library.sha256.as_str()) {
        return;
    }
    crate::notes::warn(&format!(
        "{}'s generator trained with another build of its library than the one loaded now ({}, sha256 {} in plugins.json, {} now): its weights run under this build's code, so samples and scores may differ from the run's",
        run_path.display(),
        resolved.label(),
        short_sha256(entry["sha256"].as_str().unwrap_or("?")),
        short_sha256(&resolved.library.sha256)
    ));
}

/// The libraries a run recorded in its `plugins.json` (place, component,
/// sha256 …); none when the file is missing or unreadable.
pub fn recorded_plugins(run_path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run_path.join("plugins.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// `FILE line N: ` (or `--set …: `) where the config sets `path`, or
/// nothing where neither does (a default).
fn placed(config: &ExperimentConfig, path: &[&str]) -> String {
    config
        .origin
        .place_of(path)
        .map(|place| format!("{place}: "))
        .unwrap_or_default()
}

/// A config whose adversarial phase lacks a section or a capability it
/// needs: `place` and `lacks` say what, `fix` how a new run's config gets
/// it. `agon train --resume`, which cannot change a run's config, says
/// `lacks` with its own way out.
#[derive(Debug)]
pub struct AdversarialPhaseLacks {
    pub place: String,
    pub lacks: String,
    pub fix: String,
}

impl std::fmt::Display for AdversarialPhaseLacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}{}", self.place, self.lacks, self.fix)
    }
}

impl std::error::Error for AdversarialPhaseLacks {}

fn lacks(place: String, lacks: String, fix: &str) -> anyhow::Error {
    AdversarialPhaseLacks {
        place,
        lacks,
        fix: fix.to_string(),
    }
    .into()
}

/// Refuses `algorithm: gumbel` unless the generator draws relaxed samples
/// and the discriminator scores relaxed rows (plugin ABI 1.2), naming the
/// component that lacks its capability, before the run directory exists.
fn check_gumbel(
    config: &ExperimentConfig,
    generator: &Generator,
    discriminator: Option<&Discriminator>,
) -> anyhow::Result<()> {
    let algorithm_at = placed(config, &["training", "adversarial", "algorithm"]);
    let Some(discriminator) = discriminator else {
        return Err(lacks(
            algorithm_at,
            "training.adversarial.algorithm is `gumbel`, but the config has no `discriminator:` section; gumbel training backpropagates a discriminator's loss into the generator".into(),
            ". Add a `discriminator:` that scores relaxed rows, such as `{plugin: relgan-lab/relgan@^0.1, component: relgan-discriminator}` (`agon plugins show PLUGIN` lists a plugin's capabilities: `relaxed-rows`), or set the algorithm to `policy-gradient`",
        ));
    };
    if !discriminator.supports_relaxed_rows() {
        return Err(lacks(
            placed(config, &["discriminator", "plugin"]),
            format!(
                "training.adversarial.algorithm is `gumbel`, but {} does not score relaxed rows (the `{}` capability of plugin ABI 1.2, declared by a plugin that implements it, which one built against an older agon-sdk cannot; on the SDK's kit with `const RELAXED: bool = true` and `relaxed_logits`)",
                discriminator.label,
                agon_sdk::capabilities::RELAXED_ROWS
            ),
            "; use a discriminator that declares it, such as relgan-lab/relgan (`agon plugins show` lists capabilities), or set algorithm to `policy-gradient`",
        ));
    }
    if !generator.supports_relaxed_samples() {
        return Err(lacks(
            placed(config, &["generator", "plugin"]),
            format!(
                "training.adversarial.algorithm is `gumbel`, but {} does not draw relaxed samples (the `{}` capability of plugin ABI 1.2, declared by a plugin that implements it, which one built against an older agon-sdk cannot; every generator on the SDK's generator kit does)",
                generator.label,
                agon_sdk::capabilities::RELAXED_SAMPLES
            ),
            "; use a generator that declares it, such as relgan-lab/relgan's `relgan-generator` or one built on the SDK's generator kit (`agon plugins show` lists capabilities), or set algorithm to `policy-gradient`",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_directory_that_does_not_exist_is_named_with_its_nearest_run() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs");
        for name in ["000_seed-1", "001_seed-2"] {
            std::fs::create_dir_all(runs.join(name)).unwrap();
            std::fs::write(runs.join(name).join("config.yaml"), "name: t\n").unwrap();
        }
        let message = open_run(&runs.join("003_seed-2")).unwrap_err().to_string();
        assert_eq!(
            message,
            format!(
                "no such run directory: {}: did you mean {}?",
                runs.join("003_seed-2").display(),
                runs.join("001_seed-2").display()
            )
        );
        // A directory without a config is another mistake, said as such.
        std::fs::create_dir_all(runs.join("empty")).unwrap();
        let message = open_run(&runs.join("empty")).unwrap_err().to_string();
        assert!(
            message.ends_with("is not a run directory (it has no config.yaml)"),
            "{message}"
        );
    }
}
