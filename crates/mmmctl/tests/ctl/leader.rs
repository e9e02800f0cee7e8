//! Finding the leader, unreachable monitors, no quorum and timeouts.

use std::time::{Duration, Instant};

use super::harness::{mmmctl, runtime};
use super::server::{Behaviour, Topology, dead_address, start};

#[test]
fn follows_the_leader_past_a_dead_monitor_and_a_follower() {
    let rt = runtime();
    let leader = start(&rt, Behaviour::Leader(Topology::Seed000));
    let follower = start(&rt, Behaviour::Follower(leader.address()));
    let dead = dead_address();
    let run = mmmctl(&[
        "--monitor",
        &dead,
        "--monitor",
        &follower.address(),
        "set_online",
        "db2",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .starts_with("OK: State of 'db2' changed to ONLINE.")
    );
    // The follower refused without executing; the leader executed exactly once.
    assert_eq!(follower.calls().len(), 1);
    assert_eq!(leader.calls().len(), 1);

    let show = mmmctl(&["--monitor", &dead, "--monitor", &follower.address(), "show"]);
    assert_eq!(show.code, 0);
    assert!(show.stdout.contains("db2(192.168.1.187) master/ONLINE."));
}

#[test]
fn no_monitor_reachable_exits_3_with_hints() {
    let (a, b) = (dead_address(), dead_address());
    let run = mmmctl(&["--monitor", &a, "--monitor", &b, "show"]);
    assert_eq!(run.code, 3);
    assert_eq!(run.stdout, "ERROR: Can't connect to monitor daemon!\n");
    assert!(
        run.stderr.contains(&a) && run.stderr.contains(&b),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--monitor HOST:PORT"), "{}", run.stderr);
}

#[test]
fn a_follower_pointing_at_a_dead_leader_is_unreachable() {
    let rt = runtime();
    let dead = dead_address();
    let follower = start(&rt, Behaviour::Follower(dead.clone()));
    let run = mmmctl(&["--monitor", &follower.address(), "set_offline", "db1"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!("redirected to {dead}")),
        "{}",
        run.stderr
    );
}

#[test]
fn a_leader_change_is_followed_to_the_new_leader_once_the_followers_name_it() {
    let rt = runtime();
    let dead = dead_address();
    let leader = start(&rt, Behaviour::Leader(Topology::Seed000));
    // Both followers still name the dead leader for their first two calls.
    let f1 = start(&rt, Behaviour::Electing(dead.clone(), 2, leader.address()));
    let f2 = start(&rt, Behaviour::Electing(dead.clone(), 2, leader.address()));
    let (a1, a2) = (f1.address(), f2.address());
    let show = mmmctl(&["--monitor", &a1, "--monitor", &a2, "show"]);
    assert_eq!(show.code, 0, "{}{}", show.stdout, show.stderr);
    assert!(show.stdout.contains("db2(192.168.1.187) master/ONLINE."));
    assert_eq!(leader.calls().len(), 1);

    let f3 = start(&rt, Behaviour::Electing(dead.clone(), 2, leader.address()));
    let set = mmmctl(&["--monitor", &f3.address(), "set_online", "db2"]);
    assert_eq!(set.code, 0, "{}{}", set.stdout, set.stderr);
    assert_eq!(
        f3.calls().len(),
        3,
        "two redirects to the dead leader, then the new one"
    );
    assert_eq!(
        leader.calls().len(),
        2,
        "the write ran once, on the new leader"
    );
}

#[test]
fn a_redirect_to_a_leader_that_never_answers_ends_with_a_hint_within_the_timeout() {
    let rt = runtime();
    let dead = dead_address();
    let follower = start(&rt, Behaviour::Follower(dead.clone()));
    let started = Instant::now();
    let run = mmmctl(&["--timeout", "1", "--monitor", &follower.address(), "show"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(follower.calls().len() > 1, "the follower was asked again");
    assert!(
        run.stderr.contains("a new leader may be being elected"),
        "{}",
        run.stderr
    );
}

#[test]
fn no_quorum_exits_3() {
    let rt = runtime();
    let lonely = start(&rt, Behaviour::NoQuorum);
    let run = mmmctl(&["--monitor", &lonely.address(), "set_online", "db2"]);
    assert_eq!(run.code, 3);
    assert!(run.stdout.starts_with("ERROR: No quorum"), "{}", run.stdout);
    assert!(run.stderr.contains("majority"), "{}", run.stderr);
}

#[test]
fn without_quorum_show_prints_the_newest_stale_state_and_exits_3() {
    let rt = runtime();
    let older = start(&rt, Behaviour::NoQuorumStale(Topology::Seed002, "mon1", 5));
    let newer = start(&rt, Behaviour::NoQuorumStale(Topology::Seed000, "mon2", 7));
    let dead = dead_address();
    let monitors = [
        "--monitor",
        &dead,
        "--monitor",
        &older.address(),
        "--monitor",
        &newer.address(),
    ];
    let run = mmmctl(&[&monitors[..], &["show"]].concat());
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let mut lines = run.stdout.lines();
    assert_eq!(
        lines.next(),
        Some(
            "# Warning: No quorum! This is the last state known to monitor 'mon2' (epoch 7) and may be out of date."
        ),
        "{}",
        run.stdout
    );
    assert_eq!(
        lines.next(),
        Some("# Cause: no quorum: this monitor knows no leader")
    );
    assert_eq!(
        lines.next(),
        Some(
            "# Failsafe active: 'db2' keeps the writer role under failsafe leases from every other host (4000 ms left)."
        )
    );
    // The rest is mmm_control's show of the newest state (seed 000's layout).
    assert!(
        run.stdout.contains(
            "db2(192.168.1.187) master/ONLINE. Roles: reader(192.168.1.201), writer(192.168.1.200)"
        ),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("192.168.10."), "{}", run.stdout);
    // A fresh answer was asked for first, then each monitor's own state.
    assert_eq!(
        newer.calls(),
        vec![
            vec!["show".to_string()],
            vec!["show".into(), "stale_ok".into()]
        ]
    );

    let json = mmmctl(&[&["--json"], &monitors[..], &["show"]].concat());
    assert_eq!(json.code, 3, "{}", json.stderr);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON on stdout");
    assert_eq!(doc["stale"], true);
    assert_eq!(doc["answered_by"], "mon2");
    assert_eq!(doc["epoch"], 7);
    assert_eq!(doc["failsafe"][0]["host"], "db2");
    assert_eq!(doc["failsafe"][0]["remaining_ms"], 4000);
    assert_eq!(
        doc["stale_reason"],
        "no quorum: this monitor knows no leader"
    );
}

#[test]
fn without_quorum_mode_and_commands_are_not_served_from_a_stale_state() {
    let rt = runtime();
    let lonely = start(&rt, Behaviour::NoQuorumStale(Topology::Seed000, "mon1", 7));
    for args in [&["mode"][..], &["set_online", "db2"][..]] {
        let run = mmmctl(&[&["--monitor", lonely.address().as_str()][..], args].concat());
        assert_eq!(run.code, 3, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.starts_with("ERROR: No quorum"), "{}", run.stdout);
    }
}

#[test]
fn slow_monitor_is_skipped_for_reads_within_the_timeout() {
    let rt = runtime();
    let slow = start(
        &rt,
        Behaviour::Slow(Duration::from_secs(20), Topology::Seed000),
    );
    let good = start(&rt, Behaviour::Leader(Topology::Seed000));
    let started = Instant::now();
    let run = mmmctl(&[
        "--timeout",
        "0.5",
        "--monitor",
        &slow.address(),
        "--monitor",
        &good.address(),
        "show",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(good.calls().len(), 1);
}

#[test]
fn slow_monitor_on_a_write_stops_with_exit_3_and_no_retry() {
    let rt = runtime();
    let slow = start(
        &rt,
        Behaviour::Slow(Duration::from_secs(20), Topology::Seed000),
    );
    let good = start(&rt, Behaviour::Leader(Topology::Seed000));
    let started = Instant::now();
    let run = mmmctl(&[
        "--timeout",
        "0.5",
        "--monitor",
        &slow.address(),
        "--monitor",
        &good.address(),
        "set_online",
        "db2",
    ]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("did not answer within 0.5 s"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("may or may not have been applied"),
        "{}",
        run.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        good.calls().is_empty(),
        "a possibly applied command was sent again"
    );
}
