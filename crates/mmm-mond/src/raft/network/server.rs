//! The receiving side of Raft RPC: the Peer gRPC service handing requests to openraft.

use std::sync::{Arc, RwLock};

use futures_util::future::BoxFuture;
use mmm_proto::pb::peer_server::Peer;
use mmm_proto::pb::{Observations, ObservationsAck, RaftPayload};
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::Serialize;
use tonic::{Request, Response, Status};

use super::codec::{CodecError, from_payload, to_payload};
use super::health::PeerHealth;
use super::partition::Partition;
use crate::raft::types::{MmmRaft, MmmRaftTypes, NodeId, Replicated};

/// Handles `Peer.ReportObservations` (each monitor's check table sent to the leader).
///
/// The Raft layer serves the Peer service; the monitor installs this handler on the running
/// node with [`crate::raft::RaftNode::set_observations_handler`].
pub trait ObservationsHandler: Send + Sync + 'static {
    /// Accepts one monitor's observations and answers whether this node took them.
    fn report(
        &self,
        observations: Observations,
    ) -> BoxFuture<'static, Result<ObservationsAck, Status>>;
}

/// The slot holding the optional observations handler, shared with the running server.
pub(crate) type ObservationsSlot = Arc<RwLock<Option<Arc<dyn ObservationsHandler>>>>;

/// The Peer service of one node.
pub(crate) struct PeerService<S: Replicated> {
    id: NodeId,
    raft: MmmRaft<S>,
    partition: Partition,
    observations: ObservationsSlot,
    health: PeerHealth,
    /// The last foreign wire format logged, so a peer of another release is named once.
    logged_format: std::sync::atomic::AtomicU32,
}

impl<S: Replicated> PeerService<S> {
    pub(crate) fn new(
        id: NodeId,
        raft: MmmRaft<S>,
        partition: Partition,
        observations: ObservationsSlot,
        health: PeerHealth,
    ) -> Self {
        Self {
            id,
            raft,
            partition,
            observations,
            health,
            logged_format: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// Refuses requests whose sender is cut off from this node; records contact otherwise.
    fn admit(&self, sender: NodeId) -> Result<(), Status> {
        if self.partition.is_blocked(sender, self.id) {
            return Err(Status::unavailable(format!(
                "link {sender} -> {} is partitioned",
                self.id
            )));
        }
        self.health.heard_from(sender);
        Ok(())
    }

    /// Refuses a payload that does not decode: another wire format (a monitor of another
    /// release, logged once per format) or bytes that are no such message.
    fn bad_payload(&self, e: CodecError) -> Status {
        match e {
            CodecError::Format { found, .. } => {
                let order = std::sync::atomic::Ordering::Relaxed;
                if self.logged_format.swap(found, order) != found {
                    mmm_daemon::fatal!("Refusing Raft messages from a peer monitor: {e}");
                }
                Status::failed_precondition(e.to_string())
            }
            CodecError::Postcard(_) => {
                Status::invalid_argument(format!("undecodable raft payload: {e}"))
            }
        }
    }
}

fn reply<T: Serialize>(result: &T) -> Result<Response<RaftPayload>, Status> {
    to_payload(result)
        .map(Response::new)
        .map_err(|e| Status::internal(e.to_string()))
}

#[tonic::async_trait]
impl<S: Replicated> Peer for PeerService<S> {
    async fn append_entries(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let req: AppendEntriesRequest<MmmRaftTypes<S>> =
            from_payload(request.get_ref()).map_err(|e| self.bad_payload(e))?;
        self.admit(req.vote.leader_id().voted_for().unwrap_or_default())?;
        reply(&self.raft.append_entries(req).await)
    }

    async fn vote(&self, request: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let req: VoteRequest<NodeId> =
            from_payload(request.get_ref()).map_err(|e| self.bad_payload(e))?;
        self.admit(req.vote.leader_id().voted_for().unwrap_or_default())?;
        reply(&self.raft.vote(req).await)
    }

    async fn install_snapshot(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let req: InstallSnapshotRequest<MmmRaftTypes<S>> =
            from_payload(request.get_ref()).map_err(|e| self.bad_payload(e))?;
        self.admit(req.vote.leader_id().voted_for().unwrap_or_default())?;
        reply(&self.raft.install_snapshot(req).await)
    }

    async fn report_observations(
        &self,
        request: Request<Observations>,
    ) -> Result<Response<ObservationsAck>, Status> {
        let handler = self
            .observations
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match handler {
            Some(h) => h.report(request.into_inner()).await.map(Response::new),
            None => Err(Status::unavailable(
                "this monitor does not accept observations yet",
            )),
        }
    }
}
