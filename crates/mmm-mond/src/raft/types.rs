//! The replicated-state-machine contract and the openraft type configuration built on it.

use std::cmp::Ordering;
use std::fmt;
use std::io::Cursor;
use std::marker::PhantomData;

use openraft::raft::responder::OneshotResponder;
use openraft::{BasicNode, Entry, RaftTypeConfig, TokioRuntime};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A deterministic state machine that the Raft layer replicates on every monitor.
///
/// The monitor plugs in the decision core's cluster state (with the effective config as
/// [`Replicated::Context`]); tests use a small register.
pub trait Replicated:
    Clone + fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The command proposed through Raft and applied on every node.
    type Command: Clone + fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static;
    /// What applying one command returns (to the proposer and to applied-entry subscribers).
    type Response: Clone + fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static;

    /// Read-only input every node passes to `apply` (e.g. the config); it must be the same on
    /// every node, since `apply` has to be deterministic.
    type Context: Send + Sync + 'static;

    /// The state before the first command is applied (a fresh store starts from it).
    fn initial(ctx: &Self::Context) -> Self;

    /// Applies one committed command; must be deterministic and identical on every node.
    fn apply(&mut self, cmd: &Self::Command, ctx: &Self::Context) -> Self::Response;
}

/// The openraft type configuration for a replicated state machine `S`.
///
/// Log entries carry `S::Command`; the per-entry response is `None` for the blank and
/// membership entries openraft writes itself and `Some` for application commands.
pub struct MmmRaftTypes<S>(PhantomData<fn() -> S>);

/// The openraft handle for state machine `S`.
pub type MmmRaft<S> = openraft::Raft<MmmRaftTypes<S>>;

/// A Raft node id (the monitor's numeric id).
pub type NodeId = u64;

/// A log id in this configuration.
pub type LogId = openraft::LogId<NodeId>;

/// The metrics openraft publishes for this configuration.
pub type Metrics = openraft::RaftMetrics<NodeId, BasicNode>;

/// The part of openraft's metrics that changes only with the vote, the role, the leader or
/// the membership: what a task that reacts to leadership changes waits on, since the full
/// [`Metrics`] are republished after every heartbeat.
pub type ServerMetrics = openraft::metrics::RaftServerMetrics<NodeId, BasicNode>;

/// A log entry of state machine `S`.
pub type LogEntry<S> = Entry<MmmRaftTypes<S>>;

impl<S: Replicated> RaftTypeConfig for MmmRaftTypes<S> {
    type D = S::Command;
    type R = Option<S::Response>;
    type NodeId = NodeId;
    type Node = BasicNode;
    type Entry = Entry<Self>;
    type SnapshotData = Cursor<Vec<u8>>;
    type AsyncRuntime = TokioRuntime;
    type Responder = OneshotResponder<Self>;
}

// openraft requires the configuration marker to be a plain value type; these impls avoid
// putting the same bounds on `S` that `#[derive]` would.
impl<S> fmt::Debug for MmmRaftTypes<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MmmRaftTypes")
    }
}
impl<S> Clone for MmmRaftTypes<S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S> Copy for MmmRaftTypes<S> {}
impl<S> Default for MmmRaftTypes<S> {
    fn default() -> Self {
        Self(PhantomData)
    }
}
impl<S> PartialEq for MmmRaftTypes<S> {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}
impl<S> Eq for MmmRaftTypes<S> {}
impl<S> PartialOrd for MmmRaftTypes<S> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<S> Ord for MmmRaftTypes<S> {
    fn cmp(&self, _other: &Self) -> Ordering {
        Ordering::Equal
    }
}
