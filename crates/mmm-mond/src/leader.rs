//! The leader's main loop: merge observations, decide, propose, and push every agent its
//! desired status — mysql-mmm's main loop, run only by the Raft leader.
//!
//! * Nothing is decided or sent while this monitor has no network or the leader has not
//!   heard from a quorum recently (`leader_quorum_fresh`).
//! * A new leader demotes nothing until a quorum of monitors reported since it took over
//!   (`Inputs::fresh`); it does re-push the replicated status at once, renewing leases.
//! * Agent calls run in the [`Pusher`]'s per-host tasks; their answers come back here as
//!   [`AgentFacts`] (reachability, uptime, confirmed drop of the writer role).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use mmm_core::checks::CheckKind;
use mmm_core::decide::{AgentFacts, Inputs, decide};
use mmm_core::desired::desired_status;
use mmm_core::log::LogLine;
use mmm_core::startup::{HostReport, cleanup_order, vote};
use mmm_core::state::Mode;
use mmm_proto::convert;
use tokio::sync::{mpsc, watch};

use crate::checks::{emit, now};
use crate::machine::Proposal;
use crate::monitor::Shared;
use crate::pusher::{Push, PushResult, Pusher};

/// How often the loop runs when nothing wakes it earlier.
const TICK: Duration = Duration::from_millis(50);

struct LeaderLoop {
    shared: Arc<Shared>,
    pusher: Pusher,
    facts: BTreeMap<String, AgentFacts>,
    /// Last push error per host, so a repeating failure is logged once.
    last_error: BTreeMap<String, String>,
    /// Since when each agent has been unreachable (transport failures only).
    unreachable_since: BTreeMap<String, mmm_core::time::Timestamp>,
    /// This leadership already handed itself over once.
    stepped_aside: bool,
    leader_since: Option<mmm_core::time::Timestamp>,
    hosts: Vec<String>,
}

/// Runs until `stop` turns true.
pub async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let (tx, mut results) = mpsc::channel::<PushResult>(256);
    let hosts: Vec<String> = shared.config.hosts.iter().map(|h| h.name.clone()).collect();
    let allowed = {
        let s = shared.clone();
        Arc::new(move || s.node.leader_quorum_fresh(s.timing.quorum_age))
            as Arc<dyn Fn() -> bool + Send + Sync>
    };
    let pusher = Pusher::start(
        &hosts,
        shared.clients.clone(),
        shared.timing.agent_lease,
        shared.timing.status_interval,
        allowed,
        tx,
    );
    let mut lp = LeaderLoop {
        shared: shared.clone(),
        pusher,
        facts: BTreeMap::new(),
        last_error: BTreeMap::new(),
        unreachable_since: BTreeMap::new(),
        stepped_aside: false,
        leader_since: None,
        hosts,
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            r = results.recv() => match r {
                Some(r) => lp.absorb(r),
                None => return,
            },
            _ = shared.kick.notified() => {}
            changed = stop.changed() => if changed.is_err() || *stop.borrow() {
                lp.pusher.pause_all();
                return;
            },
        }
        while let Ok(r) = results.try_recv() {
            lp.absorb(r);
        }
        lp.step().await;
    }
}

impl LeaderLoop {
    fn absorb(&mut self, r: PushResult) {
        let am_role = self.shared.config.active_master_role.clone();
        let f = self.facts.entry(r.host.clone()).or_default();
        match r.outcome {
            Ok(reply) => {
                self.last_error.remove(&r.host);
                self.unreachable_since.remove(&r.host);
                f.reachable = true;
                if reply.uptime.is_finite() && reply.uptime >= 0.0 {
                    f.uptime_ms = Some((reply.uptime * 1000.0) as u64);
                }
                let holds_writer_ip = reply
                    .present
                    .iter()
                    .any(|p| Some(&p.role) == am_role.as_ref());
                if !reply.writable && !holds_writer_ip {
                    let e = f.confirmed_not_writer_epoch.unwrap_or(0).max(reply.epoch);
                    f.confirmed_not_writer_epoch = Some(e);
                }
                for err in &reply.errors {
                    tracing::warn!(host = %r.host, "agent reported: {err}");
                }
            }
            Err(e) => {
                let repeated = self.last_error.get(&r.host) == Some(&e.error);
                if e.answered && !repeated {
                    tracing::warn!(host = %r.host, epoch = r.sent_epoch, "agent refused the status: {}", e.error);
                } else if f.reachable && !repeated {
                    tracing::debug!(host = %r.host, epoch = r.sent_epoch, "status push failed: {}", e.error);
                }
                f.reachable = e.answered;
                if e.answered {
                    self.unreachable_since.remove(&r.host);
                } else {
                    self.unreachable_since
                        .entry(r.host.clone())
                        .or_insert_with(now);
                }
                self.last_error.insert(r.host.clone(), e.error);
            }
        }
    }

    async fn step(&mut self) {
        let s = self.shared.clone();
        let now = now();
        if !s.node.is_leader() {
            if self.leader_since.take().is_some() {
                self.pusher.pause_all();
                self.facts.clear();
                self.unreachable_since.clear();
                self.stepped_aside = false;
            }
            return;
        }
        let since = *self.leader_since.get_or_insert(now);
        if !s.node.leader_quorum_fresh(s.timing.quorum_age) || !s.local.borrow().network_ok {
            self.pusher.pause_all();
            return;
        }
        let state = s.node.with_state(|m| m.cluster_or_new(&s.config, now));
        if !state.started {
            self.startup(&state, now).await;
            return;
        }
        let previous = s.merged_checks();
        let merged = s
            .book
            .merged(s.timing.observer_quorum, s.timing.max_age, &previous, now);
        s.set_merged(merged.clone());
        let fresh = s.book.fresh_count(since) >= s.timing.observer_quorum;
        let inputs = Inputs {
            checks: merged.clone(),
            agents: self.facts.clone(),
            leader_since: since,
            fresh,
        };
        let commands = decide(&state, &inputs, now, &s.config);
        if !commands.is_empty() {
            match s.node.propose(Proposal { commands }).await {
                Ok(outcome) => {
                    if let Some(why) = outcome.rejected {
                        tracing::warn!("proposal refused by apply: {why}");
                    }
                }
                Err(e) => {
                    tracing::warn!("proposal not committed: {e}");
                    return;
                }
            }
        }
        self.push_all(&merged);
        self.maybe_step_aside(&merged, since, now);
    }

    /// A leader that cannot reach the active master's agent, while the other monitors see
    /// the host healthy, hands leadership over: the agent would otherwise fence itself when
    /// its lease runs out although nothing is wrong with it. It stops its heartbeats (and
    /// its own candidacy) for a few election timeouts so another monitor takes over, at most
    /// once per leadership and only after leading for one lease (no rapid cycling).
    fn maybe_step_aside(
        &mut self,
        merged: &mmm_core::checks::CheckTable,
        since: mmm_core::time::Timestamp,
        now: mmm_core::time::Timestamp,
    ) {
        let s = self.shared.clone();
        let lease = s.timing.agent_lease;
        let Some(am) = s.node.with_state(|m| {
            m.cluster()
                .and_then(|c| c.active_master(&s.config).map(str::to_string))
        }) else {
            return;
        };
        let Some(down_since) = self.unreachable_since.get(&am) else {
            return;
        };
        let healthy = merged.ok(&am, CheckKind::Ping) && merged.ok(&am, CheckKind::Mysql);
        if self.stepped_aside
            || !healthy
            || now.since(*down_since) < s.timing.agent_timeout
            || now.since(since) < lease
            || s.config.monitor_nodes.len() < 2
        {
            return;
        }
        self.stepped_aside = true;
        tracing::warn!(
            "Can't reach the agent of active master '{am}' from this monitor while the others see it healthy; handing leadership to another monitor"
        );
        let node = s.node.clone();
        let pause = s.timing.quorum_age * 4;
        tokio::spawn(async move {
            let rc = node.raft().runtime_config();
            rc.heartbeat(false);
            rc.elect(false);
            tokio::time::sleep(pause).await;
            let rc = node.raft().runtime_config();
            rc.heartbeat(true);
            rc.elect(true);
        });
    }

    /// Sets every agent's desired status from the committed state.
    fn push_all(&mut self, merged: &mmm_core::checks::CheckTable) {
        let s = self.shared.clone();
        let Some(state) = s.node.with_state(|m| m.cluster().cloned()) else {
            return;
        };
        if state.mode == Mode::Passive {
            self.pusher.pause_all();
            return;
        }
        let term = s.node.metrics().borrow().current_term;
        for host in &self.hosts {
            let ping_failed = merged.get(host, CheckKind::Ping).is_some_and(|c| !c.ok);
            if ping_failed {
                // mysql-mmm does not even try an agent whose host does not answer ping.
                self.pusher.set(host, None);
                self.facts.entry(host.clone()).or_default().reachable = false;
                continue;
            }
            let push = desired_status(&state, host, &s.config).map(|status| Push {
                status,
                term,
                leader_id: s.node.id(),
            });
            self.pusher.set(host, push);
        }
    }

    /// §5.2 on an empty replicated state: ask every agent, vote, propose the result.
    async fn startup(
        &mut self,
        state: &mmm_core::state::ClusterState,
        now: mmm_core::time::Timestamp,
    ) {
        let s = self.shared.clone();
        let asks = self.hosts.iter().map(|h| {
            let clients = s.clients.clone();
            let h = h.clone();
            async move {
                let agent = clients.get_status(&h).await;
                let system = clients.get_system_status(&h).await;
                (h, agent, system)
            }
        });
        let answers = join_all(asks).await;
        let mut reports = Vec::new();
        for (h, agent, system) in answers {
            let mut r = HostReport {
                host: h.clone(),
                ..HostReport::default()
            };
            match agent {
                Ok(a) => {
                    r.agent_state = wire_value(&h, "state", convert::state_from_wire(a.state));
                    r.agent_roles = wire_value(&h, "roles", convert::roles_from_wire(&a.roles))
                        .unwrap_or_default();
                    self.facts.entry(h.clone()).or_default().reachable = true;
                }
                Err(e) => {
                    emit(&LogLine::error(format!(
                        "The status of the agent on host '{h}' could not be determined (answer was: {e})."
                    )));
                    self.facts.entry(h.clone()).or_default().reachable = false;
                }
            }
            match system {
                Ok(sys) => {
                    r.writable = sys.writable && sys.mysql_error.is_empty();
                    r.present =
                        wire_value(&h, "present roles", convert::roles_from_wire(&sys.present))
                            .unwrap_or_default();
                    r.master_ip = sys
                        .replication
                        .as_ref()
                        .and_then(|rep| rep.master_host.parse().ok());
                }
                Err(e) => emit(&LogLine::error(format!(
                    "The status of the system '{h}' could not be determined (answer was: {e})."
                ))),
            }
            reports.push(r);
        }
        // A mysql-mmm status file stands in for the stored states and roles (migration).
        let seeded = s.stored.as_ref().map(|f| {
            let (seeded, lines) = f.seed(state, &s.config);
            lines.iter().for_each(emit);
            seeded
        });
        let v = vote(seeded.as_ref().unwrap_or(state), &reports, now, &s.config);
        if let Err(e) = s
            .node
            .propose(Proposal {
                commands: vec![v.command],
            })
            .await
        {
            tracing::warn!("startup proposal not committed: {e}");
            return;
        }
        self.cleanup().await;
    }

    /// §5.2 step 9: SET_STATUS then CLEAR_BAD_ROLES to the passive master first, then the
    /// other hosts, the active master last (nothing in PASSIVE).
    async fn cleanup(&mut self) {
        let s = self.shared.clone();
        let state = s.node.with_state(|m| m.cluster_or_new(&s.config, now()));
        let term = s.node.metrics().borrow().current_term;
        for host in cleanup_order(&state, &s.config) {
            if !s.node.leader_quorum_fresh(s.timing.quorum_age) {
                return;
            }
            let Some(status) = desired_status(&state, &host, &s.config) else {
                continue;
            };
            let sent = s
                .clients
                .set_status(&status, term, s.node.id(), s.timing.agent_lease)
                .await;
            if let Err(e) = sent {
                tracing::warn!(host = %host, "startup status not delivered: {e}");
                continue;
            }
            match s
                .clients
                .clear_bad_roles(&host, state.epoch, term, s.node.id())
                .await
            {
                Ok(r) => tracing::info!(host = %host, "{}", r.message),
                Err(e) => tracing::warn!(host = %host, "CLEAR_BAD_ROLES failed: {e}"),
            }
        }
    }
}

/// A value from an agent's reply, or `None` (logged) when it does not convert.
fn wire_value<T>(host: &str, what: &str, v: Result<T, convert::WireError>) -> Option<T> {
    v.map_err(|e| tracing::warn!(host = %host, "agent reply has a bad {what}: {e}"))
        .ok()
}
