//! The Raft layer of the monitor: openraft 0.9 over a redb store and the tonic Peer service,
//! generic over the replicated state machine ([`Replicated`]).
//!
//! The monitor plugs in the decision core with one impl, roughly:
//!
//! ```text
//! impl Replicated for ClusterState {
//!     type Command = Command;
//!     type Response = Result<Applied, Rejected>;   // needs serde derives
//!     type Context = Config;                        // the effective config, same on every node
//!     fn initial(cfg: &Config) -> Self { /* deterministic initial state */ }
//!     fn apply(&mut self, cmd: &Command, cfg: &Config) -> Self::Response { apply(self, cmd, cfg) }
//! }
//! let node = RaftNode::<ClusterState>::start(node_config, Arc::new(config)).await?;
//! ```
//!
//! openraft 0.9 offers no leader transfer; [`RaftNode::campaign`] only forces an election
//! that any up-to-date voter may win.
//! A leader restarted from its own disk may resume leadership in the same term (openraft
//! restores a committed vote for itself); [`RaftNode::leader_quorum_fresh`] stays false until
//! a quorum acknowledges it again.

mod config;
mod error;
mod leader_gone;
mod network;
mod node;
mod store;
mod types;

pub use config::NodeConfig;
pub use error::{MembershipError, ProposeError, StartError};
pub use leader_gone::{
    LeaderGone, LeaderGoneHooks, LeaderGoneTiming, Silent, campaign_after, silent_leader,
};
pub use network::{
    CodecError, NetworkFactory, ObservationsHandler, Partition, PeerContact, PeerHealth,
    PeerNetwork, TransportError,
};
pub use node::{
    LeaderInfo, RaftNode, StateReader, is_leader, known_leader, leadership, matched_index,
    quorum_fresh,
};
pub use openraft::BasicNode;
pub use store::{
    KEY_FORMAT, LogStore, STORE_FILE, STORE_FORMAT, SnapshotBuilder, StateMachineStore, StoreError,
    open_store,
};
pub use types::{
    LogEntry, LogId, Metrics, MmmRaft, MmmRaftTypes, NodeId, Replicated, ServerMetrics,
};
