//! Failsafe mode over the real system: with two of three monitors killed no leader renews the
//! writer's lease, yet db1 keeps taking writes because db2's and db3's agents grant it failsafe
//! leases; a writer cut off from the monitors while db2 still hears the leader is refused, so
//! it fences itself and the failover stays safe.

use std::time::{Duration, Instant};

use super::fencing::{SingleWriter, cut_db1, heal_db1};
use super::{WRITER_IP, bring_up, start, wait_for};

/// Two of three monitors killed (the leader among them): no quorum, no renewal. For 20 s —
/// ten writer leases at the lab's timings — every write through the writer VIP is
/// acknowledged and db1 never reads `read_only=1`; a stale `show` says failsafe is active.
/// Once the monitors are back a leader renews the lease again and failsafe ends.
#[test]
fn two_of_three_monitors_killed_the_writer_keeps_taking_writes_under_failsafe() {
    let Some(mut c) = start("mondf") else {
        return;
    };
    bring_up(&c);
    let mut w = SingleWriter::start(&c);
    wait_for(&c, "db1 sampled writable", Duration::from_secs(10), || {
        w.check();
        w.writable("db1")
    });
    let leader = c.leader().expect("a leader");
    let other = c
        .monitor_names()
        .into_iter()
        .find(|m| *m != leader)
        .expect("a second monitor");
    c.kill9(&leader).expect("kill -9 the leader monitor");
    c.kill9(&other).expect("kill -9 a second monitor");
    let t0 = Instant::now();
    let (mut writes, mut longest) = (0u32, Duration::ZERO);
    let mut last_ack = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) {
        w.check();
        let sql = format!("INSERT INTO t (v) VALUES ({writes})");
        if let Err(e) = c.app_exec(WRITER_IP, &sql) {
            panic!(
                "a write failed {:?} after the monitors died: {e}\n{}",
                t0.elapsed(),
                c.logs()
            );
        }
        writes += 1;
        longest = longest.max(last_ack.elapsed());
        last_ack = Instant::now();
        assert!(
            w.read_only_at("db1").is_none_or(|at| at < t0),
            "db1 read read_only=1 {:?} after the monitors died\n{}",
            t0.elapsed(),
            c.log("db1")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("{writes} writes acknowledged in 20 s without a leader; longest gap {longest:?}");
    assert!(
        c.log("db1").contains("Failsafe mode entered"),
        "{}",
        c.log("db1")
    );
    let (_, show) = c.mmmctl_text(&["show"]);
    assert!(
        show.contains("# Failsafe active: 'db1' keeps the writer role"),
        "stale show without the failsafe line:\n{show}"
    );

    c.start(&leader).expect("restart the leader monitor");
    c.start(&other).expect("restart the second monitor");
    wait_for(
        &c,
        "a leader renews db1's lease and failsafe ends",
        Duration::from_secs(60),
        || {
            w.check();
            c.log("db1")
                .contains("Failsafe mode ended: a monitor leader renews the writer lease again")
        },
    );
    w.watch(Duration::from_secs(5));
    assert!(w.writable("db1") && !w.writable("db2"), "the writer moved");
    c.app_exec(WRITER_IP, "INSERT INTO t (v) VALUES (-1)")
        .expect("db1 takes writes with the leader back");
    w.stop();
}

/// db1 cut from every monitor while db2 and db3 still hear the leader: they refuse db1's
/// failsafe requests (the leader is alive; or they already hold a newer epoch than db1), db1's
/// lease runs out, and db2 takes the writer; never two writers.
#[test]
fn a_writer_cut_from_the_monitors_is_refused_failsafe_while_its_peers_hear_a_leader() {
    let Some(c) = start("mondr") else {
        return;
    };
    bring_up(&c);
    let mut w = SingleWriter::start(&c);
    // Let the reader VIPs settle first, so db1 and its peers stand at the same epoch.
    w.watch(Duration::from_secs(3));
    let monitors = cut_db1(&c);
    w.wait_db2_writer(&c);
    let db1 = c.log("db1");
    let refused = db1
        .lines()
        .find(|l| l.contains("Failsafe lease not granted: host 'db2' refused a failsafe lease"))
        .unwrap_or_else(|| panic!("db1 was not refused:\n{db1}"));
    println!("{refused}");
    assert!(
        db1.contains("Lease expired"),
        "db1 did not fence itself:\n{db1}"
    );
    heal_db1(&c, &monitors);
    w.watch(Duration::from_secs(10));
    assert!(!w.writable("db1"), "db1 writable after the heal");
    w.stop();
}
