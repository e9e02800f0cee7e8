//! One simulated cluster: database hosts with their agents, monitors each running the real
//! leader machine, a Raft that elects, deposes and commits, and the network in between.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use mmm_core::checks::{CheckKind, CheckResult, CheckTable, MonitorTable, Tracker};
use mmm_core::command::{Command, apply_proposal};
use mmm_core::config::{Config, HostMode, MonitorNode, RoleMode};
use mmm_core::leader::{
    AgentAnswer, AgentCall, CallFailure, CallId, Effect, Event, KillOutcome, Leader, Now, Replica,
    Request, RequestId, SqlFenced, Switches, Timing,
};
use mmm_core::state::{ClusterState, HostState, Mode};
use mmm_core::time::Timestamp;

use super::Rng;
use super::agent::SimAgent;
use super::invariants::Checker;
use super::net::{Msg, Net, Weather};
use crate::fixtures;

mod faults;
mod machines;
mod raft;

/// Simulated time per step (the daemon ticks every 50 ms).
pub const TICK: Duration = Duration::from_millis(100);
/// Steps per simulated second.
const PER_SEC: u64 = 10;

/// The real world of one database host.
pub struct Host {
    pub name: String,
    pub machine_up: bool,
    down_until: Timestamp,
    pub mysql_up: bool,
    repl_ok: bool,
    lag_ok: bool,
    /// The monitors' requests reach the agent.
    pub link_up: bool,
    /// The agent's replies reach the monitors.
    pub replies_up: bool,
    /// Cut off from every monitor (checks and agent calls) while clients still reach it.
    pub isolated: bool,
    /// The agent process is stopped (SIGSTOP): requests wait in its socket, its lease is not
    /// counted; only the server's own timer acts.
    pub frozen: bool,
    /// Requests that reached the frozen agent, handled when it resumes.
    held: Vec<(usize, CallId, AgentCall)>,
    booted: Timestamp,
    pub agent: SimAgent,
}

/// One monitor: its checks and its leader machine.
pub struct Monitor {
    trackers: BTreeMap<(String, CheckKind), Tracker>,
    table: CheckTable,
    network_ok: bool,
    cut_off: Option<String>,
    pub machine: Leader,
    /// What this machine was last told.
    pub leading: bool,
    pub quorum_fresh: bool,
    /// Monitors whose reports (with network) it received since it last became leader.
    pub reported: BTreeSet<usize>,
    pub last_switches: Switches,
}

impl Monitor {
    fn new(config: &Arc<Config>, id: u64, timing: &Timing) -> Self {
        Monitor {
            trackers: BTreeMap::new(),
            table: CheckTable::new(),
            network_ok: true,
            cut_off: None,
            machine: Leader::new(config.clone(), id, timing.clone()),
            leading: false,
            quorum_fresh: false,
            reported: BTreeSet::new(),
            last_switches: Switches::ON,
        }
    }
}

/// A proposal on its way through Raft.
struct Proposal {
    from: usize,
    term: u64,
    id: CallId,
    commands: Vec<Command>,
    at: Timestamp,
}

/// Raft as the monitors see it: who leads, the replicated state, commits.
pub struct Raft {
    pub leader: Option<usize>,
    pub term: u64,
    pub state: Option<ClusterState>,
    pub index: u64,
    pending: Vec<Proposal>,
    /// Events to deliver later: (when, monitor, event).
    later: Vec<(Timestamp, usize, Later)>,
}

/// Something Raft tells a monitor later.
enum Later {
    Event(Box<Event>),
    /// It wins the election of `term`.
    Elected(u64),
}

/// What a run exercised (printed with `MMM_SIM_STATS=1`).
#[derive(Default, Debug, Clone)]
pub struct Stats {
    pub releases: u64,
    pub writer_after_confirm: u64,
    pub writer_after_fence: u64,
    pub writer_after_timer: u64,
    pub late_requests: u64,
    pub state_changes: u64,
    pub admin_requests: u64,
    pub leader_changes: u64,
    pub stale_pushes: u64,
    pub refused_pushes: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub step_asides: u64,
    pub startups: u64,
    pub steps: u64,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        self.releases += o.releases;
        self.writer_after_confirm += o.writer_after_confirm;
        self.writer_after_fence += o.writer_after_fence;
        self.writer_after_timer += o.writer_after_timer;
        self.late_requests += o.late_requests;
        self.state_changes += o.state_changes;
        self.admin_requests += o.admin_requests;
        self.leader_changes += o.leader_changes;
        self.stale_pushes += o.stale_pushes;
        self.refused_pushes += o.refused_pushes;
        self.lost += o.lost;
        self.duplicated += o.duplicated;
        self.step_asides += o.step_asides;
        self.startups += o.startups;
        self.steps += o.steps;
    }
}

pub struct World {
    pub rng: Rng,
    pub config: Arc<Config>,
    pub timing: Timing,
    pub weather: Weather,
    pub now: Timestamp,
    start: Timestamp,
    pub hosts: Vec<Host>,
    pub monitors: Vec<Monitor>,
    pub raft: Raft,
    net: Net,
    pub checker: Checker,
    pub trace: Vec<String>,
    pub stats: Stats,
    next_request: u64,
}

fn topology(rng: &mut Rng, monitors: usize) -> Config {
    let slaves = 1 + rng.below(3) as usize;
    let mut hosts = vec![
        fixtures::host("db1", "10.213.7.11", HostMode::Master, Some("db2")),
        fixtures::host("db2", "10.213.7.12", HostMode::Master, Some("db1")),
    ];
    for i in 0..slaves {
        hosts.push(fixtures::host(
            &format!("db{}", i + 3),
            &format!("10.213.7.{}", 13 + i),
            HostMode::Slave,
            None,
        ));
    }
    let names: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();
    let reader_hosts: Vec<&str> = if rng.chance(500) {
        names.iter().map(String::as_str).collect()
    } else {
        names.iter().skip(1).map(String::as_str).collect()
    };
    let ips: Vec<String> = (0..2 + rng.below(3))
        .map(|i| format!("10.213.7.{}", 101 + i))
        .collect();
    let ips: Vec<&str> = ips.iter().map(String::as_str).collect();
    let prefer = rng.chance(300).then_some("db1");
    let mut cfg = fixtures::config(
        hosts,
        vec![
            fixtures::role(
                "writer",
                RoleMode::Exclusive,
                &["db1", "db2"],
                &["10.213.7.100"],
                prefer,
            ),
            fixtures::role("reader", RoleMode::Balanced, &reader_hosts, &ips, None),
        ],
    );
    let trap = Duration::from_secs(1 + rng.below(5));
    for c in [
        &mut cfg.checks.ping,
        &mut cfg.checks.mysql,
        &mut cfg.checks.rep_threads,
        &mut cfg.checks.rep_backlog,
    ] {
        c.trap_period = trap;
        c.check_period = Duration::from_secs(1);
    }
    if let Some(m) = cfg.monitor.as_mut() {
        m.flap_duration = Duration::from_secs(*rng.pick(&[60, 300, 3600]));
        m.auto_set_online = Duration::from_secs(*rng.pick(&[0, 10, 60]));
        m.wait_for_other_master = Duration::from_secs(*rng.pick(&[0, 30]));
    }
    cfg.monitor_nodes = (1..=monitors as u64)
        .map(|id| MonitorNode {
            name: format!("mon{id}"),
            id,
            ip: "127.0.0.1".parse().expect("ip"),
            port: 9988,
            raft_port: 9990,
            http_port: None,
            data_dir: format!("/nonexistent/mon{id}").into(),
        })
        .collect();
    cfg
}

impl World {
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng(seed);
        let n = if rng.chance(500) { 3 } else { 1 };
        let config = Arc::new(topology(&mut rng, n));
        let timing = Timing::new(
            &config,
            n,
            Duration::from_millis(600),
            Duration::from_secs(3),
        );
        let now = Timestamp::from_secs(1_700_000_000);
        let state = Self::initial_state(&mut rng, &config, now);
        let configured: Vec<mmm_core::state::RoleIp> = config
            .roles
            .iter()
            .flat_map(|r| {
                r.ips
                    .iter()
                    .map(|ip| mmm_core::state::RoleIp::new(r.name.clone(), *ip))
            })
            .collect();
        let hosts = config
            .hosts
            .iter()
            .map(|h| Host {
                name: h.name.clone(),
                machine_up: true,
                down_until: now,
                mysql_up: true,
                repl_ok: true,
                lag_ok: true,
                link_up: true,
                replies_up: true,
                isolated: false,
                frozen: false,
                held: Vec::new(),
                booted: now,
                agent: SimAgent::new("writer", configured.clone(), rng.chance(700)),
            })
            .collect();
        let monitors = (0..n)
            .map(|i| Monitor::new(&config, i as u64 + 1, &timing))
            .collect();
        let weather = Weather {
            max_delay: Duration::from_millis(100 * rng.below(5)),
            loss: *rng.pick(&[0, 10, 30]),
            duplicate: *rng.pick(&[0, 10, 30]),
        };
        let mut w = World {
            rng,
            config,
            timing,
            weather,
            now,
            start: now,
            hosts,
            monitors,
            raft: Raft {
                leader: None,
                term: 0,
                state,
                index: 1,
                pending: Vec::new(),
                later: Vec::new(),
            },
            net: Net::default(),
            checker: Checker::default(),
            trace: Vec::new(),
            stats: Stats::default(),
            next_request: 0,
        };
        for m in 0..n {
            w.feed(m, Event::Network { ok: true });
            w.feed(m, Event::Applied(w.replica()));
        }
        w.elect(0);
        w
    }

    /// Half the runs start a new cluster (startup vote), half a started one.
    fn initial_state(rng: &mut Rng, config: &Config, now: Timestamp) -> Option<ClusterState> {
        if rng.chance(500) {
            return None;
        }
        let mut state = ClusterState::new(config, now);
        state.started = true;
        state.mode = *rng.pick(&[
            Mode::Active,
            Mode::Active,
            Mode::Active,
            Mode::Manual,
            Mode::Wait,
        ]);
        for h in &mut state.hosts {
            h.state = HostState::AwaitingRecovery;
        }
        Some(state)
    }

    pub fn secs(&self) -> f64 {
        self.now.since(self.start).as_secs_f64()
    }

    pub fn note(&mut self, s: String) {
        let line = format!("t={:.1} {s}", self.secs());
        self.trace.push(line);
    }

    pub fn replica(&self) -> Replica {
        Replica {
            index: self.raft.index,
            state: self.raft.state.clone(),
        }
    }

    fn host_index(&self, name: &str) -> Option<usize> {
        self.hosts.iter().position(|h| h.name == name)
    }

    /// One step of 100 ms.
    pub fn step(&mut self) -> Result<(), String> {
        self.now = self.now.plus(TICK);
        self.stats.steps += 1;
        for i in 0..self.hosts.len() {
            self.host_faults(i);
        }
        self.monitor_faults();
        let second = self.now.since(self.start).as_millis().is_multiple_of(1000);
        if second {
            self.observe();
        }
        self.raft_step()?;
        self.net_step();
        self.admin();
        for h in &mut self.hosts {
            if h.machine_up {
                h.agent.server_tick(self.now);
                if !h.frozen {
                    h.agent.tick(self.now, h.mysql_up);
                }
            }
        }
        for m in 0..self.monitors.len() {
            self.feed(m, Event::Tick);
        }
        let mut checker = std::mem::take(&mut self.checker);
        let checked = checker.after_step(self);
        self.checker = checker;
        checked
    }
}
