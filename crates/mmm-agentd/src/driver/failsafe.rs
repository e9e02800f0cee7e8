//! Failsafe leases (`mmm_core::agent::failsafe`) in the driver: as a writer no leader renews,
//! asking every other host's agent and extending the lease only when all of them grant; as one
//! of those hosts, granting while no leader is heard and then keeping the promise — no writer
//! role here until it ends, also across a restart.

use std::time::Duration;

use mmm_core::agent::Mono;
use mmm_core::agent::failsafe::{
    self, Answer, GrantAsk, PeerView, answer_timeout, decide_grant, leader_silence, promise_until,
    round_deadline,
};
use mmm_core::agent::lease::Refusal;
use mmm_proto::pb;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Driver, Request};
use crate::clock;
use crate::desired::GrantCommand;
use crate::peers::{Ask, Peers};
use crate::promises::PromiseStore;

/// The status interval assumed until a leader's status says (mysql-mmm's default rhythm).
const DEFAULT_STATUS_INTERVAL: Duration = Duration::from_secs(1);

/// What the failsafe needs from outside the driver: the other agents and the stored promises.
pub struct FailsafeParts {
    /// The other hosts' agents.
    pub peers: Peers,
    /// The promises this agent made, as loaded at start.
    pub promises: PromiseStore,
}

/// The driver's failsafe state.
pub struct Failsafe {
    /// `failsafe_mode`: off, this host neither asks nor grants.
    enabled: bool,
    peers: Peers,
    promises: PromiseStore,
    requests: mpsc::WeakSender<Request>,
    /// When a status from a leader was last accepted.
    last_leader_contact: Option<Mono>,
    status_interval: Duration,
    /// The lease the last leader status granted: what a round asks for.
    lease: Duration,
    /// The writer lease runs on failsafe grants, until then.
    active_until: Option<Mono>,
    in_flight: bool,
    last_round: Option<Mono>,
    /// The last round's failure (each new one is logged once).
    last_failure: Option<String>,
}

impl Failsafe {
    /// The failsafe state over `peers` and the durable `promises`; rounds report back on
    /// `requests` (weakly held: the driver still ends when the service is gone).
    pub fn new(enabled: bool, parts: FailsafeParts, requests: mpsc::WeakSender<Request>) -> Self {
        Failsafe {
            enabled,
            peers: parts.peers,
            promises: parts.promises,
            requests,
            last_leader_contact: None,
            status_interval: DEFAULT_STATUS_INTERVAL,
            lease: Duration::ZERO,
            active_until: None,
            in_flight: false,
            last_round: None,
            last_failure: None,
        }
    }

    fn silence(&self) -> Duration {
        leader_silence(self.status_interval)
    }

    /// The promise that keeps this host from the writer role at `now`, if any.
    pub fn blocking(&self, now: Mono) -> Option<(String, Mono)> {
        self.promises
            .promises()
            .blocking(now)
            .map(|(h, u)| (h.to_string(), u))
    }

    /// Until when the writer lease runs on failsafe grants (`None`: not in failsafe).
    pub fn active_until(&self) -> Option<Mono> {
        self.active_until
    }
}

impl Driver {
    /// A leader's status was accepted at `now`: the leader is alive; failsafe ends.
    pub(super) fn note_leader_contact(
        &mut self,
        now: Mono,
        interval: Option<Duration>,
        lease: Option<Duration>,
    ) {
        let fs = &mut self.failsafe;
        fs.last_leader_contact = Some(now);
        if let Some(i) = interval {
            fs.status_interval = i;
        }
        if let Some(l) = lease {
            fs.lease = l;
        }
        fs.last_failure = None;
        if fs.active_until.take().is_some() {
            tracing::info!("Failsafe mode ended: a monitor leader renews the writer lease again");
        }
    }

    /// The lease ran out or the writer role was given up: failsafe, if on, is over.
    pub(super) fn end_failsafe(&mut self, why: &str) {
        if self.failsafe.active_until.take().is_some() {
            tracing::warn!("Failsafe mode ended: {why}");
        }
    }

    /// When the next failsafe round is due: the writer role is held on a leader's word, no
    /// leader was heard for two status intervals, no round is out, and the last one was sent a
    /// status interval ago.
    pub(super) fn failsafe_round_at(&self) -> Option<Instant> {
        let fs = &self.failsafe;
        if !fs.enabled || fs.in_flight || self.adopted || fs.lease.is_zero() {
            return None;
        }
        self.held_writer()?;
        let silent_since = fs.last_leader_contact?.plus(fs.silence());
        let next = fs.last_round.map_or(silent_since, |r| {
            r.plus(fs.status_interval).max(silent_since)
        });
        Some(clock::instant_of(next))
    }

    /// Sends one round: every peer is asked at once; the answers come back as a request.
    pub(super) fn start_failsafe_round(&mut self) {
        let Some(tx) = self.failsafe.requests.upgrade() else {
            return;
        };
        let sent_at = clock::now();
        let epoch = self.epochs.current();
        let (me, lease) = (self.me.name.clone(), self.failsafe.lease);
        let peers = self.failsafe.peers.clone();
        let timeout = answer_timeout(self.failsafe.status_interval);
        self.failsafe.in_flight = true;
        self.failsafe.last_round = Some(sent_at);
        tokio::spawn(async move {
            let ask = Ask {
                from: &me,
                epoch,
                lease,
            };
            let answers = peers.ask_all(ask, timeout).await;
            let _ = tx
                .send(Request::FailsafeAnswers {
                    sent_at,
                    epoch,
                    answers,
                })
                .await;
        });
    }

    /// A round's answers: the lease is extended (server timer first) only when every peer
    /// granted, the role is still held at the round's epoch and its lease has not run out.
    pub(super) async fn apply_failsafe_round(
        &mut self,
        sent_at: Mono,
        epoch: u64,
        answers: Vec<(String, Answer)>,
    ) {
        self.failsafe.in_flight = false;
        let now = clock::now();
        let still_writer = self.held_writer().is_some()
            && !self.adopted
            && epoch == self.epochs.current()
            && !self.lease.is_due(now)
            && self
                .failsafe
                .last_leader_contact
                .is_some_and(|c| c < sent_at);
        if !still_writer {
            return;
        }
        match round_deadline(sent_at, self.failsafe.lease, &answers) {
            Err(failure) => self.note_round_failure(failure.to_string(), now),
            Ok(deadline) => self.extend_by_failsafe(deadline, &answers).await,
        }
    }

    async fn extend_by_failsafe(&mut self, deadline: Mono, answers: &[(String, Answer)]) {
        if self.lease.deadline().is_some_and(|d| d >= deadline) {
            return;
        }
        if let Err(e) = self.arm_timer(deadline).await {
            self.note_round_failure(
                format!("{e}; the failsafe lease is not taken"),
                clock::now(),
            );
            return;
        }
        self.lease.extend(deadline);
        self.failsafe.last_failure = None;
        if self.failsafe.active_until.replace(deadline).is_none() {
            let hosts: Vec<String> = answers.iter().map(|(h, _)| format!("'{h}'")).collect();
            let role = self
                .held_writer()
                .map(|w| w.to_string())
                .unwrap_or_default();
            tracing::warn!(
                "Failsafe mode entered: no monitor leader for {} ms; host(s) {} granted a failsafe lease, role '{role}' stays writable",
                self.failsafe.silence().as_millis(),
                hosts.join(", ")
            );
        }
    }

    fn note_round_failure(&mut self, failure: String, now: Mono) {
        if self.failsafe.last_failure.as_deref() == Some(failure.as_str()) {
            return;
        }
        let left = self.lease.remaining(now).as_millis();
        tracing::warn!(
            "Failsafe lease not granted: {failure}; the writer lease runs out in {left} ms"
        );
        self.failsafe.last_failure = Some(failure);
    }

    /// A peer's answer to a writer's GrantFailsafe: granted (promise stored first) or refused.
    pub(super) fn grant_failsafe(&mut self, ask: &GrantCommand) -> pb::GrantFailsafeReply {
        let now = clock::now();
        let view = PeerView {
            epoch: self.epochs.current(),
            active_master: self
                .failsafe
                .last_leader_contact
                .map(|_| self.desired.active_master.as_str()),
            last_leader_contact: self.failsafe.last_leader_contact,
            silence: self.failsafe.silence(),
            holds_writer: self.held_writer().is_some(),
            now,
        };
        let grant = GrantAsk {
            from: &ask.from,
            epoch: ask.epoch,
            lease: ask.lease,
        };
        let refused = |why: String| pb::GrantFailsafeReply {
            granted: false,
            lease_ms: 0,
            refused: why,
            promise_slack_ms: 0,
        };
        if !self.failsafe.enabled {
            return refused("failsafe_mode is off on this host".into());
        }
        let granted = match decide_grant(&grant, &view) {
            Err(r) => {
                tracing::debug!(from = %ask.from, "Refusing a failsafe lease: {r}");
                return refused(r.to_string());
            }
            Ok(g) => g,
        };
        let until = promise_until(now, granted);
        let was_promising = self.failsafe.blocking(now).is_some();
        if let Err(e) = self.failsafe.promises.record(&ask.from, until, now) {
            tracing::error!("Couldn't store a failsafe promise to '{}': {e}", ask.from);
            return refused(format!("could not store the promise: {e}"));
        }
        if !was_promising {
            tracing::warn!(
                "Granted host '{}' a failsafe lease of {} ms: no monitor leader is heard; this host takes no writer role meanwhile",
                ask.from,
                granted.as_millis()
            );
        }
        pb::GrantFailsafeReply {
            granted: true,
            lease_ms: mmm_core::agent::clock::millis(granted),
            refused: String::new(),
            promise_slack_ms: mmm_core::agent::clock::millis(failsafe::PROMISE_SLACK),
        }
    }

    /// The refusal a status's writer role meets while a promise holds.
    pub(super) fn promise_refusal(&self, now: Mono) -> Option<Refusal> {
        self.failsafe
            .blocking(now)
            .map(|(host, until)| Refusal::Promised {
                host,
                remaining: now.until(until),
            })
    }
}
