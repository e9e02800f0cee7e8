//! The second seed report's layout: four database hosts (db1 and db2 masters, db3 and db4 slaves
//! of the active master), the writer on the masters, the two reader VIPs on the slaves only, and
//! its monitor's `auto_set_online 10`. Its test: stop db1's database. The writer goes to db2,
//! both slaves follow db2, and the reader VIPs on the slaves keep answering with what db2 wrote;
//! db1 comes back ONLINE by itself; no acknowledged write is lost.

use std::time::Instant;

use super::client::{WriteStream, wait_converged, wait_reads, write_marker, writer_sequence};
use super::support::{
    bring_up, history, launch, seed2_roles, server_id, since, wait_mysql_down,
    wait_replicates_from, wait_show, wait_writer_on,
};

#[test]
fn seed002_db1_stopped_the_writer_moves_to_db2_and_both_slaves_follow() {
    if !mmm_lab::lab_available("seed002") {
        return;
    }
    let mut c = launch("e2e002", |o| {
        o.topology.slaves = 2;
        o.roles = Some(seed2_roles());
        o.extra_config = "<monitor>\n    auto_set_online 10\n</monitor>".to_owned();
    });
    let up = bring_up(&c, &["db1", "db2", "db3", "db4"]);
    assert!(up.is("db1", "ONLINE", &["writer(10.213.7.100)"]), "{up:?}");
    assert!(up.is("db2", "ONLINE", &[]), "{up:?}");
    assert!(up.is("db3", "ONLINE", &["reader(10.213.7.101)"]), "{up:?}");
    assert!(up.is("db4", "ONLINE", &["reader(10.213.7.102)"]), "{up:?}");
    let stream = WriteStream::start(&c);
    write_marker(&c, 1);
    stream.wait_acks(&c, 10);
    wait_reads(&c, 1);

    // No write in flight and every slave in step at the kill: see `pause_replicated`.
    stream.pause_replicated(&c, "db1", &["db2", "db3", "db4"]);
    let t0 = Instant::now();
    c.stop_mysqld("db1").expect("stop db1's mysqld");
    stream.resume();
    println!("{}: stopped db1's mysqld", since(t0));
    wait_mysql_down(&c, "db1");
    wait_writer_on(&c, "db2");
    println!("{}: the writer VIP is on db2", since(t0));
    assert_eq!(write_marker(&c, 2), server_id(&c, "db2"));
    wait_replicates_from(&c, "db3", "db2");
    wait_replicates_from(&c, "db4", "db2");
    let s = wait_show(&c, "the readers still on the slaves", |s| {
        s.is("db3", "ONLINE", &["reader(10.213.7.101)"])
            && s.is("db4", "ONLINE", &["reader(10.213.7.102)"])
    });
    println!("after the failover: {s:?}");
    wait_reads(&c, 2);
    stream.wait_acks(&c, 10);

    c.start_mysqld("db1").expect("start db1's mysqld again");
    wait_show(&c, "db1 back ONLINE without roles", |s| {
        s.is("db1", "ONLINE", &[]) && s.is("db2", "ONLINE", &["writer(10.213.7.100)"])
    });
    let back = history(&c)
        .into_iter()
        .rev()
        .find(|e| {
            e.line
                .starts_with("State of host 'db1' changed from AWAITING_RECOVERY to ONLINE")
        })
        .expect("the change that set db1 online");
    println!("{}: db1 is back ONLINE: {}", since(t0), back.line);
    stream.wait_acks(&c, 10);
    let ledger = stream.stop();
    println!("{}", ledger.summary());
    let rows = wait_converged(&c, &["db1", "db2", "db3", "db4"], &ledger);
    assert_eq!(
        writer_sequence(&ledger, &rows),
        [server_id(&c, "db1"), server_id(&c, "db2")]
    );
}
