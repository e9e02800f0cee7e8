//! Failsafe leases between real agents: a writer no leader renews keeps writing while the other
//! agent grants; that agent takes no writer role while its promise holds (the promise survives
//! a restart); once it hears a leader again it refuses, and the writer fences itself before the
//! other host can take the role.

use std::time::{Duration, Instant};

use mmm_lab::TopologySpec;
use mmm_proto::pb;

use super::harness::{Cluster, WRITER_IP, cluster, status_req};
use super::lease::two_masters;

const LEASE_MS: u64 = 3000;
const INTERVAL_MS: u64 = 300;

/// A leader's status for `name`: `roles` at `epoch` with `master` the active master, and the
/// status interval the failsafe counts from.
fn leader_status(
    c: &Cluster,
    name: &str,
    roles: &[(&str, &str)],
    master: &str,
    epoch: u64,
) -> pb::SetStatusReply {
    let basis = c.ping_basis(name).1;
    let mut req = status_req(name, roles, master, epoch, LEASE_MS);
    req.basis = Some(basis);
    req.status_interval_ms = INTERVAL_MS;
    c.send_status(name, req).expect("status")
}

/// Fails when both servers read `read_only=0`; returns db1's and db2's `read_only`.
fn sample(c: &Cluster) -> (Option<bool>, Option<bool>) {
    let (r1, r2) = (c.try_read_only("db1"), c.try_read_only("db2"));
    assert!(
        !(r1 == Some(false) && r2 == Some(false)),
        "db1 and db2 both read_only=0\n--- db1 ---\n{}\n--- db2 ---\n{}",
        c.log("db1"),
        c.log("db2")
    );
    (r1, r2)
}

/// Starts both agents and gives them a leader's last word: db2 a plain ONLINE master, db1 the
/// writer, both at epoch 5.
fn writer_on_db1(c: &mut Cluster) {
    c.start_agent("db1");
    c.start_agent("db2");
    leader_status(c, "db2", &[], "db1", 5);
    let reply = leader_status(c, "db1", &[("writer", WRITER_IP)], "db1", 5);
    assert!(reply.writable, "db1 took the writer: {:?}", reply.errors);
}

fn report(c: &Cluster, name: &str) -> pb::AgentReport {
    c.get_status(name).report.expect("report")
}

#[test]
fn a_writer_no_leader_renews_keeps_writing_under_its_peers_promise_then_hands_over_safely() {
    let Some(mut c) = two_masters("agf") else {
        return;
    };
    writer_on_db1(&mut c);

    // No leader any more. Long past the lease db1 is still writable, on db2's grants.
    let silent = Instant::now();
    while silent.elapsed() < Duration::from_millis(LEASE_MS * 2) {
        assert_eq!(
            sample(&c).0,
            Some(false),
            "db1 stopped taking writes {:?} after the last status\n{}",
            silent.elapsed(),
            c.log("db1")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let r1 = report(&c, "db1");
    assert!(r1.failsafe_remaining_ms > 0, "db1 in failsafe: {r1:?}");
    let r2 = report(&c, "db2");
    assert_eq!(r2.promised_to, "db1", "db2 promised db1: {r2:?}");
    assert!(
        c.log("db1").contains("Failsafe mode entered"),
        "{}",
        c.log("db1")
    );
    assert!(
        c.log("db2").contains("Granted host 'db1' a failsafe lease"),
        "{}",
        c.log("db2")
    );

    // The promise is on disk: a restarted agent on db2 loads it.
    c.kill_agent("db2");
    c.start_agent("db2");
    assert!(
        c.log("db2")
            .contains("Loaded a failsafe promise to host 'db1'"),
        "{}",
        c.log("db2")
    );

    // A leader is back and moves the writer to db2 at epoch 6: refused while the promise holds.
    let reply = leader_status(&c, "db2", &[("writer", WRITER_IP)], "db2", 6);
    assert!(!reply.writable, "db2 took the writer under a promise");
    let refused = reply.report.expect("report").writer_refused;
    assert!(refused.contains("failsafe lease"), "refusal: {refused}");

    // db2 hears a leader now and refuses db1's rounds: db1 fences itself on its own lease.
    let fenced = c.wait_for(Duration::from_millis(LEASE_MS * 3), || {
        sample(&c).0 == Some(true)
    });
    assert!(fenced.is_some(), "db1 stayed writable\n{}", c.log("db1"));
    assert!(
        c.log("db1")
            .contains("Failsafe lease not granted: host 'db2' refused"),
        "{}",
        c.log("db1")
    );

    // Once the promise ends, a status gives db2 the writer; never were both writable.
    let took = c.wait_for(Duration::from_secs(10), || {
        sample(&c);
        leader_status(&c, "db2", &[("writer", WRITER_IP)], "db2", 6).writable
    });
    assert!(
        took.is_some(),
        "db2 never took the writer\n{}",
        c.log("db2")
    );
    assert_eq!(sample(&c), (Some(true), Some(false)));
}

#[test]
fn failsafe_mode_off_lets_the_lease_run_out_and_grants_nothing() {
    let spec = TopologySpec {
        slaves: 0,
        ..Default::default()
    };
    let Some(mut c) = cluster("agfo", spec, "catchup_timeout 5\nfailsafe_mode off\n") else {
        return;
    };
    writer_on_db1(&mut c);
    let fenced = c.wait_for(Duration::from_millis(LEASE_MS * 2), || {
        sample(&c).0 == Some(true)
    });
    assert!(fenced.is_some(), "db1 stayed writable\n{}", c.log("db1"));
    assert_eq!(report(&c, "db2").promised_to, "");
}
