//! What a checker needs to know about one MySQL host, taken from the configuration.

use std::net::IpAddr;

use mmm_core::config::{Config, HostConfig};

/// One host as the checks see it: where to ping, where to connect, as whom.
#[derive(Clone, PartialEq, Eq)]
pub struct CheckTarget {
    /// Host section name (`db1`), used in results and log lines.
    pub host: String,
    /// The host's permanent IP.
    pub ip: IpAddr,
    /// MySQL port.
    pub mysql_port: u16,
    /// Agent port; the TCP fallback of `ping` knocks here, not on mysqld (whose
    /// `max_connect_errors` counts half-open connections).
    pub agent_port: u16,
    /// `monitor_user`.
    pub user: String,
    /// `monitor_password`.
    pub password: String,
}

impl std::fmt::Debug for CheckTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckTarget")
            .field("host", &self.host)
            .field("ip", &self.ip)
            .field("mysql_port", &self.mysql_port)
            .field("agent_port", &self.agent_port)
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// Why the configuration cannot be turned into check targets.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// A host has no `monitor_user`, so the MySQL checks cannot log in.
    #[error("host '{host}' has no monitor_user; the monitor's checks need one")]
    MissingMonitorUser {
        /// The host section.
        host: String,
    },
}

impl CheckTarget {
    /// The target for one `<host>` section.
    pub fn from_host(host: &HostConfig) -> Result<CheckTarget, TargetError> {
        let user = host
            .monitor_user
            .clone()
            .ok_or_else(|| TargetError::MissingMonitorUser {
                host: host.name.clone(),
            })?;
        Ok(CheckTarget {
            host: host.name.clone(),
            ip: host.ip,
            mysql_port: host.mysql_port,
            agent_port: host.agent_port,
            user,
            password: host.monitor_password.clone().unwrap_or_default(),
        })
    }

    /// Targets for every host of `config`, in config-file order.
    pub fn all(config: &Config) -> Result<Vec<CheckTarget>, TargetError> {
        config.hosts.iter().map(CheckTarget::from_host).collect()
    }
}
