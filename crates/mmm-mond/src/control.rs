//! The Control service mmmctl talks to: mmm_control's commands plus cluster management.
//!
//! The leader answers; a follower forwards the call to the leader, or answers
//! `UNAVAILABLE` with the metadata `mmm-leader: host:port` when it cannot. A leader that
//! has not heard from a majority recently, and a follower that knows no leader, answer
//! `UNAVAILABLE` "no quorum" at once instead of hanging.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mmm_core::config::Config;
use mmm_core::leader::{Answer, NodeId, PeerAsk, Request as LeaderRequest, Timing};
use mmm_proto::pb;
use mmm_proto::pb::control_client::ControlClient;
use tokio::sync::watch;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::agents::AgentClients;
use crate::checks::now;
use crate::driver::{DriverHandle, Membership};
use crate::machine::MonitorState;
use crate::raft::{Metrics, PeerHealth, StateReader, is_leader, known_leader, quorum_fresh};
use crate::tls::Tls;

/// Response metadata naming the leader's Control address.
pub const LEADER_METADATA: &str = "mmm-leader";
/// Request metadata marking a call a follower forwarded (never forwarded again).
const FORWARDED_METADATA: &str = "mmm-forwarded";
/// Request metadata asking the target of a leader transfer to campaign.
const CAMPAIGN_METADATA: &str = "mmm-campaign";
/// Request metadata asking a bystander of a leader transfer to hold its elections.
const HOLD_METADATA: &str = "mmm-hold";

/// The Control service of one monitor.
pub struct ControlService {
    pub(crate) config: Arc<Config>,
    pub(crate) me: NodeId,
    pub(crate) timing: Timing,
    pub(crate) metrics: watch::Receiver<Metrics>,
    pub(crate) state: StateReader<MonitorState>,
    pub(crate) health: PeerHealth,
    tls: Option<Tls>,
    driver: DriverHandle,
    agents: AgentClients,
}

enum Target {
    Local,
    Forward(String),
}

/// The Control address (`ip:port`) of monitor node `id`.
fn control_addr(config: &Config, id: u64) -> Option<String> {
    config
        .monitor_nodes
        .iter()
        .find(|n| n.id == id)
        .map(|n| SocketAddr::new(n.ip, n.port).to_string())
}

/// A channel to another monitor's Control service, mutual TLS as `<socket>` says.
async fn connect(
    tls: Option<&Tls>,
    addr: &str,
    timeout: Duration,
) -> Result<ControlClient<Channel>, String> {
    let endpoint = crate::tls::endpoint(addr)
        .map_err(|e| format!("bad monitor address {addr}: {e}"))?
        .connect_timeout(Duration::from_secs(1))
        .timeout(timeout);
    let connecting = mmm_daemon::tls::connect_channel(endpoint, tls);
    match tokio::time::timeout(Duration::from_secs(1), connecting).await {
        Ok(Ok(ch)) => Ok(ControlClient::new(ch)),
        Ok(Err(e)) => Err(format!("can't connect to {addr}: {e}")),
        Err(_) => Err(format!("can't connect to {addr} within 1 second")),
    }
}

/// Sends monitor `node` one message of a leader transfer (the driver's [`PeerAsk`] effect).
pub async fn ask_peer(
    config: &Config,
    tls: Option<&Tls>,
    node: NodeId,
    ask: PeerAsk,
    timeout: Duration,
) -> Result<(), String> {
    let addr = control_addr(config, node).ok_or_else(|| format!("unknown monitor {node}"))?;
    let mut client = connect(tls, &addr, timeout).await?;
    let mut req = Request::new(pb::TransferLeaderRequest {
        name: String::new(),
    });
    let key = match ask {
        PeerAsk::HoldElections => HOLD_METADATA,
        PeerAsk::Campaign => CAMPAIGN_METADATA,
    };
    req.metadata_mut()
        .insert(key, MetadataValue::from_static("1"));
    req.metadata_mut()
        .insert(FORWARDED_METADATA, MetadataValue::from_static("1"));
    match tokio::time::timeout(timeout, client.transfer_leader(req)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(status)) => Err(status.message().to_string()),
        Err(_) => Err(format!("monitor at {addr} did not answer in time")),
    }
}

/// What the Control service works with.
pub struct ControlParts {
    /// The effective configuration.
    pub config: Arc<Config>,
    /// This monitor's node id.
    pub me: NodeId,
    /// Timing settings.
    pub timing: Timing,
    /// Raft's metrics of this node (who leads, quorum, membership).
    pub metrics: watch::Receiver<Metrics>,
    /// The applied state.
    pub state: StateReader<MonitorState>,
    /// This monitor's contact records of its peers (for `cluster status`).
    pub health: PeerHealth,
    /// Mutual TLS towards the leader when forwarding, `None` for plain sockets.
    pub tls: Option<Tls>,
    /// The driver loop.
    pub driver: DriverHandle,
    /// The agents, asked directly only by a stale `show` (is a writer in failsafe?).
    pub agents: AgentClients,
}

impl ControlService {
    /// The service over a running monitor's parts.
    pub fn new(parts: ControlParts) -> Self {
        ControlService {
            config: parts.config,
            me: parts.me,
            timing: parts.timing,
            metrics: parts.metrics,
            state: parts.state,
            health: parts.health,
            tls: parts.tls,
            driver: parts.driver,
            agents: parts.agents,
        }
    }

    /// The name of monitor node `id`.
    pub(crate) fn node_name(&self, id: u64) -> Option<String> {
        self.config
            .monitor_nodes
            .iter()
            .find(|n| n.id == id)
            .map(|n| n.name.clone())
    }

    fn no_quorum(why: &str) -> Status {
        Status::unavailable(format!("no quorum: {why}"))
    }

    fn redirect(addr: &str, why: &str) -> Status {
        let mut st = Status::unavailable(why.to_string());
        if let Ok(v) = MetadataValue::try_from(addr) {
            st.metadata_mut().insert(LEADER_METADATA, v);
        }
        st
    }

    /// Where a call must be served.
    fn route<Q>(&self, req: &Request<Q>) -> Result<Target, Status> {
        let (leading, fresh, leader) = {
            let m = self.metrics.borrow();
            (
                is_leader(&m, self.me),
                quorum_fresh(&m, self.timing.quorum_age),
                known_leader(&m),
            )
        };
        if leading {
            if fresh {
                return Ok(Target::Local);
            }
            return Err(Self::no_quorum(
                "this monitor leads but has not heard from a majority",
            ));
        }
        let Some(leader) = leader else {
            return Err(Self::no_quorum("this monitor knows no leader"));
        };
        let Some(addr) = control_addr(&self.config, leader.id) else {
            return Err(Self::no_quorum("the leader is not a configured monitor"));
        };
        if req.metadata().get(FORWARDED_METADATA).is_some() {
            return Err(Self::redirect(&addr, "not the leader"));
        }
        Ok(Target::Forward(addr))
    }

    async fn forward<Q, R, F, Fut>(
        &self,
        addr: &str,
        req: Request<Q>,
        call: F,
    ) -> Result<Response<R>, Status>
    where
        F: FnOnce(ControlClient<Channel>, Request<Q>) -> Fut,
        Fut: Future<Output = Result<Response<R>, Status>>,
    {
        let timeout = self.timing.forward_timeout;
        let mut fwd = Request::new(req.into_inner());
        fwd.metadata_mut()
            .insert(FORWARDED_METADATA, MetadataValue::from_static("1"));
        let client = match connect(self.tls.as_ref(), addr, timeout).await {
            Ok(c) => c,
            Err(_) => {
                return Err(Self::redirect(
                    addr,
                    "no quorum: the leader is unreachable from this monitor",
                ));
            }
        };
        match tokio::time::timeout(timeout, call(client, fwd)).await {
            Ok(r) => r,
            Err(_) => Err(Self::redirect(
                addr,
                "no quorum: the leader did not answer in time",
            )),
        }
    }

    fn cluster_state(&self) -> Result<mmm_core::state::ClusterState, Status> {
        let cfg = &self.config;
        Ok(self.state.with_state(|m| m.cluster_or_new(cfg, now())))
    }

    fn show_local(&self) -> Result<pb::ShowReply, Status> {
        let state = self.cluster_state()?;
        let answered_by = self.node_name(self.me).unwrap_or_default();
        Ok(crate::show::reply(&state, &self.config, answered_by))
    }

    /// Asks the leader machine, mapping "cannot serve" to UNAVAILABLE.
    async fn ask_leader(&self, request: LeaderRequest) -> Result<Answer, Status> {
        match self.driver.request(request).await {
            Ok(Answer::Unavailable(why)) => Err(Status::unavailable(why)),
            Ok(answer) => Ok(answer),
            Err(e) => Err(Status::unavailable(e.to_string())),
        }
    }

    async fn checks_local(&self, req: &pb::ChecksRequest) -> Result<pb::ChecksReply, Status> {
        let request = LeaderRequest::Checks {
            host: req.host.clone(),
            check: req.check.clone(),
        };
        let rows = match self.ask_leader(request).await? {
            Answer::Checks(rows) => rows,
            other => return Err(unexpected(&other)),
        };
        Ok(match rows {
            Ok(rows) => pb::ChecksReply {
                checks: rows
                    .into_iter()
                    .map(|r| pb::CheckView {
                        host: r.host,
                        check: r.check.as_str().to_string(),
                        ok: r.status.as_ref().is_some_and(|c| c.ok),
                        last_change: r
                            .status
                            .as_ref()
                            .map_or(0, |c| i64::try_from(c.last_change.as_secs()).unwrap_or(0)),
                        message: r.status.map(|c| c.message).unwrap_or_default(),
                    })
                    .collect(),
                error: String::new(),
            },
            Err(error) => pb::ChecksReply {
                checks: Vec::new(),
                error,
            },
        })
    }

    async fn command_local(&self, req: &pb::CommandRequest) -> Result<pb::CommandReply, Status> {
        match self
            .ask_leader(LeaderRequest::Command(req.args.clone()))
            .await?
        {
            Answer::Reply(r) => Ok(pb::CommandReply {
                text: r.text,
                ok: r.ok,
            }),
            other => Err(unexpected(&other)),
        }
    }

    fn member(&self, name: &str) -> Result<mmm_core::config::MonitorNode, Status> {
        self.config
            .monitor_nodes
            .iter()
            .find(|n| n.name == name)
            .cloned()
            .ok_or_else(|| Status::invalid_argument(format!("ERROR: Unknown monitor '{name}'!")))
    }

    async fn transfer_local(&self, name: &str) -> Result<pb::CommandReply, Status> {
        let target = self.member(name)?;
        match self
            .ask_leader(LeaderRequest::Transfer { to: target.id })
            .await?
        {
            Answer::Reply(r) => Ok(pb::CommandReply {
                text: r.text,
                ok: r.ok,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// A leader-transfer message from another monitor, answered by this monitor's machine.
    async fn transfer_part(&self, request: LeaderRequest) -> Result<pb::CommandReply, Status> {
        match self.driver.request(request).await {
            Ok(Answer::Reply(r)) => Ok(pb::CommandReply {
                text: r.text,
                ok: r.ok,
            }),
            Ok(other) => Err(unexpected(&other)),
            Err(e) => Err(Status::unavailable(e.to_string())),
        }
    }
}

fn unexpected(answer: &Answer) -> Status {
    Status::internal(format!("unexpected answer from the leader: {answer:?}"))
}

macro_rules! routed {
    ($self:ident, $req:ident, $method:ident, $local:expr) => {{
        match $self.route(&$req)? {
            Target::Local => $local,
            Target::Forward(addr) => {
                $self
                    .forward(&addr, $req, |mut c, r| async move { c.$method(r).await })
                    .await
            }
        }
    }};
}

impl ControlService {
    /// `show` served where routing said: the leader's answer, or, when the caller accepts it
    /// and no quorum can be reached, this monitor's own last applied state marked stale.
    async fn show_routed(
        &self,
        req: Request<pb::ShowRequest>,
    ) -> Result<Response<pb::ShowReply>, Status> {
        let stale_ok = req.get_ref().stale_ok;
        let fresh = async { routed!(self, req, show, self.show_local().map(Response::new)) };
        match fresh.await {
            Err(status) if stale_ok && is_no_quorum(&status) => {
                let mut reply = self.show_local()?;
                reply.stale = true;
                reply.stale_reason = status.message().to_string();
                reply.failsafe = self.failsafe_views().await;
                Ok(Response::new(reply))
            }
            other => other,
        }
    }
}

impl ControlService {
    /// Asks every agent at once (each call bounded by `agent_timeout`) whether it keeps the
    /// writer role under failsafe leases; hosts that do not answer are left out.
    async fn failsafe_views(&self) -> Vec<pb::FailsafeView> {
        let asks = self.config.hosts.iter().map(|h| async move {
            let report = self.agents.get_status(&h.name).await.ok()?.report?;
            (report.failsafe_remaining_ms > 0).then(|| pb::FailsafeView {
                host: h.name.clone(),
                remaining_ms: report.failsafe_remaining_ms,
            })
        });
        futures_util::future::join_all(asks)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}

/// Whether `status` says the cluster has no quorum (from this monitor or the leader it asked).
fn is_no_quorum(status: &Status) -> bool {
    status.code() == tonic::Code::Unavailable && status.message().starts_with("no quorum")
}

#[tonic::async_trait]
impl pb::control_server::Control for ControlService {
    async fn ping(
        &self,
        req: Request<pb::ControlPingRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        routed!(self, req, ping, {
            Ok(Response::new(pb::CommandReply {
                text: "OK: Pinged successfully!".into(),
                ok: true,
            }))
        })
    }

    async fn show(&self, req: Request<pb::ShowRequest>) -> Result<Response<pb::ShowReply>, Status> {
        self.show_routed(req).await
    }

    async fn checks(
        &self,
        req: Request<pb::ChecksRequest>,
    ) -> Result<Response<pb::ChecksReply>, Status> {
        routed!(
            self,
            req,
            checks,
            self.checks_local(req.get_ref()).await.map(Response::new)
        )
    }

    async fn command(
        &self,
        req: Request<pb::CommandRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        routed!(
            self,
            req,
            command,
            self.command_local(req.get_ref()).await.map(Response::new)
        )
    }

    async fn cluster_status(
        &self,
        _req: Request<pb::ClusterStatusRequest>,
    ) -> Result<Response<pb::ClusterStatusReply>, Status> {
        // Diagnostics: every monitor answers with its own view.
        Ok(Response::new(crate::cluster_status::local_view(self)))
    }

    async fn add_member(
        &self,
        req: Request<pb::AddMemberRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        routed!(self, req, add_member, {
            let m = self.member(&req.get_ref().name)?;
            if let Some(refusal) = crate::cluster_status::refuse_add(self, &m) {
                return Ok(Response::new(refusal));
            }
            let addr = SocketAddr::new(m.ip, m.raft_port).to_string();
            match self
                .driver
                .membership(Membership::Add { id: m.id, addr })
                .await
            {
                Ok(()) => Ok(Response::new(pb::CommandReply {
                    text: format!("OK: Monitor '{}' added to the cluster.", m.name),
                    ok: true,
                })),
                Err(e) => Ok(Response::new(pb::CommandReply {
                    text: format!("ERROR: {e}"),
                    ok: false,
                })),
            }
        })
    }

    async fn remove_member(
        &self,
        req: Request<pb::RemoveMemberRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        routed!(self, req, remove_member, {
            let m = self.member(&req.get_ref().name)?;
            if let Some(refusal) = crate::cluster_status::refuse_remove(self, &m) {
                return Ok(Response::new(refusal));
            }
            match self
                .driver
                .membership(Membership::Remove { id: m.id })
                .await
            {
                Ok(()) => Ok(Response::new(pb::CommandReply {
                    text: format!("OK: Monitor '{}' removed from the cluster.", m.name),
                    ok: true,
                })),
                Err(e) => Ok(Response::new(pb::CommandReply {
                    text: format!("ERROR: {e}"),
                    ok: false,
                })),
            }
        })
    }

    async fn transfer_leader(
        &self,
        req: Request<pb::TransferLeaderRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        if req.metadata().get(HOLD_METADATA).is_some() {
            // A transfer to another monitor is under way: do not compete for a while.
            return self
                .transfer_part(LeaderRequest::HoldElections)
                .await
                .map(Response::new);
        }
        if req.metadata().get(CAMPAIGN_METADATA).is_some() {
            // We are the chosen successor: campaign until we win or the window closes.
            return self
                .transfer_part(LeaderRequest::Campaign)
                .await
                .map(Response::new);
        }
        routed!(
            self,
            req,
            transfer_leader,
            self.transfer_local(&req.get_ref().name)
                .await
                .map(Response::new)
        )
    }

    async fn history(
        &self,
        req: Request<pb::HistoryRequest>,
    ) -> Result<Response<pb::HistoryReply>, Status> {
        routed!(self, req, history, {
            let state = self.cluster_state()?;
            let limit = match req.get_ref().limit {
                0 => usize::MAX,
                n => n as usize,
            };
            let skip = state.history.len().saturating_sub(limit);
            let entries = state
                .history
                .iter()
                .skip(skip)
                .map(|h| pb::HistoryEntry {
                    epoch: h.epoch,
                    at_ms: h.at.as_millis(),
                    line: h.line.clone(),
                })
                .collect();
            Ok(Response::new(pb::HistoryReply { entries }))
        })
    }
}
