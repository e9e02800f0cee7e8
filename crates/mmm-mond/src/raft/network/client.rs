//! The sending side of Raft RPC: openraft's network factory over tonic `PeerClient`s.

use std::collections::HashMap;
use std::error::Error;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mmm_proto::pb::RaftPayload;
use mmm_proto::pb::peer_client::PeerClient;
use openraft::BasicNode;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{Backoff, RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::transport::Channel;

use crate::tls::Tls;

use super::codec::{from_payload, to_payload};
use super::health::{PeerHealth, reason as health_reason};
use super::partition::Partition;
use crate::raft::types::{MmmRaftTypes, NodeId, Replicated};

/// How long a dropped link waits before openraft retries it.
const RETRY_BACKOFF: Duration = Duration::from_millis(200);

/// Why a Raft RPC did not reach its target or its reply did not come back.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The link is cut by the test [`Partition`].
    #[error("link {from} -> {to} is partitioned")]
    Partitioned {
        /// Sending node.
        from: NodeId,
        /// Receiving node.
        to: NodeId,
    },
    /// The peer address is not a valid endpoint.
    #[error("bad peer address {addr:?}: {source}")]
    BadAddress {
        /// The configured address.
        addr: String,
        /// Why tonic rejected it.
        source: tonic::transport::Error,
    },
    /// The RPC failed in transport or the peer refused it.
    #[error("rpc to node {to} failed: {status}")]
    Rpc {
        /// Receiving node.
        to: NodeId,
        /// The gRPC status.
        status: tonic::Status,
    },
    /// The RPC did not finish within its deadline.
    #[error("rpc to node {to} timed out after {after:?}")]
    Timeout {
        /// Receiving node.
        to: NodeId,
        /// The deadline that passed.
        after: Duration,
    },
    /// The reply did not decode.
    #[error(transparent)]
    Codec(#[from] super::codec::CodecError),
}

/// Cached gRPC channels by target node, shared by every client of one node.
type ChannelCache = Arc<Mutex<HashMap<NodeId, (String, PeerClient<Channel>)>>>;

/// Creates openraft network clients for one node (`from`), reusing one lazy channel per target.
pub struct NetworkFactory<S> {
    from: NodeId,
    partition: Partition,
    connect_timeout: Duration,
    tls: Option<Tls>,
    health: PeerHealth,
    channels: ChannelCache,
    _state: PhantomData<fn() -> S>,
}

impl<S> NetworkFactory<S> {
    /// Builds the factory for node `from`; `partition` is consulted on every RPC, every
    /// connection uses mutual TLS when `tls` is set, and every outcome is recorded in `health`.
    pub fn new(
        from: NodeId,
        partition: Partition,
        connect_timeout: Duration,
        tls: Option<Tls>,
        health: PeerHealth,
    ) -> Self {
        Self {
            from,
            partition,
            connect_timeout,
            tls,
            health,
            channels: Arc::default(),
            _state: PhantomData,
        }
    }
}

impl<S: Replicated> RaftNetworkFactory<MmmRaftTypes<S>> for NetworkFactory<S> {
    type Network = PeerNetwork<S>;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Self::Network {
        PeerNetwork {
            from: self.from,
            target,
            addr: node.addr.clone(),
            partition: self.partition.clone(),
            connect_timeout: self.connect_timeout,
            tls: self.tls.clone(),
            health: self.health.clone(),
            channels: self.channels.clone(),
            _state: PhantomData,
        }
    }
}

/// The Raft RPC client from one node to one target.
pub struct PeerNetwork<S> {
    from: NodeId,
    target: NodeId,
    addr: String,
    partition: Partition,
    connect_timeout: Duration,
    tls: Option<Tls>,
    health: PeerHealth,
    channels: ChannelCache,
    _state: PhantomData<fn() -> S>,
}

impl<S> PeerNetwork<S> {
    /// The cached client for the target, created (lazily connecting) when missing or moved.
    fn client(&self) -> Result<PeerClient<Channel>, TransportError> {
        let mut cache = self
            .channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((addr, client)) = cache.get(&self.target)
            && *addr == self.addr
        {
            return Ok(client.clone());
        }
        let endpoint = crate::tls::endpoint(&self.addr)
            .map_err(|source| TransportError::BadAddress {
                addr: self.addr.clone(),
                source,
            })?
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true);
        let channel = mmm_daemon::tls::lazy_channel(endpoint, self.tls.as_ref());
        let client = PeerClient::new(channel);
        cache.insert(self.target, (self.addr.clone(), client.clone()));
        Ok(client)
    }

    /// Sends one encoded request and decodes the remote result, obeying the partition both ways.
    async fn call<Req, Resp, E, F, Fut>(
        &self,
        req: &Req,
        option: &RPCOption,
        send: F,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: Error + DeserializeOwned,
        F: FnOnce(PeerClient<Channel>, RaftPayload) -> Fut,
        Fut: Future<Output = Result<tonic::Response<RaftPayload>, tonic::Status>>,
    {
        let (from, to) = (self.from, self.target);
        if self.partition.is_blocked(from, to) {
            return Err(self.unreachable(TransportError::Partitioned { from, to }));
        }
        let payload = to_payload(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let client = self.client().map_err(|e| self.unreachable(e))?;
        let ttl = option.hard_ttl();
        let reply = match tokio::time::timeout(ttl, send(client, payload)).await {
            Err(_) => {
                let why = format!("no answer within {} s", seconds(ttl));
                self.health.failed(to, &self.addr, &why);
                let e = TransportError::Timeout { to, after: ttl };
                return Err(RPCError::Network(NetworkError::new(&e)));
            }
            Ok(Err(status)) => {
                self.health.failed(to, &self.addr, &health_reason(&status));
                return Err(status_error(to, status));
            }
            Ok(Ok(reply)) => reply.into_inner(),
        };
        if self.partition.is_blocked(to, from) {
            return Err(self.unreachable(TransportError::Partitioned { from: to, to: from }));
        }
        self.health.sent(to, &self.addr);
        let result: Result<Resp, RaftError<NodeId, E>> = from_payload(&reply)
            .map_err(|e| RPCError::Network(NetworkError::new(&TransportError::Codec(e))))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(to, e)))
    }
}

impl<S> PeerNetwork<S> {
    /// Records `e` as a failure to reach the target and wraps it for openraft.
    fn unreachable<E: Error>(
        &self,
        e: TransportError,
    ) -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>> {
        self.health.failed(self.target, &self.addr, &e.to_string());
        RPCError::Unreachable(Unreachable::new(&e))
    }
}

/// Seconds with as many decimals as the duration has (`0.15`, `1`), as configs write them.
fn seconds(d: Duration) -> String {
    let text = format!("{:.3}", d.as_secs_f64());
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Connection-level failures mean the peer is down or cut off; anything else is a network error.
fn status_error<E: Error>(
    to: NodeId,
    status: tonic::Status,
) -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>> {
    let down = matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown
    );
    let e = TransportError::Rpc { to, status };
    if down {
        RPCError::Unreachable(Unreachable::new(&e))
    } else {
        RPCError::Network(NetworkError::new(&e))
    }
}

impl<S: Replicated> RaftNetwork<MmmRaftTypes<S>> for PeerNetwork<S> {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<MmmRaftTypes<S>>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(&rpc, &option, |mut c, p| async move {
            c.append_entries(p).await
        })
        .await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<MmmRaftTypes<S>>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call(&rpc, &option, |mut c, p| async move {
            c.install_snapshot(p).await
        })
        .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(&rpc, &option, |mut c, p| async move { c.vote(p).await })
            .await
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(std::iter::repeat(RETRY_BACKOFF))
    }
}
