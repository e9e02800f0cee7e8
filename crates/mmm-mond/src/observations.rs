//! Every monitor's check table as the leader last received it, and the quorum merge.
//!
//! Each monitor sends its table every round (`Peer.ReportObservations`); the leader keeps
//! the latest one per monitor and merges them with [`mmm_core::checks::merge`], so a
//! monitor cut off from a host cannot fail that host on its own.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;
use mmm_core::checks::{CheckKind, CheckTable, MonitorTable, merge};
use mmm_core::time::Timestamp;
use mmm_proto::pb::{CheckObservation, Observations, ObservationsAck};
use tonic::Status;

use crate::raft::{NodeId, ObservationsHandler};

/// One monitor's latest report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The monitor's check table.
    pub table: MonitorTable,
    /// Agent OS uptimes (seconds) the monitor saw, by host.
    pub uptimes: BTreeMap<String, f64>,
    /// When the leader received it (leader's clock), used for freshness.
    pub received: Timestamp,
}

/// Why an observation message was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ObservationError {
    /// A check name that is not one of the four.
    #[error("unknown check '{0}' in observations")]
    UnknownCheck(String),
    /// A host that is not in the configuration.
    #[error("unknown host '{0}' in observations")]
    UnknownHost(String),
    /// A sender that is not a configured monitor node.
    #[error("observations from unknown monitor id {0}")]
    UnknownMonitor(NodeId),
}

/// The latest report of every monitor, shared by the Peer handler and the leader loop.
#[derive(Clone)]
pub struct ObservationBook {
    inner: Arc<Mutex<BTreeMap<NodeId, Report>>>,
    hosts: Arc<Vec<String>>,
    names: Arc<BTreeMap<NodeId, String>>,
    is_leader: Arc<dyn Fn() -> Option<bool> + Send + Sync>,
    clock: fn() -> Timestamp,
}

impl std::fmt::Debug for ObservationBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObservationBook")
            .field("reports", &*self.lock())
            .finish()
    }
}

impl ObservationBook {
    /// A book for the configured `hosts`; `names` maps monitor ids to their names;
    /// `is_leader` tells whether this node leads (None when unknown).
    pub fn new(
        hosts: Vec<String>,
        names: BTreeMap<NodeId, String>,
        is_leader: Arc<dyn Fn() -> Option<bool> + Send + Sync>,
        clock: fn() -> Timestamp,
    ) -> Self {
        ObservationBook {
            inner: Arc::new(Mutex::new(BTreeMap::new())),
            hosts: Arc::new(hosts),
            names: Arc::new(names),
            is_leader,
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<NodeId, Report>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a monitor's report (the local monitor calls this directly).
    pub fn record(&self, monitor: NodeId, table: MonitorTable, uptimes: BTreeMap<String, f64>) {
        let received = (self.clock)();
        self.lock().insert(
            monitor,
            Report {
                table,
                uptimes,
                received,
            },
        );
    }

    /// Converts and stores a report received over the network.
    pub fn record_message(&self, msg: &Observations) -> Result<(), ObservationError> {
        let table = self.table_from_message(msg)?;
        let uptimes = msg
            .uptimes
            .iter()
            .filter(|(h, u)| self.hosts.contains(h) && u.is_finite() && **u >= 0.0)
            .map(|(h, u)| (h.clone(), *u))
            .collect();
        self.record(msg.monitor_id, table, uptimes);
        Ok(())
    }

    fn table_from_message(&self, msg: &Observations) -> Result<MonitorTable, ObservationError> {
        let monitor = self
            .names
            .get(&msg.monitor_id)
            .cloned()
            .ok_or(ObservationError::UnknownMonitor(msg.monitor_id))?;
        let mut table = CheckTable::new();
        for c in &msg.checks {
            let kind: CheckKind = c
                .check
                .parse()
                .map_err(|_| ObservationError::UnknownCheck(c.check.clone()))?;
            if !self.hosts.contains(&c.host) {
                return Err(ObservationError::UnknownHost(c.host.clone()));
            }
            table.record(
                &c.host,
                kind,
                c.ok,
                &c.message,
                Timestamp::from_millis(c.last_change_ms),
            );
        }
        Ok(MonitorTable {
            monitor,
            network_ok: msg.network_ok,
            observed_at: Timestamp::from_millis(msg.taken_ms),
            table,
        })
    }

    /// Forgets every report (a new leader starts from scratch).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// How many monitors sent a report with network received at or after `since`.
    pub fn fresh_count(&self, since: Timestamp) -> usize {
        self.lock()
            .values()
            .filter(|r| r.table.network_ok && r.received >= since)
            .count()
    }

    /// The merged table: a check counts as failed when `quorum` fresh monitors report it
    /// failed; monitors silent for longer than `max_age` do not count.
    pub fn merged(
        &self,
        quorum: usize,
        max_age: Duration,
        previous: &CheckTable,
        now: Timestamp,
    ) -> CheckTable {
        let tables: Vec<MonitorTable> = self
            .lock()
            .values()
            .map(|r| {
                // Freshness is judged by the leader's receive time, not the sender's clock.
                let mut t = r.table.clone();
                t.observed_at = r.received;
                t
            })
            .collect();
        merge(&tables, quorum, max_age, previous, now)
    }

    /// The latest agent uptime (ms) any fresh monitor saw for each host.
    pub fn uptimes_ms(&self, max_age: Duration, now: Timestamp) -> BTreeMap<String, u64> {
        let mut out: BTreeMap<String, u64> = BTreeMap::new();
        for r in self
            .lock()
            .values()
            .filter(|r| now.since(r.received) <= max_age)
        {
            for (h, up) in &r.uptimes {
                let ms = (up * 1000.0) as u64;
                let e = out.entry(h.clone()).or_default();
                *e = (*e).max(ms);
            }
        }
        out
    }
}

impl ObservationsHandler for ObservationBook {
    fn report(
        &self,
        observations: Observations,
    ) -> BoxFuture<'static, Result<ObservationsAck, Status>> {
        let result = match (self.is_leader)() {
            Some(true) => match self.record_message(&observations) {
                Ok(()) => Ok(ObservationsAck {
                    accepted: true,
                    leader_hint: String::new(),
                }),
                Err(e) => Err(Status::invalid_argument(e.to_string())),
            },
            _ => Ok(ObservationsAck {
                accepted: false,
                leader_hint: String::new(),
            }),
        };
        Box::pin(async move { result })
    }
}

/// The wire form of a monitor's table.
pub fn to_message(
    monitor_id: NodeId,
    network_ok: bool,
    taken: Timestamp,
    table: &CheckTable,
    uptimes: &BTreeMap<String, f64>,
) -> Observations {
    let mut checks = Vec::new();
    for (host, statuses) in &table.hosts {
        for kind in CheckKind::ALL {
            if let Some(st) = &statuses[kind.index()] {
                checks.push(CheckObservation {
                    host: host.clone(),
                    check: kind.as_str().to_string(),
                    ok: st.ok,
                    message: st.message.clone(),
                    last_change_ms: st.last_change.as_millis(),
                });
            }
        }
    }
    Observations {
        monitor_id,
        network_ok,
        taken_ms: taken.as_millis(),
        checks,
        uptimes: uptimes.iter().map(|(h, u)| (h.clone(), *u)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> ObservationBook {
        let names = BTreeMap::from([(1, "mon1".to_string()), (2, "mon2".to_string())]);
        ObservationBook::new(vec!["db1".into()], names, Arc::new(|| Some(true)), || {
            Timestamp::from_secs(100)
        })
    }

    #[test]
    fn round_trip_and_quorum() {
        let b = book();
        let mut t = CheckTable::new();
        t.record(
            "db1",
            CheckKind::Ping,
            false,
            "ERROR: Could not ping 1.2.3.4",
            Timestamp::from_secs(90),
        );
        let msg = to_message(1, true, Timestamp::from_secs(99), &t, &BTreeMap::new());
        b.record_message(&msg).unwrap();
        let mut prev = CheckTable::new();
        prev.record("db1", CheckKind::Ping, true, "OK", Timestamp::from_secs(1));
        let m = b.merged(2, Duration::from_secs(5), &prev, Timestamp::from_secs(100));
        assert!(
            m.ok("db1", CheckKind::Ping),
            "one monitor alone cannot fail a host"
        );
        let msg2 = to_message(2, true, Timestamp::from_secs(99), &t, &BTreeMap::new());
        b.record_message(&msg2).unwrap();
        let m = b.merged(2, Duration::from_secs(5), &prev, Timestamp::from_secs(100));
        assert!(!m.ok("db1", CheckKind::Ping));
        assert_eq!(b.fresh_count(Timestamp::from_secs(100)), 2);
    }

    #[test]
    fn refuses_unknown_names() {
        let b = book();
        let mut msg = to_message(
            1,
            true,
            Timestamp::from_secs(1),
            &CheckTable::new(),
            &BTreeMap::new(),
        );
        msg.checks.push(CheckObservation {
            host: "db9".into(),
            check: "ping".into(),
            ok: true,
            message: String::new(),
            last_change_ms: 0,
        });
        assert_eq!(
            b.record_message(&msg),
            Err(ObservationError::UnknownHost("db9".into()))
        );
        msg.checks[0].check = "disk".into();
        assert_eq!(
            b.record_message(&msg),
            Err(ObservationError::UnknownCheck("disk".into()))
        );
    }
}
