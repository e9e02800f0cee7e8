//! What a Raft node needs to start: identity, storage, address, peers and timing.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use openraft::{BasicNode, SnapshotPolicy};

use super::network::Partition;
use super::types::NodeId;

/// The settings of one Raft node; [`NodeConfig::new`] fills in the usual timing.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This node's id; must be a key of `peers` when the node bootstraps the cluster.
    pub id: NodeId,
    /// Directory holding the node's redb store file (created when missing).
    pub data_dir: PathBuf,
    /// Address the Peer gRPC service listens on.
    pub listen: SocketAddr,
    /// The initial voters and their Peer addresses (`host:port`), used on first start only.
    pub peers: BTreeMap<NodeId, BasicNode>,
    /// Whether an empty store bootstraps the cluster from `peers`; false for a node that will
    /// be added to an existing cluster with `add_member`.
    pub bootstrap: bool,
    /// Leader heartbeat period.
    pub heartbeat_interval: Duration,
    /// Lower bound of the randomized election timeout.
    pub election_timeout_min: Duration,
    /// Upper bound of the randomized election timeout.
    pub election_timeout_max: Duration,
    /// Deadline for opening a TCP connection to a peer.
    pub connect_timeout: Duration,
    /// How long `propose` waits for its entry to commit and apply.
    pub propose_timeout: Duration,
    /// Build a snapshot after this many applied entries since the last one.
    pub snapshot_every: u64,
    /// How many already-snapshotted entries to keep in the log for lagging followers.
    pub keep_logs_after_snapshot: u64,
    /// Link fault injection shared with other in-process nodes (blocks nothing by default).
    pub partition: Partition,
    /// Mutual TLS for the Peer server and the Raft clients (`<socket type ssl>`); plain TCP
    /// when `None`, the default.
    pub tls: Option<mmm_daemon::tls::Tls>,
    /// Names of the peers for log lines (`Can't reach monitor mon2 …`); ids otherwise.
    pub peer_names: BTreeMap<NodeId, String>,
}

impl NodeConfig {
    /// A config with heartbeat 100 ms, election timeout 200–350 ms and snapshots every 1000 entries.
    pub fn new(
        id: NodeId,
        data_dir: impl Into<PathBuf>,
        listen: SocketAddr,
        peers: BTreeMap<NodeId, BasicNode>,
    ) -> Self {
        Self {
            id,
            data_dir: data_dir.into(),
            listen,
            peers,
            bootstrap: true,
            heartbeat_interval: Duration::from_millis(100),
            election_timeout_min: Duration::from_millis(200),
            election_timeout_max: mmm_core::config::ELECTION_TIMEOUT_MAX,
            connect_timeout: Duration::from_millis(500),
            propose_timeout: Duration::from_secs(3),
            snapshot_every: 1000,
            keep_logs_after_snapshot: 100,
            partition: Partition::default(),
            tls: None,
            peer_names: BTreeMap::new(),
        }
    }

    /// The openraft configuration these settings describe, validated.
    pub(crate) fn raft_config(&self) -> Result<openraft::Config, Box<openraft::ConfigError>> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        openraft::Config {
            cluster_name: "mmm".to_string(),
            heartbeat_interval: ms(self.heartbeat_interval),
            election_timeout_min: ms(self.election_timeout_min),
            election_timeout_max: ms(self.election_timeout_max),
            install_snapshot_timeout: ms(self.election_timeout_max).max(1000),
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_every),
            max_in_snapshot_log_to_keep: self.keep_logs_after_snapshot,
            ..Default::default()
        }
        .validate()
        .map_err(Box::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_timeouts_are_rejected() {
        let addr = SocketAddr::from(([127, 0, 0, 1], 1));
        let mut c = NodeConfig::new(1, "/nonexistent", addr, BTreeMap::new());
        let rc = c.raft_config();
        assert!(rc.is_ok(), "{rc:?}");
        c.election_timeout_min = Duration::from_millis(400);
        assert!(c.raft_config().is_err(), "min above max must be rejected");
        c.election_timeout_min = Duration::from_millis(50);
        assert!(
            c.raft_config().is_err(),
            "election timeout below heartbeat must be rejected"
        );
    }
}
