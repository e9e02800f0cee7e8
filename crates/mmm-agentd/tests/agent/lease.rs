//! Lease expiry demotes the writer on time, also while mysqld is stopped.

use std::time::{Duration, Instant};

use mmm_lab::TopologySpec;

use super::harness::{WRITER_IP, cluster};

const LEASE_MS: u64 = 1500;

#[test]
fn lease_expiry_demotes_writer_on_time_even_with_hung_mysql() {
    let Some(mut c) = cluster(
        "agl",
        TopologySpec {
            slaves: 0,
            ..Default::default()
        },
        "catchup_timeout 5\n",
    ) else {
        return;
    };
    c.start_agent("db1");
    let bound = Duration::from_millis(LEASE_MS + 200);

    // 1. Healthy MySQL.
    let (sent, reply) = c.set_status_timed("db1", &[("writer", WRITER_IP)], "db1", 1, LEASE_MS);
    let reply = reply.expect("take writer");
    assert!(reply.writable, "errors: {:?}", reply.errors);
    assert!(reply.present.iter().any(|r| r.ip == WRITER_IP));
    let gone = c
        .wait_ip_gone("db1", WRITER_IP, Duration::from_millis(LEASE_MS + 3000))
        .expect("VIP removed after lease");
    let took = gone - sent;
    eprintln!("lease {LEASE_MS} ms: VIP gone after {took:?} (healthy mysqld)");
    assert!(
        took >= Duration::from_millis(LEASE_MS),
        "dropped early: {took:?}"
    );
    assert!(took <= bound, "VIP removed after {took:?}, bound {bound:?}");
    // The agent removes the VIP and denies writes concurrently (a hung mysqld must not delay the
    // VIP), so read_only=1 may land just after the VIP is gone.
    let ro = c.wait_for(Duration::from_secs(5), || c.read_only("db1"));
    assert!(ro.is_some(), "read_only not set; log:\n{}", c.log("db1"));
    let log = c.log("db1");
    assert!(
        log.contains("FATAL Lease expired: dropping role 'writer(10.213.7.100)'"),
        "{log}"
    );
    assert!(c.get_status("db1").roles.is_empty());

    // 2. mysqld stopped (SIGSTOP) while the host holds the writer.
    let (sent, reply) = c.set_status_timed("db1", &[("writer", WRITER_IP)], "db1", 2, LEASE_MS);
    let reply = reply.expect("take writer again");
    assert!(reply.writable, "errors: {:?}", reply.errors);
    c.topo
        .db_mut("db1")
        .expect("db1")
        .sigstop()
        .expect("sigstop");
    let gone = c.wait_ip_gone("db1", WRITER_IP, Duration::from_millis(LEASE_MS + 3000));
    c.topo
        .db_mut("db1")
        .expect("db1")
        .sigcont()
        .expect("sigcont");
    let gone = gone.expect("VIP still present with mysqld stopped");
    let took = gone - sent;
    eprintln!("lease {LEASE_MS} ms: VIP gone after {took:?} (mysqld stopped)");
    assert!(took <= bound, "VIP removed after {took:?}, bound {bound:?}");
    // Once mysqld runs again the agent finishes the drop: read_only=1.
    let ro = c.wait_for(Duration::from_secs(15), || c.read_only("db1"));
    assert!(
        ro.is_some(),
        "read_only not restored; log:\n{}",
        c.log("db1")
    );

    // 3. The agent is killed while it holds the writer with a long lease and restarts:
    //    it finds the VIP, holds it only for its startup lease, then drops it by itself.
    let reply = c
        .set_status("db1", "ONLINE", &[("writer", WRITER_IP)], "db1", 3, 600_000)
        .expect("take writer with a long lease");
    assert!(reply.writable, "errors: {:?}", reply.errors);
    c.kill_agent("db1");
    assert!(c.has_ip("db1", WRITER_IP) && !c.read_only("db1"));
    let restarted = Instant::now();
    c.start_agent("db1");
    let gone = c.wait_for(Duration::from_secs(6), || {
        !c.has_ip("db1", WRITER_IP) && c.read_only("db1")
    });
    assert!(
        gone.is_some(),
        "writer kept after restart; log:\n{}",
        c.log("db1")
    );
    assert!(restarted.elapsed() >= Duration::from_millis(1500));
    let log = c.log("db1");
    assert!(
        log.contains("WARN Found role 'writer(10.213.7.100)' configured at startup"),
        "{log}"
    );
    assert!(
        log.contains("WARN Unclean start - found stale pid file!"),
        "{log}"
    );
}
