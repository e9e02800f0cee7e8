//! The simulated agent on each database host: epoch fencing, the writer lease, and what
//! the real system looks like (read_only, VIPs). Every other part of the simulator talks
//! to it through [`SimAgent`] only, so the agent's own pure rules can take its place.

use std::time::Duration;

use mmm_core::leader::{AgentAnswer, AgentCall, AgentView, CallFailure, StatusReport, SystemView};
use mmm_core::state::{HostState, RoleIp};
use mmm_core::time::Timestamp;

/// One host's agent and the parts of its system the invariants look at.
#[derive(Debug, Clone)]
pub struct SimAgent {
    host: String,
    writer_role: String,
    /// Highest epoch accepted (persisted: survives restarts).
    epoch: u64,
    state: Option<HostState>,
    /// Roles the agent holds.
    roles: Vec<RoleIp>,
    /// MySQL has read_only=0.
    writable: bool,
    /// Role IPs configured on the interface.
    present: Vec<RoleIp>,
    /// When the writer lease runs out.
    lease_until: Option<Timestamp>,
}

impl SimAgent {
    pub fn new(host: &str, writer_role: &str) -> Self {
        SimAgent {
            host: host.to_string(),
            writer_role: writer_role.to_string(),
            epoch: 0,
            state: None,
            roles: Vec::new(),
            writable: false,
            present: Vec::new(),
            lease_until: None,
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// MySQL accepts writes.
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// The writer VIP is on the interface.
    pub fn holds_writer_ip(&self) -> bool {
        self.present.iter().any(|r| r.role == self.writer_role)
    }

    fn holds_writer(&self) -> bool {
        self.roles.iter().any(|r| r.role == self.writer_role)
    }

    /// The machine rebooted: MySQL comes up read-only, no VIP is configured, the agent
    /// remembers only its epoch.
    pub fn boot(&mut self) {
        self.state = None;
        self.roles.clear();
        self.present.clear();
        self.writable = false;
        self.lease_until = None;
    }

    /// MySQL died (nothing can write) or came back (read-only until re-asserted).
    pub fn mysql_changed(&mut self) {
        self.writable = false;
    }

    /// One second of the agent's own loop: drop the writer when its lease ran out, else
    /// re-assert held roles (allow writes again once MySQL is back).
    pub fn tick(&mut self, now: Timestamp, mysql_up: bool) {
        if self.holds_writer() && self.lease_until.is_none_or(|l| now >= l) {
            self.drop_writer();
        }
        if self.holds_writer() && mysql_up {
            self.writable = true;
        }
        if !mysql_up {
            self.writable = false;
        }
    }

    fn drop_writer(&mut self) {
        let w = self.writer_role.clone();
        self.writable = false;
        self.roles.retain(|r| r.role != w);
        self.present.retain(|r| r.role != w);
        self.lease_until = None;
    }

    /// Handles one request as it arrives.
    pub fn handle(
        &mut self,
        call: &AgentCall,
        now: Timestamp,
        mysql_up: bool,
        uptime: Duration,
    ) -> Result<AgentAnswer, CallFailure> {
        match call {
            AgentCall::SetStatus(push) => {
                let s = &push.status;
                if s.epoch < self.epoch {
                    return Err(CallFailure::Refused(format!(
                        "epoch {} is lower than {} on '{}'",
                        s.epoch, self.epoch, self.host
                    )));
                }
                self.epoch = s.epoch;
                self.state = Some(s.state);
                let gives_writer = s.roles.iter().any(|r| r.role == self.writer_role);
                if !gives_writer && self.holds_writer() {
                    self.drop_writer();
                }
                self.roles = s.roles.clone();
                if gives_writer {
                    self.lease_until = Some(now.plus(push.lease));
                    self.writable = mysql_up;
                }
                self.present = self.roles.clone();
                Ok(AgentAnswer::Status(StatusReport {
                    epoch: self.epoch,
                    writable: self.writable,
                    present: self.present.clone(),
                    errors: Vec::new(),
                    uptime: Some(uptime),
                }))
            }
            AgentCall::GetStatus => Ok(AgentAnswer::Agent(AgentView {
                state: self.state,
                roles: self.roles.clone(),
            })),
            AgentCall::GetSystemStatus => Ok(AgentAnswer::System(SystemView {
                writable: self.writable && mysql_up,
                present: self.present.clone(),
                master_ip: None,
            })),
            AgentCall::ClearBadRoles(f) => {
                if f.epoch < self.epoch {
                    return Err(CallFailure::Refused("lower epoch".into()));
                }
                let held = self.roles.clone();
                let before = self.present.len();
                self.present.retain(|r| held.contains(r));
                Ok(AgentAnswer::Cleared(format!(
                    "OK: Removed {} roles",
                    before - self.present.len()
                )))
            }
            AgentCall::Ping => Ok(AgentAnswer::Pong),
        }
    }
}
