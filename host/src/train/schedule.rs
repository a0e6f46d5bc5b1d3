//! Where a run is in its schedule, and the seeds of each piece of work.

use agon_sdk::seeds::derive_seed;
use serde::{Deserialize, Serialize};

/// The phases, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Mle,
    DiscriminatorPretraining,
    Adversarial,
    Done,
}

impl Phase {
    /// The phase after this one.
    pub fn next(self) -> Phase {
        match self {
            Phase::Mle => Phase::DiscriminatorPretraining,
            Phase::DiscriminatorPretraining => Phase::Adversarial,
            Phase::Adversarial | Phase::Done => Phase::Done,
        }
    }

    /// Name used in metrics and seeds.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Mle => "mle",
            Phase::DiscriminatorPretraining => "discriminator-pretraining",
            Phase::Adversarial => "adversarial",
            Phase::Done => "done",
        }
    }
}

/// The next unit of work: `step` epochs (or rounds) of `phase` are done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub phase: Phase,
    pub step: usize,
}

impl Position {
    /// The start of a run.
    pub const START: Position = Position {
        phase: Phase::Mle,
        step: 0,
    };
}

/// The seed of the piece of work called `label` (e.g. `mle/3/order`) in a
/// run seeded with `seed`. Every random choice of the host is derived like
/// this, so a resumed run makes the same choices without saved RNG state.
pub fn seed_for(seed: u64, label: &str) -> u64 {
    derive_seed(seed, label)
}
