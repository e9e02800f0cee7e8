//! The Raft layer of the monitor: openraft 0.9 over a redb store and the tonic Peer service,
//! generic over the replicated state machine ([`Replicated`]).
//!
//! openraft 0.9 offers no leader transfer; [`RaftNode::campaign`] only starts an election.

mod config;
mod error;
mod network;
mod node;
mod store;
mod types;

pub use config::NodeConfig;
pub use error::{MembershipError, ProposeError, StartError};
pub use network::{
    CodecError, NetworkFactory, ObservationsHandler, Partition, PeerNetwork, TransportError,
};
pub use node::{LeaderInfo, RaftNode};
pub use openraft::BasicNode;
pub use store::{LogStore, STORE_FILE, SnapshotBuilder, StateMachineStore, StoreError, open_store};
pub use types::{LogEntry, LogId, Metrics, MmmRaft, MmmRaftTypes, NodeId, Replicated};
