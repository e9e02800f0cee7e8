//! Fault schedules: which nemeses run, in which order, for how long, with which parameters —
//! all drawn from one seed, so a printed seed (with the same nemesis list and duration) replays
//! the same schedule. Targets that depend on the running system (the current writer, the
//! current leader) are resolved when a step starts.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// A signal sent to a daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// kill -9.
    Kill,
    /// SIGTERM (what `systemctl stop` sends).
    Term,
    /// SIGSTOP (a frozen process), undone with SIGCONT.
    Stop,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Self::Kill => "kill9",
            Self::Term => "sigterm",
            Self::Stop => "sigstop",
        }
    }
}

/// Which way a one-way cut drops traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// What the writer sends to the monitors is dropped.
    WriterToMonitors,
    /// What the monitors send to the writer is dropped.
    MonitorsToWriter,
}

/// A degraded link's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Flaky {
    /// Base delay (ms).
    pub delay_ms: u32,
    /// Jitter (ms, ≤ delay).
    pub jitter_ms: u32,
    /// Frames sent ahead of the queue (%).
    pub reorder_pct: f64,
    /// Frames dropped (%).
    pub loss_pct: f64,
    /// Which host's outgoing traffic: the writer (true) or the leader monitor (false).
    pub on_writer: bool,
}

/// One kind of fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "nemesis", rename_all = "snake_case")]
pub enum Nemesis {
    /// The Raft leader monitor gets a signal (kill -9 or SIGSTOP); healed by restart / SIGCONT.
    LeaderMonitor {
        /// The signal.
        signal: Signal,
    },
    /// One monitor (the leader when `leader`) is cut from the other monitors; it still reaches
    /// the database hosts.
    MonitorMinority {
        /// Whether the cut monitor is the leader.
        leader: bool,
    },
    /// Two of three monitors are killed (kill -9); healed by restarting them.
    MonitorMajority,
    /// The writer host is cut from every monitor; clients and the other hosts still reach it.
    WriterIsolated,
    /// The writer's agent gets a signal; with `move_role`, `mmmctl move_role writer <other>`
    /// follows. Healed by restart / SIGCONT.
    WriterAgent {
        /// The signal.
        signal: Signal,
        /// Whether the writer is then moved by hand.
        move_role: bool,
    },
    /// The writer's mysqld is killed (kill -9) or frozen (SIGSTOP); healed by start / SIGCONT.
    WriterMysqld {
        /// The signal (Kill or Stop).
        signal: Signal,
    },
    /// A one-way cut between the writer and every monitor.
    OneWay {
        /// Which direction is dropped.
        direction: Direction,
    },
    /// Loss, delay and reordering on what one host sends.
    Flaky(Flaky),
}

/// The nemesis families the command line names (`--nemesis a,b,…`).
pub const FAMILIES: &[&str] = &[
    "leader-monitor",
    "monitor-minority",
    "monitor-majority",
    "writer-isolated",
    "writer-agent",
    "writer-agent-move",
    "writer-mysqld",
    "one-way",
    "flaky",
];

impl Nemesis {
    /// A short name for reports and expected-failure marks, e.g. `writer-agent-kill9+move_role`.
    pub fn name(&self) -> String {
        match self {
            Self::LeaderMonitor { signal } => format!("leader-monitor-{}", signal.name()),
            Self::MonitorMinority { leader } => {
                format!("monitor-minority{}", if *leader { "-leader" } else { "" })
            }
            Self::MonitorMajority => "monitor-majority-kill9".to_owned(),
            Self::WriterIsolated => "writer-isolated".to_owned(),
            Self::WriterAgent { signal, move_role } => format!(
                "writer-agent-{}{}",
                signal.name(),
                if *move_role { "+move_role" } else { "" }
            ),
            Self::WriterMysqld { signal } => format!("writer-mysqld-{}", signal.name()),
            Self::OneWay { direction } => match direction {
                Direction::WriterToMonitors => "one-way-writer-to-monitors".to_owned(),
                Direction::MonitorsToWriter => "one-way-monitors-to-writer".to_owned(),
            },
            Self::Flaky(f) => format!(
                "flaky-{}-{}ms±{}-reorder{}%-loss{}%",
                if f.on_writer { "writer" } else { "leader" },
                f.delay_ms,
                f.jitter_ms,
                f.reorder_pct,
                f.loss_pct
            ),
        }
    }

    /// Draws one nemesis of `family` (see [`FAMILIES`]).
    pub fn draw(family: &str, rng: &mut StdRng) -> Option<Self> {
        let signal = |rng: &mut StdRng, with_term: bool| match rng
            .random_range(0..if with_term { 3 } else { 2 })
        {
            0 => Signal::Kill,
            1 => Signal::Stop,
            _ => Signal::Term,
        };
        Some(match family {
            "leader-monitor" => Self::LeaderMonitor {
                signal: signal(rng, false),
            },
            "monitor-minority" => Self::MonitorMinority {
                leader: rng.random_bool(0.5),
            },
            "monitor-majority" => Self::MonitorMajority,
            "writer-isolated" => Self::WriterIsolated,
            "writer-agent" => Self::WriterAgent {
                signal: signal(rng, true),
                move_role: false,
            },
            "writer-agent-move" => Self::WriterAgent {
                signal: signal(rng, true),
                move_role: true,
            },
            "writer-mysqld" => Self::WriterMysqld {
                signal: signal(rng, false),
            },
            "one-way" => Self::OneWay {
                direction: if rng.random_bool(0.5) {
                    Direction::WriterToMonitors
                } else {
                    Direction::MonitorsToWriter
                },
            },
            "flaky" => {
                let delay_ms = rng.random_range(5..=80);
                Self::Flaky(Flaky {
                    delay_ms,
                    jitter_ms: rng.random_range(0..=delay_ms),
                    reorder_pct: f64::from(rng.random_range(0..=30_u32)),
                    loss_pct: f64::from(rng.random_range(0..=20_u32)),
                    on_writer: rng.random_bool(0.5),
                })
            }
            _ => return None,
        })
    }
}

/// One step: apply the nemesis, hold it, heal, then let the system settle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The fault.
    pub nemesis: Nemesis,
    /// How long the fault stays.
    pub hold: Duration,
    /// Quiet time after the heal before the next step.
    pub quiet: Duration,
}

/// A whole schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// The seed it was drawn from (0 for a fixed schedule).
    pub seed: u64,
    /// The steps in order.
    pub steps: Vec<Step>,
}

impl Schedule {
    /// Draws steps from `families` (each from [`FAMILIES`]; unknown names are an error) until
    /// their holds and quiets fill `duration`.
    pub fn random(seed: u64, families: &[String], duration: Duration) -> anyhow::Result<Self> {
        if families.is_empty() {
            anyhow::bail!("no nemesis to draw from");
        }
        if let Some(bad) = families.iter().find(|f| !FAMILIES.contains(&f.as_str())) {
            anyhow::bail!("unknown nemesis {bad:?}; known: {}", FAMILIES.join(", "));
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let mut steps = Vec::new();
        let mut total = Duration::ZERO;
        while total < duration {
            let family = &families[rng.random_range(0..families.len())];
            let nemesis = Nemesis::draw(family, &mut rng)
                .ok_or_else(|| anyhow::anyhow!("unknown nemesis {family:?}"))?;
            let hold = Duration::from_millis(rng.random_range(3_000..=12_000));
            let quiet = Duration::from_millis(rng.random_range(8_000..=15_000));
            total += hold + quiet;
            steps.push(Step {
                nemesis,
                hold,
                quiet,
            });
        }
        Ok(Self { seed, steps })
    }

    /// The fixed schedule CI runs: the writer cut from the monitors, the writer's agent killed
    /// then the writer moved by hand, two monitors killed, and the writer's agent stopped with
    /// SIGTERM then moved — about three and a half minutes.
    pub fn ci() -> Self {
        let step = |nemesis, hold_s, quiet_s| Step {
            nemesis,
            hold: Duration::from_secs(hold_s),
            quiet: Duration::from_secs(quiet_s),
        };
        Self {
            seed: 0,
            steps: vec![
                step(Nemesis::WriterIsolated, 10, 20),
                step(
                    Nemesis::WriterAgent {
                        signal: Signal::Kill,
                        move_role: true,
                    },
                    10,
                    20,
                ),
                step(Nemesis::MonitorMajority, 10, 20),
                step(
                    Nemesis::WriterAgent {
                        signal: Signal::Term,
                        move_role: true,
                    },
                    10,
                    20,
                ),
            ],
        }
    }

    /// The schedule's total length.
    pub fn duration(&self) -> Duration {
        self.steps.iter().map(|s| s.hold + s.quiet).sum()
    }

    /// One line per step, for printing before a run.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "seed {} ({} steps, {:?}):\n",
            self.seed,
            self.steps.len(),
            self.duration()
        );
        for (i, step) in self.steps.iter().enumerate() {
            s.push_str(&format!(
                "  {i:>2}. {} for {:?}, then {:?} quiet\n",
                step.nemesis.name(),
                step.hold,
                step.quiet
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<String> {
        FAMILIES.iter().map(|f| (*f).to_owned()).collect()
    }

    #[test]
    fn a_seed_replays_the_same_schedule_and_another_seed_does_not() {
        let d = Duration::from_secs(600);
        let a = Schedule::random(42, &all(), d).expect("schedule");
        let b = Schedule::random(42, &all(), d).expect("schedule");
        let c = Schedule::random(43, &all(), d).expect("schedule");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.duration() >= d);
    }

    #[test]
    fn every_family_can_be_drawn_and_unknown_ones_are_refused() {
        let mut rng = StdRng::seed_from_u64(1);
        for f in FAMILIES {
            assert!(Nemesis::draw(f, &mut rng).is_some(), "{f}");
        }
        let err = Schedule::random(1, &["nope".to_owned()], Duration::from_secs(1));
        assert!(err.is_err());
        assert!(Schedule::random(1, &[], Duration::from_secs(1)).is_err());
    }

    #[test]
    fn the_ci_schedule_has_the_required_cases_within_six_minutes() {
        let ci = Schedule::ci();
        let names: Vec<String> = ci.steps.iter().map(|s| s.nemesis.name()).collect();
        assert!(names.contains(&"writer-isolated".to_owned()));
        assert!(names.contains(&"writer-agent-kill9+move_role".to_owned()));
        assert!(names.contains(&"monitor-majority-kill9".to_owned()));
        assert!(
            ci.duration() <= Duration::from_secs(240),
            "{:?}",
            ci.duration()
        );
    }
}
