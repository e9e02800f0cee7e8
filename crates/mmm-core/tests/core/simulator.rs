//! Seeded simulator: random faults over 3–5 host topologies, decide → apply in a loop with a
//! simulated clock and simulated agents (leases, self-fencing), checking the invariants of
//! DESIGN §3 after every step. Replay one seed with
//! `MMM_SIM_SEED=<n> cargo test -p mmm-core --test core simulator`; run more seeds with
//! `MMM_SIM_SEEDS=<count>`, print what the runs exercised with `MMM_SIM_STATS=1`.

use std::collections::BTreeMap;
use std::time::Duration;

use mmm_core::admin::{AdminRequest, admin};
use mmm_core::checks::{CheckKind, CheckResult, CheckTable, MonitorTable, Tracker, merge};
use mmm_core::command::{Change, Command, apply_all, fencing_hold};
use mmm_core::config::{Config, HostMode, RoleMode};
use mmm_core::decide::{AgentFacts, Inputs, decide, writer_may_move};
use mmm_core::desired::desired_status;
use mmm_core::state::{ClusterState, HostState, Mode, RoleIp};
use mmm_core::time::Timestamp;

use crate::fixtures;

const SEEDS: u64 = 1000;
const STEPS: u64 = 150;

/// splitmix64: small, seedable, good enough for fault injection.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

/// The real world of one MySQL host and its agent.
struct Host {
    name: String,
    machine_up: bool,
    down_until: u64,
    mysql_up: bool,
    repl_ok: bool,
    lag_ok: bool,
    agent_up: bool,
    boot_at: u64,
    // Agent side.
    agent_epoch: u64,
    writable: bool,
    lease_until: Timestamp,
    // What the leader last learned from this agent.
    facts: AgentFacts,
}

struct Monitor {
    trackers: BTreeMap<(String, CheckKind), Tracker>,
    table: CheckTable,
    network_ok: bool,
    cut_off: Option<String>,
}

struct World {
    rng: Rng,
    config: Config,
    state: ClusterState,
    hosts: Vec<Host>,
    monitors: Vec<Monitor>,
    quorum: usize,
    merged: CheckTable,
    leader_since: Timestamp,
    fresh_from: Timestamp,
    now: Timestamp,
    trace: Vec<String>,
    /// Agent facts decide saw in the current step.
    seen: BTreeMap<String, AgentFacts>,
    stats: Stats,
}

/// What a run exercised (printed with `MMM_SIM_STATS=1`).
#[derive(Default, Debug)]
struct Stats {
    releases: u64,
    writer_after_confirm: u64,
    writer_after_hold: u64,
    writer_same_host: u64,
    state_changes: u64,
    admin_accepted: u64,
    leader_changes: u64,
}

fn topology(rng: &mut Rng) -> Config {
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
    let n_ips = 2 + rng.below(3) as usize;
    let ips: Vec<String> = (0..n_ips)
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
    }
    if let Some(m) = cfg.monitor.as_mut() {
        m.flap_duration = Duration::from_secs(*rng.pick(&[60, 300, 3600]));
        m.auto_set_online = Duration::from_secs(*rng.pick(&[0, 10, 60]));
        m.wait_for_other_master = Duration::from_secs(*rng.pick(&[0, 30]));
    }
    cfg
}

impl World {
    fn new(seed: u64) -> Self {
        let mut rng = Rng(seed);
        let config = topology(&mut rng);
        let now = Timestamp::from_secs(1_700_000_000);
        let mut state = ClusterState::new(&config, now);
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
        let hosts = config
            .hosts
            .iter()
            .map(|h| Host {
                name: h.name.clone(),
                machine_up: true,
                down_until: 0,
                mysql_up: true,
                repl_ok: true,
                lag_ok: true,
                agent_up: true,
                boot_at: 0,
                agent_epoch: 0,
                writable: false,
                lease_until: now,
                facts: AgentFacts {
                    reachable: true,
                    uptime_ms: None,
                    confirmed_not_writer_epoch: None,
                    writer_ran_out_epoch: None,
                },
            })
            .collect();
        let (n, quorum) = if rng.chance(500) { (3, 2) } else { (1, 1) };
        let monitors = (0..n)
            .map(|_| Monitor {
                trackers: BTreeMap::new(),
                table: CheckTable::new(),
                network_ok: true,
                cut_off: None,
            })
            .collect();
        World {
            rng,
            config,
            state,
            hosts,
            monitors,
            quorum,
            merged: CheckTable::new(),
            leader_since: now,
            fresh_from: now,
            now,
            trace: Vec::new(),
            seen: BTreeMap::new(),
            stats: Stats::default(),
        }
    }

    fn secs(&self) -> u64 {
        self.now.as_secs()
    }

    fn note(&mut self, s: String) {
        self.trace
            .push(format!("t={} {s}", self.secs() - 1_700_000_000));
    }

    fn faults(&mut self) {
        let now = self.secs();
        for i in 0..self.hosts.len() {
            let r = &mut self.rng;
            let h = &mut self.hosts[i];
            let mut ev = Vec::new();
            if !h.machine_up && now >= h.down_until {
                h.machine_up = true;
                h.mysql_up = true;
                h.boot_at = now;
                ev.push("boots");
            }
            if h.machine_up && r.chance(3) {
                h.machine_up = false;
                h.down_until = now + 10 + r.below(60);
                ev.push("crashes");
            }
            if r.chance(if h.mysql_up { 10 } else { 60 }) {
                h.mysql_up = !h.mysql_up;
                ev.push(if h.mysql_up {
                    "mysqld up"
                } else {
                    "mysqld down"
                });
            }
            if r.chance(if h.repl_ok { 10 } else { 80 }) {
                h.repl_ok = !h.repl_ok;
                ev.push(if h.repl_ok {
                    "replication ok"
                } else {
                    "replication stopped"
                });
            }
            if r.chance(if h.lag_ok { 8 } else { 80 }) {
                h.lag_ok = !h.lag_ok;
                ev.push(if h.lag_ok { "caught up" } else { "lagging" });
            }
            if r.chance(if h.agent_up { 6 } else { 100 }) {
                h.agent_up = !h.agent_up;
                ev.push(if h.agent_up { "agent up" } else { "agent down" });
            }
            let name = h.name.clone();
            for e in ev {
                self.note(format!("{name} {e}"));
            }
        }
        for m in 0..self.monitors.len() {
            if self.monitors.len() > 1 && self.rng.chance(8) {
                let cut = if self.monitors[m].cut_off.is_some() {
                    None
                } else {
                    Some(self.rng.pick(&self.hosts).name.clone())
                };
                self.note(format!("monitor {m} cut off from {cut:?}"));
                self.monitors[m].cut_off = cut;
            }
            if self.rng.chance(4) {
                self.monitors[m].network_ok = !self.monitors[m].network_ok;
                let ok = self.monitors[m].network_ok;
                self.note(format!("monitor {m} network ok={ok}"));
            }
        }
        if self.rng.chance(4) {
            self.leader_since = self.now;
            self.fresh_from = self.now.plus(Duration::from_secs(6));
            self.merged = CheckTable::new();
            self.stats.leader_changes += 1;
            self.note("leader change".into());
        }
    }

    fn observe(&mut self) {
        for m in 0..self.monitors.len() {
            for i in 0..self.hosts.len() {
                let h = &self.hosts[i];
                let mon = &self.monitors[m];
                let reachable = h.machine_up && mon.cut_off.as_deref() != Some(h.name.as_str());
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
                for (k, line) in CheckKind::ALL.into_iter().zip(lines) {
                    let trap = k.config(&self.config.checks).trap_period;
                    let mon = &mut self.monitors[m];
                    let tr = mon.trackers.entry((name.clone(), k)).or_default();
                    let res = CheckResult::parse(line);
                    let o = tr.observe(&name, k, &res, mon.network_ok, trap, self.now);
                    if let Some(ok) = o.report {
                        mon.table.record(&name, k, ok, &res.message, self.now);
                    }
                }
            }
        }
        let tables: Vec<MonitorTable> = self
            .monitors
            .iter()
            .enumerate()
            .map(|(i, m)| MonitorTable {
                monitor: format!("m{i}"),
                network_ok: m.network_ok,
                observed_at: self.now,
                table: m.table.clone(),
            })
            .collect();
        self.merged = merge(
            &tables,
            self.quorum,
            Duration::from_secs(30),
            &self.merged,
            self.now,
        );
    }

    fn facts(&self) -> BTreeMap<String, AgentFacts> {
        self.hosts
            .iter()
            .map(|h| (h.name.clone(), h.facts.clone()))
            .collect()
    }

    fn host(&self, name: &str) -> &Host {
        self.hosts.iter().find(|h| h.name == name).expect("host")
    }

    /// Applies a batch after checking the fencing rule on every writer assignment.
    fn commit(&mut self, cmds: Vec<Command>, what: &str) -> Result<(), String> {
        let hold = fencing_hold(&self.config);
        let mut probe = self.state.clone();
        for c in &cmds {
            if let Change::AssignRole { role, to, .. } = &c.change
                && role == "writer"
                && let Some(rel) = &probe.writer_release
                && &rel.host != to
            {
                let old = self.host(&rel.host);
                let confirmed = old
                    .facts
                    .confirmed_not_writer_epoch
                    .is_some_and(|e| e >= rel.epoch);
                let outlived =
                    self.now >= rel.at.plus(hold) && self.now >= self.leader_since.plus(hold);
                if !confirmed && !outlived {
                    return Err(format!(
                        "writer moved to {to} before {} confirmed or outlived its hold",
                        rel.host
                    ));
                }
            }
            if let Change::AssignRole { role, to, .. } = &c.change
                && role == "writer"
            {
                match &probe.writer_release {
                    Some(rel) if &rel.host == to => self.stats.writer_same_host += 1,
                    Some(rel) => {
                        let confirmed = self
                            .host(&rel.host)
                            .facts
                            .confirmed_not_writer_epoch
                            .is_some_and(|e| e >= rel.epoch);
                        if confirmed {
                            self.stats.writer_after_confirm += 1;
                        } else {
                            self.stats.writer_after_hold += 1;
                        }
                    }
                    None => {}
                }
            }
            match &c.change {
                Change::ReleaseWriter { .. } => self.stats.releases += 1,
                Change::SetState { .. } => self.stats.state_changes += 1,
                _ => {}
            }
            if what == "admin" {
                self.stats.admin_accepted += 1;
            }
            apply_all(&mut probe, std::slice::from_ref(c), &self.config)
                .map_err(|e| format!("{what} produced a rejected command: {e}"))?;
        }
        for c in &cmds {
            let lines: Vec<String> = c.lines.iter().map(|l| l.text.clone()).collect();
            self.note(format!("{what}: {:?} {}", c.change, lines.join(" / ")));
        }
        apply_all(&mut self.state, &cmds, &self.config).map_err(|e| format!("{what}: {e}"))?;
        Ok(())
    }

    fn admin_step(&mut self) -> Result<(), String> {
        if !self.rng.chance(25) {
            return Ok(());
        }
        let host = self.rng.pick(&self.hosts).name.clone();
        let words: Vec<String> = match self.rng.below(12) {
            0..=2 => vec!["set_online".into(), host.clone()],
            3 => vec!["set_offline".into(), host.clone()],
            4 | 5 => vec!["move_role".into(), "writer".into(), host.clone()],
            6 => vec!["move_role".into(), "reader".into(), host.clone()],
            7 => vec![
                "move_role".into(),
                "--force".into(),
                "writer".into(),
                host.clone(),
            ],
            8 => vec!["set_manual".into()],
            9 => vec!["set_active".into()],
            10 => vec!["set_passive".into()],
            _ => vec!["set_ip".into(), "10.213.7.100".into(), host.clone()],
        };
        // Leave PASSIVE quickly so the rest of the run means something.
        let words = if self.state.mode == Mode::Passive && self.rng.chance(500) {
            vec!["set_active".into()]
        } else {
            words
        };
        let req = AdminRequest::parse(&words).map_err(|r| r.text)?;
        let h = self.host(&host);
        let reachable = h.machine_up && h.agent_up;
        let (cmds, reply) = admin(
            &self.state,
            &self.merged,
            &req,
            reachable,
            self.now,
            &self.config,
        );
        self.note(format!("admin {} -> {}", words.join(" "), reply.text));
        self.commit(cmds, "admin")
    }

    fn decide_step(&mut self) -> Result<(), String> {
        let inputs = Inputs {
            checks: self.merged.clone(),
            agents: self.facts(),
            leader_since: self.leader_since,
            fresh: self.now >= self.fresh_from,
        };
        let cmds = decide(&self.state, &inputs, self.now, &self.config);
        self.seen = inputs.agents;
        self.commit(cmds, "decide")
    }

    /// The leader pushes desired statuses; agents apply them or fence on lease expiry.
    fn agents_step(&mut self) {
        let lease = self
            .config
            .monitor
            .as_ref()
            .map(|m| m.agent_lease)
            .unwrap_or_default();
        let passive = self.state.mode == Mode::Passive;
        for i in 0..self.hosts.len() {
            let name = self.hosts[i].name.clone();
            let desired = desired_status(&self.state, &name, &self.config);
            let h = &mut self.hosts[i];
            let reachable = h.machine_up && h.agent_up;
            if reachable
                && !passive
                && let Some(d) = desired
                && d.epoch >= h.agent_epoch
            {
                h.agent_epoch = d.epoch;
                h.writable = d.roles.iter().any(|r| r.role == "writer") && h.mysql_up;
                h.lease_until = self.now.plus(lease);
            }
            if !h.machine_up || !h.mysql_up || self.now >= h.lease_until {
                h.writable = false;
            }
            if reachable {
                h.facts.reachable = true;
                h.facts.uptime_ms = Some((self.now.as_secs() - h.boot_at) * 1000);
                if !h.writable {
                    h.facts.confirmed_not_writer_epoch = Some(h.agent_epoch);
                }
            } else {
                h.facts.reachable = false;
            }
        }
    }

    fn check_invariants(&self, prev_epoch: u64) -> Result<(), String> {
        let st = &self.state;
        if st.epoch < prev_epoch {
            return Err(format!("epoch went back from {prev_epoch} to {}", st.epoch));
        }
        let writable: Vec<&str> = self
            .hosts
            .iter()
            .filter(|h| h.writable)
            .map(|h| h.name.as_str())
            .collect();
        if writable.len() > 1 {
            return Err(format!("two writable masters: {writable:?}"));
        }
        let holders: Vec<&str> = st
            .hosts
            .iter()
            .filter(|h| h.roles.iter().any(|r| r.role == "writer"))
            .map(|h| h.name.as_str())
            .collect();
        if holders.len() > 1 {
            return Err(format!("writer role on {holders:?}"));
        }
        if let Some(am) = holders.first()
            && matches!(
                st.state_of(am),
                Some(HostState::ReplicationFail | HostState::ReplicationDelay)
            )
        {
            return Err(format!("active master {am} is {:?}", st.state_of(am)));
        }
        if st.mode == Mode::Active {
            for h in &st.hosts {
                if h.state != HostState::Online && !h.roles.is_empty() {
                    return Err(format!(
                        "{} is {} with roles {:?}",
                        h.name, h.state, h.roles
                    ));
                }
            }
        }
        let fresh = self.now >= self.fresh_from;
        if fresh && st.mode != Mode::Passive {
            let facts = Inputs {
                checks: CheckTable::new(),
                agents: self.seen.clone(),
                leader_since: self.leader_since,
                fresh,
            };
            for orphan in st.orphans(&self.config) {
                let rc = self
                    .config
                    .roles
                    .iter()
                    .find(|r| r.name == orphan.role)
                    .expect("role");
                let eligible: Vec<&String> = rc
                    .hosts
                    .iter()
                    .filter(|h| {
                        st.host(h)
                            .is_some_and(|s| s.state == HostState::Online && !s.agent_down)
                    })
                    .collect();
                if eligible.is_empty() {
                    continue;
                }
                let held_back = orphan.role == "writer"
                    && st.writer_release.as_ref().is_some_and(|rel| {
                        !writer_may_move(rel, "", &facts, self.now, &self.config)
                    });
                if !held_back {
                    return Err(format!(
                        "{orphan} orphaned although {eligible:?} are eligible"
                    ));
                }
            }
        }
        Ok(())
    }

    fn step(&mut self) -> Result<(), String> {
        self.now = self.now.plus(Duration::from_secs(1));
        let prev = self.state.epoch;
        self.faults();
        self.observe();
        self.admin_step()?;
        self.decide_step()?;
        self.agents_step();
        self.check_invariants(prev)
    }
}

fn run_seed(seed: u64) -> Result<Stats, String> {
    let mut w = World::new(seed);
    for _ in 0..STEPS {
        if let Err(e) = w.step() {
            let tail: Vec<&String> = w.trace.iter().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().map(String::as_str).collect();
            let hosts: Vec<String> = w
                .state
                .hosts
                .iter()
                .map(|h| {
                    format!(
                        "{} {} {:?} agent_down={}",
                        h.name, h.state, h.roles, h.agent_down
                    )
                })
                .collect();
            return Err(format!(
                "{e}\nlast events:\n  {}\nstate (mode {}, epoch {}, release {:?}):\n  {}",
                tail.join("\n  "),
                w.state.mode,
                w.state.epoch,
                w.state.writer_release,
                hosts.join("\n  ")
            ));
        }
    }
    Ok(w.stats)
}

#[test]
fn simulator() {
    if let Some(seed) = std::env::var("MMM_SIM_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        if let Err(e) = run_seed(seed) {
            panic!("seed {seed}: {e}");
        }
        return;
    }
    let seeds = std::env::var("MMM_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(SEEDS);
    let mut total = Stats::default();
    for seed in 0..seeds {
        let r = run_seed(seed);
        if let Ok(st) = &r {
            total.releases += st.releases;
            total.writer_after_confirm += st.writer_after_confirm;
            total.writer_after_hold += st.writer_after_hold;
            total.writer_same_host += st.writer_same_host;
            total.state_changes += st.state_changes;
            total.admin_accepted += st.admin_accepted;
            total.leader_changes += st.leader_changes;
        }
        if let Err(e) = r {
            panic!(
                "seed {seed} broke an invariant: {e}\nreplay: MMM_SIM_SEED={seed} cargo test -p mmm-core --test core simulator"
            );
        }
    }
    if std::env::var_os("MMM_SIM_STATS").is_some() {
        eprintln!("{seeds} seeds x {STEPS} steps: {total:?}");
    }
    // The runs must exercise failovers through both fencing paths.
    assert!(
        total.writer_after_confirm > 0 && total.writer_after_hold > 0,
        "{total:?}"
    );
}

#[test]
fn simulator_roles_sorted_and_known() {
    // Desired statuses only ever carry configured role instances, sorted.
    let mut w = World::new(7);
    for _ in 0..STEPS {
        w.step().expect("seed 7");
        for h in &w.config.hosts {
            let d = desired_status(&w.state, &h.name, &w.config).expect("host");
            let mut sorted: Vec<RoleIp> = d.roles.clone();
            sorted.sort();
            assert_eq!(d.roles, sorted);
            assert_eq!(d.epoch, w.state.epoch);
        }
    }
}
