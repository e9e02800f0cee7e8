//! The first seed report's test 2, over the real system and through the VIPs: mysqld on db1 (the
//! writer) dies while the application writes through the writer VIP with a new connection per
//! write. The writer VIP goes to db2, db3 follows db2, the reader VIPs answer; db1 comes back and
//! `mmmctl move_role writer db1` moves the writer home, as in the report. No acknowledged write
//! is lost: after db1 has rejoined, every acknowledged row is on every server.
//!
//! Expected (reference §3.3, §4.2, §6.5; the held-back line is mmm's fencing): db1 ONLINE →
//! HARD_OFFLINE, its writer role removed and, once db1's agent confirmed the drop (or its lease
//! ran out), assigned to db2, the only other writer host; db3 re-pointed at db2. db1, down for
//! less than a minute, comes back ONLINE by the 60-second rule without roles (db1 is no reader
//! host and nothing prefers it).

use std::time::Instant;

use super::client::{WriteStream, wait_converged, wait_reads, write_marker, writer_sequence};
use super::support::{
    WRITER_VIP, bring_up, history_mentions, launch, seed1_roles, server_id, since, wait,
    wait_change, wait_mysql_down, wait_replicates_from, wait_show, wait_writer_on,
    wait_writer_vip_on,
};

#[test]
fn seed_test2_db1_dies_the_writer_moves_to_db2_and_db3_follows() {
    if !mmm_lab::lab_available("seed_db1_dies") {
        return;
    }
    let mut c = launch("e2etwo", |o| o.roles = Some(seed1_roles()));
    let up = bring_up(&c, &["db1", "db2", "db3"]);
    assert!(up.is("db1", "ONLINE", &["writer(10.213.7.100)"]), "{up:?}");
    let stream = WriteStream::start(&c);
    write_marker(&c, 1);
    stream.wait_acks(&c, 10);
    // No write in flight and both slaves in step at the kill: see `pause_replicated`.
    stream.pause_replicated(&c, "db1", &["db2", "db3"]);

    let t0 = Instant::now();
    c.kill_mysqld("db1").expect("kill -9 db1's mysqld");
    stream.resume();
    println!("{}: killed db1's mysqld", since(t0));
    wait_mysql_down(&c, "db1");
    wait_change(
        &c,
        "    Removed role 'writer(10.213.7.100)' from host 'db1'",
    );
    wait_writer_on(&c, "db2");
    println!("{}: the writer VIP is on db2", since(t0));
    assert_failed_over_to_db2(&c);
    stream.wait_acks(&c, 10);

    c.start_mysqld("db1").expect("start db1's mysqld again");
    println!("{}: started db1's mysqld", since(t0));
    wait_change(
        &c,
        "State of host 'db1' changed from HARD_OFFLINE to AWAITING_RECOVERY",
    );
    wait(&c, "db1 set online by the 60-second rule", || {
        history_mentions(
            &c,
            "State of host 'db1' changed from AWAITING_RECOVERY to ONLINE because it was down for only",
        )
    });
    wait_show(&c, "db1 back ONLINE without roles", |s| {
        s.is("db1", "ONLINE", &[])
            && s.host("db2")
                .roles
                .contains(&"writer(10.213.7.100)".to_owned())
    });
    let (ok, reply) = c.mmmctl_text(&["move_role", "writer", "db1"]);
    assert_eq!(
        (ok, reply.as_str()),
        (
            true,
            "OK: Role 'writer' has been moved from 'db2' to 'db1'. Now you can wait some time and check new roles info!\n"
        )
    );
    wait_change(&c, "Admin moved role 'writer' from 'db2' to 'db1'");
    wait_writer_vip_on(&c, "db1");
    println!("{}: the writer VIP is back on db1", since(t0));
    wait_replicates_from(&c, "db3", "db1");
    assert_eq!(write_marker(&c, 3), server_id(&c, "db1"));
    wait_reads(&c, 3);
    stream.wait_acks(&c, 10);

    let ledger = stream.stop();
    println!("{}", ledger.summary());
    let rows = wait_converged(&c, &["db1", "db2", "db3"], &ledger);
    let (db1, db2) = (server_id(&c, "db1"), server_id(&c, "db2"));
    assert_eq!(writer_sequence(&ledger, &rows), [db1, db2, db1]);
}

/// The report's state after the failover, seen through the VIPs: db2 takes the application's
/// writes, db3 replicates from db2, and every reader VIP answers with what db2 wrote.
fn assert_failed_over_to_db2(c: &mmm_lab::cluster::Cluster) {
    assert_eq!(
        write_marker(c, 2),
        server_id(c, "db2"),
        "a write through the VIP ran on db2"
    );
    wait_replicates_from(c, "db3", "db2");
    let s = wait_show(c, "readers on db2 and db3 again", |s| {
        s.is("db1", "HARD_OFFLINE", &[])
            && s.host("db3").state == "ONLINE"
            && s.host("db3").roles.len() == 1
    });
    println!("after the failover: {s:?}");
    wait_reads(c, 2);
    assert_eq!(s.holder(WRITER_VIP), Some("db2"));
}
