//! What the HTTP endpoints answer, decided from the driver's published snapshot alone (pure
//! code, so every answer is unit-tested without a server).

use mmm_core::agent::Mono;
use mmm_core::state::HostState;
use serde_json::{Value, json};

use crate::driver::Snapshot;

/// The parts of the configuration the endpoints need.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// This host's name.
    pub host: String,
    /// `active_master_role`: the role that makes a host the writer.
    pub writer_role: Option<String>,
    /// The MySQL backend's catch-up and kill-round durations.
    pub timings: crate::db::Timings,
}

impl Facts {
    fn is_writer_role(&self, role: &str) -> bool {
        self.writer_role.as_deref() == Some(role)
    }
}

/// Seconds the lease has left at `now`; `None` when no lease runs.
pub fn lease_remaining(snap: &Snapshot, now: Mono) -> Option<f64> {
    snap.lease_deadline.map(|d| now.until(d).as_secs_f64())
}

/// `/writer` is 200 only while the writer role is held, its lease has not run out (a writer
/// status always carries one, so no lease means no writer),
/// the writer took over (caught up, `read_only=0` set) and the last read saw `read_only=0`.
pub fn writer_ok(facts: &Facts, snap: &Snapshot, now: Mono) -> bool {
    let holds = snap
        .desired
        .roles
        .iter()
        .any(|r| facts.is_writer_role(&r.role));
    let lease_live = snap.lease_deadline.is_some_and(|d| d > now);
    holds && lease_live && snap.writer_synced && snap.writable == Some(true)
}

/// `/reader` is 200 while a reader role is held and, with `max_lag`, the lag last seen is known
/// and at most `max_lag` seconds.
pub fn reader_ok(facts: &Facts, snap: &Snapshot, max_lag: Option<u64>) -> bool {
    let holds = snap
        .desired
        .roles
        .iter()
        .any(|r| !facts.is_writer_role(&r.role));
    holds && lag_ok(snap, max_lag)
}

/// `/replica` is 200 while the monitor has this host ONLINE and it does not hold the writer
/// role, and with `max_lag` the lag last seen is known and at most `max_lag` seconds: the
/// read pool of a VIP-less cluster, where no reader role has VIPs to hand out.
pub fn replica_ok(facts: &Facts, snap: &Snapshot, max_lag: Option<u64>) -> bool {
    let writer = snap
        .desired
        .roles
        .iter()
        .any(|r| facts.is_writer_role(&r.role));
    snap.desired.state == HostState::Online && !writer && lag_ok(snap, max_lag)
}

fn lag_ok(snap: &Snapshot, max_lag: Option<u64>) -> bool {
    match max_lag {
        None => true,
        Some(max) => snap.lag.is_some_and(|lag| lag <= max),
    }
}

/// The `max_lag` of a `/reader` or `/replica` query string; an error text for a 400
/// otherwise. Only `max_lag=<seconds>` is accepted, so a typo cannot silently turn the lag
/// check off.
pub fn parse_lag_query(query: Option<&str>) -> Result<Option<u64>, String> {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return Ok(None);
    };
    let mut max_lag = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != "max_lag" {
            return Err(format!(
                "unknown query parameter '{key}'; only max_lag=<seconds> is accepted"
            ));
        }
        if max_lag.is_some() {
            return Err("max_lag given twice".to_owned());
        }
        let n = value
            .parse::<u64>()
            .map_err(|_| format!("max_lag must be a whole number of seconds, not '{value}'"))?;
        max_lag = Some(n);
    }
    Ok(max_lag)
}

/// The agent's view for `GET /health`.
pub fn health(facts: &Facts, snap: &Snapshot, now: Mono) -> Value {
    let roles: Vec<String> = snap.desired.roles.iter().map(|r| r.to_string()).collect();
    json!({
        "host": facts.host,
        "state": snap.desired.state.as_str(),
        "roles": roles,
        "active_master": snap.desired.active_master,
        "epoch": snap.epoch,
        "lease_remaining_seconds": lease_remaining(snap, now),
        "writer_synced": snap.writer_synced,
        "read_only": snap.writable.map(|w| !w),
        "replication_lag_seconds": snap.lag,
        "writer": writer_ok(facts, snap, now),
        "reader": reader_ok(facts, snap, None),
        "replica": replica_ok(facts, snap, None),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use mmm_core::state::RoleIp;

    use super::*;
    use crate::desired::Desired;

    fn facts() -> Facts {
        Facts {
            host: "db1".into(),
            writer_role: Some("writer".into()),
            ..Facts::default()
        }
    }

    fn snap(roles: &[&str]) -> Snapshot {
        Snapshot {
            desired: Desired {
                state: HostState::Online,
                roles: roles
                    .iter()
                    .enumerate()
                    .map(|(i, r)| RoleIp::new(*r, format!("10.0.0.{i}").parse().unwrap()))
                    .collect(),
                active_master: "db1".into(),
            },
            epoch: 7,
            lease_deadline: None,
            writer_synced: false,
            writable: None,
            lag: None,
            ..Snapshot::default()
        }
    }

    #[test]
    fn writer_needs_role_lease_sync_and_read_only_off() {
        let now = crate::clock::now();
        let mut s = snap(&["writer"]);
        s.writer_synced = true;
        s.writable = Some(true);
        s.lease_deadline = Some(now.plus(Duration::from_secs(3)));
        assert!(writer_ok(&facts(), &s, now));
        assert!(
            !writer_ok(&facts(), &s, now.plus(Duration::from_secs(3))),
            "lease ran out"
        );
        let mut no_lease = s.clone();
        no_lease.lease_deadline = None;
        assert!(!writer_ok(&facts(), &no_lease, now), "no lease");
        let mut ro = s.clone();
        ro.writable = Some(false);
        assert!(!writer_ok(&facts(), &ro, now), "read_only=1");
        ro.writable = None;
        assert!(!writer_ok(&facts(), &ro, now), "read_only unknown");
        let mut unsynced = s.clone();
        unsynced.writer_synced = false;
        assert!(!writer_ok(&facts(), &unsynced, now), "not caught up");
        let mut reader = s;
        reader.desired = snap(&["reader"]).desired;
        assert!(!writer_ok(&facts(), &reader, now), "no writer role");
    }

    #[test]
    fn reader_needs_a_reader_role_and_known_lag_under_max() {
        let mut s = snap(&["reader"]);
        assert!(reader_ok(&facts(), &s, None));
        assert!(!reader_ok(&facts(), &s, Some(5)), "lag unknown");
        s.lag = Some(5);
        assert!(reader_ok(&facts(), &s, Some(5)));
        assert!(!reader_ok(&facts(), &s, Some(4)));
        assert!(
            !reader_ok(&facts(), &snap(&["writer"]), None),
            "writer only"
        );
        assert!(!reader_ok(&facts(), &snap(&[]), None));
    }

    #[test]
    fn replica_needs_online_no_writer_role_and_known_lag_under_max() {
        let mut s = snap(&[]);
        assert!(replica_ok(&facts(), &s, None), "ONLINE without roles");
        assert!(!replica_ok(&facts(), &s, Some(5)), "lag unknown");
        s.lag = Some(5);
        assert!(replica_ok(&facts(), &s, Some(5)));
        assert!(!replica_ok(&facts(), &s, Some(4)));
        assert!(replica_ok(&facts(), &snap(&["reader"]), None));
        assert!(
            !replica_ok(&facts(), &snap(&["writer"]), None),
            "the writer is no replica"
        );
        for state in [
            HostState::HardOffline,
            HostState::AwaitingRecovery,
            HostState::Unknown,
        ] {
            let mut off = snap(&[]);
            off.desired.state = state;
            assert!(!replica_ok(&facts(), &off, None), "{state}");
        }
    }

    #[test]
    fn reader_query_accepts_only_max_lag() {
        assert_eq!(parse_lag_query(None), Ok(None));
        assert_eq!(parse_lag_query(Some("")), Ok(None));
        assert_eq!(parse_lag_query(Some("max_lag=10")), Ok(Some(10)));
        for bad in [
            "max_lag=",
            "max_lag=-1",
            "max_lag=1.5",
            "lag=3",
            "max_lag=1&max_lag=2",
            "x",
        ] {
            assert!(parse_lag_query(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn health_reports_the_view() {
        let now = crate::clock::now();
        let mut s = snap(&["reader"]);
        s.lag = Some(2);
        let v = health(&facts(), &s, now);
        assert_eq!(v["host"], "db1");
        assert_eq!(v["state"], "ONLINE");
        assert_eq!(v["roles"][0], "reader(10.0.0.0)");
        assert_eq!(v["epoch"], 7);
        assert_eq!(v["replication_lag_seconds"], 2);
        assert_eq!(v["writer"], false);
        assert_eq!(v["reader"], true);
        assert!(v["lease_remaining_seconds"].is_null());
    }
}
