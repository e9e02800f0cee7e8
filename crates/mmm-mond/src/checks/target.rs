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

#[cfg(test)]
mod tests {
    use super::*;
    use mmm_core::config::HostMode;
    use std::net::Ipv4Addr;

    fn host(user: Option<&str>) -> HostConfig {
        HostConfig {
            name: "db1".into(),
            ip: IpAddr::V4(Ipv4Addr::new(10, 213, 7, 11)),
            mode: HostMode::Master,
            peer: Some("db2".into()),
            pid_path: None,
            bin_path: None,
            agent_port: 9989,
            http_port: None,
            cluster_interface: None,
            mysql_port: 3307,
            tools: Vec::new(),
            agent_user: None,
            agent_password: None,
            monitor_user: user.map(str::to_string),
            monitor_password: Some("secret".into()),
            replication_user: None,
            replication_password: None,
        }
    }

    #[test]
    fn takes_address_ports_and_credentials_from_the_host() {
        let target = CheckTarget::from_host(&host(Some("mmm_monitor"))).expect("target");
        assert_eq!(target.host, "db1");
        assert_eq!(target.mysql_port, 3307);
        assert_eq!(target.agent_port, 9989);
        assert_eq!(target.user, "mmm_monitor");
        assert_eq!(target.password, "secret");
        assert!(
            !format!("{target:?}").contains("secret"),
            "password stays out of logs"
        );
    }

    #[test]
    fn a_host_without_monitor_user_is_refused() {
        assert_eq!(
            CheckTarget::from_host(&host(None)),
            Err(TargetError::MissingMonitorUser { host: "db1".into() })
        );
    }
}
