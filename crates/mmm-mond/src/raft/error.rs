//! Errors of the Raft node API.

use std::net::SocketAddr;
use std::time::Duration;

use super::store::StoreError;
use super::types::NodeId;

/// Why a Raft node did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The Peer listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The timing settings are inconsistent.
    #[error("invalid raft settings: {0}")]
    Config(#[from] Box<openraft::ConfigError>),
    /// The redb store could not be opened or read.
    #[error("raft store: {0}")]
    Store(#[from] StoreError),
    /// openraft refused to start.
    #[error("raft did not start: {0}")]
    Raft(String),
    /// A bootstrapping node must be one of the configured peers.
    #[error("node {0} is not in the configured peers, so it cannot bootstrap the cluster")]
    NotAPeer(NodeId),
    /// Initializing the membership failed.
    #[error("initializing membership failed: {0}")]
    Initialize(String),
}

/// Why a proposed command was not committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// This node is not the leader; propose on the leader instead.
    #[error("not the leader; leader is {leader_id:?} at {leader_addr:?}")]
    NotLeader {
        /// The leader's id, when known.
        leader_id: Option<NodeId>,
        /// The leader's Peer address, when known.
        leader_addr: Option<String>,
    },
    /// The entry did not commit in time (e.g. this leader lost its quorum).
    #[error("proposal not committed within {0:?}")]
    Timeout(Duration),
    /// openraft refused the write.
    #[error("proposal rejected: {0}")]
    Rejected(String),
    /// The Raft core stopped (shutdown or storage failure).
    #[error("raft stopped: {0}")]
    Fatal(String),
    /// The committed entry carried no application response.
    #[error("log entry {0} produced no response")]
    NoResponse(u64),
}

/// Why a membership change or administrative trigger failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    /// Membership is changed on the leader only.
    #[error("not the leader; leader is {leader_id:?} at {leader_addr:?}")]
    NotLeader {
        /// The leader's id, when known.
        leader_id: Option<NodeId>,
        /// The leader's Peer address, when known.
        leader_addr: Option<String>,
    },
    /// openraft refused the change.
    #[error("membership change rejected: {0}")]
    Rejected(String),
    /// The Raft core stopped.
    #[error("raft stopped: {0}")]
    Fatal(String),
}
