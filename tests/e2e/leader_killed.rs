//! The leader monitor is killed (kill -9) in the middle of a writer failover: db1's mysqld dies,
//! and as soon as the monitors have committed db1's HARD_OFFLINE the leader that decided it is
//! killed. The remaining two monitors elect a new leader, which finishes the failover: the writer
//! VIP on db2, db3 following db2, reads through every reader VIP answering, and no write the
//! application saw acknowledged missing once db1 is back.

use std::time::Instant;

use super::client::{WriteStream, wait_converged, wait_reads, write_marker, writer_sequence};
use super::support::{
    bring_up, launch, server_id, since, wait, wait_replicates_from, wait_show, wait_writer_on,
};

const OFFLINE: &str =
    "State of host 'db1' changed from ONLINE to HARD_OFFLINE (ping: OK, mysql: not OK)";
const ASSIGNED: &str = "Orphaned role 'writer(10.213.7.100)' has been assigned to 'db2'";

#[test]
fn the_leader_monitor_killed_during_a_writer_failover() {
    if !mmm_lab::lab_available("leader_killed") {
        return;
    }
    let mut c = launch("e2eldr", |_| {});
    bring_up(&c, &["db1", "db2", "db3"]);
    let stream = WriteStream::start(&c);
    write_marker(&c, 1);
    stream.wait_acks(&c, 10);
    let leader = c.leader().expect("a leader monitor");

    // No write in flight and every slave in step at the kill: see `pause_replicated`.
    stream.pause_replicated(&c, "db1", &["db2", "db3"]);
    let t0 = Instant::now();
    c.kill_mysqld("db1").expect("kill -9 db1's mysqld");
    stream.resume();
    // Every monitor logs a change once it is committed; the daemon logs are read directly, much
    // faster than a round of mmmctl.
    wait(&c, "db1's HARD_OFFLINE committed", || {
        c.monitor_names().iter().any(|m| c.log(m).contains(OFFLINE))
    });
    let assigned_before = c
        .monitor_names()
        .iter()
        .any(|m| c.log(m).contains(ASSIGNED));
    c.kill9(&leader).expect("kill -9 the leader monitor");
    println!(
        "{}: db1 HARD_OFFLINE committed; killed the leader {leader} ({})",
        since(t0),
        if assigned_before {
            "the writer had already been assigned to db2"
        } else {
            "the writer was not assigned yet"
        }
    );
    wait(&c, "a new leader", || {
        c.leader().is_some_and(|l| l != leader)
    });
    println!("{}: new leader {:?}", since(t0), c.leader());
    // The new leader did not wait out Raft's election timeout: a follower found nothing
    // listening on the killed leader's port and stood for election once its lease ran out.
    let early = format!("Leader monitor {leader} (");
    wait(&c, "a follower's early election", || {
        c.monitor_names().iter().filter(|m| **m != leader).any(|m| {
            let log = c.log(m);
            log.contains(&early)
                && log.contains("Standing for election: the leader lease of monitor")
        })
    });
    wait_writer_on(&c, "db2");
    println!("{}: the writer VIP is on db2", since(t0));
    assert_eq!(write_marker(&c, 2), server_id(&c, "db2"));
    wait_replicates_from(&c, "db3", "db2");
    wait_reads(&c, 2);
    stream.wait_acks(&c, 10);

    c.start(&leader).expect("start the killed monitor again");
    c.start_mysqld("db1").expect("start db1's mysqld again");
    wait_show(&c, "db1 back ONLINE", |s| s.host("db1").state == "ONLINE");
    stream.wait_acks(&c, 10);
    let ledger = stream.stop();
    println!("{}", ledger.summary());
    let rows = wait_converged(&c, &["db1", "db2", "db3"], &ledger);
    assert_eq!(
        writer_sequence(&ledger, &rows),
        [server_id(&c, "db1"), server_id(&c, "db2")]
    );
}
