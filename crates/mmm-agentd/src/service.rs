//! The gRPC Agent service. Requests are validated here; anything that changes the system is
//! handed to the driver task, with a timeout.

use std::sync::Arc;
use std::time::Duration;

use mmm_core::config::Config;
use mmm_core::state::RoleIp;
use mmm_proto::convert;
use mmm_proto::pb;
use mmm_proto::pb::agent_server::Agent;
use tokio::sync::{mpsc, oneshot, watch};
use tonic::{Request, Response, Status};

use crate::db::Db;
use crate::desired::{RequestError, check_host, validate_grant, validate_set_status};
use crate::driver::{self, Snapshot};
use crate::uptime::uptime;
use crate::vip::Vips;
use crate::{clock, report};

/// The Agent service state shared by all handlers.
pub struct AgentService {
    // Fields: configuration, our host name, the driver channel and snapshot, read-only
    // backends for GetSystemStatus, and the limits on waiting for the driver and for reads.
    pub(crate) cfg: Arc<Config>,
    pub(crate) me: String,
    pub(crate) tx: mpsc::Sender<driver::Request>,
    pub(crate) snapshot: watch::Receiver<Snapshot>,
    pub(crate) db: Db,
    pub(crate) vips: Vips,
    pub(crate) driver_timeout: Duration,
    pub(crate) read_timeout: Duration,
}

/// A request that failed validation: logged, and answered INVALID_ARGUMENT with its text.
fn refuse(e: RequestError) -> Status {
    tracing::error!("{e}");
    Status::invalid_argument(e.to_string())
}

impl AgentService {
    fn check_host(&self, host: &str) -> Result<(), Status> {
        check_host(&self.cfg, &self.me, host).map_err(refuse)
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, Status>>) -> driver::Request,
    ) -> Result<T, Status> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .try_send(make(tx))
            .map_err(|_| Status::unavailable("agent is busy or shutting down"))?;
        match tokio::time::timeout(self.driver_timeout, rx).await {
            Err(_) => Err(Status::deadline_exceeded(format!(
                "the agent did not finish within {:?}",
                self.driver_timeout
            ))),
            Ok(Err(_)) => Err(Status::unavailable("agent is shutting down")),
            Ok(Ok(r)) => r,
        }
    }
}

#[tonic::async_trait]
impl Agent for AgentService {
    async fn set_status(
        &self,
        request: Request<pb::SetStatusRequest>,
    ) -> Result<Response<pb::SetStatusReply>, Status> {
        let req = request.into_inner();
        let cmd = validate_set_status(&self.cfg, &self.me, &req).map_err(refuse)?;
        let reply = self
            .ask(|reply| driver::Request::SetStatus { cmd, reply })
            .await?;
        Ok(Response::new(reply))
    }

    async fn get_status(
        &self,
        request: Request<pb::GetStatusRequest>,
    ) -> Result<Response<pb::AgentStatusReply>, Status> {
        self.check_host(&request.get_ref().host)?;
        let s = self.snapshot.borrow().clone();
        let report = report::build(&s, clock::now());
        Ok(Response::new(pb::AgentStatusReply {
            state: convert::state_to_wire(s.desired.state),
            roles: convert::roles_to_wire(&s.desired.roles),
            active_master: s.desired.active_master,
            epoch: s.epoch,
            uptime: uptime(),
            report: Some(report),
        }))
    }

    async fn get_system_status(
        &self,
        request: Request<pb::GetSystemStatusRequest>,
    ) -> Result<Response<pb::SystemStatusReply>, Status> {
        self.check_host(&request.get_ref().host)?;
        let addrs = self.vips.addresses().await.map_err(|e| {
            Status::unavailable(format!("ERROR: Could not check if IP is configured: {e}"))
        })?;
        let present = self
            .cfg
            .roles
            .iter()
            .flat_map(|r| {
                r.ips
                    .iter()
                    .filter(|ip| addrs.contains(ip))
                    .map(|ip| pb::RoleIp::from(&RoleIp::new(r.name.clone(), *ip)))
            })
            .collect();
        let mut reply = pb::SystemStatusReply {
            present,
            uptime: uptime(),
            ..Default::default()
        };
        match tokio::time::timeout(self.read_timeout, self.db.state()).await {
            Err(_) => reply.mysql_error = format!("timed out after {:?}", self.read_timeout),
            Ok(Err(e)) => reply.mysql_error = e.to_string(),
            Ok(Ok(st)) => {
                reply.writable = st.writable;
                if let Some(info) = &st.info {
                    reply.server_version = info.version.clone();
                    reply.flavour = info.flavour.as_str().to_string();
                }
                reply.binlog_file = st.master.file.clone();
                reply.binlog_pos = st.master.position;
                reply.gtid_executed = st.master.gtid_executed.clone();
                reply.replication = st.slave.map(|s| pb::ReplicationStatus {
                    master_host: s.master_host,
                    master_port: u32::from(s.master_port),
                    io_running: s.io_running,
                    sql_running: s.sql_running,
                    master_log_file: s.master_log_file,
                    read_master_log_pos: s.read_master_log_pos,
                    relay_master_log_file: s.relay_master_log_file,
                    exec_master_log_pos: s.exec_master_log_pos,
                    seconds_behind_master: s.seconds_behind_master,
                    gtid_io_pos: s.gtid_io_pos,
                    using_gtid: s.using_gtid,
                    last_error: s.last_error,
                });
            }
        }
        Ok(Response::new(reply))
    }

    async fn clear_bad_roles(
        &self,
        request: Request<pb::ClearBadRolesRequest>,
    ) -> Result<Response<pb::ClearBadRolesReply>, Status> {
        let req = request.into_inner();
        self.check_host(&req.host)?;
        let epoch = req
            .fence
            .map(|f| f.epoch)
            .ok_or_else(|| Status::invalid_argument("ERROR: Missing fence (epoch) in command!"))?;
        let reply = self
            .ask(|reply| driver::Request::ClearBadRoles { epoch, reply })
            .await?;
        Ok(Response::new(reply))
    }

    async fn grant_failsafe(
        &self,
        request: Request<pb::GrantFailsafeRequest>,
    ) -> Result<Response<pb::GrantFailsafeReply>, Status> {
        let ask = validate_grant(&self.cfg, &self.me, request.get_ref()).map_err(refuse)?;
        let reply = self
            .ask(|reply| driver::Request::GrantFailsafe { ask, reply })
            .await?;
        Ok(Response::new(reply))
    }

    async fn ping(
        &self,
        request: Request<pb::PingRequest>,
    ) -> Result<Response<pb::PingReply>, Status> {
        self.check_host(&request.get_ref().host)?;
        let report = report::build(&self.snapshot.borrow(), clock::now());
        Ok(Response::new(pb::PingReply {
            message: "OK: Pinged!".into(),
            uptime: uptime(),
            report: Some(report),
        }))
    }
}
