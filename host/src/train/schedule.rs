//! Where a run is in its schedule, and the seeds of each piece of work.

use agon_sdk::seeds::derive_seed;
use serde::{Deserialize, Serialize};

/// The phases, in order (the derived order is the schedule's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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

    /// The training phase named `name` (as [`Phase::name`] gives it);
    /// `None` for `done`, which is no phase of training.
    pub fn from_name(name: &str) -> Option<Phase> {
        PHASES.into_iter().find(|phase| phase.name() == name)
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

/// The lengths of a schedule's phases: MLE epochs, discriminator
/// pretraining rounds, adversarial epochs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lengths {
    pub mle: usize,
    pub discriminator_pretraining: usize,
    pub adversarial: usize,
}

impl Lengths {
    /// The lengths of `config`'s schedule.
    pub fn of(training: &crate::config::TrainingConfig) -> Self {
        Lengths {
            mle: training.mle.epochs,
            discriminator_pretraining: training.discriminator_pretraining.rounds,
            adversarial: training.adversarial.epochs,
        }
    }

    fn get(&self, phase: Phase) -> usize {
        match phase {
            Phase::Mle => self.mle,
            Phase::DiscriminatorPretraining => self.discriminator_pretraining,
            Phase::Adversarial => self.adversarial,
            Phase::Done => 0,
        }
    }
}

/// The config key of a phase's length.
pub fn length_key(phase: Phase) -> &'static str {
    match phase {
        Phase::Mle => "training.mle.epochs",
        Phase::DiscriminatorPretraining => "training.discriminator_pretraining.rounds",
        Phase::Adversarial | Phase::Done => "training.adversarial.epochs",
    }
}

const PHASES: [Phase; 3] = [
    Phase::Mle,
    Phase::DiscriminatorPretraining,
    Phase::Adversarial,
];

/// Where a run at `position` of a schedule of `old` lengths continues when
/// its schedule becomes `new` (`agon train --resume RUN --set
/// training.adversarial.epochs=…`). A phase that is over keeps its length,
/// except that a finished run continues in the first phase made longer than
/// what it did; the phase in progress may end anywhere from its current
/// step on; later phases are free.
pub fn extend(position: Position, old: Lengths, new: Lengths) -> anyhow::Result<Position> {
    if position.phase == Phase::Done {
        // The last phase that ran may grow, and so may empty phases after
        // it; a phase followed by one that ran is over for good.
        let last = PHASES
            .into_iter()
            .rev()
            .find(|&p| old.get(p) > 0)
            .unwrap_or(Phase::Mle);
        let open: Vec<Phase> = PHASES.into_iter().skip_while(|&p| p != last).collect();
        for earlier in PHASES.into_iter().take_while(|&p| p != last) {
            anyhow::ensure!(
                new.get(earlier) == old.get(earlier),
                "{} cannot change from {} to {}: the run has finished that phase and the ones after it; only {} can grow",
                length_key(earlier),
                old.get(earlier),
                new.get(earlier),
                open.iter().map(|&p| length_key(p)).collect::<Vec<_>>().join(" or ")
            );
        }
        for &p in &open {
            anyhow::ensure!(
                new.get(p) >= old.get(p),
                "{} cannot go down from {} to {}: the run has done {} already",
                length_key(p),
                old.get(p),
                new.get(p),
                old.get(p)
            );
        }
        let Some(phase) = open.iter().copied().find(|&p| new.get(p) > old.get(p)) else {
            return Ok(position);
        };
        return Ok(Position {
            phase,
            step: old.get(phase),
        });
    }
    for phase in PHASES {
        if phase == position.phase {
            anyhow::ensure!(
                new.get(phase) >= position.step,
                "{} cannot be {}: the run has already done {} (set it to {} or more)",
                length_key(phase),
                new.get(phase),
                position.step,
                position.step
            );
            break;
        }
        anyhow::ensure!(
            new.get(phase) == old.get(phase),
            "{} cannot change from {} to {}: the run has finished that phase (it is in {} step {})",
            length_key(phase),
            old.get(phase),
            new.get(phase),
            position.phase.name(),
            position.step
        );
    }
    Ok(position)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: Lengths = Lengths {
        mle: 10,
        discriminator_pretraining: 2,
        adversarial: 5,
    };
    const DONE: Position = Position {
        phase: Phase::Done,
        step: 0,
    };

    #[test]
    fn phases_are_ordered_as_the_schedule_runs_them_and_found_by_name() {
        let mut phase = Phase::Mle;
        while phase != Phase::Done {
            assert!(phase < phase.next(), "{phase:?}");
            assert_eq!(Phase::from_name(phase.name()), Some(phase));
            phase = phase.next();
        }
        assert_eq!(Phase::from_name("done"), None);
        assert_eq!(Phase::from_name("pretraining"), None);
    }

    #[test]
    fn a_finished_run_continues_in_the_phase_made_longer() {
        let new = Lengths {
            adversarial: 8,
            ..OLD
        };
        assert_eq!(
            extend(DONE, OLD, new).unwrap(),
            Position {
                phase: Phase::Adversarial,
                step: 5
            }
        );
        assert_eq!(extend(DONE, OLD, OLD).unwrap(), DONE);
        let mle_only = Lengths {
            mle: 10,
            discriminator_pretraining: 0,
            adversarial: 0,
        };
        let longer = Lengths {
            mle: 15,
            ..mle_only
        };
        assert_eq!(
            extend(DONE, mle_only, longer).unwrap(),
            Position {
                phase: Phase::Mle,
                step: 10
            }
        );
    }

    #[test]
    fn a_finished_phase_keeps_its_length() {
        let new = Lengths { mle: 12, ..OLD };
        let err = extend(DONE, OLD, new).unwrap_err().to_string();
        assert!(err.contains("training.mle.epochs"), "{err}");
        let at = Position {
            phase: Phase::Adversarial,
            step: 2,
        };
        let err = extend(at, OLD, new).unwrap_err().to_string();
        assert!(err.contains("finished that phase"), "{err}");
        // An MLE-only run may gain an adversarial phase.
        let mle_only = Lengths {
            mle: 10,
            discriminator_pretraining: 0,
            adversarial: 0,
        };
        let with_adversarial = Lengths {
            adversarial: 3,
            ..mle_only
        };
        // …but not while giving back epochs it has done.
        let shrunk = Lengths {
            mle: 8,
            adversarial: 3,
            ..mle_only
        };
        let err = extend(DONE, mle_only, shrunk).unwrap_err().to_string();
        assert!(err.contains("cannot go down from 10 to 8"), "{err}");
        assert_eq!(
            extend(DONE, mle_only, with_adversarial).unwrap(),
            Position {
                phase: Phase::Adversarial,
                step: 0
            }
        );
        let shorter = Lengths {
            adversarial: 1,
            ..OLD
        };
        let err = extend(at, OLD, shorter).unwrap_err().to_string();
        assert!(err.contains("already done 2"), "{err}");
        let longer = Lengths {
            adversarial: 9,
            ..OLD
        };
        assert_eq!(extend(at, OLD, longer).unwrap(), at);
    }
}
