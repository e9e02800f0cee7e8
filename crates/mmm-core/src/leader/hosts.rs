//! What the leader knows about each host's agent, and the bookkeeping of its status pushes:
//! one push in flight per host, a changed status at once, an unchanged one every
//! `status_interval`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::agent::lease::LeaseBasis;
use crate::checks::{CheckKind, CheckTable};
use crate::config::Config;
use crate::decide::AgentFacts;
use crate::desired::desired_status;
use crate::invariant;
use crate::log::{Level, LogLine};
use crate::state::ClusterState;

use super::Out;
use super::io::{
    AgentAnswer, AgentCall, CallFailure, CallId, Effect, Now, StatusPush, StatusReport,
};
use super::timing::Timing;

/// Every configured host's book, in config order.
#[derive(Debug, Clone)]
pub(crate) struct Hosts {
    books: Vec<HostBook>,
}

/// One push on its way.
#[derive(Debug, Clone)]
struct Sent {
    id: CallId,
    push: StatusPush,
    at: Duration,
}

/// One host: its agent's facts and its push slot.
#[derive(Debug, Clone)]
pub(crate) struct HostBook {
    name: String,
    facts: Option<AgentFacts>,
    /// Since when the agent has been unreachable (transport failures only).
    unreachable_since: Option<Duration>,
    /// Last push failure, so a repeating one is logged once.
    last_failure: Option<String>,
    /// Errors the agent keeps reporting, with how many replies repeated each.
    reported: Vec<(String, u64)>,
    /// What the host should hold now (None: send nothing).
    desired: Option<StatusPush>,
    in_flight: Option<Sent>,
    /// The last push answered, and when.
    last: Option<(StatusPush, Duration)>,
    /// The most recent push call and its epoch (its answer counts even after a backstop).
    latest: Option<(CallId, u64)>,
    /// Highest epoch pushed to this host in this leadership.
    highest_epoch: u64,
    /// The agent's latest clock reading, echoed in every push (the lease counts from it).
    basis: Option<LeaseBasis>,
    /// What this leadership learnt about the host's server lease timer.
    timer: TimerBook,
}

/// The evidence that a host's server lease timer fences it.
#[derive(Debug, Clone, Copy, Default)]
struct TimerBook {
    /// The latest push sent in this leadership (monotonic): any may renew a writer lease.
    last_send: Option<Duration>,
    /// The reply the lease basis comes from reported the timer usable.
    basis_timed: bool,
    /// The replicated state says the host's timer is usable.
    replicated_on: bool,
}

impl HostBook {
    fn new(name: &str) -> HostBook {
        HostBook {
            name: name.to_string(),
            facts: None,
            unreachable_since: None,
            last_failure: None,
            reported: Vec::new(),
            desired: None,
            in_flight: None,
            last: None,
            latest: None,
            highest_epoch: 0,
            basis: None,
            timer: TimerBook::default(),
        }
    }

    fn facts_mut(&mut self) -> &mut AgentFacts {
        self.facts.get_or_insert_with(AgentFacts::default)
    }

    /// Calls the agent with `push`; pushed epochs never go back within a leadership.
    fn send(&mut self, push: StatusPush, now: Now, out: &mut Out) -> Option<CallId> {
        let host = &self.name;
        let epoch = push.status.epoch;
        let monotonic = invariant::check(epoch >= self.highest_epoch, || {
            format!(
                "push of epoch {epoch} to '{host}' after epoch {}",
                self.highest_epoch
            )
        });
        if let Err(v) = monotonic {
            out.log(LogLine::error(format!("{v}; not sent")));
            return None;
        }
        self.highest_epoch = epoch;
        let id = out.call_id();
        self.latest = Some((id, epoch));
        // A basis from a reply whose timer is unusable is echoed (so a lease granted) only once
        // the replicated state no longer claims the timer usable.
        let timed_or_known = self.timer.basis_timed || !self.timer.replicated_on;
        let call = StatusPush {
            basis: self.basis.filter(|_| timed_or_known),
            ..push.clone()
        };
        self.in_flight = Some(Sent {
            id,
            push,
            at: now.mono,
        });
        self.timer.last_send = Some(now.mono);
        out.effect(Effect::Call {
            id,
            host: host.clone(),
            call: AgentCall::SetStatus(call),
        });
        Some(id)
    }

    /// A successful push answer: reachable, uptime, the confirmed drop of the writer, the
    /// lease basis to echo. True when the answer comes from an agent process the pushes did
    /// not know yet (the push it answers could grant no writer lease: send again at once).
    fn absorb_report(
        &mut self,
        sent_epoch: u64,
        report: &StatusReport,
        writer_role: Option<&str>,
        out: &mut Out,
    ) -> bool {
        let host = &self.name;
        // The agent accepted our epoch, so it stores at least that one.
        let accepted = invariant::check(report.epoch >= sent_epoch, || {
            format!(
                "agent on '{host}' accepted epoch {sent_epoch} but reports epoch {}",
                report.epoch
            )
        });
        if let Err(v) = accepted {
            out.log(LogLine::error(format!("{v}; its answer is ignored")));
            return false;
        }
        let new_process = report
            .basis
            .is_some_and(|b| self.basis.map(|old| old.incarnation) != Some(b.incarnation));
        if report.basis.is_some() {
            self.basis = report.basis;
            self.timer.basis_timed = report.server_timer_on;
        }
        self.last_failure = None;
        self.unreachable_since = None;
        let holds_writer = report
            .present
            .iter()
            .any(|p| Some(p.role.as_str()) == writer_role);
        let f = self.facts_mut();
        f.reachable = Some(true);
        if let Some(up) = report.uptime {
            f.uptime_ms = Some(u64::try_from(up.as_millis()).unwrap_or(u64::MAX));
        }
        if !report.writable && !holds_writer {
            let e = f.confirmed_not_writer_epoch.unwrap_or(0).max(report.epoch);
            f.confirmed_not_writer_epoch = Some(e);
        }
        f.writer_ran_out_epoch = report.writer_ran_out_epoch;
        f.server_timer_on = Some(report.server_timer_on);
        self.note_errors(&report.errors, out);
        new_process
    }

    /// Logs an error the agent reports once when it appears, and once when it clears (with
    /// how many further replies repeated it).
    fn note_errors(&mut self, errors: &[String], out: &mut Out) {
        let host = self.name.clone();
        self.reported.retain(|(err, repeats)| {
            let still = errors.contains(err);
            if !still {
                out.log(LogLine::info(format!(
                    "Agent on host '{host}' no longer reports: {err} (repeated in {repeats} more replies)"
                )));
            }
            still
        });
        for err in errors {
            match self.reported.iter_mut().find(|(e, _)| e == err) {
                Some((_, repeats)) => *repeats += 1,
                None => {
                    out.log(LogLine::warn(format!(
                        "Agent on host '{host}' reported: {err}"
                    )));
                    self.reported.push((err.clone(), 0));
                }
            }
        }
    }

    /// A failed push: the agent refused it (reachable) or did not answer (unreachable).
    fn absorb_failure(&mut self, sent_epoch: u64, failure: &CallFailure, now: Now, out: &mut Out) {
        let host = &self.name;
        let answered = match failure {
            CallFailure::NotSent(_) => return,
            CallFailure::Refused(_) => true,
            CallFailure::Unreachable(_) => false,
        };
        let error = failure.message();
        let repeated = self.last_failure.as_deref() == Some(error);
        let was_reachable = self
            .facts
            .as_ref()
            .is_some_and(|f| f.reachable == Some(true));
        if answered && !repeated {
            out.log(LogLine::warn(format!(
                "Agent on host '{host}' refused the status of epoch {sent_epoch}: {error}"
            )));
        } else if was_reachable && !repeated {
            out.log(LogLine::new(
                Level::Debug,
                format!("Status push to host '{host}' failed: {error}"),
            ));
        }
        self.last_failure = Some(error.to_string());
        self.facts_mut().reachable = Some(answered);
        if answered {
            self.unreachable_since = None;
        } else {
            self.unreachable_since.get_or_insert(now.mono);
        }
    }
}

impl Hosts {
    /// A book for every configured host.
    pub(crate) fn new(config: &Config) -> Hosts {
        Hosts {
            books: config
                .hosts
                .iter()
                .map(|h| HostBook::new(&h.name))
                .collect(),
        }
    }

    fn get_mut(&mut self, host: &str) -> Option<&mut HostBook> {
        self.books.iter_mut().find(|b| b.name == host)
    }

    /// The facts `decide` reads: every host the leader learnt something about.
    pub(crate) fn facts(&self) -> BTreeMap<String, AgentFacts> {
        self.books
            .iter()
            .filter_map(|b| b.facts.clone().map(|f| (b.name.clone(), f)))
            .collect()
    }

    /// Records whether `host`'s agent answered at all (startup questions).
    pub(crate) fn set_reachable(&mut self, host: &str, reachable: bool) {
        if let Some(b) = self.get_mut(host) {
            b.facts_mut().reachable = Some(reachable);
        }
    }

    /// `host`'s MySQL stores fencing epoch `epoch` after this leader fenced it over SQL.
    pub(crate) fn note_sql_fenced(&mut self, host: &str, epoch: u64) {
        if let Some(b) = self.get_mut(host) {
            let f = b.facts_mut();
            f.sql_fenced_epoch = Some(f.sql_fenced_epoch.unwrap_or(0).max(epoch));
        }
    }

    /// `kill_host_bin` exited 0 for `host` while the release of `epoch` was pending.
    pub(crate) fn note_killed(&mut self, host: &str, epoch: u64) {
        if let Some(b) = self.get_mut(host) {
            b.facts_mut().killed_for_epoch = Some(epoch);
        }
    }

    /// Whether `host`'s own server lease timer has surely fenced it by `now`: its agent does
    /// not answer, the replicated state says its timer is usable (no leader echoed a basis from
    /// a reply saying otherwise while it did), and the last status that may have renewed its
    /// lease is older than [`Timing::server_timer_bound`]: this leadership's last push, or the
    /// previous leader's, which ended by `since` + lease margin. The caller checks that the
    /// host's MySQL failed by quorum.
    pub(crate) fn timer_fenced(&self, host: &str, since: Duration, now: Now, t: &Timing) -> bool {
        let Some(b) = self.books.iter().find(|b| b.name == host) else {
            return false;
        };
        let agent_silent = b.facts.as_ref().is_none_or(|f| f.reachable != Some(true));
        let previous_leader = since + t.lease_margin;
        let last_renewal = b
            .timer
            .last_send
            .map_or(previous_leader, |s| s.max(previous_leader));
        agent_silent && b.timer.replicated_on && now.mono >= last_renewal + t.server_timer_bound()
    }

    /// `host`'s server lease timer fenced it while the release of `epoch` was pending.
    pub(crate) fn note_timer_fenced(&mut self, host: &str, epoch: u64) {
        if let Some(b) = self.get_mut(host) {
            b.facts_mut().timer_fenced_for_epoch = Some(epoch);
        }
    }

    /// Since when `host`'s agent has been unreachable (monotonic clock).
    pub(crate) fn unreachable_since(&self, host: &str) -> Option<Duration> {
        self.books
            .iter()
            .find(|b| b.name == host)
            .and_then(|b| b.unreachable_since)
    }

    /// Sends nothing to anybody until the next plan.
    pub(crate) fn pause(&mut self) {
        for b in &mut self.books {
            b.desired = None;
        }
    }

    /// Whether `host` has a status to be sent.
    pub(crate) fn pushing_to(&self, host: &str) -> bool {
        self.books
            .iter()
            .any(|b| b.name == host && b.desired.is_some())
    }

    /// Whether any status is to be sent (the leader renews leases).
    pub(crate) fn renewing(&self) -> bool {
        self.books.iter().any(|b| b.desired.is_some())
    }

    /// Sets every host's desired status from the committed state. mysql-mmm does not even
    /// try an agent whose host does not answer ping.
    pub(crate) fn plan(
        &mut self,
        state: &ClusterState,
        merged: &CheckTable,
        stamp: (u64, u64),
        lease: Duration,
        config: &Config,
    ) {
        let (term, leader_id) = stamp;
        for b in &mut self.books {
            b.timer.replicated_on = state.host(&b.name).is_some_and(|h| h.server_timer);
            if merged.get(&b.name, CheckKind::Ping).is_some_and(|c| !c.ok) {
                // Not tried, so not known: an agent is found unreachable only by a call
                // that fails while its host answers ping (mysql-mmm's rule).
                b.desired = None;
                b.facts_mut().reachable = None;
                continue;
            }
            b.desired = desired_status(state, &b.name, config).map(|status| StatusPush {
                status,
                term,
                leader_id,
                lease,
                basis: None,
            });
        }
    }

    /// Pushes every status that changed or is due for renewal, one call per host at most.
    pub(crate) fn send_due(&mut self, now: Now, timing: &Timing, out: &mut Out) {
        let names: Vec<String> = self.books.iter().map(|b| b.name.clone()).collect();
        for name in names {
            self.send_one(&name, now, timing, out);
        }
    }

    fn send_one(&mut self, host: &str, now: Now, timing: &Timing, out: &mut Out) {
        let Some(b) = self.get_mut(host) else {
            return;
        };
        let Some(push) = b.desired.clone() else {
            return;
        };
        if let Some(s) = &b.in_flight {
            if now.mono < s.at + timing.call_backstop() {
                return;
            }
            b.in_flight = None;
        }
        let unchanged = b
            .last
            .as_ref()
            .is_some_and(|(p, at)| *p == push && now.mono < *at + timing.status_interval);
        if !unchanged {
            b.send(push, now, out);
        }
    }

    /// Sends `push` to `host` now, whatever was sent before (startup cleanup). None while a
    /// push to it is still in flight.
    pub(crate) fn push_now(
        &mut self,
        host: &str,
        push: StatusPush,
        now: Now,
        out: &mut Out,
    ) -> Option<CallId> {
        let b = self.get_mut(host)?;
        if b.in_flight.is_some() {
            return None;
        }
        b.desired = Some(push.clone());
        b.send(push, now, out)
    }

    /// An answer to one of this leadership's pushes: absorbs it and sends the host's next
    /// status if it changed meanwhile. Returns None when `call` is no push of this host,
    /// else whether the push was delivered.
    pub(crate) fn answer(
        &mut self,
        call: CallId,
        host: &str,
        result: &Result<AgentAnswer, CallFailure>,
        ctx: (Now, &Timing, Option<&str>),
        out: &mut Out,
    ) -> Option<bool> {
        let (now, timing, writer_role) = ctx;
        let b = self.get_mut(host)?;
        let sent_epoch = match (&b.in_flight, b.latest) {
            (Some(s), _) if s.id == call => s.push.status.epoch,
            (_, Some((id, epoch))) if id == call => epoch,
            _ => return None,
        };
        if let Some(s) = b.in_flight.take_if(|s| s.id == call)
            && !matches!(result, Err(CallFailure::NotSent(_)))
        {
            b.last = Some((s.push, now.mono));
        }
        let mut new_process = false;
        let delivered = match result {
            Ok(AgentAnswer::Status(report)) => {
                new_process = b.absorb_report(sent_epoch, report, writer_role, out);
                true
            }
            Ok(other) => {
                let v = invariant::check(false, || {
                    format!("a status push to '{host}' was answered with {other:?}")
                });
                if let Err(v) = v {
                    out.log(LogLine::error(v.to_string()));
                }
                false
            }
            Err(f) => {
                b.absorb_failure(sent_epoch, f, now, out);
                false
            }
        };
        if new_process {
            // The next round re-sends with the new basis (after planning from the replica
            // as applied then, so the push carries the committed epoch).
            b.last = None;
        } else {
            self.send_one(host, now, timing, out);
        }
        Some(delivered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::AgentStatus;
    use crate::state::HostState;

    const SINCE: Duration = Duration::from_secs(10);

    fn at(ms: u64) -> Now {
        Now {
            mono: Duration::from_millis(ms),
            ..Now::default()
        }
    }

    fn timing() -> Timing {
        let config = crate::testing::config(&[]);
        Timing::new(
            &config,
            3,
            Duration::from_millis(600),
            Duration::from_secs(3),
        )
    }

    fn push() -> StatusPush {
        StatusPush {
            status: AgentStatus {
                host: "db1".into(),
                state: HostState::Online,
                roles: Vec::new(),
                active_master: "db1".into(),
                epoch: 1,
            },
            term: 1,
            leader_id: 1,
            lease: Duration::from_secs(5),
            basis: None,
        }
    }

    /// Sends db1 a status at `sent` and answers it at `answered` with `timer_on`.
    fn renew(hosts: &mut Hosts, sent: u64, answered: Option<(u64, bool)>) {
        let mut next = sent;
        let mut out = Out::new(&mut next);
        if let Some(b) = hosts.get_mut("db1") {
            b.in_flight = None;
        }
        let id = hosts
            .push_now("db1", push(), at(sent), &mut out)
            .expect("sent");
        let Some((ms, timer_on)) = answered else {
            return;
        };
        let report = StatusReport {
            epoch: 1,
            server_timer_on: timer_on,
            basis: Some(basis_at(ms)),
            ..StatusReport::default()
        };
        let result = Ok(AgentAnswer::Status(report));
        let t = timing();
        hosts.answer(id, "db1", &result, (at(ms), &t, Some("writer")), &mut out);
    }

    fn basis_at(ms: u64) -> LeaseBasis {
        LeaseBasis {
            incarnation: 7,
            at: crate::agent::Mono::from_millis(ms),
        }
    }

    /// db1's agent goes silent: a push fails as unreachable.
    fn silence(hosts: &mut Hosts, sent: u64) {
        let mut next = 1_000 + sent;
        let mut out = Out::new(&mut next);
        let id = hosts
            .push_now("db1", push(), at(sent), &mut out)
            .expect("sent");
        let failed = Err(CallFailure::Unreachable("timed out".into()));
        let t = timing();
        hosts.answer(
            id,
            "db1",
            &failed,
            (at(sent + 1_000), &t, Some("writer")),
            &mut out,
        );
    }

    fn replicate_timer(hosts: &mut Hosts, on: bool) {
        if let Some(b) = hosts.get_mut("db1") {
            b.timer.replicated_on = on;
        }
    }

    fn ms(d: Duration) -> Now {
        Now {
            mono: d,
            ..Now::default()
        }
    }

    #[test]
    fn the_server_timer_fences_only_after_every_lease_it_covers_is_over() {
        let t = timing();
        let bound = t.server_timer_bound();
        assert_eq!(
            bound,
            t.agent_lease + Duration::from_secs(1) + t.lease_margin
        );
        let mut hosts = Hosts::new(&crate::testing::config(&[]));
        replicate_timer(&mut hosts, true);
        renew(&mut hosts, 12_000, Some((12_010, true)));
        // While the agent answers, its own confirmation is the proof, not the timer.
        assert!(!hosts.timer_fenced("db1", SINCE, at(40_000), &t));
        silence(&mut hosts, 13_000);
        let last = Duration::from_millis(13_000);
        let before = ms(last + bound - Duration::from_millis(1));
        assert!(!hosts.timer_fenced("db1", SINCE, before, &t));
        assert!(hosts.timer_fenced("db1", SINCE, ms(last + bound), &t));
        // Without the replicated word that the timer is usable, time proves nothing.
        replicate_timer(&mut hosts, false);
        assert!(!hosts.timer_fenced("db1", SINCE, at(100_000), &t));
    }

    #[test]
    fn a_new_leader_counts_from_the_end_of_the_previous_leaders_pushes() {
        let t = timing();
        let mut hosts = Hosts::new(&crate::testing::config(&[]));
        replicate_timer(&mut hosts, true);
        let end = SINCE + t.lease_margin + t.server_timer_bound();
        assert!(!hosts.timer_fenced("db1", SINCE, ms(end - Duration::from_millis(1)), &t));
        assert!(hosts.timer_fenced("db1", SINCE, ms(end), &t));
    }

    #[test]
    fn a_basis_from_an_untimed_reply_is_echoed_only_once_the_state_says_so() {
        let mut hosts = Hosts::new(&crate::testing::config(&[]));
        replicate_timer(&mut hosts, true);
        renew(&mut hosts, 12_000, Some((12_010, false)));
        let basis = basis_at(12_010);
        let echoed = |hosts: &mut Hosts, at_ms: u64| {
            let mut next = 5_000 + at_ms;
            let mut out = Out::new(&mut next);
            if let Some(b) = hosts.get_mut("db1") {
                b.in_flight = None;
            }
            hosts.push_now("db1", push(), at(at_ms), &mut out);
            match out.effects.as_slice() {
                [
                    Effect::Call {
                        call: AgentCall::SetStatus(p),
                        ..
                    },
                ] => p.basis,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(echoed(&mut hosts, 13_000), None);
        replicate_timer(&mut hosts, false);
        assert_eq!(echoed(&mut hosts, 14_000), Some(basis));
        // A timed reply's basis is echoed whatever the state says.
        replicate_timer(&mut hosts, true);
        renew(&mut hosts, 15_000, Some((15_010, true)));
        assert_eq!(echoed(&mut hosts, 16_000), Some(basis_at(15_010)));
    }
}
