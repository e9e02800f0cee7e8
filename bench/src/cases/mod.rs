//! The benchmark's cases and the loop that runs one: a cluster per case (its profile, three
//! database hosts), then per run: steady state, recorder on, at least [`WARM_UP_ACKS`] writes
//! acknowledged by the writer, the case's action, recorder off, measurements.

mod failover;
pub mod idle;
mod leader;
mod loss;
mod move_role;

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::{Context as _, Result};
use mmm_lab::cluster::Binaries;

use crate::events::{Event, Micros};
use crate::measure::acked_ids;
use crate::profiles::{self, Profile, TimingsMs};
use crate::recorder::Recorder;
use crate::report::{CaseInfo, CaseResult, RunResult};
use crate::rig::{Rig, Writer, options};

/// Writes the writer must have acknowledged in a run before the action.
pub const WARM_UP_ACKS: usize = 10;
/// How long the warm-up may take.
const WARM_UP_LIMIT: Duration = Duration::from_secs(15);
/// Database hosts of the timed cases (the seeds' topology).
const DB_HOSTS: usize = 3;

/// What a timed case does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// kill -9 of the writer's mysqld.
    KillMysqld,
    /// The writer's host loses power.
    PowerOff,
    /// 300 ms of total packet loss at the writer.
    Loss,
    /// `mmmctl move_role writer <other master>`.
    MoveRole,
    /// kill -9 of the leader monitor.
    LeaderKill,
    /// The writer cut from every monitor, then healed.
    CutHeal,
}

/// A timed case.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// `--case` name.
    pub name: &'static str,
    /// Table title.
    pub title: &'static str,
    /// What it does.
    pub kind: Kind,
    /// Its timings.
    pub profile: fn() -> Profile,
}

/// Every timed case, in the order they run.
pub const CASES: &[Case] = &[
    Case {
        name: "kill-mysqld-defaults",
        title: "kill -9 writer's mysqld",
        kind: Kind::KillMysqld,
        profile: profiles::mysql_mmm_defaults,
    },
    Case {
        name: "kill-mysqld-check1",
        title: "kill -9 writer's mysqld",
        kind: Kind::KillMysqld,
        profile: profiles::check1_trap1,
    },
    Case {
        name: "kill-mysqld-fast",
        title: "kill -9 writer's mysqld",
        kind: Kind::KillMysqld,
        profile: profiles::fast,
    },
    Case {
        name: "loss-300ms-fast",
        title: "300 ms total loss at writer",
        kind: Kind::Loss,
        profile: profiles::fast,
    },
    Case {
        name: "power-off-fast",
        title: "writer host powered off",
        kind: Kind::PowerOff,
        profile: profiles::fast,
    },
    Case {
        name: "move-role-fast",
        title: "move_role writer (pause)",
        kind: Kind::MoveRole,
        profile: profiles::fast,
    },
    Case {
        name: "leader-kill-fast",
        title: "kill -9 leader monitor",
        kind: Kind::LeaderKill,
        profile: profiles::fast,
    },
    Case {
        name: "cut-heal-fast",
        title: "writer cut+healed: after heal",
        kind: Kind::CutHeal,
        profile: profiles::fast,
    },
];

impl Kind {
    /// (what the value is, the event milestones count from, what the second value is).
    pub fn definitions(self) -> (&'static str, &'static str, Option<&'static str>) {
        match self {
            Kind::KillMysqld => (
                "kill -9 of the writer's mysqld → first acknowledged write on another server",
                "the kill",
                None,
            ),
            Kind::PowerOff => (
                "the writer's bridge port starts dropping everything (then its agent and mysqld are \
                 killed) → first acknowledged write on another server",
                "the power-off",
                None,
            ),
            Kind::Loss => (
                "longest gap between acknowledged writes from the start of 300 ms of total loss \
                 at the writer's bridge port until the quiet window after it ends",
                "the loss",
                None,
            ),
            Kind::MoveRole => (
                "last acknowledged write before the first one on the new writer → that first one, \
                 around `mmmctl move_role writer <other master>`",
                "the command's start",
                None,
            ),
            Kind::LeaderKill => (
                "kill -9 of the leader monitor → first status push of the new leader reaching an \
                 agent (agents' lease, sampled)",
                "the kill",
                Some("longest write gap"),
            ),
            Kind::CutHeal => (
                "heal of the writer's cut from every monitor → first acknowledged write after the \
                 last failed one",
                "the heal",
                Some("cut → first write on the new writer"),
            ),
        }
    }
}

/// What every case run needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Runs per case (windows for the idle cases).
    pub runs: usize,
    /// The daemons.
    pub binaries: Binaries,
    /// Where each run's events go as JSON lines, if anywhere.
    pub timelines: Option<PathBuf>,
    /// Row ids, unique over the whole benchmark.
    pub ids: Arc<AtomicU64>,
}

/// Runs `case` `settings.runs` times on one cluster (relaunched when it does not come back to a
/// steady state) and summarises the runs.
pub fn run_case(case: &Case, settings: &Settings) -> CaseResult {
    let profile = (case.profile)();
    let opts = options(&settings.binaries, &profile, DB_HOSTS);
    let mut rig: Option<Rig> = None;
    let mut runs = Vec::new();
    for n in 1..=settings.runs {
        let r = match ready(&mut rig, &opts, &profile, settings) {
            Ok((rig, writer)) => {
                let r = one_run(case, rig, n, &writer, settings);
                println!("  {} run {n}/{}: {}", case.name, settings.runs, brief(&r));
                r
            }
            Err(e) => {
                println!(
                    "  {} run {n}/{}: no steady cluster: {e:#}",
                    case.name, settings.runs
                );
                RunResult::failed(n, "", format!("no steady cluster: {e:#}"))
            }
        };
        runs.push(r);
    }
    drop(rig);
    let (measure, reference, secondary) = case.kind.definitions();
    let info = CaseInfo {
        name: case.name.to_owned(),
        title: case.title.to_owned(),
        measure: measure.to_owned(),
        reference: reference.to_owned(),
        secondary: secondary.map(str::to_owned),
        profile: profile.name.to_owned(),
        timings: TimingsMs::from(&profile.timings),
        db_hosts: DB_HOSTS,
    };
    CaseResult::new(info, runs, crate::machine::load_average())
}

/// A steady cluster and its writer: the existing one, else (or when it does not come back) a
/// fresh one.
fn ready<'a>(
    rig: &'a mut Option<Rig>,
    opts: &mmm_lab::cluster::ClusterOptions,
    profile: &Profile,
    settings: &Settings,
) -> Result<(&'a mut Rig, Writer)> {
    let again = rig.as_mut().map(Rig::steady);
    match again {
        Some(Ok(writer)) => {
            let r = rig.as_mut().context("no cluster")?;
            return Ok((r, writer));
        }
        Some(Err(e)) => {
            println!("  the cluster did not come back ({e:#}); launching a new one");
            *rig = None;
        }
        None => {}
    }
    *rig = Some(Rig::launch(
        opts.clone(),
        profile.clone(),
        settings.ids.clone(),
    )?);
    let r = rig.as_mut().context("no cluster")?;
    let writer = r.steady()?;
    Ok((r, writer))
}

fn brief(r: &RunResult) -> String {
    match (&r.value_ms, &r.error) {
        (Some(v), _) => format!(
            "{} (writer {} → {}, lost {}{})",
            crate::report::fmt_ms(*v),
            r.writer_before,
            r.writer_after.as_deref().unwrap_or("?"),
            r.lost_writes
                .map_or_else(|| "?".to_owned(), |l| l.to_string()),
            r.secondary_ms
                .map(|s| format!(", second value {}", crate::report::fmt_ms(s)))
                .unwrap_or_default()
        ),
        (None, Some(e)) => format!("no value: {}", e.lines().next().unwrap_or_default()),
        (None, None) => "no value".to_owned(),
    }
}

/// One run: recorder on, warm-up, the case's action and measurement.
fn one_run(case: &Case, rig: &mut Rig, n: usize, w: &Writer, settings: &Settings) -> RunResult {
    let run_id = u32::try_from(n).unwrap_or(u32::MAX);
    let rec = match Recorder::start(&rig.cluster, run_id, rig.ids.clone()) {
        Ok(r) => r,
        Err(e) => return RunResult::failed(n, &w.host, format!("recorder: {e:#}")),
    };
    let warm = rec.wait(WARM_UP_LIMIT, |ev| {
        ev.iter().filter(|e| e.ack() == Some(w.server_id)).count() >= WARM_UP_ACKS
    });
    if !warm {
        let _ = rec.finish(&rig.cluster);
        let why = format!(
            "fewer than {WARM_UP_ACKS} writes landed on {} before the action",
            w.host
        );
        return RunResult::failed(n, &w.host, why);
    }
    let (mut result, events) = match case.kind {
        Kind::KillMysqld => failover::kill_mysqld(rig, rec, w, n),
        Kind::PowerOff => failover::power_off(rig, rec, w, n),
        Kind::CutHeal => failover::cut_heal(rig, rec, w, n),
        Kind::Loss => loss::run(rig, rec, w, n),
        Kind::MoveRole => move_role::run(rig, rec, w, n),
        Kind::LeaderKill => leader::run(rig, rec, w, n),
    };
    result.two_writable_ms = crate::events::ms(crate::measure::two_writable(&events));
    if let Some(dir) = &settings.timelines
        && let Err(e) = save_timeline(dir, case.name, n, &events)
    {
        eprintln!("mmm-bench: saving the timeline: {e:#}");
    }
    result
}

fn save_timeline(dir: &std::path::Path, case: &str, n: usize, events: &[Event]) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{case}-{n}.jsonl"));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
    for e in events {
        serde_json::to_writer(&mut f, e)?;
        writeln!(f)?;
    }
    Ok(())
}

/// The host whose server has `server_id`.
fn host_of(rig: &Rig, server_id: u32) -> Option<String> {
    rig.cluster
        .topology()
        .nodes
        .iter()
        .find(|n| n.db.server_id() == server_id)
        .map(|n| n.host.name().to_owned())
}

/// Counts the acknowledged writes (before `before`) that `host` lacks; `None` (and a message)
/// when that cannot be read.
fn lost(rig: &Rig, host: &str, events: &[Event], before: Micros) -> Option<u64> {
    match rig.missing_on(host, &acked_ids(events, before)) {
        Ok(n) => Some(n),
        Err(e) => {
            eprintln!("mmm-bench: counting lost writes on {host}: {e:#}");
            None
        }
    }
}

/// Waits until a server other than `old_server_id` acknowledged a write after `after`.
fn wait_new_writer(rec: &Recorder, after: Micros, old_server_id: u32, limit: Duration) -> bool {
    rec.wait(limit, |ev| {
        ev.iter()
            .any(|e| e.at > after && e.ack().is_some_and(|id| id != old_server_id))
    })
}

/// The host of the writer that acknowledged the last write, else `fallback`.
fn last_writer(rig: &Rig, events: &[Event], fallback: &str) -> String {
    events
        .iter()
        .rev()
        .find_map(|e| e.ack())
        .and_then(|id| host_of(rig, id))
        .unwrap_or_else(|| fallback.to_owned())
}
