//! Lookups on a loaded [`Config`] by the names the files use.

use super::model::{Config, HostConfig, MonitorNode, RoleConfig};

impl Config {
    /// The host section called `name`.
    pub fn host(&self, name: &str) -> Option<&HostConfig> {
        self.hosts.iter().find(|host| host.name == name)
    }

    /// The role section called `name`.
    pub fn role(&self, name: &str) -> Option<&RoleConfig> {
        self.roles.iter().find(|role| role.name == name)
    }

    /// The host named by `this` (the agent's own host).
    pub fn this_host(&self) -> Option<&HostConfig> {
        self.this.as_deref().and_then(|name| self.host(name))
    }

    /// The role named by `active_master_role` (usually `writer`).
    pub fn active_master_role(&self) -> Option<&RoleConfig> {
        self.active_master_role
            .as_deref()
            .and_then(|name| self.role(name))
    }

    /// The monitor node this process is: the one `this_monitor` names, or the only node of
    /// a classic single-`<monitor>` configuration.
    pub fn this_monitor_node(&self) -> Option<&MonitorNode> {
        match self.this_monitor.as_deref() {
            Some(name) => self.monitor_nodes.iter().find(|node| node.name == name),
            None if self.monitor_nodes.len() == 1 => self.monitor_nodes.first(),
            None => None,
        }
    }

    /// The monitor node called `name`.
    pub fn monitor_node(&self, name: &str) -> Option<&MonitorNode> {
        self.monitor_nodes.iter().find(|node| node.name == name)
    }
}
