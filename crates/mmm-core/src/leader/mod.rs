//! The monitors' Raft leader as one deterministic state machine: mysql-mmm's main loop
//! plus everything a replicated leader adds to it.
//!
//! [`Leader::step`] takes one [`Event`] and the current time and returns the [`Effect`]s
//! to carry out. It holds everything the leader decides from — the agents' facts, the
//! bookkeeping of status pushes, every monitor's latest observations and their merge,
//! freshness since it took over, the startup vote and cleanup, step-aside, leader
//! transfers and election holds, commands waiting for the one proposal slot — and does no
//! I/O, reads no clock and spawns nothing. The monitor daemon's driver loop, the golden
//! scenarios and the seeded simulator all drive this same machine.
//!
//! One round ([`Event::Tick`]) while leading with a fresh quorum and a working network:
//! merge the observations, propose (a waiting admin command first, else the startup vote
//! or `decide`'s commands — at most one proposal in flight), push every agent its desired
//! status when it changed or is due, and hand leadership over when this monitor alone
//! cannot reach the active master's agent. Without quorum or network it pushes nothing,
//! so the agents' leases run out as the fencing rules require. In PASSIVE mode it renews
//! the statuses the agents hold and sends nothing new.

mod answers;
mod book;
mod elections;
mod fencing;
mod hook;
mod hosts;
mod io;
mod post_change;
mod requests;
mod serving;
mod startup;
mod timing;
mod transfer;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::admin::Reply;
use crate::checks::{CheckKind, CheckTable};
use crate::config::Config;
use crate::decide::{AgentFacts, Inputs, decide, release_proof};
use crate::invariant;
use crate::log::{LogLine, fmt_secs};
use crate::state::{ClusterState, Mode, WriterRelease};
use crate::status_file::StatusFile;

use book::Book;
use elections::{Campaign, Elections, Holder, Transfer};
use fencing::{Fencing, Round};
use hook::PreFailover;
use hosts::Hosts;
use post_change::PostChange;
use requests::Requests;
use startup::{Stamp, Startup};

pub use io::{
    AgentAnswer, AgentCall, AgentView, Answer, CallFailure, CallId, CheckRow, Effect, Event, Fence,
    HookOutcome, KillOutcome, NodeId, Now, PeerAsk, Replica, Request, RequestId, SqlFenced,
    StatusPush, StatusReport, Switches, SystemView,
};
pub use requests::check_rows;
pub use timing::{TRANSFER_WINDOW, Timing};

/// Collects one step's effects and hands out call ids.
pub(crate) struct Out<'a> {
    pub(crate) effects: Vec<Effect>,
    next_id: &'a mut u64,
}

impl<'a> Out<'a> {
    pub(crate) fn new(next_id: &'a mut u64) -> Self {
        Out {
            effects: Vec::new(),
            next_id,
        }
    }

    /// A fresh id for an effect that expects an answer.
    pub(crate) fn call_id(&mut self) -> CallId {
        *self.next_id += 1;
        CallId(*self.next_id)
    }

    pub(crate) fn effect(&mut self, e: Effect) {
        self.effects.push(e);
    }

    pub(crate) fn log(&mut self, line: LogLine) {
        self.effects.push(Effect::Log(line));
    }

    fn reply(&mut self, id: RequestId, answer: Answer) {
        self.effects.push(Effect::Reply { id, answer });
    }
}

/// What Raft told this node about itself.
#[derive(Debug, Clone, Copy, Default)]
struct RaftView {
    leading: bool,
    term: u64,
    leader: Option<NodeId>,
    quorum_fresh: bool,
}

/// Why the one proposal in flight was made.
#[derive(Debug, Clone)]
enum Origin {
    Decide,
    Admin { request: RequestId, reply: Reply },
    Vote,
}

/// Everything that lives for one leadership only.
#[derive(Debug, Clone)]
struct Term {
    since: Now,
    book: Book,
    merged: CheckTable,
    hosts: Hosts,
    startup: Option<Startup>,
    proposal: Option<(CallId, Origin)>,
    requests: Requests,
    stepped_aside: bool,
    fencing: Fencing,
    pre_failover: PreFailover,
    post_change: PostChange,
}

impl Term {
    fn new(config: &Config, since: Now) -> Term {
        Term {
            since,
            book: Book::default(),
            merged: CheckTable::new(),
            hosts: Hosts::new(config),
            startup: None,
            proposal: None,
            requests: Requests::default(),
            stepped_aside: false,
            fencing: Fencing::default(),
            pre_failover: PreFailover::default(),
            post_change: PostChange::default(),
        }
    }

    fn refresh_merged(&mut self, timing: &Timing, now: Now) {
        self.merged = self.book.merged(
            timing.observer_quorum,
            timing.max_age,
            &self.merged,
            now.wall,
        );
    }

    fn cleaning(&self) -> bool {
        self.startup.as_ref().is_some_and(Startup::cleaning)
    }
}

/// The leader state machine of one monitor (idle while it does not lead).
#[derive(Debug, Clone)]
pub struct Leader {
    config: Arc<Config>,
    me: NodeId,
    timing: Timing,
    next_id: u64,
    raft: RaftView,
    network_ok: bool,
    replica: Replica,
    term: Option<Term>,
    elections: Elections,
    transfers: Vec<Transfer>,
    campaign: Option<Campaign>,
    renewing: bool,
    renewed_before: bool,
    quorum_lost: bool,
    stored: Option<StatusFile>,
    round_due: bool,
}

impl Leader {
    /// The machine of monitor node `me`; it leads once an [`Event::Leadership`] says so.
    pub fn new(config: Arc<Config>, me: NodeId, timing: Timing) -> Leader {
        Leader {
            config,
            me,
            timing,
            next_id: 0,
            raft: RaftView::default(),
            network_ok: false,
            replica: Replica::default(),
            term: None,
            elections: Elections::default(),
            transfers: Vec::new(),
            campaign: None,
            renewing: false,
            renewed_before: false,
            quorum_lost: false,
            stored: None,
            round_due: false,
        }
    }

    /// The same machine with mysql-mmm's status file as the stored side of the startup vote
    /// (a take-over from mysql-mmm): it counts only while the replicated state has not
    /// started, like any stored state.
    pub fn with_stored(mut self, stored: Option<StatusFile>) -> Leader {
        self.stored = stored;
        self
    }

    /// Handles one event at time `now` and returns what to do, in order.
    pub fn step(&mut self, event: Event, now: Now) -> Vec<Effect> {
        let mut next_id = self.next_id;
        let mut out = Out::new(&mut next_id);
        let facts_before = matches!(
            event,
            Event::AgentAnswered { .. } | Event::MysqlFenced { .. } | Event::HostKilled { .. }
        )
        .then(|| self.decisive_facts());
        match event {
            Event::Tick => {
                self.round_due = false;
                self.tick(now, &mut out);
            }
            Event::Leadership {
                leading,
                term,
                leader,
            } => self.leadership(leading, term, leader, now, &mut out),
            Event::QuorumFreshness { fresh } => self.quorum(fresh, &mut out),
            Event::Network { ok } => {
                self.network_ok = ok;
                self.close_gate_if_shut();
            }
            Event::Applied(replica) => self.applied(replica, &mut out),
            Event::Observations { monitor, table } => {
                if let Some(t) = self.term.as_mut() {
                    self.round_due |= t.book.record(monitor, table, now.wall);
                }
            }
            Event::Committed {
                proposal,
                outcome,
                replica,
            } => self.committed(proposal, &outcome, replica, now, &mut out),
            Event::ProposalFailed { proposal, error } => {
                self.proposal_failed(proposal, &error, &mut out);
            }
            Event::AgentAnswered { call, host, result } => {
                self.agent_answered(call, &host, &result, now, &mut out);
            }
            Event::PeerAnswered { call, result } => self.peer_answered(call, result),
            Event::CaughtUp { call, result } => self.caught_up(call, result, now, &mut out),
            Event::MysqlFenced { call, result, .. } => {
                if let Some(t) = self.term.as_mut() {
                    let ctx = (now, &self.timing, &*self.config);
                    t.fencing
                        .sql_answered(call, &result, ctx, &mut t.hosts, &mut out);
                }
            }
            Event::HostKilled { call, outcome, .. } => {
                if let Some(t) = self.term.as_mut() {
                    let ctx = (now, &self.timing, &*self.config);
                    t.fencing
                        .kill_answered(call, &outcome, ctx, &mut t.hosts, &mut out);
                }
            }
            Event::PreFailoverHookRan { call, outcome } => {
                if let Some(t) = self.term.as_mut() {
                    t.pre_failover.answered(call, &outcome, &self.config);
                    self.round_due = true;
                }
            }
            Event::PostChangeHookRan { call, outcome } => {
                if let Some(t) = self.term.as_mut() {
                    t.post_change.answered(call, &outcome);
                    self.round_due = true;
                }
            }
            Event::Campaigned { result } => self.campaigned(result, now, &mut out),
            Event::Request { id, request } => self.request(id, request, now, &mut out),
        }
        if facts_before.is_some_and(|before| before != self.decisive_facts()) {
            self.round_due = true;
        }
        self.settle(now, &mut out);
        let effects = out.effects;
        self.next_id = next_id;
        effects
    }

    /// Whether an event since the last [`Event::Tick`] may have made a decision due — a
    /// monitor reported a check flip, a proposal committed, an agent, SQL fence or
    /// `kill_host_bin` run changed what the leader knows about a host — so the driver runs
    /// the next round at once instead of at its next tick (a writer whose host just failed
    /// moves without waiting a tick per step).
    pub fn round_due(&self) -> bool {
        self.round_due && self.term.is_some()
    }

    /// The agents' facts a decision reads, without the uptime every answer renews.
    fn decisive_facts(&self) -> Option<BTreeMap<String, AgentFacts>> {
        let term = self.term.as_ref()?;
        let facts = term.hosts.facts().into_iter();
        let facts = facts.map(|(host, f)| {
            let f = AgentFacts {
                uptime_ms: None,
                ..f
            };
            (host, f)
        });
        Some(facts.collect())
    }

    /// Whether this node leads (and so takes observations).
    pub fn is_leading(&self) -> bool {
        self.term.is_some()
    }

    /// The switches Raft was last told to use.
    pub fn switches(&self) -> Switches {
        self.elections.applied()
    }

    /// The merged check table of the current leadership.
    pub fn merged(&self) -> Option<&CheckTable> {
        self.term.as_ref().map(|t| &t.merged)
    }

    /// The agent facts of the current leadership (what `decide` reads).
    pub fn facts(&self) -> BTreeMap<String, AgentFacts> {
        self.term
            .as_ref()
            .map(|t| t.hosts.facts())
            .unwrap_or_default()
    }

    /// The pre-failover hook's verdict of the current leadership and the release epoch it
    /// is for (what `decide` reads).
    pub fn pre_failover(&self) -> Option<(u64, crate::state::HookVerdict)> {
        self.term.as_ref().and_then(|t| t.pre_failover.verdict())
    }

    /// When the current leadership began.
    pub fn leader_since(&self) -> Option<Now> {
        self.term.as_ref().map(|t| t.since)
    }

    /// The replicated state as this machine last saw it.
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// Whether this machine currently sends `host` statuses (and so renews its lease).
    pub fn pushing_to(&self, host: &str) -> bool {
        self.term.as_ref().is_some_and(|t| t.hosts.pushing_to(host))
    }

    /// Whether a proposal of this machine is in flight.
    pub fn proposing(&self) -> bool {
        self.term.as_ref().is_some_and(|t| t.proposal.is_some())
    }

    fn node_name(&self, id: NodeId) -> String {
        self.config
            .monitor_nodes
            .iter()
            .find(|n| n.id == id)
            .map_or_else(|| format!("node {id}"), |n| n.name.clone())
    }

    fn stamp(&self) -> Stamp {
        Stamp {
            term: self.raft.term,
            leader_id: self.me,
            lease: self.timing.agent_lease,
        }
    }

    fn gate_open(&self) -> bool {
        self.raft.quorum_fresh && self.network_ok
    }

    // ---- raft and replication -------------------------------------------------------

    fn leadership(
        &mut self,
        leading: bool,
        term: u64,
        leader: Option<NodeId>,
        now: Now,
        out: &mut Out,
    ) {
        let was = self.term.is_some();
        let new_term = term != self.raft.term;
        self.raft.leading = leading;
        self.raft.term = term;
        self.raft.leader = leader;
        if was && (!leading || new_term) {
            self.end_term(out);
            if !leading {
                let who = leader.map_or_else(
                    || "no leader known".to_string(),
                    |l| format!("leader '{}'", self.node_name(l)),
                );
                out.log(LogLine::warn(format!(
                    "Leadership lost: this monitor ('{}') no longer leads (term {term}, {who})",
                    self.node_name(self.me)
                )));
            }
        }
        if leading && self.term.is_none() {
            self.term = Some(Term::new(&self.config, now));
            self.campaign = None;
            out.log(LogLine::info(format!(
                "Leadership won: this monitor ('{}') leads in term {term}",
                self.node_name(self.me)
            )));
        }
    }

    /// The leadership ended: every waiting command is answered, everything learnt is
    /// forgotten (a later leadership starts from scratch).
    fn end_term(&mut self, out: &mut Out) {
        let Some(mut t) = self.term.take() else {
            return;
        };
        self.quorum_lost = false;
        let mut gone = t.requests.drain();
        if let Some((_, Origin::Admin { request, .. })) = t.proposal.take() {
            gone.push(request);
        }
        for id in gone {
            out.reply(
                id,
                Answer::Unavailable("no quorum: this monitor is not the leader any more".into()),
            );
        }
    }

    /// Without quorum or network nothing more goes out, not even after an answer arrives.
    fn close_gate_if_shut(&mut self) {
        if !self.gate_open()
            && let Some(t) = self.term.as_mut()
        {
            t.hosts.pause();
        }
    }

    fn quorum(&mut self, fresh: bool, out: &mut Out) {
        let was = self.raft.quorum_fresh;
        self.raft.quorum_fresh = fresh;
        self.close_gate_if_shut();
        if self.term.is_none() {
            return;
        }
        if was && !fresh {
            self.quorum_lost = true;
            out.log(LogLine::warn(format!(
                "Quorum lost: no majority of monitors acknowledged this leader within {} \
                 seconds; it decides nothing and renews no leases until one does",
                fmt_secs(self.timing.quorum_age)
            )));
        } else if !was && fresh && self.quorum_lost {
            self.quorum_lost = false;
            out.log(LogLine::info(
                "Quorum regained: a majority of monitors acknowledges this leader again",
            ));
        }
    }

    fn applied(&mut self, replica: Replica, out: &mut Out) {
        if replica.index < self.replica.index {
            return;
        }
        let epoch = |r: &Replica| r.state.as_ref().map_or(0, |s| s.epoch);
        let (old, new) = (epoch(&self.replica), epoch(&replica));
        let monotonic = invariant::check(new >= old, || {
            format!(
                "the replicated epoch went back from {old} to {new} at index {}",
                replica.index
            )
        });
        match monotonic {
            Ok(()) => self.replica = replica,
            Err(v) => out.log(LogLine::error(format!("{v}; state ignored"))),
        }
    }

    // ---- one round ------------------------------------------------------------------

    fn tick(&mut self, now: Now, out: &mut Out) {
        self.campaign_tick(now, out);
        let gate = self.gate_open();
        let Some(term) = self.term.as_mut() else {
            return;
        };
        for id in term.requests.expired(now.mono) {
            out.reply(
                id,
                Answer::Unavailable("no quorum: the leader could not serve it in time".into()),
            );
        }
        if !gate {
            term.hosts.pause();
            if term.cleaning() {
                term.startup = None;
            }
            return;
        }
        term.refresh_merged(&self.timing, now);
        self.next_proposal(now, out);
        self.fence(now, out);
        self.run_post_change(now, out);
        self.begin_startup(now, out);
        self.push(now, out);
        self.step_aside(now, out);
    }

    /// Fences the host of a writer release that lacks a proof, and runs the pre-failover
    /// hook for one that has its proof (not in PASSIVE mode, which changes nothing, and not
    /// before the cluster started).
    fn fence(&mut self, now: Now, out: &mut Out) {
        let state = current(&self.replica, &self.config, now);
        let Some(term) = self.term.as_mut() else {
            return;
        };
        let active = state.started && state.mode != Mode::Passive && !term.cleaning();
        let release = state
            .writer_release
            .as_ref()
            .filter(|r| active && r.proof.is_none());
        if let Some(r) = release {
            note_server_timer(term, r, &self.timing, now, out);
        }
        let inputs = Inputs {
            agents: term.hosts.facts(),
            ..Inputs::default()
        };
        let round = Round {
            release,
            proven: release.is_some_and(|r| release_proof(r, &inputs).is_some()),
            since: term.since.mono,
            ping_ok: release.is_some_and(|r| term.merged.ok(&r.host, CheckKind::Ping)),
            timing: &self.timing,
            config: &self.config,
        };
        term.fencing.tick(&round, now, out);
        let hooked = state.writer_release.as_ref().filter(|_| active);
        term.pre_failover.tick(hooked, &self.config, out);
    }

    /// Runs the post-change hook for the committed epochs it has not run for yet.
    fn run_post_change(&mut self, now: Now, out: &mut Out) {
        let state = current(&self.replica, &self.config, now);
        let Some(term) = self.term.as_mut() else {
            return;
        };
        term.post_change
            .tick(&state, self.raft.term, &self.config, out);
    }

    /// Asks the startup questions when the replicated state has not started yet.
    fn begin_startup(&mut self, now: Now, out: &mut Out) {
        let started = current(&self.replica, &self.config, now).started;
        let Some(term) = self.term.as_mut() else {
            return;
        };
        if !started && term.startup.is_none() && term.proposal.is_none() {
            term.startup = Some(Startup::begin(&self.config, out));
        }
    }

    /// Fills the free proposal slot: a waiting command first, then the startup vote or the
    /// main loop's decisions.
    fn next_proposal(&mut self, now: Now, out: &mut Out) {
        if !self.transfers.is_empty() || self.try_admin(now, out) {
            return;
        }
        let state = current(&self.replica, &self.config, now);
        let Some(term) = self.term.as_mut() else {
            return;
        };
        if term.proposal.is_some() {
            return;
        }
        if !state.started {
            self.propose_vote(now, out);
            return;
        }
        if term.cleaning() {
            return;
        }
        let inputs = Inputs {
            checks: term.merged.clone(),
            agents: term.hosts.facts(),
            leader_since: term.since.wall,
            fresh: term.book.fresh_count(term.since.wall) >= self.timing.observer_quorum,
            pre_failover: term.pre_failover.verdict(),
            term: self.raft.term,
            post_change_ran: term.post_change.ran(),
        };
        match decide(&state, &inputs, now.wall, &self.config) {
            Ok(commands) if commands.is_empty() => {}
            Ok(commands) => {
                let id = out.call_id();
                term.proposal = Some((id, Origin::Decide));
                out.effect(Effect::Propose { id, commands });
            }
            Err(v) => out.log(LogLine::error(format!("{v}; nothing proposed"))),
        }
    }

    /// Proposes the startup vote once every startup question is answered.
    fn propose_vote(&mut self, now: Now, out: &mut Out) {
        let state = current(&self.replica, &self.config, now);
        let Some(term) = self.term.as_mut() else {
            return;
        };
        if term.proposal.is_some() || state.started {
            return;
        }
        let Some((reports, skip)) = term.startup.as_ref().and_then(Startup::ready_to_vote) else {
            return;
        };
        let seeded = self.stored.as_ref().map(|f| {
            let (seeded, lines) = f.seed(&state, &self.config);
            lines.into_iter().for_each(|l| out.log(l));
            seeded
        });
        let voted_on = seeded.as_ref().unwrap_or(&state);
        let v = crate::startup::vote(voted_on, &reports, now.wall, &self.config);
        let id = out.call_id();
        term.proposal = Some((id, Origin::Vote));
        term.startup = Some(Startup::Voting { skip });
        out.effect(Effect::Propose {
            id,
            commands: vec![v.command],
        });
    }

    /// Sets the desired statuses from the committed state and pushes what is due.
    fn push(&mut self, now: Now, out: &mut Out) {
        let gate = self.gate_open();
        let stamp = self.stamp();
        let state = current(&self.replica, &self.config, now);
        let Some(term) = self.term.as_mut() else {
            return;
        };
        if !gate || !state.started || term.cleaning() || term.startup.is_some() {
            return;
        }
        // PASSIVE is hands-off: the statuses this leadership sent are renewed as they are (so
        // the writer keeps its lease) and nothing the state decides meanwhile is sent. A
        // leadership that has sent nothing yet sends nothing in PASSIVE: a first status would
        // grant a lease, not renew one (after a startup conflict two hosts may claim the
        // writer role).
        if state.mode == Mode::Passive {
            if term.hosts.renewing() {
                term.hosts.send_due(now, &self.timing, out);
            }
            return;
        }
        term.hosts.plan(
            &state,
            &term.merged,
            (stamp.term, stamp.leader_id),
            stamp.lease,
            &self.config,
        );
        term.hosts.send_due(now, &self.timing, out);
    }

    /// A leader that cannot reach the active master's agent, while the other monitors see
    /// the host healthy, hands leadership over: the agent would otherwise fence itself when
    /// its lease runs out although nothing is wrong with it. It holds its heartbeats and
    /// candidacy off for a few election timeouts so another monitor takes over, at most once
    /// per leadership and only after leading for one lease (no rapid cycling).
    fn step_aside(&mut self, now: Now, out: &mut Out) {
        let am = current(&self.replica, &self.config, now)
            .active_master(&self.config)
            .map(str::to_string);
        let Some(term) = self.term.as_mut() else {
            return;
        };
        let Some(am) = am else {
            return;
        };
        let Some(down_since) = term.hosts.unreachable_since(&am) else {
            return;
        };
        let healthy = term.merged.ok(&am, CheckKind::Ping) && term.merged.ok(&am, CheckKind::Mysql);
        if term.stepped_aside
            || !healthy
            || now.mono.saturating_sub(down_since) < self.timing.agent_timeout
            || now.mono.saturating_sub(term.since.mono) < self.timing.agent_lease
            || self.config.monitor_nodes.len() < 2
        {
            return;
        }
        term.stepped_aside = true;
        out.log(LogLine::warn(format!(
            "Can't reach the agent of active master '{am}' from this monitor while the others \
             see it healthy; handing leadership to another monitor"
        )));
        self.elections.hold(
            Holder::StepAside,
            true,
            now.mono + self.timing.step_aside_pause,
        );
    }

    // ---- after every event ----------------------------------------------------------

    fn settle(&mut self, now: Now, out: &mut Out) {
        self.catch_up(out);
        self.finish_transfers(now, out);
        self.elections.update(now.mono, out);
        self.note_renewal(now, out);
    }

    /// Logs once when this monitor starts or stops renewing the agents' leases.
    fn note_renewal(&mut self, now: Now, out: &mut Out) {
        let renewing = self.term.as_ref().is_some_and(|t| t.hosts.renewing());
        if renewing == self.renewing {
            return;
        }
        self.renewing = renewing;
        if renewing {
            let again = if self.renewed_before { " again" } else { "" };
            self.renewed_before = true;
            out.log(LogLine::info(format!(
                "Agent leases are renewed{again} by this monitor"
            )));
            return;
        }
        if self.term.is_none() {
            out.log(LogLine::info(
                "Agent leases are no longer renewed by this monitor (it is not the leader any more)",
            ));
            return;
        }
        let why = self.why_not_renewing(now);
        out.log(LogLine::warn(format!(
            "Agent leases are no longer renewed by this monitor ({why}); a writer whose lease \
             runs out stops taking writes"
        )));
    }

    fn why_not_renewing(&self, now: Now) -> &'static str {
        if !self.raft.quorum_fresh {
            "no quorum"
        } else if !self.network_ok {
            "its own network check fails"
        } else if current(&self.replica, &self.config, now).mode == Mode::Passive {
            "PASSIVE mode sends the agents nothing"
        } else {
            "no host answers ping"
        }
    }
}

/// The replicated state, or the fresh one the first command will start from.
/// Records, once per release, that the released host's own server lease timer has fenced
/// it: its MySQL failed by quorum, its agent is silent, and every lease it may hold is over
/// on the server's timer ([`Hosts::timer_fenced`]).
fn note_server_timer(term: &mut Term, r: &WriterRelease, timing: &Timing, now: Now, out: &mut Out) {
    let facts = term.hosts.facts();
    if facts
        .get(&r.host)
        .is_some_and(|f| f.timer_fenced_for_epoch == Some(r.epoch))
    {
        return;
    }
    let mysql_failed = term
        .merged
        .get(&r.host, CheckKind::Mysql)
        .is_some_and(|c| !c.ok);
    if !mysql_failed
        || !term
            .hosts
            .timer_fenced(&r.host, term.since.mono, now, timing)
    {
        return;
    }
    term.hosts.note_timer_fenced(&r.host, r.epoch);
    out.log(LogLine::info(format!(
        "Host '{}' is unreachable and its last status is older than its writer lease ({} ms) \
         plus the server timer's rounding and the lease margin: its server's lease timer has \
         set read_only=1",
        r.host,
        timing.agent_lease.as_millis()
    )));
}

fn current<'a>(replica: &'a Replica, config: &Config, now: Now) -> Cow<'a, ClusterState> {
    match &replica.state {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(ClusterState::new(config, now.wall)),
    }
}

#[cfg(test)]
mod tests;
