//! How fast a dead mysqld is recognised, and what does not count as one. A kill -9 of the
//! writer's mysqld leaves its host up, so every monitor's connect is refused: the `mysql`
//! check fails at the first refusal, well inside the trap period, and the writer moves to db2.
//! 300 ms of total packet loss at the writer only delays the checks (timeouts, no refusal):
//! the trap rides it out and nothing changes.

use std::time::{Duration, Instant};

use mmm_lab::cluster::{Cluster, ClusterOptions, writer_in_show};

use super::{WRITER_IP, assert_failed_over, binaries, bring_up, start, wait_for};

/// The trap period of the kill test: long enough that a failure reported before it ran out
/// cannot have waited it out, however slow the machine.
const LONG_TRAP: Duration = Duration::from_millis(4_500);

/// How long everything to and from the writer is dropped.
const LOSS: Duration = Duration::from_millis(300);

/// Watched after the loss: many times the lab's trap period (0.8 s) and agent lease (2 s).
const QUIET: Duration = Duration::from_secs(8);

/// The seeds' topology with a long trap period, or `None` without root.
fn start_long_trap(tag: &str) -> Option<Cluster> {
    if !mmm_lab::lab_available(tag) {
        return None;
    }
    let mut options = ClusterOptions::new(tag, binaries());
    options.timings.trap_period = LONG_TRAP;
    Some(Cluster::launch(options).expect("lab cluster"))
}

/// The seconds of every `Check 'mysql' on 'db1' has failed for N seconds! Message: …` line
/// in `log`, with its message.
fn mysql_failures(log: &str) -> Vec<(f64, String)> {
    const HEAD: &str = "Check 'mysql' on 'db1' has failed for ";
    log.lines()
        .filter_map(|l| {
            let rest = &l[l.find(HEAD)? + HEAD.len()..];
            let (secs, message) = rest.split_once(" seconds! Message: ")?;
            let secs = secs
                .parse()
                .unwrap_or_else(|e| panic!("{secs:?} in {l:?}: {e}"));
            Some((secs, message.to_owned()))
        })
        .collect()
}

#[test]
fn a_killed_writer_mysqld_fails_at_the_first_refusal_not_after_the_trap() {
    let Some(mut c) = start_long_trap("mondq") else {
        return;
    };
    bring_up(&c);
    let t0 = Instant::now();
    c.topology_mut()
        .db_mut("db1")
        .expect("db1")
        .kill9()
        .expect("kill -9 mysqld on db1");
    wait_for(&c, "db1 HARD_OFFLINE", Duration::from_secs(30), || {
        let (_, show) = c.mmmctl_text(&["show"]);
        show.lines()
            .any(|l| l.starts_with("  db1(10.213.7.11) master/HARD_OFFLINE."))
    });
    assert_failed_over(&c, t0);
    // Every monitor that failed db1's mysql check did so on a refused connection, before its
    // trap period of errors had passed; a quorum of them (2 of 3) is what failed the host.
    let mut failed_by = Vec::new();
    for name in c.monitor_names() {
        let log = c.log(&name);
        for (secs, message) in mysql_failures(&log) {
            assert!(
                secs < LONG_TRAP.as_secs_f64(),
                "{name} waited out the trap ({secs} s): {message}"
            );
            assert!(
                message.starts_with("ERROR: Connect error (host = 10.213.7.11:3306, user = ")
                    && message.contains(")! Connection refused"),
                "{name} failed db1's mysql check on another error: {message}"
            );
            println!("{name}: db1's mysql check failed after {secs} s of errors: {message}");
            failed_by.push(name.clone());
        }
    }
    assert!(
        failed_by.len() >= 2,
        "a quorum of monitors failed db1's mysql check: {failed_by:?}"
    );
    let leader = c.leader().expect("a leader");
    assert!(
        c.log(&leader).contains(
            "FATAL State of host 'db1' changed from ONLINE to HARD_OFFLINE (ping: OK, mysql: not OK)"
        ),
        "the leader did not log db1's failure:\n{}",
        c.log(&leader)
    );
    let (ok, checks) = c.mmmctl_text(&["checks", "db1", "mysql"]);
    assert!(
        ok && checks.contains("Connection refused"),
        "merged mysql check of db1: {checks}"
    );
}

#[test]
fn three_hundred_ms_of_total_loss_at_the_writer_fails_nothing() {
    let Some(c) = start("mondb") else {
        return;
    };
    bring_up(&c);
    let names = c.monitor_names();
    let before: Vec<usize> = names.iter().map(|n| c.log(n).len()).collect();
    let db1 = c.host("db1").expect("db1");
    c.lab().isolate(&db1).expect("drop everything at db1");
    // The loss lasts at least LOSS, counted from when the drop rule is surely in place.
    std::thread::sleep(LOSS);
    c.lab().rejoin(&db1).expect("db1 rejoins");
    println!("dropped everything to and from db1 for {LOSS:?}");
    let until = Instant::now() + QUIET;
    while Instant::now() < until {
        let (ok, show) = c.mmmctl_text(&["show"]);
        if ok {
            assert_eq!(
                writer_in_show(&show, c.writer_vip()).as_deref(),
                Some("db1"),
                "the writer left db1:\n{show}"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for (name, from) in names.iter().zip(before) {
        let log = c.log(name);
        let after = &log[from.min(log.len())..];
        for line in after.lines() {
            assert!(
                !line.contains("State of host") && !line.contains(" has failed for "),
                "{name} reacted to the blip: {line}\n{after}"
            );
        }
    }
    let (ok, show) = c.mmmctl_text(&["show"]);
    assert!(ok, "{show}");
    for db in ["db1(10.213.7.11)", "db2(10.213.7.12)", "db3(10.213.7.13)"] {
        assert!(
            show.lines()
                .any(|l| l.starts_with(&format!("  {db} ")) && l.contains("/ONLINE.")),
            "{db} is not ONLINE:\n{show}"
        );
    }
    assert!(c.has_ip("db1", WRITER_IP) && !c.has_ip("db2", WRITER_IP));
    wait_for(&c, "db1 takes writes", Duration::from_secs(10), || {
        c.app_exec(WRITER_IP, "INSERT INTO t (v) VALUES (6)")
            .is_ok()
    });
}
