//! Carries out the leader's agent calls ([`mmm_core::leader::AgentCall`]) over gRPC, one
//! task per call, each bounded by `agent_timeout`: status pushes, the startup questions and
//! cleanup, and the ping before admin commands all take this one path, so a hung agent
//! delays only its own calls.

use std::time::Duration;

use mmm_core::agent::lease::LeaseBasis;
use mmm_core::leader::{AgentAnswer, AgentCall, AgentView, CallFailure, StatusReport, SystemView};
use mmm_proto::{convert, pb};
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
                .set_status(
                    &push.status,
                    push.term,
                    push.leader_id,
                    push.lease,
                    push.basis.map(pb::LeaseBasis::from),
                )
                .await
                .map_err(failure)?;
            // A reply whose role IPs do not parse cannot confirm anything (it might hide the
            // writer IP): it counts as an answer refused, not as a report.
            let report = status_report(&reply)
                .map_err(|e| CallFailure::Refused(format!("agent reply has bad roles: {e}")))?;
            Ok(AgentAnswer::Status(report))
        }
        AgentCall::GetStatus => {
            let a = clients.get_status(host).await.map_err(failure)?;
            Ok(AgentAnswer::Agent(AgentView {
                state: wire_value(host, "state", convert::state_from_wire(a.state)),
                roles: wire_value(host, "roles", convert::roles_from_wire(&a.roles))
                    .unwrap_or_default(),
            }))
        }
        AgentCall::GetSystemStatus => {
            let sys = clients.get_system_status(host).await.map_err(failure)?;
            Ok(AgentAnswer::System(SystemView {
                writable: sys.writable && sys.mysql_error.is_empty(),
                present: wire_value(
                    host,
                    "present roles",
                    convert::roles_from_wire(&sys.present),
                )
                .unwrap_or_default(),
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

/// How an agent reports a usable server lease timer (`AgentReport.server_timer`).
const SERVER_TIMER_ON: &str = "ON";

fn status_report(reply: &pb::SetStatusReply) -> Result<StatusReport, convert::WireError> {
    Ok(StatusReport {
        epoch: reply.epoch,
        writable: reply.writable,
        present: convert::roles_from_wire(&reply.present)?,
        errors: reply.errors.clone(),
        uptime: Duration::try_from_secs_f64(reply.uptime).ok(),
        basis: reply
            .report
            .as_ref()
            .and_then(convert::basis_of)
            .and_then(|b| LeaseBasis::try_from(&b).ok()),
        writer_ran_out_epoch: reply
            .report
            .as_ref()
            .map(|r| r.writer_ran_out_epoch)
            .filter(|e| *e > 0),
        server_timer_on: reply
            .report
            .as_ref()
            .is_some_and(|r| r.server_timer == SERVER_TIMER_ON),
    })
}

/// A value from an agent's reply, or `None` (logged) when it does not convert.
fn wire_value<T>(host: &str, what: &str, v: Result<T, convert::WireError>) -> Option<T> {
    v.map_err(|e| tracing::warn!(host = %host, "agent reply has a bad {what}: {e}"))
        .ok()
}
