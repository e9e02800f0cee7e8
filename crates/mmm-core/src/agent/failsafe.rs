//! Failsafe leases: the database keeps writing when no monitor leads, without ever risking a
//! second writer (the model is Patroni's `failsafe_mode`).
//!
//! When the writer's agent has heard from no leader for [`leader_silence`], it asks every
//! other database host's agent for a failsafe lease. A peer grants it only when it has not
//! heard from a leader for that long either, and then promises, for the granted time, to take
//! no writer role (and so to keep `read_only=1`). The writer keeps its role only while *every*
//! peer granted, and counts the extension from the moment it sent the request, before any
//! peer started counting its promise, so its lease always ends before the last promise does.
//! A peer that hears a live leader refuses, so a writer cut off from the leader still fences
//! itself on time, and a failover the leader starts stays safe.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::clock::Mono;
use super::lease::SERVER_TIMER_ROUNDING;

/// How much longer a peer's promise holds than the lease it granted, counted from the
/// request's arrival: the writer's server timer may fire up to [`SERVER_TIMER_ROUNDING`] after
/// the writer's deadline, and half a second covers two hosts' clocks running at slightly
/// different rates over one lease.
pub const PROMISE_SLACK: Duration =
    SERVER_TIMER_ROUNDING.saturating_add(Duration::from_millis(500));

/// The longest failsafe lease a peer grants in one answer, whatever is asked: a writer renews
/// every status interval, so a long grant would only stretch the promise.
pub const MAX_GRANT: Duration = Duration::from_secs(60);

/// How long a writer waits for a peer's answer: one status interval, within 200 ms and 1 s
/// (rounds repeat every status interval, so a slower answer is replaced by the next round's).
pub fn answer_timeout(status_interval: Duration) -> Duration {
    status_interval.clamp(Duration::from_millis(200), Duration::from_secs(1))
}

/// Until when a grant of `granted` that arrived at `received` binds the peer.
pub fn promise_until(received: Mono, granted: Duration) -> Mono {
    received.plus(granted).plus(PROMISE_SLACK)
}

/// How long without a status from any leader counts as "no leader": two status intervals.
pub fn leader_silence(status_interval: Duration) -> Duration {
    status_interval.saturating_mul(2)
}

/// Whether a writer whose last leader renewal was at `last_renewal` should ask for failsafe
/// leases at `now`.
pub fn failsafe_due(last_renewal: Option<Mono>, silence: Duration, now: Mono) -> bool {
    last_renewal.is_none_or(|t| t.until(now) >= silence)
}

/// A writer's request as the asked peer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantAsk<'a> {
    /// The writer's host name (a configured host other than the peer; checked before).
    pub from: &'a str,
    /// The writer's epoch.
    pub epoch: u64,
    /// The lease it asks for.
    pub lease: Duration,
}

/// What the asked peer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerView<'a> {
    /// Highest epoch the peer accepted.
    pub epoch: u64,
    /// Active master of the last status it accepted (`None` before any).
    pub active_master: Option<&'a str>,
    /// When it last accepted a status from a leader.
    pub last_leader_contact: Option<Mono>,
    /// How long without a status counts as no leader.
    pub silence: Duration,
    /// The peer holds the writer role itself.
    pub holds_writer: bool,
    /// The peer's clock.
    pub now: Mono,
}

/// Why a peer refuses a failsafe lease (the reply carries the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRefusal {
    /// The peer heard a leader recently: the writer must get its renewals from the leader.
    LeaderAlive {
        /// How long ago the last status arrived.
        ago: Duration,
    },
    /// The writer's epoch is below the peer's: a newer decision exists.
    StaleEpoch {
        /// The writer's epoch.
        theirs: u64,
        /// The peer's.
        mine: u64,
    },
    /// At the same epoch the peer knows another active master (or none).
    NotActiveMaster {
        /// The active master the peer knows ("" for none).
        known: String,
    },
    /// The peer holds the writer role itself.
    HoldsWriter,
}

impl fmt::Display for GrantRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrantRefusal::LeaderAlive { ago } => write!(
                f,
                "a monitor leader is alive: its last status arrived {} ms ago",
                ago.as_millis()
            ),
            GrantRefusal::StaleEpoch { theirs, mine } => write!(
                f,
                "stale epoch {theirs}: this agent has already accepted epoch {mine}"
            ),
            GrantRefusal::NotActiveMaster { known } if known.is_empty() => {
                f.write_str("the writer role is unassigned at this epoch")
            }
            GrantRefusal::NotActiveMaster { known } => {
                write!(f, "the active master at this epoch is '{known}'")
            }
            GrantRefusal::HoldsWriter => f.write_str("this host holds the writer role"),
        }
    }
}

/// Whether a peer grants `ask`; the granted length when it does.
pub fn decide_grant(ask: &GrantAsk<'_>, peer: &PeerView<'_>) -> Result<Duration, GrantRefusal> {
    if peer.holds_writer {
        return Err(GrantRefusal::HoldsWriter);
    }
    // A newer epoch that still names the writer as active master changed nothing about the
    // writer (reader moves, states): the writer merely missed it.
    if ask.epoch < peer.epoch && peer.active_master != Some(ask.from) {
        return Err(GrantRefusal::StaleEpoch {
            theirs: ask.epoch,
            mine: peer.epoch,
        });
    }
    if let Some(t) = peer.last_leader_contact {
        let ago = t.until(peer.now);
        if ago < peer.silence {
            return Err(GrantRefusal::LeaderAlive { ago });
        }
    }
    if ask.epoch == peer.epoch
        && let Some(known) = peer.active_master
        && known != ask.from
    {
        return Err(GrantRefusal::NotActiveMaster {
            known: known.to_string(),
        });
    }
    Ok(ask.lease.min(MAX_GRANT))
}

/// The failsafe leases this agent granted: while one is outstanding it takes no writer role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Promises {
    until: BTreeMap<String, Mono>,
}

impl Promises {
    /// No promise outstanding.
    pub fn new() -> Promises {
        Promises::default()
    }

    /// Records a grant to `host` lasting until `until` (a later grant extends, never shortens).
    pub fn record(&mut self, host: &str, until: Mono) {
        let e = self.until.entry(host.to_string()).or_insert(until);
        *e = (*e).max(until);
    }

    /// The promise that holds longest at `now`, if any: the writer role stays refused until then.
    pub fn blocking(&self, now: Mono) -> Option<(&str, Mono)> {
        self.until
            .iter()
            .filter(|(_, u)| **u > now)
            .max_by_key(|(_, u)| **u)
            .map(|(h, u)| (h.as_str(), *u))
    }

    /// Every promise still holding at `now`, with its remaining time.
    pub fn outstanding(&self, now: Mono) -> Vec<(String, Duration)> {
        self.until
            .iter()
            .filter(|(_, u)| **u > now)
            .map(|(h, u)| (h.clone(), now.until(*u)))
            .collect()
    }

    /// Forgets the promises that ended by `now`; returns the hosts they were given to.
    pub fn prune(&mut self, now: Mono) -> Vec<String> {
        let ended: Vec<String> = self
            .until
            .iter()
            .filter(|(_, u)| **u <= now)
            .map(|(h, _)| h.clone())
            .collect();
        for h in &ended {
            self.until.remove(h);
        }
        ended
    }

    /// Every recorded promise (for persisting them).
    pub fn entries(&self) -> impl Iterator<Item = (&str, Mono)> {
        self.until.iter().map(|(h, u)| (h.as_str(), *u))
    }
}

/// One peer's answer to a writer's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Granted for this long.
    Granted(Duration),
    /// Refused, with the peer's reason.
    Refused(String),
    /// No answer (unreachable, timed out, error).
    NoAnswer(String),
}

/// Why a failsafe round gives the writer nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoundFailure {
    /// A peer refused.
    Refused {
        /// The peer.
        host: String,
        /// Its reason.
        reason: String,
    },
    /// A peer did not answer.
    NoAnswer {
        /// The peer.
        host: String,
        /// What went wrong.
        error: String,
    },
}

impl fmt::Display for RoundFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoundFailure::Refused { host, reason } => {
                write!(f, "host '{host}' refused a failsafe lease: {reason}")
            }
            RoundFailure::NoAnswer { host, error } => {
                write!(
                    f,
                    "host '{host}' did not answer the failsafe request: {error}"
                )
            }
        }
    }
}

/// The writer's failsafe deadline after a round sent at `sent_at` asking for `lease`: only when
/// every peer granted, and never beyond the shortest grant counted from `sent_at`.
pub fn round_deadline(
    sent_at: Mono,
    lease: Duration,
    answers: &[(String, Answer)],
) -> Result<Mono, RoundFailure> {
    let mut shortest = lease;
    for (host, a) in answers {
        match a {
            Answer::Granted(d) => shortest = shortest.min(*d),
            Answer::Refused(reason) => {
                return Err(RoundFailure::Refused {
                    host: host.clone(),
                    reason: reason.clone(),
                });
            }
            Answer::NoAnswer(error) => {
                return Err(RoundFailure::NoAnswer {
                    host: host.clone(),
                    error: error.clone(),
                });
            }
        }
    }
    Ok(sent_at.plus(shortest))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_millis(3000);
    const SILENCE: Duration = Duration::from_millis(1000);

    fn ms(v: u64) -> Mono {
        Mono::from_millis(v)
    }

    fn ask(epoch: u64) -> GrantAsk<'static> {
        GrantAsk {
            from: "db1",
            epoch,
            lease: LEASE,
        }
    }

    fn peer(contact: Option<u64>, now: u64) -> PeerView<'static> {
        PeerView {
            epoch: 5,
            active_master: Some("db1"),
            last_leader_contact: contact.map(ms),
            silence: SILENCE,
            holds_writer: false,
            now: ms(now),
        }
    }

    #[test]
    fn a_peer_without_leader_contact_grants() {
        assert_eq!(decide_grant(&ask(5), &peer(Some(1000), 2000)), Ok(LEASE));
        assert_eq!(decide_grant(&ask(5), &peer(None, 2000)), Ok(LEASE));
        // A writer at a newer epoch than the peer knows is the newer decision.
        let mut p = peer(Some(0), 5000);
        p.active_master = Some("db2");
        assert_eq!(decide_grant(&ask(6), &p), Ok(LEASE));
    }

    #[test]
    fn a_peer_that_hears_a_leader_refuses() {
        let r = decide_grant(&ask(5), &peer(Some(1500), 2000)).expect_err("leader alive");
        assert_eq!(
            r,
            GrantRefusal::LeaderAlive {
                ago: Duration::from_millis(500)
            }
        );
        assert!(r.to_string().contains("leader is alive"), "{r}");
    }

    #[test]
    fn stale_epochs_other_masters_and_writers_are_refused() {
        // At a newer epoch that still names db1 the active master, db1 only missed it.
        assert_eq!(decide_grant(&ask(4), &peer(None, 2000)), Ok(LEASE));
        let mut p = peer(None, 2000);
        p.active_master = Some("db2");
        assert_eq!(
            decide_grant(&ask(4), &p),
            Err(GrantRefusal::StaleEpoch { theirs: 4, mine: 5 })
        );
        p.active_master = None;
        assert_eq!(
            decide_grant(&ask(4), &p),
            Err(GrantRefusal::StaleEpoch { theirs: 4, mine: 5 })
        );
        let mut p = peer(None, 2000);
        p.active_master = Some("db2");
        assert_eq!(
            decide_grant(&ask(5), &p),
            Err(GrantRefusal::NotActiveMaster {
                known: "db2".into()
            })
        );
        p.active_master = Some("");
        assert_eq!(
            decide_grant(&ask(5), &p).map_err(|e| e.to_string()),
            Err("the writer role is unassigned at this epoch".to_string())
        );
        let mut p = peer(None, 2000);
        p.holds_writer = true;
        assert_eq!(decide_grant(&ask(5), &p), Err(GrantRefusal::HoldsWriter));
    }

    #[test]
    fn promises_block_until_the_last_one_ends() {
        let mut p = Promises::new();
        p.record("db1", ms(5000));
        p.record("db1", ms(4000));
        p.record("db3", ms(3000));
        assert_eq!(p.blocking(ms(2000)), Some(("db1", ms(5000))));
        assert_eq!(
            p.outstanding(ms(3500)),
            vec![("db1".to_string(), Duration::from_millis(1500))]
        );
        assert_eq!(p.prune(ms(3500)), vec!["db3".to_string()]);
        assert_eq!(p.blocking(ms(5000)), None);
        assert_eq!(p.prune(ms(5000)), vec!["db1".to_string()]);
        assert_eq!(p.entries().count(), 0);
    }

    #[test]
    fn a_round_needs_every_peer_and_counts_from_the_send() {
        let granted = vec![
            ("db2".to_string(), Answer::Granted(LEASE)),
            (
                "db3".to_string(),
                Answer::Granted(Duration::from_millis(2000)),
            ),
        ];
        assert_eq!(round_deadline(ms(100), LEASE, &granted), Ok(ms(2100)));
        assert_eq!(round_deadline(ms(100), LEASE, &[]), Ok(ms(3100)));
        let mut refused = granted.clone();
        refused[1].1 = Answer::Refused("a monitor leader is alive".into());
        let e = round_deadline(ms(100), LEASE, &refused).expect_err("refused");
        assert_eq!(
            e.to_string(),
            "host 'db3' refused a failsafe lease: a monitor leader is alive"
        );
        let mut silent = granted;
        silent[0].1 = Answer::NoAnswer("timed out".into());
        assert!(matches!(
            round_deadline(ms(100), LEASE, &silent),
            Err(RoundFailure::NoAnswer { .. })
        ));
    }

    #[test]
    fn a_promise_outlasts_the_writers_server_timer() {
        // The writer counts from its send (before the peer's arrival) and its server timer
        // fires at most SERVER_TIMER_ROUNDING late: the promise still holds then.
        let sent = ms(1000);
        let received = ms(1200);
        let deadline = round_deadline(sent, LEASE, &[("db2".into(), Answer::Granted(LEASE))])
            .expect("granted");
        assert!(deadline.plus(SERVER_TIMER_ROUNDING) < promise_until(received, LEASE));
        assert_eq!(
            decide_grant(
                &GrantAsk {
                    from: "db1",
                    epoch: 5,
                    lease: Duration::from_secs(3600)
                },
                &peer(None, 2000)
            ),
            Ok(MAX_GRANT)
        );
        assert_eq!(
            answer_timeout(Duration::from_millis(50)),
            Duration::from_millis(200)
        );
        assert_eq!(
            answer_timeout(Duration::from_secs(5)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn failsafe_is_due_after_the_silence() {
        assert!(failsafe_due(None, SILENCE, ms(0)));
        assert!(!failsafe_due(Some(ms(500)), SILENCE, ms(1400)));
        assert!(failsafe_due(Some(ms(500)), SILENCE, ms(1500)));
        assert_eq!(
            leader_silence(Duration::from_millis(700)),
            Duration::from_millis(1400)
        );
    }
}
