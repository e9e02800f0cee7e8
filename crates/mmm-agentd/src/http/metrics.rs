//! `GET /metrics`: the driver's snapshot in the Prometheus text format. The registry is built
//! per scrape from the snapshot, so the numbers are exactly what the driver last published and
//! no metric state is shared with the driver.

use mmm_core::agent::Mono;
use mmm_daemon::metrics::{GaugeFamily, gauge, seconds, text};
use prometheus_client::registry::{Registry, Unit};

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
    seconds(
        &mut r,
        "failsafe_remaining",
        "Time left on the failsafe leases that keep the writer role while no monitor leads (0: not in failsafe)",
        snap.failsafe_until
            .map_or(0.0, |until| now.until(until).as_secs_f64()),
    );
    replication(&mut r, snap);
    vips(&mut r, snap);
    durations(&mut r, &facts.timings);
    text(&r)
}

/// The master this server replicates from and its two threads, when it is a slave.
fn replication(r: &mut Registry, snap: &Snapshot) {
    let Some(rep) = &snap.replication else {
        return;
    };
    let source = GaugeFamily::default();
    source
        .get_or_create(&vec![("source", rep.source.clone())])
        .set(1);
    r.register(
        "replication_source",
        "The master this server replicates from (host:port as SHOW SLAVE STATUS names it)",
        source,
    );
    let threads = GaugeFamily::default();
    for (thread, running) in [("io", rep.io_running), ("sql", rep.sql_running)] {
        threads
            .get_or_create(&vec![("thread", thread.to_owned())])
            .set(i64::from(running));
    }
    r.register(
        "replication_thread_running",
        "1 while the replication thread runs (io: also while it connects)",
        threads,
    );
}

/// 1 or 0 for every role IP of the cluster: on this host's interface at the last read or not.
fn vips(r: &mut Registry, snap: &Snapshot) {
    let Some(present) = &snap.vips_present else {
        return;
    };
    let family = GaugeFamily::default();
    for (ip, on) in present {
        family
            .get_or_create(&vec![("ip", ip.to_string())])
            .set(i64::from(*on));
    }
    r.register(
        "vip_present",
        "Role IPs on this host's interface at the last read (1) or not (0)",
        family,
    );
}

/// How long catch-ups and kill rounds took, every attempt since the agent started.
fn durations(r: &mut Registry, timings: &crate::db::Timings) {
    r.register_with_unit(
        "catch_up_duration",
        "Time to catch up with the master's binlog before taking writes",
        Unit::Seconds,
        timings.catch_up.clone(),
    );
    r.register_with_unit(
        "kill_round_duration",
        "Time to set read_only=1 and kill the client sessions after it",
        Unit::Seconds,
        timings.kill_round.clone(),
    );
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
            ..Facts::default()
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
            "mmm_agent_failsafe_remaining_seconds 0.0",
            "# EOF",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(!text.contains("replication_lag"), "{text}");
        assert!(!text.contains("replication_source"), "not a slave: {text}");
        assert!(!text.contains("vip_present"), "interface not read: {text}");
    }

    #[test]
    fn replication_vips_failsafe_and_durations_render() {
        let now = Mono::from_millis(1_000);
        let snap = Snapshot {
            replication: Some(crate::driver::Replication {
                source: "10.213.7.12:3306".into(),
                io_running: true,
                sql_running: false,
            }),
            vips_present: Some(vec![
                ("10.213.7.100".parse().unwrap(), true),
                ("10.213.7.101".parse().unwrap(), false),
            ]),
            failsafe_until: Some(now.plus(Duration::from_millis(2_500))),
            ..Snapshot::default()
        };
        let facts = Facts::default();
        facts.timings.catch_up.observe(0.3);
        facts.timings.kill_round.observe(0.01);
        facts.timings.kill_round.observe(0.02);
        let text = render(&facts, &snap, now).unwrap();
        for line in [
            "mmm_agent_replication_source{source=\"10.213.7.12:3306\"} 1",
            "mmm_agent_replication_thread_running{thread=\"io\"} 1",
            "mmm_agent_replication_thread_running{thread=\"sql\"} 0",
            "mmm_agent_vip_present{ip=\"10.213.7.100\"} 1",
            "mmm_agent_vip_present{ip=\"10.213.7.101\"} 0",
            "mmm_agent_failsafe_remaining_seconds 2.5",
            "mmm_agent_catch_up_duration_seconds_count 1",
            "mmm_agent_kill_round_duration_seconds_count 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
