//! A small in-test Agent gRPC server that records every SetStatus and fences epochs the way
//! the real agent does (a lower epoch is refused with FAILED_PRECONDITION).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mmm_core::state::HostState;
use mmm_proto::pb::agent_server::{Agent, AgentServer};
use mmm_proto::{convert, pb};
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

/// One SetStatus the agent received.
#[derive(Debug, Clone)]
#[allow(dead_code)]
pub struct Call {
    pub at: Instant,
    pub epoch: u64,
    pub term: u64,
    pub leader_id: u64,
    pub state: String,
    pub roles: Vec<String>,
    pub lease_ms: u64,
    pub accepted: bool,
}

#[derive(Default)]
struct Inner {
    hang: bool,
    /// Every request that arrived, by RPC name, in order.
    requests: Vec<(&'static str, Instant)>,
    epoch: u64,
    state: Option<HostState>,
    roles: Vec<pb::RoleIp>,
    calls: Vec<Call>,
}

#[derive(Clone)]
#[allow(dead_code)]
pub struct FakeAgent {
    pub host: String,
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    stop: Arc<Mutex<Option<tokio::sync::oneshot::Sender<()>>>>,
}

struct Svc {
    host: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeAgent {
    pub async fn start(host: &str, listener: TcpListener) -> FakeAgent {
        let addr = listener.local_addr().expect("addr");
        let inner = Arc::new(Mutex::new(Inner::default()));
        let svc = Svc {
            host: host.to_string(),
            inner: inner.clone(),
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(
            Server::builder()
                .add_service(AgentServer::new(svc))
                .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                    let _ = rx.await;
                }),
        );
        FakeAgent {
            host: host.to_string(),
            addr,
            inner,
            stop: Arc::new(Mutex::new(Some(tx))),
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().expect("lock").calls.clone()
    }

    pub fn roles(&self) -> Vec<String> {
        self.inner
            .lock()
            .expect("lock")
            .roles
            .iter()
            .map(|r| format!("{}({})", r.role, r.ip))
            .collect()
    }

    /// Pretends the host holds these role IPs already (before the monitors start).
    pub fn set_roles(&self, roles: &[(&str, &str)]) {
        self.inner.lock().expect("lock").roles = roles
            .iter()
            .map(|(r, ip)| pb::RoleIp {
                role: (*r).to_string(),
                ip: (*ip).to_string(),
            })
            .collect();
    }

    /// Makes every call hang forever (true) or answer again (false).
    pub fn set_hang(&self, hang: bool) {
        self.inner.lock().expect("lock").hang = hang;
    }

    /// The RPCs that arrived and when, in order.
    pub fn requests(&self) -> Vec<(&'static str, Instant)> {
        self.inner.lock().expect("lock").requests.clone()
    }

    pub fn stop(&self) {
        if let Some(tx) = self.stop.lock().expect("lock").take() {
            let _ = tx.send(());
        }
    }
}

impl Svc {
    /// Records the request; a hung agent accepts the connection and never answers.
    async fn arrive(&self, rpc: &'static str) {
        let hang = {
            let mut g = self.inner.lock().expect("lock");
            g.requests.push((rpc, Instant::now()));
            g.hang
        };
        if hang {
            std::future::pending::<()>().await;
        }
    }
}

#[tonic::async_trait]
impl Agent for Svc {
    async fn set_status(
        &self,
        req: Request<pb::SetStatusRequest>,
    ) -> Result<Response<pb::SetStatusReply>, Status> {
        let r = req.into_inner();
        if r.host != self.host {
            return Err(Status::invalid_argument("wrong host"));
        }
        let fence = r.fence.unwrap_or_default();
        self.arrive("SetStatus").await;
        let mut g = self.inner.lock().expect("lock");
        let accepted = fence.epoch >= g.epoch;
        g.calls.push(Call {
            at: Instant::now(),
            epoch: fence.epoch,
            term: fence.term,
            leader_id: fence.leader_id,
            state: convert::state_from_wire(r.state)
                .map_or_else(|e| e.to_string(), |s| s.to_string()),
            roles: r
                .roles
                .iter()
                .map(|x| format!("{}({})", x.role, x.ip))
                .collect(),
            lease_ms: r.lease_ms,
            accepted,
        });
        if !accepted {
            return Err(Status::failed_precondition(format!(
                "stale epoch {} < {}",
                fence.epoch, g.epoch
            )));
        }
        g.epoch = fence.epoch;
        g.state = convert::state_from_wire(r.state).ok();
        g.roles = r.roles;
        let writable = g.roles.iter().any(|x| x.role == "writer");
        Ok(Response::new(pb::SetStatusReply {
            message: "OK: Status applied successfully!".into(),
            epoch: g.epoch,
            writable,
            present: g.roles.clone(),
            errors: Vec::new(),
            uptime: 1000.0,
            report: None,
        }))
    }

    async fn grant_failsafe(
        &self,
        _req: Request<pb::GrantFailsafeRequest>,
    ) -> Result<Response<pb::GrantFailsafeReply>, Status> {
        Err(Status::unimplemented(
            "the monitor tests' agents grant no failsafe leases",
        ))
    }

    async fn get_status(
        &self,
        _req: Request<pb::GetStatusRequest>,
    ) -> Result<Response<pb::AgentStatusReply>, Status> {
        self.arrive("GetStatus").await;
        let g = self.inner.lock().expect("lock");
        Ok(Response::new(pb::AgentStatusReply {
            state: convert::state_to_wire(g.state.unwrap_or(HostState::Unknown)),
            roles: g.roles.clone(),
            active_master: String::new(),
            epoch: g.epoch,
            uptime: 1000.0,
            report: None,
        }))
    }

    async fn get_system_status(
        &self,
        _req: Request<pb::GetSystemStatusRequest>,
    ) -> Result<Response<pb::SystemStatusReply>, Status> {
        self.arrive("GetSystemStatus").await;
        let g = self.inner.lock().expect("lock");
        Ok(Response::new(pb::SystemStatusReply {
            writable: g.roles.iter().any(|x| x.role == "writer"),
            present: g.roles.clone(),
            uptime: 1000.0,
            ..Default::default()
        }))
    }

    async fn clear_bad_roles(
        &self,
        _req: Request<pb::ClearBadRolesRequest>,
    ) -> Result<Response<pb::ClearBadRolesReply>, Status> {
        self.arrive("ClearBadRoles").await;
        Ok(Response::new(pb::ClearBadRolesReply {
            message: "OK: Removed 0 roles".into(),
            removed: 0,
        }))
    }

    async fn ping(
        &self,
        _req: Request<pb::PingRequest>,
    ) -> Result<Response<pb::PingReply>, Status> {
        self.arrive("Ping").await;
        Ok(Response::new(pb::PingReply {
            message: "OK: Pinged!".into(),
            uptime: 1000.0,
            report: None,
        }))
    }
}
