//! A new writer takes writes only after it has applied what the old master wrote.

use std::time::Duration;

use mmm_lab::TopologySpec;
use mmm_lab::replication::wait_until;

use super::harness::{WRITER_IP, cluster, runtime};

#[test]
fn new_writer_waits_for_catch_up_before_allowing_writes() {
    let Some(mut c) = cluster(
        "agc",
        TopologySpec {
            slaves: 0,
            ..Default::default()
        },
        "catchup_timeout 1\n",
    ) else {
        return;
    };
    c.start_agent("db2");
    let rt = runtime();
    // db2 receives but does not apply what db1 writes.
    rt.block_on(async {
        let db1 = c.topo.db("db1")?;
        let db2 = c.topo.db("db2")?;
        db2.exec("STOP SLAVE SQL_THREAD").await?;
        db1.exec("CREATE TABLE mmm_test.c (id INT PRIMARY KEY)")
            .await?;
        db1.exec("INSERT INTO mmm_test.c VALUES (1), (2)").await
    })
    .expect("prepare lag");

    let reply = c
        .set_status("db2", "ONLINE", &[("writer", WRITER_IP)], "db2", 1, 60_000)
        .expect("set_status");
    assert!(!reply.writable, "db2 allowed writes before catching up");
    assert!(
        reply
            .errors
            .iter()
            .any(|e| e.starts_with("Couldn't sync with master:")),
        "errors: {:?}",
        reply.errors
    );
    assert!(!c.has_ip("db2", WRITER_IP));
    assert!(c.read_only("db2"));
    assert!(c.log("db2").contains("FATAL Couldn't sync with master:"));

    // Once replication applies again, the periodic re-assertion finishes the take-over.
    rt.block_on(async { c.topo.db("db2")?.exec("START SLAVE SQL_THREAD").await })
        .expect("start SQL thread");
    let done = c.wait_for(Duration::from_secs(10), || {
        c.has_ip("db2", WRITER_IP) && !c.read_only("db2")
    });
    assert!(
        done.is_some(),
        "take-over not finished; log:\n{}",
        c.log("db2")
    );
    rt.block_on(wait_until(
        c.topo.db("db2").expect("db2"),
        "SELECT COUNT(*) = 2 FROM mmm_test.c",
        Duration::from_secs(1),
    ))
    .expect("db2 had applied db1's rows before taking writes");
    // The line names the position waited for: db1's transactions, never a blank.
    let log = c.log("db2");
    let target = log
        .lines()
        .find_map(|l| l.split("caught up with master GTID ").nth(1))
        .unwrap_or_else(|| panic!("no 'caught up with master GTID' line:\n{log}"));
    assert!(
        target.split(',').any(|g| g.split('-').count() == 3),
        "no GTID in '{target}'"
    );
}
