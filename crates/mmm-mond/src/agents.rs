//! gRPC clients of every host's agent, each call bounded by `agent_timeout`.

use std::collections::BTreeMap;
use std::time::Duration;

use mmm_core::config::Config;
use mmm_core::desired::AgentStatus;
use mmm_proto::pb::agent_client::AgentClient;
use mmm_proto::{convert, pb};
use tonic::transport::Channel;

/// Why an agent call did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum AgentCallError {
    /// The host is not in the configuration.
    #[error("unknown host '{0}'")]
    UnknownHost(String),
    /// The agent's address does not form a valid endpoint.
    #[error("bad agent address for host '{host}': {reason}")]
    BadAddress {
        /// Host name.
        host: String,
        /// What was wrong.
        reason: String,
    },
    /// No answer within the timeout.
    #[error("no answer from the agent on '{host}' within {timeout:?}")]
    Timeout {
        /// Host name.
        host: String,
        /// The bound.
        timeout: Duration,
    },
    /// The call failed.
    #[error("agent on '{host}' answered {status}")]
    Status {
        /// Host name.
        host: String,
        /// The gRPC status.
        status: Box<tonic::Status>,
    },
}

impl AgentCallError {
    /// Whether the agent itself answered (with an error): it is reachable, only the request
    /// failed. Transport failures and timeouts count as unreachable.
    pub fn agent_answered(&self) -> bool {
        match self {
            AgentCallError::Status { status, .. } => !matches!(
                status.code(),
                tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
            ),
            _ => false,
        }
    }
}

/// Lazily connected channels to every configured agent.
#[derive(Debug, Clone)]
pub struct AgentClients {
    channels: BTreeMap<String, Channel>,
    timeout: Duration,
    /// `status_interval`, sent with every status: agents count two of them without a status as
    /// "no leader" (failsafe).
    status_interval: Duration,
}

impl AgentClients {
    /// Channels to every host's `ip:agent_port` (mutual TLS with `<socket type ssl>`);
    /// nothing is connected until the first call.
    pub fn new(
        config: &Config,
        timeout: Duration,
        tls: Option<&crate::tls::Tls>,
    ) -> Result<AgentClients, AgentCallError> {
        let mut channels = BTreeMap::new();
        for h in &config.hosts {
            let addr = std::net::SocketAddr::new(h.ip, h.agent_port).to_string();
            let channel = crate::tls::lazy_channel(&addr, tls, timeout, timeout).map_err(|e| {
                AgentCallError::BadAddress {
                    host: h.name.clone(),
                    reason: e.to_string(),
                }
            })?;
            channels.insert(h.name.clone(), channel);
        }
        let status_interval = config
            .monitor
            .as_ref()
            .map_or(Duration::ZERO, |m| m.status_interval);
        Ok(AgentClients {
            channels,
            timeout,
            status_interval,
        })
    }

    /// The per-call bound.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn client(&self, host: &str) -> Result<AgentClient<Channel>, AgentCallError> {
        self.channels
            .get(host)
            .cloned()
            .map(AgentClient::new)
            .ok_or_else(|| AgentCallError::UnknownHost(host.to_string()))
    }

    async fn bounded<T>(
        &self,
        host: &str,
        fut: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, AgentCallError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Err(_) => Err(AgentCallError::Timeout {
                host: host.to_string(),
                timeout: self.timeout,
            }),
            Ok(Err(status)) => Err(AgentCallError::Status {
                host: host.to_string(),
                status: Box::new(status),
            }),
            Ok(Ok(r)) => Ok(r.into_inner()),
        }
    }

    /// Sends the desired status with the fence and lease; the lease counts from `basis`, the
    /// echo of the agent's latest report (without one the agent grants no writer lease).
    pub async fn set_status(
        &self,
        status: &AgentStatus,
        term: u64,
        leader_id: u64,
        lease: Duration,
        basis: Option<pb::LeaseBasis>,
    ) -> Result<pb::SetStatusReply, AgentCallError> {
        let mut c = self.client(&status.host)?;
        let req = pb::SetStatusRequest {
            host: status.host.clone(),
            fence: Some(pb::Fence {
                epoch: status.epoch,
                term,
                leader_id,
            }),
            state: convert::state_to_wire(status.state),
            roles: convert::roles_to_wire(&status.roles),
            active_master: status.active_master.clone(),
            lease_ms: u64::try_from(lease.as_millis()).unwrap_or(u64::MAX),
            basis,
            status_interval_ms: u64::try_from(self.status_interval.as_millis()).unwrap_or(u64::MAX),
        };
        self.bounded(&status.host, c.set_status(req)).await
    }

    /// Removes role IPs the agent holds on its interface without being told to
    /// (CLEAR_BAD_ROLES, part of the startup cleanup).
    pub async fn clear_bad_roles(
        &self,
        host: &str,
        epoch: u64,
        term: u64,
        leader_id: u64,
    ) -> Result<pb::ClearBadRolesReply, AgentCallError> {
        let mut c = self.client(host)?;
        let req = pb::ClearBadRolesRequest {
            host: host.to_string(),
            fence: Some(pb::Fence {
                epoch,
                term,
                leader_id,
            }),
        };
        self.bounded(host, c.clear_bad_roles(req)).await
    }

    /// mysql-mmm's PING before admin commands.
    pub async fn ping(&self, host: &str) -> Result<pb::PingReply, AgentCallError> {
        let mut c = self.client(host)?;
        self.bounded(
            host,
            c.ping(pb::PingRequest {
                host: host.to_string(),
            }),
        )
        .await
    }

    /// The agent's own view (GET_AGENT_STATUS).
    pub async fn get_status(&self, host: &str) -> Result<pb::AgentStatusReply, AgentCallError> {
        let mut c = self.client(host)?;
        self.bounded(
            host,
            c.get_status(pb::GetStatusRequest {
                host: host.to_string(),
            }),
        )
        .await
    }

    /// The real system (GET_SYSTEM_STATUS).
    pub async fn get_system_status(
        &self,
        host: &str,
    ) -> Result<pb::SystemStatusReply, AgentCallError> {
        let mut c = self.client(host)?;
        self.bounded(
            host,
            c.get_system_status(pb::GetSystemStatusRequest {
                host: host.to_string(),
            }),
        )
        .await
    }
}
