//! The scripts' agents: each answers the leader's calls the way its `agent …` lines say.
//!
//! An agent takes the roles it is pushed, but keeps the writer role (read-only never set,
//! the writer IP still up) until a script says `agent H confirm`: dropping the writer is
//! what a script controls. Its other facts (reachable, uptime, errors it reports, what it
//! says at startup) are scripted too.

use mmm_core::leader::{
    AgentAnswer, AgentCall, AgentView, CallFailure, KillOutcome, SqlFenced, StatusPush,
    StatusReport, SystemView,
};
use mmm_core::state::RoleIp;
use std::time::Duration;

/// One host's scripted agent.
#[derive(Debug, Clone)]
pub struct ScriptedAgent {
    pub host: String,
    pub reachable: bool,
    pub uptime: Option<Duration>,
    /// Still holds the writer role (writable, writer IP up).
    pub holds_writer: bool,
    /// The writer IP it holds (when `holds_writer`).
    pub writer: Option<RoleIp>,
    /// Highest epoch accepted.
    pub epoch: u64,
    /// Errors it reports with every status answer.
    pub errors: Vec<String>,
    /// Its answer to GET_AGENT_STATUS.
    pub says: AgentView,
    /// Its answer to GET_SYSTEM_STATUS.
    pub system: SystemView,
    /// Whether the leader can fence the host's MySQL over SQL (`agent H sql ok|down`).
    pub sql_up: bool,
    /// The exit code `kill_host_bin` returns for the host (`agent H killhost N`).
    pub kill_exit: i32,
}

impl ScriptedAgent {
    pub fn new(host: &str) -> Self {
        ScriptedAgent {
            host: host.to_string(),
            reachable: true,
            uptime: None,
            holds_writer: false,
            writer: None,
            epoch: 0,
            errors: Vec::new(),
            says: AgentView::default(),
            system: SystemView::default(),
            sql_up: false,
            kill_exit: 1,
        }
    }

    /// The leader fences the host's MySQL at `epoch`: it stops taking writes when it answers.
    pub fn fence_sql(&mut self, epoch: u64) -> Result<SqlFenced, String> {
        if !self.sql_up {
            return Err(format!("Connect error ({}:3306): timed out", self.host));
        }
        self.holds_writer = false;
        Ok(SqlFenced { epoch, killed: 1 })
    }

    /// The leader runs `kill_host_bin` for the host.
    pub fn kill(&mut self) -> KillOutcome {
        if self.kill_exit == 0 {
            self.holds_writer = false;
            self.reachable = false;
            self.sql_up = false;
        }
        KillOutcome {
            code: Some(self.kill_exit),
            output: format!("kill {}", self.host),
        }
    }

    fn unreachable(&self) -> CallFailure {
        CallFailure::Unreachable(format!("no answer from the agent on '{}'", self.host))
    }

    /// Answers one call.
    pub fn answer(
        &mut self,
        call: &AgentCall,
        writer_role: Option<&str>,
    ) -> Result<AgentAnswer, CallFailure> {
        if !self.reachable {
            return Err(self.unreachable());
        }
        match call {
            AgentCall::SetStatus(push) => Ok(AgentAnswer::Status(self.take(push, writer_role))),
            AgentCall::GetStatus => Ok(AgentAnswer::Agent(self.says.clone())),
            AgentCall::GetSystemStatus => Ok(AgentAnswer::System(self.system.clone())),
            AgentCall::ClearBadRoles(_) => Ok(AgentAnswer::Cleared("OK: Removed 0 roles".into())),
            AgentCall::Ping => Ok(AgentAnswer::Pong),
        }
    }

    /// Takes a pushed status (all but dropping the writer) and reports what it holds.
    fn take(&mut self, push: &StatusPush, writer_role: Option<&str>) -> StatusReport {
        self.epoch = self.epoch.max(push.status.epoch);
        let is_writer = |r: &RoleIp| Some(r.role.as_str()) == writer_role;
        if let Some(w) = push.status.roles.iter().find(|r| is_writer(r)) {
            self.holds_writer = true;
            self.writer = Some(w.clone());
        }
        let mut present: Vec<RoleIp> = push
            .status
            .roles
            .iter()
            .filter(|r| !is_writer(r))
            .cloned()
            .collect();
        if self.holds_writer {
            present.extend(self.writer.clone());
        }
        present.sort();
        StatusReport {
            epoch: self.epoch,
            writable: self.holds_writer,
            present,
            errors: self.errors.clone(),
            uptime: self.uptime,
            basis: None,
            writer_ran_out_epoch: None,
            server_timer_on: false,
        }
    }
}
