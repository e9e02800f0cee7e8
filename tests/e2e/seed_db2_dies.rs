//! The first seed report's test 1, over the real system and through the VIPs: mysqld on db2 (a
//! reader) dies; its reader VIP moves to db3 while the application keeps writing through the
//! writer VIP on db1; db2 comes back after more than a minute, waits in AWAITING_RECOVERY, and
//! `mmmctl set_online db2` gives it a reader VIP again.
//!
//! Expected, from the report's log and mysql-mmm's rules (reference §3.3, §4.2): db2 ONLINE →
//! HARD_OFFLINE `(ping: OK, mysql: not OK)`, its role removed and the orphan assigned to db3
//! (the only other reader host); back up, HARD_OFFLINE → AWAITING_RECOVERY (down ≥ 60 s, so the
//! 60-second rule does not apply and nothing sets it online but the admin); after `set_online`
//! balancing moves the last reader IP of the busiest host, `reader(10.213.7.102)`, from db3 to db2.

use std::time::{Duration, Instant};

use super::client::{WriteStream, wait_converged, wait_read, write_marker, writer_sequence};
use super::support::{
    Change, WRITER_VIP, bring_up, history, launch, os_uptime, seed1_roles, server_id, set_online,
    since, sleep_until_after, sleep_until_uptime, wait, wait_change, wait_mysql_down, wait_show,
};

#[test]
fn seed_test1_db2_dies_its_reader_moves_and_set_online_brings_it_back() {
    if !mmm_lab::lab_available("seed_db2_dies") {
        return;
    }
    let mut c = launch("e2eone", |o| o.roles = Some(seed1_roles()));
    let up = bring_up(&c, &["db1", "db2", "db3"]);
    assert!(up.is("db1", "ONLINE", &["writer(10.213.7.100)"]), "{up:?}");
    let (db2_vip, db3_vip) = match up.holder("10.213.7.101") {
        Some("db2") => ("10.213.7.101", "10.213.7.102"),
        _ => ("10.213.7.102", "10.213.7.101"),
    };
    assert_eq!(up.holder(db3_vip), Some("db3"), "{up:?}");
    let marker = write_marker(&c, 1);
    assert_eq!(marker, server_id(&c, "db1"));
    wait_read(&c, db2_vip, server_id(&c, "db2"), 1);
    wait_read(&c, db3_vip, server_id(&c, "db3"), 1);

    let stream = WriteStream::start(&c);
    let t0 = Instant::now();
    let killed_at = os_uptime();
    c.kill_mysqld("db2").expect("kill -9 db2's mysqld");
    println!("{}: killed db2's mysqld", since(t0));
    let offline = wait_mysql_down(&c, "db2");
    wait_change(
        &c,
        &format!("    Removed role 'reader({db2_vip})' from host 'db2'"),
    );
    wait_change(
        &c,
        &format!("Orphaned role 'reader({db2_vip})' has been assigned to 'db3'"),
    );
    wait_show(&c, "db2 HARD_OFFLINE, both readers on db3", |s| {
        s.is("db1", "ONLINE", &["writer(10.213.7.100)"])
            && s.is("db2", "HARD_OFFLINE", &[])
            && s.is(
                "db3",
                "ONLINE",
                &["reader(10.213.7.101)", "reader(10.213.7.102)"],
            )
    });
    wait(&c, "db2's reader VIP configured on db3 only", || {
        c.has_ip("db3", db2_vip) && !c.has_ip("db2", db2_vip)
    });
    println!("{}: db2's reader VIP {db2_vip} is on db3", since(t0));
    write_marker(&c, 2);
    wait_read(&c, db2_vip, server_id(&c, "db3"), 2);
    wait_read(&c, db3_vip, server_id(&c, "db3"), 2);

    // mysql-mmm's 60-second rule would set a host that was down for less than a minute online by
    // itself; the report's db2 stayed down longer and waited for the admin.
    sleep_until_after(offline.at_ms, Duration::from_secs(61));
    sleep_until_uptime(killed_at, Duration::from_secs(61));
    c.start_mysqld("db2").expect("start db2's mysqld again");
    println!("{}: started db2's mysqld", since(t0));
    wait_change(
        &c,
        "State of host 'db2' changed from HARD_OFFLINE to AWAITING_RECOVERY",
    );
    wait_show(&c, "db2 AWAITING_RECOVERY without roles", |s| {
        s.is("db2", "AWAITING_RECOVERY", &[])
    });
    // Only db2's return counts: under load a host may take the 60-second rule during bring-up.
    let rule =
        "State of host 'db2' changed from AWAITING_RECOVERY to ONLINE because it was down for only";
    let by_rule: Vec<Change> = history(&c)
        .into_iter()
        .filter(|e| e.at_ms >= offline.at_ms && e.line.starts_with(rule))
        .collect();
    assert!(
        by_rule.is_empty(),
        "the 60-second rule set db2 online after more than 60 s: {by_rule:?}"
    );
    set_online(&c, "db2");
    wait_change(
        &c,
        "Admin changed state of 'db2' from AWAITING_RECOVERY to ONLINE",
    );
    wait_change(
        &c,
        "Moving role 'reader(10.213.7.102)' from host 'db3' to host 'db2'",
    );
    let end = wait_show(&c, "db2 back with reader(10.213.7.102)", |s| {
        s.is("db1", "ONLINE", &["writer(10.213.7.100)"])
            && s.is("db2", "ONLINE", &["reader(10.213.7.102)"])
            && s.is("db3", "ONLINE", &["reader(10.213.7.101)"])
    });
    println!("{}: {end:?}", since(t0));
    // db2 caught up with everything written while it was down, and answers its VIP.
    write_marker(&c, 3);
    wait_read(&c, "10.213.7.102", server_id(&c, "db2"), 3);
    wait_read(&c, "10.213.7.101", server_id(&c, "db3"), 3);
    assert!(c.has_ip("db1", WRITER_VIP));

    stream.wait_acks(&c, 10);
    let ledger = stream.stop();
    println!("{}", ledger.summary());
    // The writer was never touched: every single write went through.
    assert!(
        ledger.failures().is_empty(),
        "writes through the writer VIP failed while only a reader died: {:?}",
        ledger.failures()
    );
    let rows = wait_converged(&c, &["db1", "db2", "db3"], &ledger);
    assert_eq!(writer_sequence(&ledger, &rows), [server_id(&c, "db1")]);
}
