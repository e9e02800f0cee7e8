//! `GET /metrics`: the driver's snapshot in the Prometheus text format. The registry is built
//! per scrape from the snapshot, so the numbers are exactly what the driver last published and
//! no metric state is shared with the driver.

use mmm_core::agent::Mono;
use mmm_daemon::metrics::{GaugeFamily, gauge, seconds, text};
use prometheus_client::registry::Registry;

use super::view::{Facts, lease_remaining, reader_ok, writer_ok};
use crate::driver::Snapshot;

/// The exposition text for `snap` at `now`.
pub fn render(facts: &Facts, snap: &Snapshot, now: Mono) -> Result<String, std::fmt::Error> {
    let mut r = Registry::with_prefix("mmm_agent");
    let roles = GaugeFamily::default();
    for role in &snap.desired.roles {
        roles
            .get_or_create(&vec![
                ("role", role.role.clone()),
                ("ip", role.ip.map(|ip| ip.to_string()).unwrap_or_default()),
            ])
            .set(1);
    }
    r.register(
        "role_held",
        "Role IPs this agent holds (1 per role and IP)",
        roles,
    );
    gauge(
        &mut r,
        "roles_held",
        "Number of role IPs held",
        snap.desired.roles.len() as i64,
    );
    gauge(
        &mut r,
        "accepted_epoch",
        "Highest fencing epoch accepted",
        snap.epoch as i64,
    );
    gauge(
        &mut r,
        "writer_ready",
        "1 while GET /writer answers 200 (writer role, live lease, read_only=0)",
        i64::from(writer_ok(facts, snap, now)),
    );
    gauge(
        &mut r,
        "reader_ready",
        "1 while GET /reader (without max_lag) answers 200",
        i64::from(reader_ok(facts, snap, None)),
    );
    if let Some(writable) = snap.writable {
        gauge(
            &mut r,
            "read_only",
            "read_only as last read while holding the writer role",
            i64::from(!writable),
        );
    }
    if let Some(left) = lease_remaining(snap, now) {
        seconds(
            &mut r,
            "lease_remaining",
            "Time left on the writer lease",
            left,
        );
    }
    if let Some(lag) = snap.lag {
        seconds(
            &mut r,
            "replication_lag",
            "Seconds_Behind_Master as last read while holding a reader role",
            lag as f64,
        );
    }
    text(&r)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use mmm_core::state::{HostState, RoleIp};

    use super::*;
    use crate::desired::Desired;

    #[test]
    fn writer_snapshot_renders_its_numbers() {
        let now = crate::clock::now();
        let snap = Snapshot {
            desired: Desired {
                state: HostState::Online,
                roles: vec![RoleIp::new("writer", "10.213.7.100".parse().unwrap())],
                active_master: "db1".into(),
            },
            epoch: 12,
            lease_deadline: Some(now.plus(Duration::from_secs(4))),
            writer_synced: true,
            writable: Some(true),
            lag: None,
            ..Snapshot::default()
        };
        let facts = Facts {
            host: "db1".into(),
            writer_role: Some("writer".into()),
        };
        let text = render(&facts, &snap, now).unwrap();
        for line in [
            "mmm_agent_role_held{role=\"writer\",ip=\"10.213.7.100\"} 1",
            "mmm_agent_roles_held 1",
            "mmm_agent_accepted_epoch 12",
            "mmm_agent_writer_ready 1",
            "mmm_agent_reader_ready 0",
            "mmm_agent_read_only 0",
            "mmm_agent_lease_remaining_seconds 4.0",
            "# EOF",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(!text.contains("replication_lag"), "{text}");
    }
}
