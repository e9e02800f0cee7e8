//! mysql-mmm's default values (and mmm's for its extensions), in one place so the loader,
//! `describe` and code that builds a configuration by hand agree.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::model::{
    CheckConfig, ChecksConfig, HookDefault, MonitorConfig, SocketConfig, SocketType, StartMode,
};

/// Default `agent_port` of a host.
pub const DEFAULT_AGENT_PORT: u16 = 9989;
/// Default `mysql_port` of a host.
pub const DEFAULT_MYSQL_PORT: u16 = 3306;
/// Default Control `port` of a monitor.
pub const DEFAULT_MONITOR_PORT: u16 = 9988;
/// Default `raft_port` of a monitor node (extension).
pub const DEFAULT_RAFT_PORT: u16 = 9990;
/// Parent of a monitor node's default `data_dir` (`/var/lib/mmm/NAME`).
pub const DEFAULT_DATA_ROOT: &str = "/var/lib/mmm";
/// Name of the single node of a classic one-`<monitor>` configuration.
pub const CLASSIC_MONITOR_NAME: &str = "monitor";
/// Default `max_kill_retries`.
pub const DEFAULT_MAX_KILL_RETRIES: u32 = 10;
/// Default `catchup_timeout` (extension).
pub const DEFAULT_CATCHUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound of the monitors' randomized Raft election timeout, and the leader lease during
/// which openraft's voters refuse votes after a heartbeat. A leader stops deciding and
/// pushing once its quorum has not acknowledged it for this long, so `lease_margin` must be at
/// least this (checked at load).
pub const ELECTION_TIMEOUT_MAX: Duration = Duration::from_millis(350);

impl Default for CheckConfig {
    /// Check every 5 s, fail after 10 s, 2 s timeout, restart_after 10000, max_backlog 60.
    fn default() -> Self {
        CheckConfig {
            check_period: Duration::from_secs(5),
            trap_period: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
            restart_after: 10_000,
            max_backlog: 60,
        }
    }
}

impl Default for ChecksConfig {
    /// All four checks with their defaults.
    fn default() -> Self {
        ChecksConfig {
            ping: CheckConfig::default(),
            mysql: CheckConfig::default(),
            rep_threads: CheckConfig::default(),
            rep_backlog: CheckConfig::default(),
        }
    }
}

impl Default for SocketConfig {
    /// Plain TCP, no certificates.
    fn default() -> Self {
        SocketConfig {
            kind: SocketType::Plain,
            cert_file: None,
            key_file: None,
            ca_file: None,
        }
    }
}

impl MonitorConfig {
    /// Every `<monitor>` setting at its default, listening on `ip`; `ping_ips` empty.
    pub fn with_defaults(ip: IpAddr) -> Self {
        MonitorConfig {
            ip,
            port: DEFAULT_MONITOR_PORT,
            pid_path: None,
            bin_path: None,
            status_path: None,
            ping_interval: Duration::from_secs(1),
            ping_ips: Vec::new(),
            flap_duration: Duration::from_secs(3600),
            flap_count: 3,
            auto_set_online: Duration::ZERO,
            kill_host_bin: None,
            pre_failover_hook: None,
            post_change_hook: None,
            hook_timeout: Duration::from_secs(10),
            pre_failover_default: HookDefault::Proceed,
            careful_startup: true,
            mode: StartMode::Active,
            wait_for_other_master: Duration::from_secs(120),
            agent_lease: Duration::from_secs(5),
            lease_margin: Duration::from_secs(1),
            status_interval: Duration::from_secs(1),
            agent_timeout: Duration::from_secs(2),
            observer_quorum: None,
        }
    }
}

/// The default `data_dir` of the monitor node `name`.
pub fn default_data_dir(name: &str) -> PathBuf {
    PathBuf::from(DEFAULT_DATA_ROOT).join(name)
}
