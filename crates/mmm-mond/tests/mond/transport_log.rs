//! What the leader monitor logs while a peer is down, over real processes in the lab: one
//! human line when the peer stops answering (`Can't reach monitor mon3 (10.213.7.23:9990):
//! …`), nothing for the retries that follow (openraft's own per-RPC ERROR lines are filtered
//! too), and one line when it answers again, with the count of lines not logged.

use std::time::Duration;

use mmm_lab::cluster::{Cluster, ClusterOptions};

const LIMIT: Duration = Duration::from_secs(60);
/// openraft retries an unreachable peer every 200 ms: this is about 15 retries.
const RETRIES_WINDOW: Duration = Duration::from_secs(3);

#[test]
fn a_dead_peer_is_logged_once_per_streak_and_its_return_with_a_count() {
    let tag = "mmmtlog";
    if !mmm_lab::lab_available(tag) {
        return;
    }
    let mut c = Cluster::launch(ClusterOptions::new(tag, super::lab::binaries())).expect("cluster");
    c.wait_for("a leader", LIMIT, || c.leader().is_some())
        .unwrap_or_else(|e| panic!("{e}"));
    let leader = c.leader().expect("leader");
    let victim = c
        .monitor_names()
        .into_iter()
        .find(|n| *n != leader)
        .expect("a follower");
    let ip = c.host(&victim).expect("victim host").ip();
    let down = format!("Can't reach monitor {victim} ({ip}:9990): ");
    c.kill9(&victim).expect("kill -9 a follower");
    c.wait_for(&format!("{leader} logs '{down}'"), LIMIT, || {
        c.log(&leader).contains(&down)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(RETRIES_WINDOW);
    let log = c.log(&leader);
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(&down)).collect();
    assert_eq!(lines.len(), 1, "one line per streak:\n{log}");
    for noise in ["RPCError", "Unreachable node", "tonic::transport", "Os {"] {
        assert!(!log.contains(noise), "'{noise}' logged:\n{log}");
    }

    c.start(&victim).expect("start the follower again");
    let back = format!("Monitor {victim} ({ip}:9990) answers again after ");
    c.wait_for(&format!("{leader} logs '{back}'"), LIMIT, || {
        c.log(&leader).contains(&back)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let log = c.log(&leader);
    let line = log
        .lines()
        .find(|l| l.contains(&back))
        .expect("recovery line");
    // `… answers again after 3.2 s (14 similar lines not logged)`
    let not_logged: u64 = line
        .rsplit_once(" (")
        .and_then(|(_, rest)| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of lines not logged in: {line}"));
    assert!(not_logged > 0, "{line}");
    assert!(line.ends_with("similar lines not logged)"), "{line}");
}
