//! The Control service mmmctl talks to: mmm_control's commands plus cluster management.
//!
//! The leader answers; a follower forwards the call to the leader, or answers
//! `UNAVAILABLE` with the metadata `mmm-leader: host:port` when it cannot. A leader that
//! has not heard from a majority recently, and a follower that knows no leader, answer
//! `UNAVAILABLE` "no quorum" at once instead of hanging.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use mmm_core::admin::{AdminRequest, admin};
use mmm_core::checks::CheckKind;
use mmm_core::config::RoleMode;
use mmm_core::state::HostState;
use mmm_proto::pb::control_client::ControlClient;
use mmm_proto::{convert, pb};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::checks::now;
use crate::machine::Proposal;
use crate::monitor::Shared;

/// Response metadata naming the leader's Control address.
pub const LEADER_METADATA: &str = "mmm-leader";
/// Request metadata marking a call a follower forwarded (never forwarded again).
const FORWARDED_METADATA: &str = "mmm-forwarded";
/// Request metadata asking the target of a leader transfer to campaign.
const CAMPAIGN_METADATA: &str = "mmm-campaign";
/// Request metadata asking a bystander of a leader transfer to hold its elections.
const HOLD_METADATA: &str = "mmm-hold";
/// How long a leader transfer may take; bystanders hold their elections this long.
const TRANSFER_WINDOW: Duration = Duration::from_secs(3);

/// The Control service of one monitor.
pub struct ControlService {
    shared: Arc<Shared>,
}

enum Target {
    Local,
    Forward(String),
}

impl ControlService {
    /// The service over a running monitor's parts.
    pub fn new(shared: Arc<Shared>) -> Self {
        ControlService { shared }
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
        let s = &self.shared;
        if s.node.is_leader() {
            if s.node.leader_quorum_fresh(s.timing.quorum_age) {
                return Ok(Target::Local);
            }
            return Err(Self::no_quorum(
                "this monitor leads but has not heard from a majority",
            ));
        }
        let Some(leader) = s.node.leader() else {
            return Err(Self::no_quorum("this monitor knows no leader"));
        };
        let Some(addr) = s.control_addr(leader.id) else {
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
        let timeout = self.shared.timing.forward_timeout;
        let bad = |e: tonic::transport::Error| {
            Status::internal(format!("bad leader address {addr}: {e}"))
        };
        let endpoint = crate::tls::endpoint(addr)
            .map_err(bad)?
            .connect_timeout(Duration::from_secs(1))
            .timeout(timeout);
        let mut fwd = Request::new(req.into_inner());
        fwd.metadata_mut()
            .insert(FORWARDED_METADATA, MetadataValue::from_static("1"));
        let connecting = mmm_daemon::tls::connect_channel(endpoint, self.shared.tls.as_ref());
        let channel = match tokio::time::timeout(Duration::from_secs(1), connecting).await {
            Ok(Ok(ch)) => ch,
            _ => {
                return Err(Self::redirect(
                    addr,
                    "no quorum: the leader is unreachable from this monitor",
                ));
            }
        };
        match tokio::time::timeout(timeout, call(ControlClient::new(channel), fwd)).await {
            Ok(r) => r,
            Err(_) => Err(Self::redirect(
                addr,
                "no quorum: the leader did not answer in time",
            )),
        }
    }

    fn cluster_state(&self) -> Result<mmm_core::state::ClusterState, Status> {
        let cfg = &self.shared.config;
        Ok(self
            .shared
            .node
            .with_state(|m| m.cluster_or_new(cfg, now())))
    }

    fn show_local(&self) -> Result<pb::ShowReply, Status> {
        let state = self.cluster_state()?;
        let cfg = &self.shared.config;
        let hosts = cfg
            .hosts
            .iter()
            .map(|h| {
                let st = state.host(&h.name);
                pb::HostView {
                    name: h.name.clone(),
                    ip: h.ip.to_string(),
                    mode: h.mode.as_str().to_string(),
                    state: convert::state_to_wire(st.map_or(HostState::Unknown, |s| s.state)),
                    roles: st
                        .map(|s| convert::roles_to_wire(&s.roles))
                        .unwrap_or_default(),
                    agent_down: st.is_some_and(|s| s.agent_down),
                }
            })
            .collect();
        let preferred = cfg
            .roles
            .iter()
            .filter(|r| r.mode == RoleMode::Exclusive)
            .filter_map(|r| {
                let p = r.prefer.clone()?;
                let assigned = r
                    .ips
                    .first()
                    .and_then(|ip| state.owner_of(&r.name, *ip))
                    .unwrap_or_default()
                    .to_string();
                Some(pb::PreferredRoleView {
                    role: r.name.clone(),
                    preferred_host: p,
                    assigned_host: assigned,
                })
            })
            .collect();
        Ok(pb::ShowReply {
            mode: state.mode.as_str().to_string(),
            passive_cause: state.passive_cause.clone(),
            hosts,
            preferred,
            epoch: state.epoch,
        })
    }

    fn checks_local(&self, req: &pb::ChecksRequest) -> pb::ChecksReply {
        let cfg = &self.shared.config;
        let all = |s: &str| s.is_empty() || s == "all";
        let hosts: Vec<String> = if all(&req.host) {
            cfg.hosts.iter().map(|h| h.name.clone()).collect()
        } else if cfg.hosts.iter().any(|h| h.name == req.host) {
            vec![req.host.clone()]
        } else {
            return pb::ChecksReply {
                checks: Vec::new(),
                error: format!("ERROR: Unknown host name '{}'!", req.host),
            };
        };
        let kinds: Vec<CheckKind> = if all(&req.check) {
            CheckKind::ALL.to_vec()
        } else {
            match req.check.parse::<CheckKind>() {
                Ok(k) => vec![k],
                Err(e) => {
                    return pb::ChecksReply {
                        checks: Vec::new(),
                        error: e.to_string(),
                    };
                }
            }
        };
        let table = self.shared.merged_checks();
        let mut checks = Vec::new();
        for h in &hosts {
            for k in &kinds {
                let st = table.get(h, *k);
                checks.push(pb::CheckView {
                    host: h.clone(),
                    check: k.as_str().to_string(),
                    ok: st.is_some_and(|c| c.ok),
                    last_change: st
                        .map_or(0, |c| i64::try_from(c.last_change.as_secs()).unwrap_or(0)),
                    message: st.map(|c| c.message.clone()).unwrap_or_default(),
                });
            }
        }
        pb::ChecksReply {
            checks,
            error: String::new(),
        }
    }

    async fn command_local(&self, req: &pb::CommandRequest) -> Result<pb::CommandReply, Status> {
        let parsed = match AdminRequest::parse(&req.args) {
            Ok(r) => r,
            Err(reply) => {
                return Ok(pb::CommandReply {
                    text: reply.text,
                    ok: false,
                });
            }
        };
        let target = match &parsed {
            AdminRequest::SetOnline(h) | AdminRequest::SetOffline(h) => Some(h.clone()),
            AdminRequest::MoveRole { host, .. } => Some(host.clone()),
            _ => None,
        };
        let s = &self.shared;
        let reachable = match &target {
            Some(h) if s.config.hosts.iter().any(|c| &c.name == h) => {
                s.clients.ping(h).await.is_ok()
            }
            _ => true,
        };
        let state = self.cluster_state()?;
        let checks = s.merged_checks();
        let (commands, reply) = admin(&state, &checks, &parsed, reachable, now(), &s.config);
        if commands.is_empty() {
            return Ok(pb::CommandReply {
                text: reply.text,
                ok: reply.ok,
            });
        }
        match s.node.propose(Proposal { commands }).await {
            Ok(outcome) => {
                s.kick.notify_one();
                match outcome.rejected {
                    None => Ok(pb::CommandReply {
                        text: reply.text,
                        ok: reply.ok,
                    }),
                    Some(why) => Ok(pb::CommandReply {
                        text: format!(
                            "ERROR: The cluster state changed meanwhile ({why}). Please try again."
                        ),
                        ok: false,
                    }),
                }
            }
            Err(e) => Err(Self::no_quorum(&format!(
                "the change was not committed: {e}"
            ))),
        }
    }

    fn member(&self, name: &str) -> Result<mmm_core::config::MonitorNode, Status> {
        self.shared
            .config
            .monitor_nodes
            .iter()
            .find(|n| n.name == name)
            .cloned()
            .ok_or_else(|| Status::invalid_argument(format!("ERROR: Unknown monitor '{name}'!")))
    }

    async fn transfer_local(&self, name: &str) -> Result<pb::CommandReply, Status> {
        let s = &self.shared;
        let target = self.member(name)?;
        if target.id == s.node.id() {
            return Ok(pb::CommandReply {
                text: format!("OK: '{name}' is the leader already."),
                ok: true,
            });
        }
        let Some(addr) = s.control_addr(target.id) else {
            return Err(Status::invalid_argument(format!(
                "ERROR: Unknown monitor '{name}'!"
            )));
        };
        // openraft 0.9 has no leader transfer. The other followers hold their elections,
        // we stop heartbeats and our own candidacy, and the target campaigns until it wins.
        for other in s
            .config
            .monitor_nodes
            .iter()
            .filter(|n| n.id != target.id && n.id != s.node.id())
        {
            if let Some(a) = s.control_addr(other.id) {
                let mut hold = Request::new(pb::TransferLeaderRequest {
                    name: name.to_string(),
                });
                hold.metadata_mut()
                    .insert(HOLD_METADATA, MetadataValue::from_static("1"));
                let _ = self
                    .forward(
                        &a,
                        hold,
                        |mut c, r| async move { c.transfer_leader(r).await },
                    )
                    .await;
            }
        }
        let rc = s.node.raft().runtime_config();
        rc.heartbeat(false);
        rc.elect(false);
        let mut req = Request::new(pb::TransferLeaderRequest {
            name: name.to_string(),
        });
        req.metadata_mut()
            .insert(CAMPAIGN_METADATA, MetadataValue::from_static("1"));
        let asked = self
            .forward(
                &addr,
                req,
                |mut c, r| async move { c.transfer_leader(r).await },
            )
            .await;
        let deadline = tokio::time::Instant::now() + TRANSFER_WINDOW;
        let mut moved = false;
        while tokio::time::Instant::now() < deadline {
            if s.node.leader().is_some_and(|l| l.id == target.id) {
                moved = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        rc.heartbeat(true);
        rc.elect(true);
        if moved {
            Ok(pb::CommandReply {
                text: format!("OK: Leadership transferred to '{name}'."),
                ok: true,
            })
        } else {
            let why = asked
                .err()
                .map(|e| e.message().to_string())
                .unwrap_or_default();
            Ok(pb::CommandReply {
                text: format!("ERROR: Could not transfer leadership to '{name}'. {why}")
                    .trim_end()
                    .to_string(),
                ok: false,
            })
        }
    }
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
        routed!(self, req, show, self.show_local().map(Response::new))
    }

    async fn checks(
        &self,
        req: Request<pb::ChecksRequest>,
    ) -> Result<Response<pb::ChecksReply>, Status> {
        routed!(
            self,
            req,
            checks,
            Ok(Response::new(self.checks_local(req.get_ref())))
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
        Ok(Response::new(crate::cluster_status::local_view(
            &self.shared,
        )))
    }

    async fn add_member(
        &self,
        req: Request<pb::AddMemberRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        routed!(self, req, add_member, {
            let m = self.member(&req.get_ref().name)?;
            if let Some(refusal) = crate::cluster_status::refuse_add(&self.shared, &m) {
                return Ok(Response::new(refusal));
            }
            let addr = std::net::SocketAddr::new(m.ip, m.raft_port).to_string();
            match self.shared.node.add_member(m.id, addr).await {
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
            if let Some(refusal) = crate::cluster_status::refuse_remove(&self.shared, &m) {
                return Ok(Response::new(refusal));
            }
            match self.shared.node.remove_member(m.id).await {
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
            let node = self.shared.node.clone();
            node.raft().runtime_config().elect(false);
            tokio::spawn(async move {
                tokio::time::sleep(TRANSFER_WINDOW).await;
                node.raft().runtime_config().elect(true);
            });
            return Ok(Response::new(pb::CommandReply {
                text: "OK: Holding.".into(),
                ok: true,
            }));
        }
        if req.metadata().get(CAMPAIGN_METADATA).is_some() {
            // We are the chosen successor: campaign until we win or the window closes.
            let node = self.shared.node.clone();
            tokio::spawn(async move {
                let deadline = tokio::time::Instant::now() + TRANSFER_WINDOW;
                while tokio::time::Instant::now() < deadline && !node.is_leader() {
                    if let Err(e) = node.campaign().await {
                        tracing::warn!("campaign failed: {e}");
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            });
            return Ok(Response::new(pb::CommandReply {
                text: "OK: Campaigning.".into(),
                ok: true,
            }));
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
