//! Monitors' check tables on the wire: what the reporter sends, and the `Peer` handler that
//! checks what arrives and hands it to this monitor's driver loop (which keeps the latest
//! table of every monitor and merges them, see [`mmm_core::leader`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use mmm_core::checks::{CheckKind, CheckTable, MonitorTable};
use mmm_core::config::Config;
use mmm_core::time::Timestamp;
use mmm_proto::pb::{CheckObservation, Observations, ObservationsAck};
use tonic::Status;

use crate::driver::DriverHandle;
use crate::raft::{NodeId, ObservationsHandler};

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

/// The names an observation message may use.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    hosts: Arc<Vec<String>>,
    monitors: Arc<BTreeMap<NodeId, String>>,
}

impl Vocabulary {
    /// The configured hosts and monitor nodes.
    pub fn new(config: &Config) -> Self {
        Vocabulary {
            hosts: Arc::new(config.hosts.iter().map(|h| h.name.clone()).collect()),
            monitors: Arc::new(
                config
                    .monitor_nodes
                    .iter()
                    .map(|n| (n.id, n.name.clone()))
                    .collect(),
            ),
        }
    }

    /// The table a message carries, refused whole when it names anything unknown.
    pub fn table(&self, msg: &Observations) -> Result<MonitorTable, ObservationError> {
        let monitor = self
            .monitors
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
}

/// Answers `Peer.ReportObservations`: checks the message and passes it to the driver loop,
/// which takes it only while this monitor leads.
pub struct Inbox {
    vocabulary: Vocabulary,
    driver: DriverHandle,
}

impl Inbox {
    /// An inbox feeding `driver`.
    pub fn new(vocabulary: Vocabulary, driver: DriverHandle) -> Self {
        Inbox { vocabulary, driver }
    }
}

impl ObservationsHandler for Inbox {
    fn report(
        &self,
        observations: Observations,
    ) -> BoxFuture<'static, Result<ObservationsAck, Status>> {
        let table = self.vocabulary.table(&observations);
        let driver = self.driver.clone();
        Box::pin(async move {
            let table = table.map_err(|e| Status::invalid_argument(e.to_string()))?;
            let accepted = driver.observations(observations.monitor_id, table).await;
            Ok(ObservationsAck {
                accepted,
                leader_hint: String::new(),
            })
        })
    }
}

/// The wire form of a monitor's table.
pub fn to_message(
    monitor_id: NodeId,
    network_ok: bool,
    taken: Timestamp,
    table: &CheckTable,
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
        uptimes: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary() -> Vocabulary {
        Vocabulary {
            hosts: Arc::new(vec!["db1".into()]),
            monitors: Arc::new(BTreeMap::from([(1, "mon1".to_string())])),
        }
    }

    #[test]
    fn round_trip() {
        let mut t = CheckTable::new();
        t.record(
            "db1",
            CheckKind::Ping,
            false,
            "ERROR: Could not ping 1.2.3.4",
            Timestamp::from_secs(90),
        );
        let msg = to_message(1, true, Timestamp::from_secs(99), &t);
        let got = vocabulary().table(&msg).expect("valid");
        assert_eq!(got.table, t);
        assert_eq!(got.monitor, "mon1");
        assert_eq!(got.observed_at, Timestamp::from_secs(99));
    }

    #[test]
    fn refuses_unknown_names() {
        let v = vocabulary();
        let mut msg = to_message(1, true, Timestamp::from_secs(1), &CheckTable::new());
        msg.checks.push(CheckObservation {
            host: "db9".into(),
            check: "ping".into(),
            ok: true,
            message: String::new(),
            last_change_ms: 0,
        });
        assert_eq!(
            v.table(&msg),
            Err(ObservationError::UnknownHost("db9".into()))
        );
        msg.checks[0].check = "disk".into();
        assert_eq!(
            v.table(&msg),
            Err(ObservationError::UnknownCheck("disk".into()))
        );
        msg.monitor_id = 9;
        assert_eq!(v.table(&msg), Err(ObservationError::UnknownMonitor(9)));
    }
}
