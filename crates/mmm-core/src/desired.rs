//! What the leader sends each agent: its full desired status, stamped with the epoch.

use crate::config::Config;
use crate::state::{ClusterState, HostState, RoleIp};

/// The desired status of one host's agent (mysql-mmm's SET_STATUS, plus the epoch).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgentStatus {
    /// Target host name.
    pub host: String,
    /// Its state (ADMIN_OFFLINE makes the agent stop replication).
    pub state: HostState,
    /// Role instances it must hold, sorted.
    pub roles: Vec<RoleIp>,
    /// Host name of the active master ("" while the writer is orphaned).
    pub active_master: String,
    /// Fencing epoch of the state this status comes from.
    pub epoch: u64,
}

/// The status the leader pushes to `host`, or None when the host is not configured.
pub fn desired_status(state: &ClusterState, host: &str, config: &Config) -> Option<AgentStatus> {
    let h = state.host(host)?;
    Some(AgentStatus {
        host: h.name.clone(),
        state: h.state,
        roles: h.roles.clone(),
        active_master: state.active_master(config).unwrap_or_default().to_string(),
        epoch: state.epoch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    #[test]
    fn desired_status_carries_state_roles_master_and_epoch() {
        let c = crate::testing::config(&[]);
        let mut st = ClusterState::new(&c, Timestamp::from_secs(0));
        let w = RoleIp::new("writer", "10.213.7.100".parse().expect("ip"));
        if let Some(h) = st.host_mut("db2") {
            h.state = HostState::Online;
            h.roles = vec![w.clone()];
        }
        st.epoch = 7;
        let d = desired_status(&st, "db3", &c).expect("db3");
        assert_eq!(
            (d.state, d.roles.len(), d.active_master.as_str(), d.epoch),
            (HostState::Unknown, 0, "db2", 7)
        );
        let d = desired_status(&st, "db2", &c).expect("db2");
        assert_eq!(d.roles, vec![w]);
        assert!(desired_status(&st, "nope", &c).is_none());
    }
}
