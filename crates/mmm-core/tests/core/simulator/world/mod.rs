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

    // ---- raft -----------------------------------------------------------------------

    /// Monitor `m` wins an election now (a new term).
    fn elect(&mut self, m: usize) {
        self.raft.term += 1;
        self.raft.leader = Some(m);
        let term = self.raft.term;
        self.note(format!("mon{} leads in term {term}", m + 1));
        for i in 0..self.monitors.len() {
            let leading = i == m;
            if leading {
                self.monitors[i].reported.clear();
            }
            let replica = self.replica();
            self.feed(i, Event::Applied(replica));
            self.feed(
                i,
                Event::Leadership {
                    leading,
                    term,
                    leader: Some(m as u64 + 1),
                },
            );
            self.feed(i, Event::QuorumFreshness { fresh: leading });
        }
    }

    /// The leader loses its quorum: it hears of it within the freshness window and of the
    /// new term a little later; a successor is elected after an election timeout.
    pub fn depose(&mut self) {
        let Some(old) = self.raft.leader.take() else {
            return;
        };
        self.stats.leader_changes += 1;
        let quorum_ms = u64::try_from(self.timing.quorum_age.as_millis()).unwrap_or(600);
        let stale = self
            .now
            .plus(Duration::from_millis(self.rng.below(quorum_ms + 1)));
        let learns = stale.plus(Duration::from_millis(self.rng.below(2000)));
        let next = self.rng.below(self.monitors.len() as u64) as usize;
        let elected = self
            .now
            .plus(Duration::from_millis(300 + self.rng.below(301)));
        let term = self.raft.term + 1;
        self.note(format!(
            "mon{} deposed; mon{} will lead term {term}",
            old + 1,
            next + 1
        ));
        let later = &mut self.raft.later;
        later.push((
            stale,
            old,
            Later::Event(Box::new(Event::QuorumFreshness { fresh: false })),
        ));
        if old != next {
            later.push((
                learns.max(elected),
                old,
                Later::Event(Box::new(Event::Leadership {
                    leading: false,
                    term,
                    leader: Some(next as u64 + 1),
                })),
            ));
        }
        later.push((elected, next, Later::Elected(term)));
    }

    fn raft_step(&mut self) -> Result<(), String> {
        let now = self.now;
        let mut later = std::mem::take(&mut self.raft.later);
        later.sort_by_key(|(at, _, _)| *at);
        let (ready, keep): (Vec<_>, Vec<_>) = later.into_iter().partition(|(at, _, _)| *at <= now);
        self.raft.later = keep;
        for (_, m, what) in ready {
            match what {
                Later::Event(ev) => self.feed(m, *ev),
                Later::Elected(term) => {
                    if self.raft.leader.is_none() && self.raft.term + 1 == term {
                        self.elect(m);
                    }
                }
            }
        }
        let pending = std::mem::take(&mut self.raft.pending);
        let (ready, keep): (Vec<_>, Vec<_>) = pending.into_iter().partition(|p| p.at <= now);
        self.raft.pending = keep;
        for p in ready {
            self.commit(p)?;
        }
        Ok(())
    }

    fn commit(&mut self, p: Proposal) -> Result<(), String> {
        let leads = self.raft.leader == Some(p.from) && self.raft.term == p.term;
        if !leads {
            self.note(format!("mon{} proposal not committed", p.from + 1));
            self.feed(
                p.from,
                Event::ProposalFailed {
                    proposal: p.id,
                    error: "not the leader".into(),
                },
            );
            return Ok(());
        }
        let before = self.raft.state.clone();
        let mut checker = std::mem::take(&mut self.checker);
        let checked = checker.before_commit(self, p.from, &p.commands);
        self.checker = checker;
        checked.map_err(|e| format!("{e}\n(commands {:?})", p.commands))?;
        let config = self.config.clone();
        let at = p.commands.first().map_or(self.now, |c| c.at);
        let state = self
            .raft
            .state
            .get_or_insert_with(|| ClusterState::new(&config, at));
        let outcome = apply_proposal(state, &p.commands, &config);
        self.raft.index += 1;
        self.checker.after_commit(
            before.as_ref(),
            self.raft.state.as_ref(),
            &p.commands,
            &outcome,
            &config,
        )?;
        for c in &p.commands {
            let lines: Vec<&str> = c.lines.iter().map(|l| l.text.as_str()).collect();
            self.note(format!("commit {:?}: {}", c.change, lines.join(" / ")));
        }
        let replica = self.replica();
        for m in 0..self.monitors.len() {
            if m == p.from {
                let ev = Event::Committed {
                    proposal: p.id,
                    outcome: outcome.clone(),
                    replica: replica.clone(),
                };
                self.feed(m, ev);
            } else {
                self.feed(m, Event::Applied(replica.clone()));
            }
        }
        Ok(())
    }

    // ---- machines -------------------------------------------------------------------

    /// Steps monitor `m`'s machine and carries out what it asks.
    pub fn feed(&mut self, m: usize, event: Event) {
        match &event {
            Event::Leadership { leading, .. } => self.monitors[m].leading = *leading,
            Event::QuorumFreshness { fresh } => self.monitors[m].quorum_fresh = *fresh,
            _ => {}
        }
        let effects = self.monitors[m].machine.step(event, Now::at(self.now));
        for e in effects {
            self.effect(m, e);
        }
    }

    fn effect(&mut self, m: usize, e: Effect) {
        match e {
            Effect::Propose { id, commands } => {
                let at = self
                    .now
                    .plus(Duration::from_millis(100 + self.rng.below(300)));
                self.raft.pending.push(Proposal {
                    from: m,
                    term: self.raft.term,
                    id,
                    commands,
                    at,
                });
            }
            Effect::Call { id, host, call } => self.call(m, id, host, call),
            Effect::AskPeer { id, .. } => self.feed(
                m,
                Event::PeerAnswered {
                    call: id,
                    result: Ok(()),
                },
            ),
            Effect::AwaitCaughtUp { id, .. } => self.feed(
                m,
                Event::CaughtUp {
                    call: id,
                    result: Ok(()),
                },
            ),
            Effect::Campaign => self.feed(m, Event::Campaigned { result: Ok(()) }),
            Effect::FenceMysql { id, host, epoch } => self.fence_mysql(m, id, host, epoch),
            Effect::KillHost { id, host, .. } => self.kill_host(m, id, host),
            // The simulated cluster configures no hooks; a run would succeed.
            Effect::RunPostChangeHook { id, .. } => self.feed(
                m,
                Event::PostChangeHookRan {
                    call: id,
                    outcome: mmm_core::leader::HookOutcome {
                        code: Some(0),
                        output: String::new(),
                    },
                },
            ),
            Effect::RunPreFailoverHook { id, .. } => self.feed(
                m,
                Event::PreFailoverHookRan {
                    call: id,
                    outcome: mmm_core::leader::HookOutcome {
                        code: Some(0),
                        output: String::new(),
                    },
                },
            ),
            Effect::SetElections(s) => {
                self.note(format!("mon{} raft switches {s:?}", m + 1));
                let was = self.monitors[m].last_switches;
                self.monitors[m].last_switches = s;
                // A leader that stops its heartbeats is replaced after an election timeout.
                if was.heartbeat && !s.heartbeat && self.raft.leader == Some(m) {
                    self.stats.step_asides += 1;
                    self.depose();
                }
            }
            Effect::Reply { answer, .. } => self.note(format!("mon{} replied {answer:?}", m + 1)),
            Effect::Log(line) => self.note(format!("mon{} log: {}", m + 1, line.text)),
        }
    }

    /// The leader fences `host`'s MySQL over SQL: it works when the server runs and this
    /// monitor reaches the host (not cut off from it, not cut off from every monitor).
    fn fence_mysql(&mut self, m: usize, id: CallId, host: String, epoch: u64) {
        let cut = self.monitors[m].cut_off.as_deref() == Some(host.as_str());
        let result = match self.host_index(&host).map(|i| &mut self.hosts[i]) {
            Some(h) if h.machine_up && h.mysql_up && !cut && !h.isolated => {
                let stored = h.agent.sql_fence(epoch);
                self.note(format!("mon{} fenced {host} over SQL at {stored}", m + 1));
                Ok(SqlFenced {
                    epoch: stored,
                    killed: 0,
                })
            }
            _ => Err(format!("Connect error ({host}:3306): timed out")),
        };
        let ev = Event::MysqlFenced {
            call: id,
            host,
            result,
        };
        self.feed(m, ev);
    }

    /// `kill_host_bin`: the machine goes down until it reboots.
    fn kill_host(&mut self, m: usize, id: CallId, host: String) {
        if let Some(i) = self.host_index(&host) {
            let h = &mut self.hosts[i];
            h.machine_up = false;
            h.down_until = self.now.plus(Duration::from_secs(30));
            h.agent.boot();
            h.frozen = false;
            h.held.clear();
        }
        let outcome = KillOutcome {
            code: Some(0),
            output: String::new(),
        };
        let ev = Event::HostKilled {
            call: id,
            host,
            outcome,
        };
        self.feed(m, ev);
    }

    fn call(&mut self, m: usize, id: CallId, host: String, call: AgentCall) {
        if let AgentCall::SetStatus(push) = &call {
            let mut checker = std::mem::take(&mut self.checker);
            checker.pushed(self, m, &host, push);
            self.checker = checker;
            if self.raft.leader != Some(m) {
                self.stats.stale_pushes += 1;
            }
        }
        if matches!(call, AgentCall::GetStatus) {
            self.stats.startups += 1;
        }
        let reachable = self.host_index(&host).is_some_and(|i| {
            let h = &self.hosts[i];
            h.machine_up && h.link_up && !h.isolated
        });
        let ctx = (
            self.now,
            self.timing.agent_timeout,
            &self.weather,
            &mut self.rng,
        );
        self.net.call(m, id, &host, call, reachable, ctx);
    }

    /// Delivers due messages: agents handle requests, callers get their answers.
    fn net_step(&mut self) {
        for msg in self.net.due(self.now) {
            match msg {
                Msg::Request {
                    from,
                    id,
                    host,
                    call,
                } => self.agent_request(from, id, &host, &call),
                Msg::Reply {
                    to,
                    id,
                    host,
                    result,
                } => {
                    if self.net.finish(to, id) {
                        self.feed(
                            to,
                            Event::AgentAnswered {
                                call: id,
                                host,
                                result,
                            },
                        );
                    }
                }
            }
        }
        for done in self.net.expired(self.now) {
            let ev = Event::AgentAnswered {
                call: done.id,
                host: done.host,
                result: done.result,
            };
            self.feed(done.to, ev);
        }
        self.stats.lost = self.net.lost;
        self.stats.duplicated = self.net.duplicated;
    }

    fn agent_request(&mut self, from: usize, id: CallId, host: &str, call: &AgentCall) {
        let Some(i) = self.host_index(host) else {
            return;
        };
        let now = self.now;
        let h = &mut self.hosts[i];
        if !h.machine_up {
            return;
        }
        if h.frozen {
            h.held.push((from, id, call.clone()));
            return;
        }
        let uptime = now.since(h.booted);
        let result = h.agent.handle(call, now, h.mysql_up, uptime);
        let replies = h.replies_up;
        if let (AgentCall::SetStatus(p), Err(CallFailure::Refused(_))) = (call, &result) {
            self.stats.refused_pushes += 1;
            self.note(format!("{host} refused epoch {}", p.status.epoch));
        } else if let (AgentCall::SetStatus(p), Ok(AgentAnswer::Status(r))) = (call, &result) {
            let roles: Vec<String> = p.status.roles.iter().map(ToString::to_string).collect();
            self.note(format!(
                "{host} took epoch {} from mon{} [{}] writable={}",
                p.status.epoch,
                from + 1,
                roles.join(","),
                r.writable
            ));
        }
        if replies {
            let ctx = (self.now, &self.weather, &mut self.rng);
            self.net.answer(from, id, host, result, ctx);
        }
    }

    // ---- the world ------------------------------------------------------------------

    fn host_faults(&mut self, i: usize) {
        let now = self.now;
        let per_step =
            |r: &mut Rng, per_mille_per_sec: u64| r.below(1000 * PER_SEC) < 2 * per_mille_per_sec;
        let r = &mut self.rng;
        let h = &mut self.hosts[i];
        let mut ev = Vec::new();
        if !h.machine_up && now >= h.down_until {
            h.machine_up = true;
            h.mysql_up = true;
            h.booted = now;
            h.agent.boot();
            ev.push("boots");
        }
        if h.machine_up && per_step(r, 3) {
            h.machine_up = false;
            h.down_until = now.plus(Duration::from_secs(10 + r.below(60)));
            h.agent.boot();
            h.frozen = false;
            h.held.clear();
            ev.push("crashes");
        }
        if h.machine_up && per_step(r, if h.mysql_up { 8 } else { 60 }) {
            h.mysql_up = !h.mysql_up;
            h.agent.mysql_changed();
            ev.push(if h.mysql_up {
                "mysqld up"
            } else {
                "mysqld down"
            });
        }
        if per_step(r, if h.repl_ok { 8 } else { 80 }) {
            h.repl_ok = !h.repl_ok;
            ev.push(if h.repl_ok {
                "replication ok"
            } else {
                "replication stopped"
            });
        }
        if per_step(r, if h.lag_ok { 6 } else { 80 }) {
            h.lag_ok = !h.lag_ok;
            ev.push(if h.lag_ok { "caught up" } else { "lagging" });
        }
        if per_step(r, if h.link_up { 5 } else { 100 }) {
            h.link_up = !h.link_up;
            ev.push(if h.link_up {
                "agent link up"
            } else {
                "agent link cut"
            });
        }
        if per_step(r, if h.replies_up { 3 } else { 100 }) {
            h.replies_up = !h.replies_up;
            ev.push(if h.replies_up {
                "agent answers"
            } else {
                "agent hangs"
            });
        }
        if per_step(r, if h.isolated { 50 } else { 2 }) {
            h.isolated = !h.isolated;
            ev.push(if h.isolated {
                "cut off from every monitor"
            } else {
                "reachable from the monitors again"
            });
        }
        let mut late = Vec::new();
        if h.machine_up && per_step(r, if h.frozen { 100 } else { 3 }) {
            h.frozen = !h.frozen;
            ev.push(if h.frozen {
                "agent frozen"
            } else {
                "agent resumed"
            });
            if !h.frozen {
                late = std::mem::take(&mut h.held);
            }
        }
        let name = h.name.clone();
        for e in ev {
            self.note(format!("{name} {e}"));
        }
        // Requests that waited in the frozen agent's socket arrive late, in order.
        self.stats.late_requests += late.len() as u64;
        for (from, id, call) in late {
            self.agent_request(from, id, &name, &call);
        }
    }

    fn monitor_faults(&mut self) {
        for m in 0..self.monitors.len() {
            if self.monitors.len() > 1 && self.rng.below(1000 * PER_SEC) < 8 {
                let cut = if self.monitors[m].cut_off.is_some() {
                    None
                } else {
                    Some(self.rng.pick(&self.hosts).name.clone())
                };
                self.note(format!("mon{} cut off from {cut:?}", m + 1));
                self.monitors[m].cut_off = cut;
            }
            if self.rng.below(1000 * PER_SEC) < 4 {
                let ok = !self.monitors[m].network_ok;
                self.monitors[m].network_ok = ok;
                self.note(format!("mon{} network ok={ok}", m + 1));
                self.feed(m, Event::Network { ok });
            }
        }
        if self.raft.leader.is_some() && self.rng.below(1000 * PER_SEC) < 5 {
            self.depose();
        }
    }

    /// Every monitor checks every host once a second and reports to the leader.
    fn observe(&mut self) {
        for m in 0..self.monitors.len() {
            for i in 0..self.hosts.len() {
                self.check(m, i);
            }
        }
        let Some(leader) = self.raft.leader else {
            return;
        };
        for m in 0..self.monitors.len() {
            let mon = &self.monitors[m];
            let table = MonitorTable {
                monitor: format!("mon{}", m + 1),
                network_ok: mon.network_ok,
                observed_at: self.now,
                table: mon.table.clone(),
            };
            if mon.network_ok && self.monitors[leader].leading {
                self.monitors[leader].reported.insert(m);
            }
            self.feed(
                leader,
                Event::Observations {
                    monitor: m as u64 + 1,
                    table,
                },
            );
        }
    }

    fn check(&mut self, m: usize, i: usize) {
        let h = &self.hosts[i];
        let mon = &self.monitors[m];
        let reachable =
            h.machine_up && !h.isolated && mon.cut_off.as_deref() != Some(h.name.as_str());
        let sql = reachable && h.mysql_up;
        let lines = [
            if reachable {
                "OK: Pong!"
            } else {
                "ERROR: Could not ping"
            },
            if sql {
                "OK: Database is alive"
            } else {
                "ERROR: Connect error"
            },
            if !sql {
                "UNKNOWN: Connect error"
            } else if h.repl_ok {
                "OK"
            } else {
                "ERROR: Replication is broken"
            },
            if !sql {
                "UNKNOWN: Connect error"
            } else if h.lag_ok {
                "OK"
            } else {
                "ERROR: Backlog is too big"
            },
        ];
        let name = h.name.clone();
        let now = self.now;
        for (k, line) in CheckKind::ALL.into_iter().zip(lines) {
            let trap = k.config(&self.config.checks).trap_period;
            let mon = &mut self.monitors[m];
            let tr = mon.trackers.entry((name.clone(), k)).or_default();
            let res = CheckResult::parse(line);
            let o = tr.observe(&name, k, &res, mon.network_ok, trap, now);
            if let Some(ok) = o.report {
                mon.table.record(&name, k, ok, &res.message, now);
            }
        }
    }

    fn admin(&mut self) {
        let Some(leader) = self.raft.leader else {
            return;
        };
        // The operator brings the cluster up in its first seconds, then acts now and then.
        let bring_up = self.secs() < 20.0 && self.rng.below(PER_SEC) == 0;
        if !bring_up && self.rng.below(1000 * PER_SEC) >= 40 {
            return;
        }
        let host = self.rng.pick(&self.hosts).name.clone();
        if bring_up {
            self.request(leader, vec!["set_online".into(), host]);
            return;
        }
        let words: Vec<String> = match self.rng.below(12) {
            0..=2 => vec!["set_online".into(), host],
            3 => vec!["set_offline".into(), host],
            4 | 5 => vec!["move_role".into(), "writer".into(), host],
            6 => vec!["move_role".into(), "reader".into(), host],
            7 => vec!["move_role".into(), "--force".into(), "writer".into(), host],
            8 => vec!["set_manual".into()],
            9 => vec!["set_active".into()],
            10 => vec!["set_passive".into()],
            _ => vec!["set_ip".into(), "10.213.7.100".into(), host],
        };
        let passive = self
            .raft
            .state
            .as_ref()
            .is_some_and(|s| s.mode == Mode::Passive);
        let words = if passive && self.rng.chance(500) {
            vec!["set_active".into()]
        } else {
            words
        };
        self.request(leader, words);
    }

    fn request(&mut self, leader: usize, words: Vec<String>) {
        self.stats.admin_requests += 1;
        self.note(format!("admin {}", words.join(" ")));
        self.next_request += 1;
        let id = RequestId(self.next_request);
        self.feed(
            leader,
            Event::Request {
                id,
                request: Request::Command(words),
            },
        );
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
