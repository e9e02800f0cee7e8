//! The monitor's one driver loop, toydb style: it owns the leader state machine
//! ([`mmm_core::leader::Leader`]) and the Raft handle, turns everything that happens into
//! events — ticks, Raft's metrics and applied entries, this monitor's network verdict,
//! observations, Control requests, finished agent calls, proposals, campaigns and peer
//! messages — and carries out the machine's effects. Rounds run every [`TICK`], and at once
//! after an event that made one due ([`Leader::round_due`]).
//!
//! Other tasks talk to it only through [`DriverHandle`] (a bounded channel, answers on
//! oneshots). It never awaits I/O itself: every call and every proposal runs in its own
//! task whose result comes back as an event, so nothing but the machine's own work stands
//! between two events. This is the only place that proposes and the only place that flips
//! Raft's heartbeat and election switches.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mmm_core::checks::MonitorTable;
use mmm_core::command::Command;
use mmm_core::config::{Config, MonitorConfig};
use mmm_core::leader::{
    Answer, CallId, Effect, Event, Leader, NodeId, Now, Replica, Request, RequestId, Switches,
    Timing,
};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinSet;

use crate::agents::AgentClients;
use crate::calls::{PushGate, perform};
use crate::checks::{emit, now};
use crate::fencing::{fence_mysql, kill_host};
use crate::hooks::{self, PostChangeFacts, PreFailoverFacts};
use crate::local_checks::LocalView;
use crate::machine::{MonitorState, Proposal};
use crate::raft::{LogId, RaftNode, leadership, quorum_fresh};

/// How often the machine gets a [`Event::Tick`].
pub const TICK: Duration = Duration::from_millis(50);
/// How many inputs may wait for the loop.
const INPUT_CAPACITY: usize = 256;

/// A change of the Raft membership (served by Raft itself, outside the leader machine).
#[derive(Debug, Clone)]
pub enum Membership {
    /// Add a node as learner, then voter.
    Add {
        /// Its id.
        id: NodeId,
        /// Its Peer address.
        addr: String,
    },
    /// Remove a voter.
    Remove {
        /// Its id.
        id: NodeId,
    },
}

/// What other tasks send the driver loop.
enum Input {
    Request {
        request: Request,
        reply: oneshot::Sender<Answer>,
    },
    Observations {
        monitor: NodeId,
        table: MonitorTable,
        ack: oneshot::Sender<bool>,
    },
    Membership {
        change: Membership,
        reply: oneshot::Sender<Result<(), String>>,
    },
}

/// The driver loop is gone (the monitor is shutting down) or did not answer in time.
#[derive(Debug, thiserror::Error)]
#[error("no quorum: {0}")]
pub struct DriverGone(&'static str);

/// How other tasks reach the driver loop.
#[derive(Clone)]
pub struct DriverHandle {
    tx: mpsc::Sender<Input>,
    wait: Duration,
}

/// The driver loop's end of the channel, created before the loop so the Raft node's
/// observation inbox can hold a [`DriverHandle`] from the start.
pub struct DriverInputs(mpsc::Receiver<Input>);

impl DriverHandle {
    /// A channel to a driver loop that will run with `timing`.
    pub fn channel(timing: &Timing) -> (DriverHandle, DriverInputs) {
        let (tx, rx) = mpsc::channel(INPUT_CAPACITY);
        let handle = DriverHandle {
            tx,
            wait: timing.forward_timeout + Duration::from_secs(1),
        };
        (handle, DriverInputs(rx))
    }

    async fn ask<T>(&self, input: Input, rx: oneshot::Receiver<T>) -> Result<T, DriverGone> {
        let answered = tokio::time::timeout(self.wait, async {
            self.tx.send(input).await.ok()?;
            rx.await.ok()
        })
        .await;
        match answered {
            Ok(Some(t)) => Ok(t),
            Ok(None) => Err(DriverGone("this monitor is shutting down")),
            Err(_) => Err(DriverGone("the leader did not answer in time")),
        }
    }

    /// Asks the leader machine; its answer, or why there is none.
    pub async fn request(&self, request: Request) -> Result<Answer, DriverGone> {
        let (reply, rx) = oneshot::channel();
        self.ask(Input::Request { request, reply }, rx).await
    }

    /// Hands a monitor's table over; true when this monitor leads and took it.
    pub async fn observations(&self, monitor: NodeId, table: MonitorTable) -> bool {
        let (ack, rx) = oneshot::channel();
        let input = Input::Observations {
            monitor,
            table,
            ack,
        };
        self.ask(input, rx).await.unwrap_or(false)
    }

    /// Changes the Raft membership.
    pub async fn membership(&self, change: Membership) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        match self.ask(Input::Membership { change, reply }, rx).await {
            Ok(r) => r,
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Everything the driver loop needs besides its inputs.
pub struct DriverParts {
    /// The effective configuration.
    pub config: Arc<Config>,
    /// This monitor's node id.
    pub me: NodeId,
    /// Timing settings.
    pub timing: Timing,
    /// The Raft node.
    pub node: Arc<RaftNode<MonitorState>>,
    /// Agent clients.
    pub clients: AgentClients,
    /// This monitor's own check view (for its network verdict).
    pub local: watch::Receiver<LocalView>,
    /// Mutual TLS towards the other monitors' Control services, `None` for plain sockets.
    pub tls: Option<crate::tls::Tls>,
    /// mysql-mmm's status file, read at start while this monitor had no cluster state: the
    /// stored side of the machine's startup vote (see [`crate::migrate`]).
    pub stored: Option<mmm_core::status_file::StatusFile>,
    /// Where agent calls and received observations are counted for `/metrics`.
    pub counters: crate::counters::Counters,
}

/// The driver loop, owned by its task.
pub struct Driver {
    machine: Leader,
    config: Arc<Config>,
    me: NodeId,
    timing: Timing,
    node: Arc<RaftNode<MonitorState>>,
    clients: AgentClients,
    tls: Option<crate::tls::Tls>,
    gate: PushGate,
    local: watch::Receiver<LocalView>,
    inputs: mpsc::Receiver<Input>,
    io: JoinSet<Event>,
    membership: JoinSet<()>,
    replies: BTreeMap<RequestId, oneshot::Sender<Answer>>,
    next_request: u64,
    raft_seen: Option<(bool, u64, Option<NodeId>)>,
    quorum_seen: Option<bool>,
    network_seen: Option<bool>,
    replica_seen: Option<Option<LogId>>,
    origin: Instant,
    switches: watch::Sender<Switches>,
    counters: crate::counters::Counters,
}

impl Driver {
    /// The loop over `inputs`, and where it publishes Raft's switches as it sets them.
    pub fn new(parts: DriverParts, inputs: DriverInputs) -> (Driver, watch::Receiver<Switches>) {
        let inputs = inputs.0;
        let (switches, switches_rx) = watch::channel(Switches::ON);
        let gate = PushGate {
            metrics: parts.node.metrics(),
            quorum_age: parts.timing.quorum_age,
            state: parts.node.state_reader(),
        };
        let driver = Driver {
            machine: Leader::new(parts.config.clone(), parts.me, parts.timing.clone())
                .with_stored(parts.stored),
            config: parts.config,
            me: parts.me,
            timing: parts.timing,
            node: parts.node,
            clients: parts.clients,
            tls: parts.tls,
            gate,
            local: parts.local,
            inputs,
            io: JoinSet::new(),
            membership: JoinSet::new(),
            replies: BTreeMap::new(),
            next_request: 0,
            raft_seen: None,
            quorum_seen: None,
            network_seen: None,
            replica_seen: None,
            origin: Instant::now(),
            switches,
            counters: parts.counters,
        };
        (driver, switches_rx)
    }

    /// Runs until `stop` turns true; then finishes the calls in flight and answers every
    /// waiting request.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Leadership wakes the loop at once. The full metrics, republished after every
        // heartbeat, wake it only while it leads without a fresh quorum (a new leader's first
        // pushes wait for it); otherwise freshness is read on each tick, and the push gate
        // reads it again right before every status push.
        let mut leadership = self.node.server_metrics();
        let mut metrics = self.node.metrics();
        let mut applied = self.node.subscribe_applied();
        let mut local = self.local.clone();
        let (mut leadership_open, mut metrics_open) = (true, true);
        let (mut applied_open, mut local_open) = (true, true);
        self.observe_network();
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    self.observe_raft();
                    self.step(Event::Tick);
                }
                input = self.inputs.recv() => match input {
                    Some(input) => self.input(input),
                    None => break,
                },
                Some(done) = self.io.join_next() => match done {
                    Ok(event) => self.step(event),
                    Err(e) => tracing::error!("a monitor I/O task failed: {e}"),
                },
                Some(_) = self.membership.join_next() => {}
                changed = leadership.changed(), if leadership_open => match changed {
                    Ok(()) => self.observe_raft(),
                    Err(_) => leadership_open = false,
                },
                changed = metrics.changed(), if metrics_open && self.awaiting_quorum() => {
                    match changed {
                        Ok(()) => self.observe_raft(),
                        Err(_) => metrics_open = false,
                    }
                }
                r = applied.recv(), if applied_open => self.log_applied(r, &mut applied_open),
                changed = local.changed(), if local_open => match changed {
                    Ok(()) => self.observe_network(),
                    Err(_) => local_open = false,
                },
                changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
            }
        }
        self.finish().await;
    }

    async fn finish(mut self) {
        self.io.shutdown().await;
        self.membership.shutdown().await;
        for (_, reply) in std::mem::take(&mut self.replies) {
            let _ = reply.send(Answer::Unavailable(
                "no quorum: this monitor is shutting down".into(),
            ));
        }
    }

    /// The configured name of monitor `id` (its number when the config lacks it).
    fn node_name(&self, id: NodeId) -> String {
        self.config
            .monitor_nodes
            .iter()
            .find(|n| n.id == id)
            .map_or_else(|| id.to_string(), |n| n.name.clone())
    }

    fn now(&self) -> Now {
        Now {
            wall: now(),
            mono: self.origin.elapsed(),
        }
    }

    /// Feeds one event (after the replicated state it must see) and carries out the effects;
    /// when the event made a decision due, the next round runs right away rather than at the
    /// next tick.
    fn step(&mut self, event: Event) {
        let tick = matches!(event, Event::Tick);
        self.sync_replica();
        self.deliver(event);
        if !tick && self.machine.round_due() {
            self.deliver(Event::Tick);
        }
    }

    fn deliver(&mut self, event: Event) {
        let now = self.now();
        for effect in self.machine.step(event, now) {
            self.effect(effect);
        }
    }

    /// Tells the machine when Raft applied entries it has not seen yet.
    fn sync_replica(&mut self) {
        let last = self.node.last_applied();
        if self.replica_seen == Some(last) {
            return;
        }
        self.replica_seen = Some(last);
        let replica = replica(&self.node);
        self.deliver(Event::Applied(replica));
    }

    fn observe_raft(&mut self) {
        let seen = leadership(&self.node.server_metrics().borrow(), self.me);
        let fresh = quorum_fresh(&self.node.metrics().borrow(), self.timing.quorum_age);
        if self.raft_seen != Some(seen) {
            self.raft_seen = Some(seen);
            let (leading, term, leader) = seen;
            self.step(Event::Leadership {
                leading,
                term,
                leader,
            });
        }
        if self.quorum_seen != Some(fresh) {
            self.quorum_seen = Some(fresh);
            self.step(Event::QuorumFreshness { fresh });
        }
    }

    /// Whether this monitor leads and has not yet seen its quorum's acknowledgement.
    fn awaiting_quorum(&self) -> bool {
        matches!(self.raft_seen, Some((true, _, _))) && self.quorum_seen != Some(true)
    }

    fn observe_network(&mut self) {
        let ok = self.local.borrow().network_ok;
        if self.network_seen != Some(ok) {
            self.network_seen = Some(ok);
            self.step(Event::Network { ok });
        }
    }

    /// Every monitor logs the MMM lines of every applied command.
    fn log_applied(
        &mut self,
        r: Result<(LogId, mmm_core::command::Outcome), broadcast::error::RecvError>,
        open: &mut bool,
    ) {
        match r {
            Ok((_, outcome)) => {
                for line in &outcome.lines {
                    emit(line);
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!("{n} applied commands were not logged (log subscriber fell behind)");
            }
            Err(broadcast::error::RecvError::Closed) => *open = false,
        }
    }

    fn input(&mut self, input: Input) {
        match input {
            Input::Request { request, reply } => {
                self.next_request += 1;
                let id = RequestId(self.next_request);
                self.replies.insert(id, reply);
                self.step(Event::Request { id, request });
            }
            Input::Observations {
                monitor,
                table,
                ack,
            } => {
                let leading = self.machine.is_leading();
                if leading {
                    self.counters.observation(&self.node_name(monitor));
                    self.step(Event::Observations { monitor, table });
                }
                let _ = ack.send(leading);
            }
            Input::Membership { change, reply } => {
                let node = self.node.clone();
                self.membership.spawn(async move {
                    let done = match change {
                        Membership::Add { id, addr } => node.add_member(id, addr).await,
                        Membership::Remove { id } => node.remove_member(id).await,
                    };
                    let _ = reply.send(done.map_err(|e| e.to_string()));
                });
            }
        }
    }

    fn effect(&mut self, effect: Effect) {
        match effect {
            Effect::Propose { id, commands } => self.propose(id, commands),
            Effect::Call { id, host, call } => {
                let clients = self.clients.clone();
                let gate = self.gate.clone();
                let counters = self.counters.clone();
                self.io.spawn(async move {
                    let name = crate::counters::call_name(&call);
                    let sent = Instant::now();
                    let result = perform(&clients, &gate, &host, call).await;
                    let outcome = crate::counters::outcome_name(&result);
                    counters.agent_call(&host, name, outcome, sent.elapsed());
                    Event::AgentAnswered {
                        call: id,
                        host,
                        result,
                    }
                });
            }
            Effect::AskPeer { id, node, ask } => {
                let config = self.config.clone();
                let tls = self.tls.clone();
                let timeout = self.timing.forward_timeout;
                self.io.spawn(async move {
                    let result =
                        crate::control::ask_peer(&config, tls.as_ref(), node, ask, timeout).await;
                    Event::PeerAnswered { call: id, result }
                });
            }
            Effect::AwaitCaughtUp { id, node } => {
                let metrics = self.node.metrics();
                let timeout = self.timing.transfer_window;
                self.io.spawn(async move {
                    let result = caught_up(metrics, node, timeout).await;
                    Event::CaughtUp { call: id, result }
                });
            }
            Effect::Campaign => {
                let node = self.node.clone();
                self.io.spawn(async move {
                    let result = node.campaign().await.map_err(|e| e.to_string());
                    Event::Campaigned { result }
                });
            }
            Effect::SetElections(s) => {
                // Published on before Raft turns a switch on, off after Raft turns it off: a
                // reader that sees a switch off knows Raft has it off.
                let before = *self.switches.borrow();
                self.switches.send_replace(Switches {
                    heartbeat: before.heartbeat || s.heartbeat,
                    elect: before.elect || s.elect,
                });
                let rc = self.node.raft().runtime_config();
                rc.heartbeat(s.heartbeat);
                rc.elect(s.elect);
                self.switches.send_replace(s);
            }
            Effect::Reply { id, answer } => {
                if let Some(reply) = self.replies.remove(&id) {
                    let _ = reply.send(answer);
                }
            }
            Effect::FenceMysql { id, host, epoch } => self.fence_mysql(id, host, epoch),
            Effect::KillHost { id, host, ping_ok } => self.kill_host(id, host, ping_ok),
            Effect::RunPreFailoverHook {
                id,
                host,
                role,
                epoch,
                target,
            } => self.pre_failover_hook(
                id,
                PreFailoverFacts {
                    host,
                    role,
                    epoch,
                    target,
                },
            ),
            Effect::RunPostChangeHook {
                id,
                epoch,
                changes,
                roles,
                writer,
            } => self.post_change_hook(
                id,
                PostChangeFacts {
                    epoch,
                    changes,
                    roles,
                    writer,
                },
            ),
            Effect::Log(line) => emit(&line),
        }
    }

    /// Proposes `commands` through Raft; the outcome comes back as an event.
    fn propose(&mut self, id: CallId, commands: Vec<Command>) {
        let node = self.node.clone();
        self.io.spawn(async move {
            match node.propose(Proposal { commands }).await {
                Ok(outcome) => Event::Committed {
                    proposal: id,
                    outcome,
                    replica: replica(&node),
                },
                Err(e) => Event::ProposalFailed {
                    proposal: id,
                    error: e.to_string(),
                },
            }
        });
    }

    /// Fences `host`'s MySQL over SQL at `epoch`; the result comes back as an event.
    fn fence_mysql(&mut self, id: CallId, host: String, epoch: u64) {
        let config = self.config.clone();
        let timeout = self.timing.agent_timeout;
        let by = self.fenced_by();
        self.io.spawn(async move {
            let result = fence_mysql(&config, &host, epoch, &by, timeout).await;
            Event::MysqlFenced {
                call: id,
                host,
                result,
            }
        });
    }

    /// Runs `kill_host_bin` for `host`; the outcome comes back as an event.
    fn kill_host(&mut self, id: CallId, host: String, ping_ok: bool) {
        let bin = self
            .config
            .monitor
            .as_ref()
            .and_then(|m| m.kill_host_bin.clone())
            .unwrap_or_default();
        let timeout = self.timing.kill_host_timeout;
        self.io.spawn(async move {
            let outcome = kill_host(&bin, &host, ping_ok, timeout).await;
            Event::HostKilled {
                call: id,
                host,
                outcome,
            }
        });
    }

    /// Runs the pre-failover hook; the outcome comes back as an event.
    fn pre_failover_hook(&mut self, id: CallId, facts: PreFailoverFacts) {
        let (bin, timeout) = self.hook(|m| m.pre_failover_hook.clone());
        self.io.spawn(async move {
            let outcome = hooks::pre_failover(&bin, &facts, timeout).await;
            Event::PreFailoverHookRan { call: id, outcome }
        });
    }

    /// Runs the post-change hook; the outcome comes back as an event.
    fn post_change_hook(&mut self, id: CallId, facts: PostChangeFacts) {
        let (bin, timeout) = self.hook(|m| m.post_change_hook.clone());
        self.io.spawn(async move {
            let outcome = hooks::post_change(&bin, &facts, timeout).await;
            Event::PostChangeHookRan { call: id, outcome }
        });
    }

    /// A hook's path (as `pick` reads it from `<monitor>`) and the bound of one run.
    fn hook(&self, pick: impl Fn(&MonitorConfig) -> Option<PathBuf>) -> (PathBuf, Duration) {
        let monitor = self.config.monitor.as_ref();
        let bin = monitor.and_then(pick).unwrap_or_default();
        let timeout = monitor.map_or(Duration::from_secs(10), |m| m.hook_timeout);
        (bin, timeout)
    }

    /// Who a fence is recorded as done by (`mmm.fence.fenced_by`): this monitor's name.
    fn fenced_by(&self) -> String {
        let me = self.config.this_monitor.clone();
        me.unwrap_or_else(|| format!("mmm-mond node {}", self.me))
    }
}

/// Waits until follower `node` matched this leader's last log entry.
async fn caught_up(
    mut metrics: watch::Receiver<crate::raft::Metrics>,
    node: NodeId,
    timeout: Duration,
) -> Result<(), String> {
    let matched = |m: &crate::raft::Metrics| {
        let matched = m
            .replication
            .as_ref()
            .and_then(|r| r.get(&node).cloned().flatten())
            .map(|l| l.index);
        matched.is_some() && matched >= m.last_log_index
    };
    let waited = tokio::time::timeout(timeout, async {
        loop {
            if matched(&metrics.borrow()) {
                return true;
            }
            if metrics.changed().await.is_err() {
                return false;
            }
        }
    })
    .await;
    match waited {
        Ok(true) => Ok(()),
        _ => Err(format!(
            "monitor {node} did not catch up with the leader's log"
        )),
    }
}

/// The applied state as the leader machine takes it.
fn replica(node: &RaftNode<MonitorState>) -> Replica {
    node.with_applied(|last, state| Replica {
        index: last.map_or(0, |l| l.index),
        state: state.cluster().cloned(),
    })
}
