//! The timing profiles the cases run under: mysql-mmm's defaults, check 1 / trap 1, and the lab's
//! fast profile. The knobs mysql-mmm does not have (lease, status interval, agent timeout, lease
//! margin) take mmm's own defaults in the first two, so they are what a user with a stock
//! configuration gets.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use mmm_core::config::{CheckConfig, MonitorConfig};
use mmm_lab::cluster::Timings;
use serde::Serialize;

/// `mmm-agentd --io-timeout-ms` when not given (the agent's own default).
const AGENT_IO_TIMEOUT_DEFAULT: Duration = Duration::from_secs(2);

/// A named set of timings.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Short name used in tables and JSON.
    pub name: &'static str,
    /// The timings.
    pub timings: Timings,
}

/// mysql-mmm's defaults (`check_period` 5, `trap_period` 10, `timeout` 2) with mmm's defaults for
/// its own knobs.
pub fn mysql_mmm_defaults() -> Profile {
    let check = CheckConfig::default();
    Profile {
        name: "mysql-mmm defaults",
        timings: stock(check.check_period, check.trap_period),
    }
}

/// `check_period 1`, `trap_period 1`, everything else at mmm's defaults.
pub fn check1_trap1() -> Profile {
    Profile {
        name: "check 1 / trap 1",
        timings: stock(Duration::from_secs(1), Duration::from_secs(1)),
    }
}

/// The lab's fast profile ([`Timings::default`]): what the speed goals are measured with.
pub fn fast() -> Profile {
    Profile {
        name: "fast (lab)",
        timings: Timings::default(),
    }
}

fn stock(check_period: Duration, trap_period: Duration) -> Timings {
    let check = CheckConfig::default();
    let monitor = MonitorConfig::with_defaults(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    Timings {
        check_period,
        trap_period,
        check_timeout: check.timeout,
        replication_check_period: None,
        agent_lease: monitor.agent_lease,
        status_interval: monitor.status_interval,
        agent_timeout: monitor.agent_timeout,
        lease_margin: monitor.lease_margin,
        agent_io_timeout: AGENT_IO_TIMEOUT_DEFAULT,
    }
}

/// A profile's timings in milliseconds, for the JSON report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimingsMs {
    /// `check_period`.
    pub check_period: u128,
    /// `trap_period`.
    pub trap_period: u128,
    /// Check `timeout`.
    pub check_timeout: u128,
    /// `check_period` of the replication checks (the same as `check_period` when not set).
    pub replication_check_period: u128,
    /// `agent_lease`.
    pub agent_lease: u128,
    /// `status_interval`.
    pub status_interval: u128,
    /// `agent_timeout`.
    pub agent_timeout: u128,
    /// `lease_margin`.
    pub lease_margin: u128,
    /// The agents' `--io-timeout-ms`.
    pub agent_io_timeout: u128,
}

impl From<&Timings> for TimingsMs {
    fn from(t: &Timings) -> Self {
        Self {
            check_period: t.check_period.as_millis(),
            trap_period: t.trap_period.as_millis(),
            check_timeout: t.check_timeout.as_millis(),
            replication_check_period: t
                .replication_check_period
                .unwrap_or(t.check_period)
                .as_millis(),
            agent_lease: t.agent_lease.as_millis(),
            status_interval: t.status_interval.as_millis(),
            agent_timeout: t.agent_timeout.as_millis(),
            lease_margin: t.lease_margin.as_millis(),
            agent_io_timeout: t.agent_io_timeout.as_millis(),
        }
    }
}

/// Detection (trap plus a check round and its timeout) and the fence hold (lease, agent
/// timeout, margin) under `t`: the longest a failover should take when nothing else is slow.
fn detection_and_fence(t: &Timings) -> Duration {
    t.trap_period
        + t.check_period
        + t.check_timeout
        + t.agent_lease
        + t.agent_timeout
        + t.lease_margin
}

/// How long the new writer may take at most under `t`, with room to spare: detection, the
/// fence hold and 20 s.
pub fn failover_limit(t: &Timings) -> Duration {
    detection_and_fence(t) + Duration::from_secs(20)
}

/// How long after a fault is healed a failover it caused would surely have shown: detection,
/// the fence hold and 2 s.
pub fn quiet_window(t: &Timings) -> Duration {
    detection_and_fence(t) + Duration::from_secs(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_carry_the_documented_timings() {
        let d = mysql_mmm_defaults().timings;
        assert_eq!(d.check_period, Duration::from_secs(5));
        assert_eq!(d.trap_period, Duration::from_secs(10));
        assert_eq!(d.check_timeout, Duration::from_secs(2));
        assert!(d.status_interval < d.agent_lease);
        let c = check1_trap1().timings;
        assert_eq!(
            (c.check_period, c.trap_period),
            (Duration::from_secs(1), Duration::from_secs(1))
        );
        assert_eq!(c.agent_lease, d.agent_lease);
        assert_eq!(fast().timings, Timings::default());
        assert!(failover_limit(&d) > quiet_window(&d));
    }
}
