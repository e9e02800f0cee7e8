//! Topologies for the tests, built as `Config` values.

use std::net::IpAddr;
use std::time::Duration;

use mmm_core::config::*;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("fixture ip")
}

fn check() -> CheckConfig {
    CheckConfig {
        check_period: Duration::from_secs(5),
        trap_period: Duration::from_secs(10),
        timeout: Duration::from_secs(2),
        restart_after: 10_000,
        max_backlog: 60,
    }
}

/// mysql-mmm's monitor defaults plus mmm's extensions.
pub fn monitor() -> MonitorConfig {
    MonitorConfig {
        ip: ip("127.0.0.1"),
        port: 9988,
        pid_path: None,
        bin_path: None,
        status_path: None,
        ping_interval: Duration::from_secs(1),
        ping_ips: vec![ip("127.0.0.1")],
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

/// A host section with defaults.
pub fn host(name: &str, addr: &str, mode: HostMode, peer: Option<&str>) -> HostConfig {
    HostConfig {
        name: name.into(),
        ip: ip(addr),
        mode,
        peer: peer.map(Into::into),
        pid_path: None,
        bin_path: None,
        agent_port: 9989,
        http_port: None,
        cluster_interface: Some("eth0".into()),
        mysql_port: 3306,
        tools: Vec::new(),
        agent_user: None,
        agent_password: None,
        monitor_user: None,
        monitor_password: None,
        replication_user: None,
        replication_password: None,
    }
}

/// A role section.
pub fn role(
    name: &str,
    mode: RoleMode,
    hosts: &[&str],
    ips: &[&str],
    prefer: Option<&str>,
) -> RoleConfig {
    RoleConfig {
        name: name.into(),
        mode,
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        ips: ips.iter().map(|i| ip(i)).collect(),
        prefer: prefer.map(Into::into),
    }
}

/// A whole config from hosts and roles, writer as active-master role.
pub fn config(hosts: Vec<HostConfig>, roles: Vec<RoleConfig>) -> Config {
    Config {
        this: None,
        debug: false,
        active_master_role: Some("writer".into()),
        max_kill_retries: 10,
        catchup_timeout: Duration::from_secs(60),
        use_gtid: false,
        failsafe_mode: true,
        hosts,
        roles,
        checks: ChecksConfig {
            ping: check(),
            mysql: check(),
            rep_threads: check(),
            rep_backlog: check(),
        },
        monitor: Some(monitor()),
        monitor_nodes: Vec::new(),
        this_monitor: None,
        socket: SocketConfig {
            kind: SocketType::Plain,
            cert_file: None,
            key_file: None,
            ca_file: None,
        },
    }
}

/// mysql-mmm's typical layout (reference §1.9) in the lab's /24, writer preferring db1.
pub fn lab(prefer: bool) -> Config {
    config(
        vec![
            host("db1", "10.213.7.11", HostMode::Master, Some("db2")),
            host("db2", "10.213.7.12", HostMode::Master, Some("db1")),
            host("db3", "10.213.7.13", HostMode::Slave, None),
        ],
        vec![
            role(
                "writer",
                RoleMode::Exclusive,
                &["db1", "db2"],
                &["10.213.7.100"],
                prefer.then_some("db1"),
            ),
            role(
                "reader",
                RoleMode::Balanced,
                &["db1", "db2", "db3"],
                &["10.213.7.101", "10.213.7.102", "10.213.7.103"],
                None,
            ),
        ],
    )
}
