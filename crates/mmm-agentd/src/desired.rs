//! The status the leader wants this host in, and the checks a request must pass first.

use std::time::Duration;

use mmm_core::agent::lease::LeaseBasis;
use mmm_core::config::Config;
use mmm_core::state::{HostState, RoleIp};
use mmm_proto::convert::{self, WireError};
use mmm_proto::pb;

/// The longest lease accepted (one hour); longer ones are refused as nonsense.
pub const MAX_LEASE_MS: u64 = 3_600_000;

/// Joins roles as mysql-mmm logs them (`a(ip), b(ip)`).
pub fn role_list(roles: &[RoleIp]) -> String {
    roles
        .iter()
        .map(RoleIp::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the agent should make true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// Host state.
    pub state: HostState,
    /// Held roles, sorted and without duplicates.
    pub roles: Vec<RoleIp>,
    /// Host name of the active master ("" when none).
    pub active_master: String,
}

impl Default for Desired {
    fn default() -> Desired {
        Desired {
            state: HostState::Unknown,
            roles: Vec::new(),
            active_master: String::new(),
        }
    }
}

/// A SetStatus request that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCommand {
    /// The status to apply.
    pub desired: Desired,
    /// Fencing epoch of the sender.
    pub epoch: u64,
    /// Lease, `None` for "no lease" (non-writer statuses only).
    pub lease: Option<Duration>,
    /// The agent-clock reading the lease counts from, as the leader echoed it.
    pub basis: Option<LeaseBasis>,
    /// The leader's status interval, when it says (failsafe counts two of them as silence).
    pub status_interval: Option<Duration>,
}

/// A GrantFailsafe request that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantCommand {
    /// The asking writer (a configured host other than this one).
    pub from: String,
    /// Its epoch.
    pub epoch: u64,
    /// The lease it asks for (nonzero, at most [`MAX_LEASE_MS`]).
    pub lease: Duration,
}

/// Why a request was refused before anything happened (INVALID_ARGUMENT).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The request names another host.
    #[error("ERROR: Invalid hostname in command ({got})! My name is '{me}'")]
    WrongHost {
        /// Name in the request.
        got: String,
        /// Our name.
        me: String,
    },
    /// A state mysql-mmm does not know, or none.
    #[error("ERROR: Invalid state: {0}!")]
    BadState(WireError),
    /// A role not defined in the configuration.
    #[error("ERROR: Unknown role '{0}'!")]
    UnknownRole(String),
    /// An IP that does not parse or is not one of the role's IPs.
    #[error("ERROR: IP '{ip}' is not configured for role '{role}'!")]
    BadIp {
        /// Role name.
        role: String,
        /// IP text from the request.
        ip: String,
    },
    /// The role may not be held by this host.
    #[error("ERROR: Host '{host}' may not hold role '{role}'!")]
    NotAllowed {
        /// This host.
        host: String,
        /// Role name.
        role: String,
    },
    /// The active master is not a configured host.
    #[error("ERROR: Unknown active master '{0}'!")]
    UnknownMaster(String),
    /// No fence in the request.
    #[error("ERROR: Missing fence (epoch) in command!")]
    MissingFence,
    /// A lease longer than [`MAX_LEASE_MS`].
    #[error("ERROR: Lease of {0} ms is longer than the maximum of {MAX_LEASE_MS} ms!")]
    LeaseTooLong(u64),
    /// A writer status must carry a lease.
    #[error("ERROR: A status with role '{0}' needs a lease!")]
    WriterWithoutLease(String),
    /// A lease basis that cannot come from any agent process.
    #[error("ERROR: Invalid lease basis: {0}!")]
    BadBasis(WireError),
    /// A status interval longer than [`MAX_LEASE_MS`].
    #[error("ERROR: Status interval of {0} ms is longer than the maximum of {MAX_LEASE_MS} ms!")]
    IntervalTooLong(u64),
    /// A failsafe request from a host that is not configured, or from this host itself.
    #[error("ERROR: Invalid failsafe request from '{0}': not another configured host!")]
    BadAsker(String),
    /// A failsafe request without a lease, or with one longer than [`MAX_LEASE_MS`].
    #[error("ERROR: Invalid failsafe lease of {0} ms!")]
    BadFailsafeLease(u64),
}

/// Checks that a request is addressed to this host.
pub fn check_host(cfg: &Config, me: &str, host: &str) -> Result<(), RequestError> {
    let _ = cfg;
    if host == me {
        Ok(())
    } else {
        Err(RequestError::WrongHost {
            got: host.to_string(),
            me: me.to_string(),
        })
    }
}

/// Validates a SetStatus request against the configuration; nothing is changed on failure.
pub fn validate_set_status(
    cfg: &Config,
    me: &str,
    req: &pb::SetStatusRequest,
) -> Result<StatusCommand, RequestError> {
    check_host(cfg, me, &req.host)?;
    let fence = req.fence.as_ref().ok_or(RequestError::MissingFence)?;
    let state = convert::state_from_wire(req.state).map_err(RequestError::BadState)?;
    let mut roles = Vec::with_capacity(req.roles.len());
    for r in &req.roles {
        let role = cfg
            .roles
            .iter()
            .find(|c| c.name == r.role)
            .ok_or_else(|| RequestError::UnknownRole(r.role.clone()))?;
        let bad_ip = || RequestError::BadIp {
            role: r.role.clone(),
            ip: r.ip.clone(),
        };
        let parsed = RoleIp::try_from(r).map_err(|_| bad_ip())?;
        if !role.has_instance(&parsed) {
            return Err(bad_ip());
        }
        if !role.hosts.iter().any(|h| h == me) {
            return Err(RequestError::NotAllowed {
                host: me.to_string(),
                role: r.role.clone(),
            });
        }
        roles.push(parsed);
    }
    roles.sort();
    roles.dedup();
    if !req.active_master.is_empty() && !cfg.hosts.iter().any(|h| h.name == req.active_master) {
        return Err(RequestError::UnknownMaster(req.active_master.clone()));
    }
    if req.lease_ms > MAX_LEASE_MS {
        return Err(RequestError::LeaseTooLong(req.lease_ms));
    }
    let lease = (req.lease_ms > 0).then(|| Duration::from_millis(req.lease_ms));
    let basis = req
        .basis
        .as_ref()
        .map(LeaseBasis::try_from)
        .transpose()
        .map_err(RequestError::BadBasis)?;
    if lease.is_none()
        && let Some(w) = roles
            .iter()
            .find(|r| Some(r.role.as_str()) == cfg.active_master_role.as_deref())
    {
        return Err(RequestError::WriterWithoutLease(w.to_string()));
    }
    Ok(StatusCommand {
        desired: Desired {
            state,
            roles,
            active_master: req.active_master.clone(),
        },
        epoch: fence.epoch,
        lease,
        basis,
        status_interval: status_interval(req.status_interval_ms)?,
    })
}

fn status_interval(ms: u64) -> Result<Option<Duration>, RequestError> {
    if ms > MAX_LEASE_MS {
        return Err(RequestError::IntervalTooLong(ms));
    }
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

/// Validates a GrantFailsafe request; nothing is changed on failure.
pub fn validate_grant(
    cfg: &Config,
    me: &str,
    req: &pb::GrantFailsafeRequest,
) -> Result<GrantCommand, RequestError> {
    check_host(cfg, me, &req.host)?;
    if req.from == me || !cfg.hosts.iter().any(|h| h.name == req.from) {
        return Err(RequestError::BadAsker(req.from.clone()));
    }
    if req.lease_ms == 0 || req.lease_ms > MAX_LEASE_MS {
        return Err(RequestError::BadFailsafeLease(req.lease_ms));
    }
    Ok(GrantCommand {
        from: req.from.clone(),
        epoch: req.epoch,
        lease: Duration::from_millis(req.lease_ms),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use mmm_core::config::{
        CheckConfig, ChecksConfig, HostConfig, HostMode, RoleConfig, RoleMode, SocketConfig,
        SocketType,
    };

    fn host(name: &str, ip: &str, mode: HostMode) -> HostConfig {
        HostConfig {
            name: name.into(),
            ip: ip.parse().expect("ip"),
            mode,
            peer: None,
            pid_path: None,
            bin_path: None,
            agent_port: 9989,
            http_port: None,
            cluster_interface: Some("eth0".into()),
            mysql_port: 3306,
            tools: vec![],
            agent_user: Some("agent".into()),
            agent_password: Some("pw".into()),
            monitor_user: None,
            monitor_password: None,
            replication_user: Some("repl".into()),
            replication_password: Some("pw".into()),
        }
    }

    /// A two-master, one-slave configuration for unit tests.
    pub(crate) fn config() -> Config {
        let check = CheckConfig {
            check_period: Duration::from_secs(5),
            trap_period: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
            restart_after: 0,
            max_backlog: 60,
        };
        Config {
            this: Some("db1".into()),
            debug: false,
            active_master_role: Some("writer".into()),
            max_kill_retries: 10,
            catchup_timeout: Duration::from_secs(5),
            use_gtid: true,
            failsafe_mode: true,
            hosts: vec![
                host("db1", "10.213.7.11", HostMode::Master),
                host("db2", "10.213.7.12", HostMode::Master),
                host("db3", "10.213.7.13", HostMode::Slave),
            ],
            roles: vec![
                RoleConfig {
                    name: "writer".into(),
                    mode: RoleMode::Exclusive,
                    hosts: vec!["db1".into(), "db2".into()],
                    ips: vec!["10.213.7.100".parse().expect("ip")],
                    prefer: None,
                },
                RoleConfig {
                    name: "reader".into(),
                    mode: RoleMode::Balanced,
                    hosts: vec!["db1".into(), "db2".into(), "db3".into()],
                    ips: vec![
                        "10.213.7.101".parse().expect("ip"),
                        "10.213.7.102".parse().expect("ip"),
                    ],
                    prefer: None,
                },
            ],
            checks: ChecksConfig {
                ping: check.clone(),
                mysql: check.clone(),
                rep_threads: check.clone(),
                rep_backlog: check,
            },
            monitor: None,
            monitor_nodes: vec![],
            this_monitor: None,
            socket: SocketConfig {
                kind: SocketType::Plain,
                cert_file: None,
                key_file: None,
                ca_file: None,
            },
        }
    }

    fn req(host: &str, roles: &[(&str, &str)], lease_ms: u64) -> pb::SetStatusRequest {
        pb::SetStatusRequest {
            host: host.into(),
            fence: Some(pb::Fence {
                epoch: 4,
                term: 1,
                leader_id: 1,
            }),
            state: convert::state_to_wire(HostState::Online),
            roles: roles
                .iter()
                .map(|(r, ip)| pb::RoleIp {
                    role: (*r).into(),
                    ip: (*ip).into(),
                })
                .collect(),
            active_master: "db1".into(),
            lease_ms,
            basis: Some(pb::LeaseBasis {
                incarnation: 77,
                basis_ms: 1000,
            }),
            status_interval_ms: 300,
        }
    }

    #[test]
    fn accepts_a_good_request_sorted() {
        let c = validate_set_status(
            &config(),
            "db1",
            &req(
                "db1",
                &[("writer", "10.213.7.100"), ("reader", "10.213.7.101")],
                3000,
            ),
        )
        .expect("valid");
        assert_eq!(c.epoch, 4);
        assert_eq!(
            c.basis.map(|b| (b.incarnation, b.at.as_millis())),
            Some((77, 1000))
        );
        assert_eq!(c.lease, Some(Duration::from_millis(3000)));
        assert_eq!(c.status_interval, Some(Duration::from_millis(300)));
        assert_eq!(
            role_list(&c.desired.roles),
            "reader(10.213.7.101), writer(10.213.7.100)"
        );
    }

    #[test]
    fn refuses_bad_requests() {
        let cfg = config();
        let e = validate_set_status(&cfg, "db1", &req("db9", &[], 1000)).expect_err("host");
        assert_eq!(
            e.to_string(),
            "ERROR: Invalid hostname in command (db9)! My name is 'db1'"
        );
        let e = validate_set_status(&cfg, "db1", &req("db1", &[("boss", "10.213.7.100")], 1000))
            .expect_err("role");
        assert!(matches!(e, RequestError::UnknownRole(_)));
        let e = validate_set_status(
            &cfg,
            "db1",
            &req("db1", &[("writer", "10.213.7.200")], 1000),
        )
        .expect_err("ip");
        assert!(matches!(e, RequestError::BadIp { .. }));
        let e = validate_set_status(&cfg, "db1", &req("db1", &[("writer", "not-an-ip")], 1000))
            .expect_err("ip");
        assert!(matches!(e, RequestError::BadIp { .. }));
        let e = validate_set_status(
            &cfg,
            "db3",
            &req("db3", &[("writer", "10.213.7.100")], 1000),
        )
        .expect_err("not allowed");
        assert!(matches!(e, RequestError::NotAllowed { .. }));
        let e = validate_set_status(&cfg, "db1", &req("db1", &[("writer", "10.213.7.100")], 0))
            .expect_err("lease");
        assert!(matches!(e, RequestError::WriterWithoutLease(_)));
        let mut r = req("db1", &[], 0);
        r.state = 42;
        let e = validate_set_status(&cfg, "db1", &r).expect_err("state");
        assert_eq!(
            e.to_string(),
            "ERROR: Invalid state: unknown host state number 42!"
        );
        r.state = 0;
        assert_eq!(
            validate_set_status(&cfg, "db1", &r),
            Err(RequestError::BadState(WireError::MissingState))
        );
        let e = validate_set_status(&cfg, "db1", &req("db1", &[], u64::MAX)).expect_err("lease");
        assert!(matches!(e, RequestError::LeaseTooLong(_)));
        let mut r = req("db1", &[], 0);
        r.fence = None;
        assert_eq!(
            validate_set_status(&cfg, "db1", &r),
            Err(RequestError::MissingFence)
        );
        let mut r = req("db1", &[], 0);
        r.basis = Some(pb::LeaseBasis {
            incarnation: 0,
            basis_ms: 5,
        });
        assert_eq!(
            validate_set_status(&cfg, "db1", &r),
            Err(RequestError::BadBasis(WireError::BasisWithoutIncarnation))
        );
        let mut r = req("db1", &[], 0);
        r.active_master = "dbX".into();
        assert!(matches!(
            validate_set_status(&cfg, "db1", &r),
            Err(RequestError::UnknownMaster(_))
        ));
    }

    #[test]
    fn failsafe_requests_come_from_another_configured_host_with_a_sane_lease() {
        let cfg = config();
        let ask = |host: &str, from: &str, lease_ms: u64| pb::GrantFailsafeRequest {
            host: host.into(),
            from: from.into(),
            epoch: 3,
            lease_ms,
        };
        let c = validate_grant(&cfg, "db2", &ask("db2", "db1", 2000)).expect("valid");
        assert_eq!((c.from.as_str(), c.epoch), ("db1", 3));
        assert_eq!(c.lease, Duration::from_millis(2000));
        assert!(matches!(
            validate_grant(&cfg, "db2", &ask("db1", "db1", 2000)),
            Err(RequestError::WrongHost { .. })
        ));
        for from in ["db2", "dbX", ""] {
            let e = validate_grant(&cfg, "db2", &ask("db2", from, 2000)).expect_err(from);
            assert!(matches!(e, RequestError::BadAsker(_)), "{e}");
        }
        for lease in [0, u64::MAX] {
            let e = validate_grant(&cfg, "db2", &ask("db2", "db1", lease)).expect_err("lease");
            assert_eq!(
                e.to_string(),
                format!("ERROR: Invalid failsafe lease of {lease} ms!")
            );
        }
        let mut r = req("db1", &[], 0);
        r.status_interval_ms = u64::MAX;
        assert!(matches!(
            validate_set_status(&cfg, "db1", &r),
            Err(RequestError::IntervalTooLong(_))
        ));
    }
}
