//! Carries out the leader's agent calls ([`mmm_core::leader::AgentCall`]) over gRPC, one
//! task per call, each bounded by `agent_timeout`: status pushes, the startup questions and
//! cleanup, and the ping before admin commands all take this one path, so a hung agent
//! delays only its own calls.

use std::time::Duration;

use mmm_core::leader::{AgentAnswer, AgentCall, AgentView, CallFailure, StatusReport, SystemView};
use mmm_core::state::{HostState, RoleIp};
use mmm_proto::pb;
use tokio::sync::watch;

use crate::agents::{AgentCallError, AgentClients};
use crate::machine::MonitorState;
use crate::raft::{Metrics, StateReader, quorum_fresh};

/// What a status push checks right before it goes out.
#[derive(Clone)]
pub struct PushGate {
    /// Raft's metrics of this node.
    pub metrics: watch::Receiver<Metrics>,
    /// How recent the quorum's acknowledgement must be.
    pub quorum_age: Duration,
    /// The applied state (the leader pushes no epoch beyond it).
    pub state: StateReader<MonitorState>,
}

/// Performs one call.
pub async fn perform(
    clients: &AgentClients,
    gate: &PushGate,
    host: &str,
    call: AgentCall,
) -> Result<AgentAnswer, CallFailure> {
    match call {
        AgentCall::SetStatus(push) => {
            // The leader's machine stopped pushing without quorum; a deposed leader must
            // not renew a lease even in the moment before it heard.
            if !quorum_fresh(&gate.metrics.borrow(), gate.quorum_age) {
                return Err(CallFailure::NotSent("no fresh quorum".into()));
            }
            let applied = gate.state.with_state(MonitorState::epoch);
            let committed = mmm_core::invariant::check(push.status.epoch <= applied, || {
                format!(
                    "push of epoch {} to '{host}' beyond the applied epoch {applied}",
                    push.status.epoch
                )
            });
            if let Err(v) = committed {
                return Err(CallFailure::NotSent(v.to_string()));
            }
            let reply = clients
                .set_status(&push.status, push.term, push.leader_id, push.lease)
                .await
                .map_err(failure)?;
            Ok(AgentAnswer::Status(status_report(&reply)))
        }
        AgentCall::GetStatus => {
            let a = clients.get_status(host).await.map_err(failure)?;
            Ok(AgentAnswer::Agent(AgentView {
                state: a.state.parse::<HostState>().ok(),
                roles: role_ips(&a.roles),
            }))
        }
        AgentCall::GetSystemStatus => {
            let sys = clients.get_system_status(host).await.map_err(failure)?;
            Ok(AgentAnswer::System(SystemView {
                writable: sys.writable && sys.mysql_error.is_empty(),
                present: role_ips(&sys.present),
                master_ip: sys
                    .replication
                    .as_ref()
                    .and_then(|rep| rep.master_host.parse().ok()),
            }))
        }
        AgentCall::ClearBadRoles(f) => {
            let r = clients
                .clear_bad_roles(host, f.epoch, f.term, f.leader_id)
                .await
                .map_err(failure)?;
            Ok(AgentAnswer::Cleared(r.message))
        }
        AgentCall::Ping => {
            clients.ping(host).await.map_err(failure)?;
            Ok(AgentAnswer::Pong)
        }
    }
}

fn failure(e: AgentCallError) -> CallFailure {
    if e.agent_answered() {
        CallFailure::Refused(e.to_string())
    } else {
        CallFailure::Unreachable(e.to_string())
    }
}

fn status_report(reply: &pb::SetStatusReply) -> StatusReport {
    StatusReport {
        epoch: reply.epoch,
        writable: reply.writable,
        present: role_ips(&reply.present),
        errors: reply.errors.clone(),
        uptime: Duration::try_from_secs_f64(reply.uptime).ok(),
    }
}

fn role_ips(roles: &[pb::RoleIp]) -> Vec<RoleIp> {
    roles
        .iter()
        .filter_map(|r| r.ip.parse().ok().map(|ip| RoleIp::new(r.role.clone(), ip)))
        .collect()
}
