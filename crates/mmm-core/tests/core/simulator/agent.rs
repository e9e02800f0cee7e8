//! The simulated agent on each database host and the parts of its system the invariants
//! look at (read_only, VIPs). It follows the agent's own rules from [`mmm_core::agent`]:
//! the epoch rule, role changes in mysql-mmm's order (the writer's writes are denied before
//! its IP goes, allowed before its IP comes), the once-a-second re-assertion and
//! CLEAR_BAD_ROLES. Like the agent daemon it counts the writer lease from the basis the push
//! echoes ([`WriterLease`]), drops the writer role itself when the lease runs out and takes it
//! again only at a higher epoch. Its server may have a lease timer (an event the agent arms
//! with each lease, firing at worst a second after an arm for a shorter remainder) that sets
//! read_only=1 even while the agent is frozen. Every other part of the simulator talks to it
//! through [`SimAgent`] only.

use std::net::IpAddr;
use std::time::Duration;

use mmm_core::agent::Mono;
use mmm_core::agent::epoch::check_epoch;
use mmm_core::agent::lease::{LeaseBasis, WriterLease};
use mmm_core::agent::plan::{Step, bad_roles, reassert, role_changes};
use mmm_core::leader::{AgentAnswer, AgentCall, AgentView, CallFailure, StatusReport, SystemView};
use mmm_core::state::{HostState, RoleIp};
use mmm_core::time::Timestamp;

/// One host's agent and its system.
#[derive(Debug, Clone)]
pub struct SimAgent {
    writer_role: String,
    /// Every configured role IP (what CLEAR_BAD_ROLES looks for).
    configured: Vec<RoleIp>,
    /// Highest epoch accepted (persisted: survives restarts).
    epoch: u64,
    state: Option<HostState>,
    /// Roles the agent holds.
    roles: Vec<RoleIp>,
    /// MySQL has read_only=0.
    writable: bool,
    /// Role IPs configured on the interface.
    present: Vec<RoleIp>,
    /// The writer lease of the running agent process.
    lease: WriterLease,
    /// The fencing epoch stored in the server (`mmm.fence`; survives reboots): writes are
    /// allowed only at a higher epoch, as the agent's `allow_writes_at` does.
    fence_epoch: u64,
    /// The server's event scheduler runs, so the lease timer can fire.
    timer_on: bool,
    /// When the armed lease timer fires (its latest moment).
    timer_fires: Option<Timestamp>,
    /// The timer set read_only=1 and the agent has not dropped the writer IP since.
    timer_fired: bool,
}

fn mono(t: Timestamp) -> Mono {
    Mono::from_millis(t.as_millis())
}

impl SimAgent {
    pub fn new(writer_role: &str, configured: Vec<RoleIp>, timer_on: bool) -> Self {
        SimAgent {
            writer_role: writer_role.to_string(),
            configured,
            epoch: 0,
            state: None,
            roles: Vec::new(),
            writable: false,
            present: Vec::new(),
            lease: WriterLease::new(1),
            fence_epoch: 0,
            timer_on,
            timer_fires: None,
            timer_fired: false,
        }
    }

    /// The server's side, run even while the agent is frozen: the lease timer fires.
    pub fn server_tick(&mut self, now: Timestamp) {
        if self.timer_fires.is_some_and(|t| now >= t) {
            self.timer_fires = None;
            if self.writable {
                self.writable = false;
                self.timer_fired = true;
            }
        }
    }

    /// The timer fenced the server and the agent has not caught up yet (it keeps the VIP, as a
    /// server fenced over SQL does, but takes no writes).
    pub fn timer_fenced(&self) -> bool {
        self.timer_fired
    }

    /// Arms the timer for a lease ending at `until`.
    fn arm_timer(&mut self, until: Mono, now: Timestamp) {
        if self.timer_on {
            let at = until.as_millis().max(now.as_millis() + 1_000);
            self.timer_fires = Some(Timestamp::from_millis(at));
        }
    }

    /// The leader fenced the server over SQL at `epoch`: read_only=1, the epoch stored.
    /// The VIP stays where it is (only the agent moves it).
    pub fn sql_fence(&mut self, epoch: u64) -> u64 {
        self.fence_epoch = self.fence_epoch.max(epoch);
        self.writable = false;
        self.fence_epoch
    }

    /// The server's stored fencing epoch.
    pub fn fence_epoch(&self) -> u64 {
        self.fence_epoch
    }

    /// Writes may be allowed at the agent's epoch (above the stored fencing epoch).
    fn may_allow(&self) -> bool {
        self.epoch > self.fence_epoch
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

    fn present_ips(&self) -> Vec<IpAddr> {
        self.present.iter().filter_map(|r| r.ip).collect()
    }

    /// The machine rebooted: MySQL comes up read-only, no VIP is configured, the agent
    /// remembers only its epoch.
    pub fn boot(&mut self) {
        self.state = None;
        self.roles.clear();
        self.present.clear();
        self.writable = false;
        self.lease = WriterLease::new(self.lease.incarnation() + 1);
        self.timer_fires = None;
        self.timer_fired = false;
    }

    /// MySQL died (nothing can write) or came back (read-only until re-asserted).
    pub fn mysql_changed(&mut self) {
        self.writable = false;
    }

    /// The agent's loop: drop the writer when its lease ran out, else re-assert held roles.
    pub fn tick(&mut self, now: Timestamp, mysql_up: bool) {
        if !mysql_up {
            self.writable = false;
        }
        if self.holds_writer() && self.lease.deadline().is_none_or(|d| mono(now) >= d) {
            let w = self.writer_role.clone();
            let held: Vec<RoleIp> = self.roles.iter().filter(|r| r.role != w).cloned().collect();
            self.change_roles(held, mysql_up);
            self.lease.ran_out(self.epoch);
            return;
        }
        let mysql = mysql_up.then_some(self.writable);
        let r = reassert(
            &self.roles,
            &self.present_ips(),
            mysql,
            Some(&self.writer_role),
            true,
        );
        if r.allow_write && self.may_allow() {
            self.writable = true;
        }
        self.present.extend(r.add_ips);
        self.present.sort();
    }

    /// Applies the steps from the held roles to `new`, in mysql-mmm's order.
    fn change_roles(&mut self, new: Vec<RoleIp>, mysql_up: bool) {
        for step in role_changes(&self.roles, &new, Some(&self.writer_role)) {
            match step {
                Step::RemoveRole { role, writer } => {
                    if writer {
                        self.writable = false;
                        self.timer_fired = false;
                    }
                    self.present.retain(|r| *r != role);
                }
                Step::AddRole { role, writer } => {
                    if writer {
                        self.writable = mysql_up && self.may_allow();
                    }
                    if !self.present.contains(&role) {
                        self.present.push(role);
                    }
                }
            }
        }
        self.present.sort();
        self.roles = new;
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
                check_epoch(self.epoch, s.epoch)
                    .map_err(|e| CallFailure::Refused(e.to_string()))?;
                self.epoch = s.epoch;
                self.state = Some(s.state);
                let mut roles = s.roles.clone();
                if roles.iter().any(|r| r.role == self.writer_role) {
                    let offer =
                        self.lease
                            .offer(s.epoch, push.basis.as_ref(), push.lease, mono(now));
                    match offer {
                        Ok(until) => {
                            self.arm_timer(until, now);
                            self.lease.extend(until);
                        }
                        Err(_) => roles.retain(|r| r.role != self.writer_role),
                    }
                } else {
                    self.lease.release();
                }
                self.change_roles(roles, mysql_up);
                if !self.holds_writer() {
                    self.lease.release();
                }
                Ok(AgentAnswer::Status(StatusReport {
                    epoch: self.epoch,
                    writable: self.writable,
                    present: self.present.clone(),
                    errors: Vec::new(),
                    uptime: Some(uptime),
                    basis: Some(LeaseBasis {
                        incarnation: self.lease.incarnation(),
                        at: mono(now),
                    }),
                    writer_ran_out_epoch: self.lease.ran_out_epoch(),
                    server_timer_on: self.timer_on,
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
                check_epoch(self.epoch, f.epoch)
                    .map_err(|e| CallFailure::Refused(e.to_string()))?;
                let bad = bad_roles(&self.configured, &self.roles, &self.present_ips());
                for r in &bad {
                    if r.role == self.writer_role {
                        self.writable = false;
                    }
                }
                self.present.retain(|r| !bad.contains(r));
                Ok(AgentAnswer::Cleared(format!(
                    "OK: Removed {} roles",
                    bad.len()
                )))
            }
            AgentCall::Ping => Ok(AgentAnswer::Pong),
        }
    }
}
