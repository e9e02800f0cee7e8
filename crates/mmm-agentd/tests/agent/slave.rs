//! A slave follows a new active master, with GTID and with binlog coordinates.

use std::time::Duration;

use mmm_lab::replication::{slave_status, wait_until};
use mmm_lab::{ReplicationMode, TopologySpec};

use super::harness::{cluster, lab_ip, runtime};

fn repoint(tag: &str, mode: ReplicationMode, use_gtid: bool) {
    let Some(mut c) = cluster(
        tag,
        TopologySpec {
            slaves: 1,
            mode,
            db1_writable: false,
        },
        &format!(
            "use_gtid {}\ncatchup_timeout 5\n",
            if use_gtid { 1 } else { 0 }
        ),
    ) else {
        return;
    };
    c.start_agent("db3");
    let reader = lab_ip(103);
    let reply = c
        .set_status("db3", "ONLINE", &[("reader", &reader)], "db2", 1, 0)
        .expect("set_status");
    assert!(
        reply.errors.is_empty(),
        "errors: {:?}\n{}",
        reply.errors,
        c.log("db3")
    );
    assert!(c.has_ip("db3", &reader));

    let rt = runtime();
    let db3 = c.topo.db("db3").expect("db3");
    let db2 = c.topo.db("db2").expect("db2");
    let st = rt
        .block_on(slave_status(db3))
        .expect("slave status")
        .expect("db3 is a slave");
    assert_eq!(st.master_host(), lab_ip(12));
    let using = st.get("Using_Gtid").to_ascii_lowercase();
    if use_gtid {
        assert_eq!(using, "slave_pos");
    } else {
        assert_eq!(using, "no");
    }
    rt.block_on(async {
        db2.exec("CREATE TABLE mmm_test.flow (id INT PRIMARY KEY)")
            .await?;
        db2.exec("INSERT INTO mmm_test.flow VALUES (1), (2), (3)")
            .await?;
        wait_until(
            db3,
            "SELECT COUNT(*) = 3 FROM mmm_test.flow",
            Duration::from_secs(10),
        )
        .await
    })
    .expect("rows flow from db2 to db3");
    let sys = c
        .call("db3", |mut cl, host| async move {
            cl.get_system_status(mmm_proto::pb::GetSystemStatusRequest { host })
                .await
        })
        .expect("get_system_status");
    assert_eq!(sys.flavour, "mariadb");
    assert!(sys.mysql_error.is_empty(), "{}", sys.mysql_error);
    assert!(!sys.writable);
    assert!(
        sys.present
            .iter()
            .any(|r| r.role == "reader" && r.ip == reader)
    );
    let repl = sys.replication.expect("replication status");
    assert_eq!(repl.master_host, lab_ip(12));
    assert!(repl.io_running && repl.sql_running);
    assert_eq!(repl.using_gtid, use_gtid);
    let log = c.log("db3");
    assert!(
        log.contains("INFO Changing active master to 'db2'"),
        "{log}"
    );
    assert_eq!(log.contains("with binlog coordinates"), !use_gtid, "{log}");
    // A second status with the same master changes nothing.
    let reply = c
        .set_status("db3", "ONLINE", &[("reader", &reader)], "db2", 1, 0)
        .expect("repeat");
    assert!(reply.errors.is_empty(), "errors: {:?}", reply.errors);

    // ADMIN_OFFLINE stops replication and drops the roles; ONLINE starts it again.
    let reply = c
        .set_status("db3", "ADMIN_OFFLINE", &[], "db2", 2, 0)
        .expect("admin offline");
    assert!(reply.errors.is_empty(), "errors: {:?}", reply.errors);
    assert!(!c.has_ip("db3", &reader));
    let st = rt
        .block_on(slave_status(db3))
        .expect("status")
        .expect("slave");
    assert!(
        !st.running(),
        "replication still running while ADMIN_OFFLINE"
    );
    let reply = c
        .set_status("db3", "ONLINE", &[("reader", &reader)], "db2", 3, 0)
        .expect("online again");
    assert!(reply.errors.is_empty(), "errors: {:?}", reply.errors);
    rt.block_on(async {
        db2.exec("INSERT INTO mmm_test.flow VALUES (4)").await?;
        wait_until(
            db3,
            "SELECT COUNT(*) = 4 FROM mmm_test.flow",
            Duration::from_secs(10),
        )
        .await
    })
    .expect("replication resumed after ADMIN_OFFLINE");
}

#[test]
fn slave_follows_new_master_with_gtid() {
    repoint("ags", ReplicationMode::Gtid, true);
}

#[test]
fn slave_follows_new_master_with_binlog_coordinates() {
    repoint("agb", ReplicationMode::BinlogCoordinates, false);
}

/// A failover begins while the new writer is still applying its relay log: a slave that
/// follows it at once asks for GTIDs it has not got yet, MariaDB refuses (error 1236) and the
/// slave's replication stays broken after the writer has caught up. The slave waits instead,
/// bounded by catchup_timeout, and leaves its replication untouched when the wait runs out.
#[test]
fn a_slave_follows_a_lagging_new_master_only_once_it_has_caught_up() {
    let Some(mut c) = cluster(
        "agw",
        TopologySpec::default(),
        "use_gtid 1\ncatchup_timeout 2\n",
    ) else {
        return;
    };
    c.start_agent("db3");
    let rt = runtime();
    let (db1, db2, db3) = (
        c.topo.db("db1").expect("db1"),
        c.topo.db("db2").expect("db2"),
        c.topo.db("db3").expect("db3"),
    );
    rt.block_on(async {
        db2.exec("STOP SLAVE SQL_THREAD").await?;
        db1.exec("CREATE TABLE mmm_test.lag (id INT PRIMARY KEY)")
            .await?;
        db1.exec("INSERT INTO mmm_test.lag VALUES (1), (2), (3)")
            .await?;
        wait_until(
            db3,
            "SELECT COUNT(*) = 3 FROM mmm_test.lag",
            Duration::from_secs(10),
        )
        .await
    })
    .expect("db3 applied db1's rows while db2 only received them");

    // db2 does not catch up within catchup_timeout: db3 keeps following db1.
    let reader = lab_ip(103);
    let reply = c
        .set_status("db3", "ONLINE", &[("reader", &reader)], "db2", 1, 0)
        .expect("set_status");
    assert!(
        reply.errors.iter().any(|e| e.starts_with(
            "Failed to change master to 'db2': new master 'db2' has not applied GTID"
        )),
        "errors: {:?}\n{}",
        reply.errors,
        c.log("db3")
    );
    let st = rt
        .block_on(slave_status(db3))
        .expect("slave status")
        .expect("db3 is a slave");
    assert_eq!(
        st.master_host(),
        lab_ip(11),
        "db3 left db1 for a master that lacks its rows"
    );
    assert!(st.running(), "db3's replication was stopped");

    // db2 catches up while db3 waits: db3 follows it and gets what db2 writes next.
    let reply = std::thread::scope(|s| {
        let catch_up = s.spawn(|| {
            std::thread::sleep(Duration::from_millis(500));
            runtime().block_on(db2.exec("START SLAVE SQL_THREAD"))
        });
        let reply = c.set_status("db3", "ONLINE", &[("reader", &reader)], "db2", 2, 0);
        catch_up
            .join()
            .expect("join")
            .expect("start db2's SQL thread");
        reply.expect("set_status")
    });
    assert!(
        reply.errors.is_empty(),
        "errors: {:?}\n{}",
        reply.errors,
        c.log("db3")
    );
    let log = c.log("db3");
    assert!(
        log.contains("Waiting for new master 'db2' to apply GTID"),
        "{log}"
    );
    assert!(
        log.contains("New master 'db2' has caught up with this slave"),
        "{log}"
    );
    rt.block_on(async {
        db2.exec("INSERT INTO mmm_test.lag VALUES (4)").await?;
        wait_until(
            db3,
            "SELECT COUNT(*) = 4 FROM mmm_test.lag",
            Duration::from_secs(10),
        )
        .await
    })
    .unwrap_or_else(|e| {
        let st = rt.block_on(slave_status(db3));
        panic!("db2's write did not reach db3 ({e}); db3: {st:?}")
    });
}

/// db1 dies after a transaction reached db3 but not db2 (asynchronous replication): db2 never
/// gets it. Staying on the dead db1 would leave db3 serving reads that never change while its
/// checks pass, so db3 follows db2 at once (not after catchup_timeout), says which transaction
/// db2 lacks and that replication will stop, and MariaDB stops it with error 1236: the
/// monitors then see REPLICATION_FAIL, as mysql-mmm's operators know it.
#[test]
fn a_slave_ahead_of_its_new_master_follows_at_once_and_says_why_replication_stops() {
    let Some(mut c) = cluster(
        "agd",
        TopologySpec::default(),
        "use_gtid 1\ncatchup_timeout 60\n",
    ) else {
        return;
    };
    c.start_agent("db3");
    let rt = runtime();
    rt.block_on(async {
        let (db1, db2, db3) = (c.topo.db("db1")?, c.topo.db("db2")?, c.topo.db("db3")?);
        db1.exec("CREATE TABLE mmm_test.lost (id INT PRIMARY KEY)")
            .await?;
        for db in [db2, db3] {
            wait_until(
                db,
                "SELECT COUNT(*) = 0 FROM mmm_test.lost",
                Duration::from_secs(10),
            )
            .await?;
        }
        db2.exec("STOP SLAVE IO_THREAD").await?;
        db1.exec("INSERT INTO mmm_test.lost VALUES (1)").await?;
        wait_until(
            db3,
            "SELECT COUNT(*) = 1 FROM mmm_test.lost",
            Duration::from_secs(10),
        )
        .await
    })
    .expect("db3 has db1's row, db2 only its table");
    c.topo
        .db_mut("db1")
        .expect("db1")
        .kill9()
        .expect("kill -9 db1's mysqld");

    let reader = lab_ip(103);
    let reply = c
        .set_status("db3", "ONLINE", &[("reader", &reader)], "db2", 1, 0)
        .expect("set_status");
    let log = c.log("db3");
    assert!(reply.errors.is_empty(), "errors: {:?}\n{log}", reply.errors);
    assert!(
        log.contains("FATAL New master 'db2' lacks GTID ") && log.contains("stops with error 1236"),
        "{log}"
    );
    assert!(
        log.contains("INFO OK: now replicating from 'db2' (GTID), although it lacks GTID "),
        "{log}"
    );
    let db3 = c.topo.db("db3").expect("db3");
    let stopped = c.wait_for(Duration::from_secs(10), || {
        rt.block_on(slave_status(db3))
            .ok()
            .flatten()
            .is_some_and(|st| st.get("Last_IO_Errno") == "1236" && !st.running())
    });
    let st = rt.block_on(slave_status(db3));
    assert!(
        stopped.is_some(),
        "db3's replication did not stop with 1236: {st:?}\n{}",
        c.log("db3")
    );
    assert_eq!(
        st.expect("status").expect("slave").master_host(),
        lab_ip(12)
    );
}
