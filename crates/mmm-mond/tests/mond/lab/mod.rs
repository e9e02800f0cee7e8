//! The seeds' failover test 2 over the real system: three mmm-mond processes, real agents,
//! real MariaDB, real VIPs in lab namespaces. The writer db1's mysqld is killed; the writer
//! VIP and read_only move to db2 and db3 follows db2 — also when the leader monitor is
//! killed (kill -9) in the middle of the failover.

use std::time::{Duration, Instant};

mod failsafe;
mod fencing;
mod modes;
mod refused;

use mmm_lab::cluster::{Binaries, Cluster, ClusterOptions};

const WRITER_IP: &str = "10.213.7.100";

/// mmm-agentd, mmm-mond and mmmctl, built by cargo before the first use.
pub(crate) fn binaries() -> Binaries {
    mmm_lab::build_binaries().expect("build mmm-agentd, mmm-mond and mmmctl")
}

/// The seeds' topology with real agents and three real monitors (short timings), or `None`
/// without root.
fn start(tag: &str) -> Option<Cluster> {
    if !mmm_lab::lab_available(tag) {
        return None;
    }
    Some(Cluster::launch(ClusterOptions::new(tag, binaries())).expect("lab cluster"))
}

/// Polls `cond` until it holds; panics with every daemon's log tail and `show` otherwise.
fn wait_for(c: &Cluster, what: &str, limit: Duration, cond: impl FnMut() -> bool) -> Duration {
    c.wait_for(what, limit, cond)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `sql` as root on `host`'s own MariaDB server, from inside its namespace.
fn exec_root(c: &Cluster, host: &str, sql: &str) {
    let db = c.topology().db(host).expect("a lab database host");
    let h = c.host(host).expect("a lab host");
    h.block_on(db.exec(sql))
        .expect("inside the host")
        .unwrap_or_else(|e| panic!("{sql} on {host}: {e}"));
}

/// The monitor after `name` in the configured order.
fn next_monitor(c: &Cluster, name: &str) -> String {
    let names = c.monitor_names();
    let i = names
        .iter()
        .position(|n| n == name)
        .expect("a configured monitor");
    names[(i + 1) % names.len()].clone()
}

/// Brings the fresh cluster up: startup vote, every host set online, writer on db1.
fn bring_up(c: &Cluster) {
    wait_for(c, "a leader", Duration::from_secs(30), || {
        c.leader().is_some()
    });
    for h in ["db1", "db2", "db3"] {
        wait_for(
            c,
            &format!("set_online {h}"),
            Duration::from_secs(30),
            || {
                let (ok, out) = c.mmmctl_text(&["set_online", h]);
                ok && (out.contains("OK: State of") || out.contains("already ONLINE"))
            },
        );
    }
    wait_for(c, "writer VIP on db1", Duration::from_secs(30), || {
        c.has_ip("db1", WRITER_IP)
    });
    wait_for(
        c,
        "db1 writable through the VIP",
        Duration::from_secs(30),
        || {
            c.app_exec(
                WRITER_IP,
                "CREATE TABLE IF NOT EXISTS t (id INT PRIMARY KEY AUTO_INCREMENT, v INT)",
            )
            .and_then(|()| c.app_exec(WRITER_IP, "INSERT INTO t (v) VALUES (1)"))
            .is_ok()
        },
    );
    // The fault comes to a cluster in step: with asynchronous replication a row db1 wrote
    // just before it died can reach db3 and not db2, and db3 then rightly refuses to follow
    // a master that lacks it (the agent's slave tests show that case).
    let count = "SELECT COUNT(*) FROM mmm_test.t";
    let db1 = c.topology().db("db1").expect("db1");
    let rows = c
        .host("db1")
        .expect("db1's lab host")
        .block_on(db1.query_value(count))
        .expect("inside db1")
        .expect("db1 counts its rows")
        .unwrap_or_default();
    for host in ["db2", "db3"] {
        let db = c.topology().db(host).expect("a lab database host");
        let h = c.host(host).expect("a lab host");
        h.block_on(mmm_lab::replication::wait_until(
            db,
            &format!("SELECT COUNT(*) = {rows} FROM mmm_test.t"),
            Duration::from_secs(30),
        ))
        .expect("inside the host")
        .unwrap_or_else(|e| panic!("db1's row on {host}: {e}"));
    }
}

/// Asserts the seeds' expected end state after db1's mysqld died.
fn assert_failed_over(c: &Cluster, t0: Instant) {
    wait_for(c, "writer VIP on db2 only", Duration::from_secs(30), || {
        c.has_ip("db2", WRITER_IP) && !c.has_ip("db1", WRITER_IP)
    });
    println!(
        "writer VIP on db2 {:?} after db1's mysqld was killed",
        t0.elapsed()
    );
    wait_for(
        c,
        "db2 writable by the app through the VIP",
        Duration::from_secs(30),
        || {
            c.app_exec(WRITER_IP, "INSERT INTO t (v) VALUES (2)")
                .is_ok()
        },
    );
    wait_for(
        c,
        "db3 replicates from db2",
        Duration::from_secs(30),
        || c.master_host("db3").as_deref() == Some("10.213.7.12"),
    );
    let (ok, show) = c.mmmctl_text(&["show"]);
    assert!(ok, "mmmctl show failed: {show}");
    println!("{show}");
    assert!(
        show.lines().any(
            |l| l.starts_with("  db2(10.213.7.12) master/ONLINE. Roles: ")
                && l.contains("writer(10.213.7.100)")
        ),
        "show does not list db2 as writer:\n{show}"
    );
    assert!(
        show.lines()
            .any(|l| l.starts_with("  db1(10.213.7.11) master/HARD_OFFLINE. Roles:")),
        "show does not list db1 HARD_OFFLINE:\n{show}"
    );
}

#[test]
fn seeds_test2_writer_mysqld_killed_three_monitors() {
    let Some(mut c) = start("mondf") else {
        return;
    };
    bring_up(&c);
    let t0 = Instant::now();
    c.topology_mut()
        .db_mut("db1")
        .expect("db1")
        .kill9()
        .expect("kill -9 mysqld on db1");
    assert_failed_over(&c, t0);
}

#[test]
fn seeds_test2_with_the_leader_monitor_killed_mid_failover() {
    let Some(mut c) = start("mondk") else {
        return;
    };
    bring_up(&c);
    let leader = c.leader().expect("leader");
    let t0 = Instant::now();
    c.topology_mut()
        .db_mut("db1")
        .expect("db1")
        .kill9()
        .expect("kill -9 mysqld on db1");
    // The failover is under way when the leader dies: db1's HARD_OFFLINE is committed (every
    // monitor logs a change once it is committed), the writer is not on db2 yet.
    wait_for(
        &c,
        "db1's HARD_OFFLINE committed",
        Duration::from_secs(30),
        || {
            c.monitor_names().iter().any(|m| {
                c.log(m).contains(
                "State of host 'db1' changed from ONLINE to HARD_OFFLINE (ping: OK, mysql: not OK)",
            )
            })
        },
    );
    let writer_moved = c.has_ip("db2", WRITER_IP);
    c.kill9(&leader).expect("kill -9 monitor");
    println!(
        "killed leader monitor {leader} {:?} after the kill, once db1's HARD_OFFLINE was \
         committed (writer VIP on db2 already: {writer_moved})",
        t0.elapsed()
    );
    assert_failed_over(&c, t0);
    let now = c.leader().expect("a new leader");
    assert_ne!(now, leader);
}

#[test]
fn a_monitor_cut_off_from_the_writer_cannot_fail_it_alone() {
    let Some(c) = start("mondc") else {
        return;
    };
    bring_up(&c);
    let leader = c.leader().expect("leader");
    let cut = next_monitor(&c, &leader);
    let db1 = c.topology().host("db1").expect("db1").clone();
    c.lab()
        .cut(&c.host(&cut).expect("monitor host"), &db1)
        .expect("cut monitor from db1");
    println!("cut {cut} (not the leader) off from db1");
    // Well past trap_period (0.8 s): that monitor sees db1's ping and mysql fail.
    std::thread::sleep(Duration::from_secs(4));
    let log = c.log(&cut);
    assert!(
        log.contains("Check 'ping' on 'db1' has failed for"),
        "the cut monitor did not see db1 fail:\n{log}"
    );
    let (ok, show) = c.mmmctl_text(&["show"]);
    assert!(ok, "{show}");
    assert!(
        show.lines().any(
            |l| l.starts_with("  db1(10.213.7.11) master/ONLINE. Roles: ")
                && l.contains("writer(10.213.7.100)")
        ),
        "db1 lost its state or the writer:\n{show}"
    );
    assert!(c.has_ip("db1", WRITER_IP) && !c.has_ip("db2", WRITER_IP));
    c.app_exec(WRITER_IP, "INSERT INTO t (v) VALUES (3)")
        .expect("db1 still takes writes");
    let (ok, checks) = c.mmmctl_text(&["checks", "db1", "ping"]);
    assert!(
        ok && checks.contains("OK"),
        "merged ping check of db1: {checks}"
    );
}

#[test]
fn an_isolated_leader_monitor_is_replaced_and_fails_nothing() {
    let Some(c) = start("mondi") else {
        return;
    };
    bring_up(&c);
    let leader = c.leader().expect("leader");
    let name = leader.clone();
    c.lab()
        .isolate(&c.host(&leader).expect("leader host"))
        .expect("isolate the leader monitor");
    println!("isolated the leader monitor {name}");
    // The majority elects another leader; the isolated monitor loses its network
    // self-check and decides nothing.
    wait_for(&c, "a new leader", Duration::from_secs(15), || {
        c.leader().is_some_and(|l| l != leader)
    });
    wait_for(
        &c,
        "the isolated monitor notices",
        Duration::from_secs(15),
        || c.log(&name).contains("FATAL Network is unreachable"),
    );
    std::thread::sleep(Duration::from_secs(3));
    let (ok, show) = c.mmmctl_text(&["show"]);
    assert!(ok, "{show}");
    for db in ["db1(10.213.7.11)", "db2(10.213.7.12)", "db3(10.213.7.13)"] {
        assert!(
            show.lines()
                .any(|l| l.starts_with(&format!("  {db} ")) && l.contains("/ONLINE.")),
            "{db} is not ONLINE:\n{show}"
        );
    }
    assert!(c.has_ip("db1", WRITER_IP));
    c.app_exec(WRITER_IP, "INSERT INTO t (v) VALUES (4)")
        .expect("db1 keeps taking writes");
}

#[test]
fn a_leader_cut_off_from_the_writer_hands_leadership_over() {
    let Some(c) = start("monds") else {
        return;
    };
    bring_up(&c);
    let leader = c.leader().expect("leader");
    let name = leader.clone();
    let db1 = c.topology().host("db1").expect("db1").clone();
    c.lab()
        .cut(&c.host(&leader).expect("leader host"), &db1)
        .expect("cut the leader from db1");
    println!("cut the leader monitor {name} off from db1");
    wait_for(
        &c,
        "leadership moved off the cut monitor",
        Duration::from_secs(20),
        || c.leader().is_some_and(|l| l != leader),
    );
    assert!(
        c.log(&name)
            .contains("handing leadership to another monitor")
    );
    wait_for(
        &c,
        "db1 keeps or regains the writer",
        Duration::from_secs(20),
        || {
            c.has_ip("db1", WRITER_IP)
                && c.app_exec(WRITER_IP, "INSERT INTO t (v) VALUES (5)")
                    .is_ok()
        },
    );
    let (ok, show) = c.mmmctl_text(&["show"]);
    assert!(ok, "{show}");
    assert!(
        show.lines().any(
            |l| l.starts_with("  db1(10.213.7.11) master/ONLINE. Roles: ")
                && l.contains("writer(10.213.7.100)")
        ),
        "db1 lost its state or the writer:\n{show}"
    );
    assert!(!c.has_ip("db2", WRITER_IP));
}
