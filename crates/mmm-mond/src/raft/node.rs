//! A running Raft node: redb store, Peer server, openraft core and the API the monitor uses.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use mmm_proto::pb::peer_server::PeerServer;
use openraft::error::{ClientWriteError, InitializeError, RaftError};
use openraft::{BasicNode, ChangeMembers, ServerState};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, oneshot, watch};
use tokio::task::JoinHandle;
use tonic::transport::Server;

use super::config::NodeConfig;
use super::error::{MembershipError, ProposeError, StartError};
use super::network::{
    NetworkFactory, ObservationsHandler, ObservationsSlot, PeerContact, PeerHealth, PeerService,
};
use super::store::{Db, SharedApplied, open_store_tracked, read_lock};
use super::types::{LogId, Metrics, MmmRaft, NodeId, Replicated, ServerMetrics};

/// How many applied commands a slow subscriber may fall behind before it misses some.
const APPLIED_CHANNEL_CAPACITY: usize = 1024;
/// How long `shutdown` waits for the Peer server to close its connections.
const SERVER_DRAIN: Duration = Duration::from_secs(1);
/// How long `shutdown` waits for openraft's background tasks to release the store file.
const STORE_RELEASE: Duration = Duration::from_secs(3);

/// The leader as this node currently knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderInfo {
    /// The leader's node id.
    pub id: NodeId,
    /// Its Peer address, when this node knows the leader's membership entry.
    pub addr: Option<String>,
}

/// One monitor's Raft node replicating the state machine `S`.
pub struct RaftNode<S: Replicated> {
    id: NodeId,
    raft: MmmRaft<S>,
    applied: SharedApplied<S>,
    applied_tx: broadcast::Sender<(LogId, S::Response)>,
    observations: ObservationsSlot,
    health: PeerHealth,
    propose_timeout: Duration,
    server_stop: Mutex<Option<oneshot::Sender<()>>>,
    server: Mutex<Option<JoinHandle<Result<(), tonic::transport::Error>>>>,
    store: Db,
}

impl<S: Replicated> RaftNode<S> {
    /// Binds `config.listen` and starts the node (see [`RaftNode::start_with_listener`]).
    pub async fn start(config: NodeConfig, ctx: Arc<S::Context>) -> Result<Self, StartError> {
        let listener = bind(&config).await?;
        Self::start_with_listener(config, ctx, listener).await
    }

    /// Opens the store, serves Peer on `listener`, starts openraft, and on a first start
    /// (empty store, `config.bootstrap`) initializes membership from `config.peers`.
    ///
    /// `ctx` is passed to every `apply` of the state machine.
    pub async fn start_with_listener(
        config: NodeConfig,
        ctx: Arc<S::Context>,
        listener: TcpListener,
    ) -> Result<Self, StartError> {
        Self::start_serving(config, ctx, listener, None).await
    }

    /// Binds `config.listen` and starts the node with `observations` answering
    /// `Peer.ReportObservations` from its first request on.
    pub async fn start_with_observations(
        config: NodeConfig,
        ctx: Arc<S::Context>,
        observations: Arc<dyn ObservationsHandler>,
    ) -> Result<Self, StartError> {
        let listener = bind(&config).await?;
        Self::start_serving(config, ctx, listener, Some(observations)).await
    }

    async fn start_serving(
        config: NodeConfig,
        ctx: Arc<S::Context>,
        listener: TcpListener,
        observations: Option<Arc<dyn ObservationsHandler>>,
    ) -> Result<Self, StartError> {
        let raft_config = Arc::new(config.raft_config()?);
        let (applied_tx, _) = broadcast::channel(APPLIED_CHANNEL_CAPACITY);
        let (log_store, sm, store) =
            open_store_tracked::<S>(&config.data_dir, ctx, applied_tx.clone()).await?;
        let applied = sm.shared();
        let health = PeerHealth::new(config.peer_names.clone());
        let network = NetworkFactory::new(
            config.id,
            config.partition.clone(),
            config.connect_timeout,
            config.tls.clone(),
            health.clone(),
        );
        let raft = MmmRaft::<S>::new(config.id, raft_config, network, log_store, sm)
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;

        let observations: ObservationsSlot = Arc::new(RwLock::new(observations));
        let service = PeerService::new(
            config.id,
            raft.clone(),
            config.partition.clone(),
            observations.clone(),
            health.clone(),
        );
        let (server_stop, stop_rx) = oneshot::channel::<()>();
        let id = config.id;
        let tls = config.tls.clone();
        let server = tokio::spawn(async move {
            let router = Server::builder().add_service(PeerServer::new(service));
            let served = mmm_daemon::tls::serve(router, listener, tls, "Peer", async {
                let _ = stop_rx.await;
            })
            .await;
            if let Err(e) = &served {
                tracing::error!(node = id, error = %e, "peer server failed");
            }
            served
        });

        let node = Self {
            id: config.id,
            raft,
            applied,
            applied_tx,
            observations,
            health,
            propose_timeout: config.propose_timeout,
            server_stop: Mutex::new(Some(server_stop)),
            server: Mutex::new(Some(server)),
            store,
        };
        if config.bootstrap {
            node.bootstrap(&config).await?;
        }
        Ok(node)
    }

    /// Initializes membership from the configured peers unless the store already has state.
    async fn bootstrap(&self, config: &NodeConfig) -> Result<(), StartError> {
        let initialized = self
            .raft
            .is_initialized()
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;
        if initialized {
            return Ok(());
        }
        if !config.peers.contains_key(&config.id) {
            return Err(StartError::NotAPeer(config.id));
        }
        match self.raft.initialize(config.peers.clone()).await {
            Ok(()) => Ok(()),
            // Another node's leader replicated to us first: the cluster already exists.
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(StartError::Initialize(e.to_string())),
        }
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Proposes a command; returns the state machine's response once it is committed and applied
    /// here, or why not (not the leader: with the leader's id and address; no commit in time).
    pub async fn propose(&self, cmd: S::Command) -> Result<S::Response, ProposeError> {
        let written = tokio::time::timeout(self.propose_timeout, self.raft.client_write(cmd))
            .await
            .map_err(|_| ProposeError::Timeout(self.propose_timeout))?;
        match written {
            Ok(resp) => resp.data.ok_or(ProposeError::NoResponse(resp.log_id.index)),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Err(ProposeError::NotLeader {
                    leader_id: f.leader_id,
                    leader_addr: f.leader_node.map(|n| n.addr),
                })
            }
            Err(RaftError::APIError(e)) => Err(ProposeError::Rejected(e.to_string())),
            Err(RaftError::Fatal(e)) => Err(ProposeError::Fatal(e.to_string())),
        }
    }

    /// A copy of the applied state machine.
    pub fn state(&self) -> S {
        read_lock(&self.applied).state.clone()
    }

    /// Runs `f` on the applied state machine without copying it.
    pub fn with_state<T>(&self, f: impl FnOnce(&S) -> T) -> T {
        f(&read_lock(&self.applied).state)
    }

    /// The id of the last log entry applied to the state machine here.
    pub fn last_applied(&self) -> Option<LogId> {
        read_lock(&self.applied).last_applied
    }

    /// Every command applied from now on, with its log id and response (for MMM log lines).
    pub fn subscribe_applied(&self) -> broadcast::Receiver<(LogId, S::Response)> {
        self.applied_tx.subscribe()
    }

    /// openraft's metrics of this node (term, leader, log indexes, membership, quorum ack age).
    pub fn metrics(&self) -> watch::Receiver<Metrics> {
        self.raft.metrics()
    }

    /// openraft's server metrics of this node: they change only when the vote, the role, the
    /// leader or the membership do, so waiting on them does not wake on every heartbeat.
    pub fn server_metrics(&self) -> watch::Receiver<ServerMetrics> {
        self.raft.server_metrics()
    }

    /// Whether this node is the leader right now (as far as it knows).
    pub fn is_leader(&self) -> bool {
        is_leader(&self.raft.metrics().borrow(), self.id)
    }

    /// The current leader and its address, if this node knows one.
    pub fn leader(&self) -> Option<LeaderInfo> {
        known_leader(&self.raft.metrics().borrow())
    }

    /// Whether this node leads and a quorum acknowledged it within `max_age`.
    ///
    /// A leader cut off from the majority keeps believing it leads until it hears a higher term;
    /// this turns false about one `max_age` after it lost the quorum, which is what must stop it
    /// from renewing agent leases.
    pub fn leader_quorum_fresh(&self, max_age: Duration) -> bool {
        quorum_fresh(&self.raft.metrics().borrow(), max_age)
    }

    /// Runs `f` on the last applied log id and the state machine, read together.
    pub fn with_applied<T>(&self, f: impl FnOnce(Option<LogId>, &S) -> T) -> T {
        let a = read_lock(&self.applied);
        f(a.last_applied, &a.state)
    }

    /// A read-only view of the applied state that does not keep the store open.
    pub fn state_reader(&self) -> StateReader<S> {
        StateReader {
            applied: self.applied.clone(),
        }
    }

    /// Adds a node: first as a learner that catches up, then as a voter.
    pub async fn add_member(
        &self,
        id: NodeId,
        addr: impl Into<String>,
    ) -> Result<(), MembershipError> {
        self.raft
            .add_learner(id, BasicNode { addr: addr.into() }, true)
            .await
            .map_err(membership_error)?;
        self.raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
            .map_err(membership_error)?;
        Ok(())
    }

    /// Removes a voter from the cluster (and forgets its address).
    pub async fn remove_member(&self, id: NodeId) -> Result<(), MembershipError> {
        self.raft
            .change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])), false)
            .await
            .map_err(membership_error)?;
        Ok(())
    }

    /// Makes this node start an election at once, in a higher term.
    ///
    /// openraft 0.9 has no leader transfer: the election is not guaranteed to be won by this
    /// node (any up-to-date voter may win it), it only forces a change of term and leader.
    pub async fn campaign(&self) -> Result<(), MembershipError> {
        self.raft
            .trigger()
            .elect()
            .await
            .map_err(|e| MembershipError::Fatal(e.to_string()))
    }

    /// Builds a snapshot now (and lets openraft purge the log behind it).
    pub async fn trigger_snapshot(&self) -> Result<(), MembershipError> {
        self.raft
            .trigger()
            .snapshot()
            .await
            .map_err(|e| MembershipError::Fatal(e.to_string()))
    }

    /// This node's contact records of its peers (the Control service's `cluster status`).
    pub fn peer_health(&self) -> PeerHealth {
        self.health.clone()
    }

    /// What this node knows about reaching peer `id` (last contact, current failure).
    pub fn peer_contact(&self, id: NodeId) -> PeerContact {
        self.health.contact(id)
    }

    /// Installs the handler for `Peer.ReportObservations` on this node's server.
    pub fn set_observations_handler(&self, handler: Arc<dyn ObservationsHandler>) {
        *self
            .observations
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(handler);
    }

    /// The underlying openraft handle, for what this wrapper does not cover.
    pub fn raft(&self) -> &MmmRaft<S> {
        &self.raft
    }

    /// Stops the node abruptly (no leadership hand-over, like a killed process) and closes its
    /// Peer server so peers' connections fail and later reach a restarted node instead.
    ///
    /// When it returns, openraft has released the store; the file closes when this node is
    /// dropped, and the node can then be started again from it.
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(node = self.id, error = %e, "raft core did not stop cleanly");
        }
        if let Some(stop) = take(&self.server_stop) {
            let _ = stop.send(());
        }
        if let Some(mut server) = take(&self.server)
            && tokio::time::timeout(SERVER_DRAIN, &mut server)
                .await
                .is_err()
        {
            server.abort();
        }
        // The Peer service and openraft's workers hold store handles until they finish.
        let deadline = tokio::time::Instant::now() + STORE_RELEASE;
        while !self.store.is_last_handle() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if !self.store.is_last_handle() {
            tracing::warn!(node = self.id, "raft store still in use after shutdown");
        }
    }
}

/// Binds the Peer address of `config`.
async fn bind(config: &NodeConfig) -> Result<TcpListener, StartError> {
    TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })
}

/// On a leader: the last log index replicated to member `id` (`None` elsewhere or before the
/// first match).
pub fn matched_index(metrics: &Metrics, id: NodeId) -> Option<u64> {
    metrics
        .replication
        .as_ref()
        .and_then(|r| r.get(&id).cloned().flatten())
        .map(|l| l.index)
}

/// What `metrics` say of leadership, as node `id` sees it: whether `id` leads, the term and
/// the leader it knows.
pub fn leadership(metrics: &ServerMetrics, id: NodeId) -> (bool, u64, Option<NodeId>) {
    let leads = metrics.state == ServerState::Leader && metrics.current_leader == Some(id);
    (
        leads,
        metrics.vote.leader_id().get_term(),
        metrics.current_leader,
    )
}

/// Whether `metrics` say node `id` leads.
pub fn is_leader(metrics: &Metrics, id: NodeId) -> bool {
    metrics.state == ServerState::Leader && metrics.current_leader == Some(id)
}

/// The leader `metrics` know of, with its address when the membership names it.
pub fn known_leader(metrics: &Metrics) -> Option<LeaderInfo> {
    let id = metrics.current_leader?;
    let addr = metrics
        .membership_config
        .membership()
        .get_node(&id)
        .map(|n| n.addr.clone());
    Some(LeaderInfo { id, addr })
}

/// Whether `metrics` are a leader's whose quorum acknowledged it within `max_age`.
pub fn quorum_fresh(metrics: &Metrics, max_age: Duration) -> bool {
    let max_ms = u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX);
    metrics.state == ServerState::Leader
        && metrics
            .millis_since_quorum_ack
            .is_some_and(|ms| ms <= max_ms)
}

/// Reads a node's applied state machine (for services that must not hold the node, whose
/// store file closes only when the node is dropped).
pub struct StateReader<S: Replicated> {
    applied: SharedApplied<S>,
}

impl<S: Replicated> Clone for StateReader<S> {
    fn clone(&self) -> Self {
        StateReader {
            applied: self.applied.clone(),
        }
    }
}

impl<S: Replicated> StateReader<S> {
    /// Runs `f` on the applied state machine without copying it.
    pub fn with_state<T>(&self, f: impl FnOnce(&S) -> T) -> T {
        f(&read_lock(&self.applied).state)
    }

    /// The id of the last log entry applied.
    pub fn last_applied(&self) -> Option<LogId> {
        read_lock(&self.applied).last_applied
    }
}

fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
}

impl<S: Replicated> Drop for RaftNode<S> {
    fn drop(&mut self) {
        if let Some(stop) = take(&self.server_stop) {
            let _ = stop.send(());
        }
    }
}

fn membership_error(e: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>) -> MembershipError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => MembershipError::NotLeader {
            leader_id: f.leader_id,
            leader_addr: f.leader_node.map(|n| n.addr),
        },
        RaftError::APIError(e) => MembershipError::Rejected(e.to_string()),
        RaftError::Fatal(e) => MembershipError::Fatal(e.to_string()),
    }
}
