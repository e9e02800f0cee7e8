//! `GET /metrics`: one [`Snapshot`] in the Prometheus text format, prefix `mmm_monitor`.
//! Every monitor answers (leader or not), so a dashboard can see which one leads and whether
//! each has applied the same state; host and role series come from the replicated state as
//! this monitor last applied it, check series from its own checks.

use mmm_core::checks::CheckKind;
use mmm_core::state::{ClusterState, HostState};
use mmm_daemon::metrics::{GaugeFamily, Labels, gauge, seconds, text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::view::Snapshot;
use crate::counters::Counters;

fn family(registry: &mut Registry, name: &str, help: &str, fill: impl FnOnce(&GaugeFamily)) {
    let f = GaugeFamily::default();
    fill(&f);
    registry.register(name, help, f);
}

fn one(f: &GaugeFamily, labels: &[(&'static str, &str)], value: i64) {
    let labels = labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    f.get_or_create(&labels).set(value);
}

fn raft(r: &mut Registry, snap: &Snapshot) {
    gauge(
        r,
        "raft_term",
        "Raft term this monitor is in",
        snap.term as i64,
    );
    gauge(
        r,
        "raft_is_leader",
        "1 on the monitor that leads (and commands the agents)",
        i64::from(snap.raft_state == "Leader"),
    );
    family(
        r,
        "raft_state",
        "Raft role of this monitor (1 on the current one)",
        |f| {
            one(f, &[("state", snap.raft_state)], 1);
        },
    );
    let index = |i: Option<u64>| i.map_or(-1, |i| i as i64);
    gauge(
        r,
        "raft_last_log_index",
        "Index of the last Raft log entry held (-1 for none)",
        index(snap.last_log_index),
    );
    gauge(
        r,
        "raft_applied_index",
        "Index of the last entry applied to the cluster state (-1 for none)",
        index(snap.applied_index),
    );
    if let Some(ms) = snap.quorum_ack_ms {
        seconds(
            r,
            "raft_quorum_ack_age",
            "On the leader: time since a majority last acknowledged it",
            ms as f64 / 1000.0,
        );
    }
}

fn hosts(r: &mut Registry, snap: &Snapshot, cluster: Option<&ClusterState>) {
    let status = |name: &str| cluster.and_then(|c| c.hosts.iter().find(|h| h.name == name));
    family(
        r,
        "host_state",
        "Host state (1 on the current one, 0 on the others)",
        |f| {
            for name in &snap.hosts {
                let now = status(name).map_or(HostState::Unknown, |h| h.state);
                for s in HostState::ALL {
                    one(
                        f,
                        &[("host", name), ("state", s.as_str())],
                        i64::from(s == now),
                    );
                }
            }
        },
    );
    family(
        r,
        "host_role",
        "Role IPs assigned to a host (1 per role and IP)",
        |f| {
            for h in cluster.iter().flat_map(|c| &c.hosts) {
                for role in &h.roles {
                    let ip = role.ip.map(|ip| ip.to_string()).unwrap_or_default();
                    one(
                        f,
                        &[("host", &h.name), ("role", &role.role), ("ip", &ip)],
                        1,
                    );
                }
            }
        },
    );
    family(
        r,
        "agent_down",
        "1 while the host's agent does not answer",
        |f| {
            for name in &snap.hosts {
                one(
                    f,
                    &[("host", name)],
                    i64::from(status(name).is_some_and(|h| h.agent_down)),
                );
            }
        },
    );
    family(r, "flapping", "1 while the host is flapping", |f| {
        for name in &snap.hosts {
            one(
                f,
                &[("host", name)],
                i64::from(status(name).is_some_and(|h| h.flapping)),
            );
        }
    });
}

fn checks(r: &mut Registry, snap: &Snapshot) {
    family(
        r,
        "check_ok",
        "This monitor's last result of a check (1 ok, 0 failed)",
        |f| {
            for name in &snap.hosts {
                for kind in CheckKind::ALL {
                    if let Some(c) = snap.local.table.get(name, kind) {
                        one(
                            f,
                            &[("host", name), ("check", kind.as_str())],
                            i64::from(c.ok),
                        );
                    }
                }
            }
        },
    );
    gauge(
        r,
        "network_ok",
        "1 while this monitor's network self-check passes",
        i64::from(snap.local.network_ok),
    );
}

/// The hooks' facts in the replicated state: a vetoed failover, and how many epochs the
/// post-change hook has yet to handle (only while it is configured).
fn hooks(r: &mut Registry, c: &ClusterState) {
    let vetoed = c
        .writer_release
        .as_ref()
        .and_then(|rel| rel.hook.as_ref())
        .is_some_and(|v| !v.allowed);
    gauge(
        r,
        "pre_failover_vetoed",
        "1 while the pre-failover hook's veto keeps the writer role orphaned",
        i64::from(vetoed),
    );
    if let Some(cursor) = c.post_change {
        gauge(
            r,
            "post_change_backlog_epochs",
            "Committed epochs the post-change hook has not handled yet",
            c.epoch.saturating_sub(cursor.finished) as i64,
        );
    }
}

/// The writer's handoffs by cause, from the replicated counts, so every monitor reports the
/// same totals and a new leader continues them.
fn writer_moves(r: &mut Registry, c: &ClusterState) {
    let f: Family<Labels, Counter> = Family::default();
    let moves = c.writer_moves;
    for (cause, n) in [
        ("failover", moves.failover),
        ("switchover", moves.switchover),
    ] {
        f.get_or_create(&vec![("cause", cause.to_owned())])
            .inc_by(n);
    }
    r.register(
        "writer_moves",
        "Handoffs of the writer role to another host, by cause (failover: its host failed; switchover: move_role, set_ip or prefer)",
        f,
    );
}

/// The exposition text for `snap`, with the driver's `counters`.
pub fn render(snap: &Snapshot, counters: &Counters) -> Result<String, std::fmt::Error> {
    let mut r = Registry::with_prefix("mmm_monitor");
    let cluster = snap.cluster.as_ref();
    raft(&mut r, snap);
    hosts(&mut r, snap, cluster);
    checks(&mut r, snap);
    counters.register(&mut r);
    if let Some(c) = cluster {
        gauge(
            &mut r,
            "epoch",
            "Fencing epoch of the cluster state",
            c.epoch as i64,
        );
        family(&mut r, "mode", "Monitor mode (1 on the current one)", |f| {
            one(f, &[("mode", c.mode.as_str())], 1);
        });
        gauge(
            &mut r,
            "writer_release_pending",
            "1 while the writer role waits for its old host to be proven fenced",
            i64::from(c.writer_release.is_some()),
        );
        hooks(&mut r, c);
        writer_moves(&mut r, c);
    }
    text(&r)
}
