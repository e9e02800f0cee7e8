//! `rep_threads` and `rep_backlog` on a real master/slave pair.

use std::time::{Duration, Instant};

use mmm_core::checks::CheckKind;
use mmm_lab::replication::{ReplicationMode, replicate_from};
use mmm_mond::checks::{
    CheckRunner, CheckTarget, KeptConnection, check_mysql, check_rep_backlog, check_rep_threads,
};
use tokio::sync::mpsc;

use super::{TIMEOUT, loopback_db, target_as, target_for};

/// Polls `check` until it returns `want` or `limit` passes; returns the last line.
async fn eventually<F, Fut>(limit: Duration, want: &str, check: F) -> String
where
    F: Fn() -> Fut,
    Fut: Future<Output = String>,
{
    let started = Instant::now();
    loop {
        let line = check().await;
        if line == want || started.elapsed() > limit {
            return line;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn threads(t: &CheckTarget) -> String {
    check_rep_threads(t, TIMEOUT).await
}

async fn backlog(t: &CheckTarget, max: u64) -> String {
    check_rep_backlog(t, TIMEOUT, max).await
}

/// A master and a slave replicating from it with GTID, each given as (label, server_id).
async fn replicating_pair(
    master: (&str, u32),
    slave: (&str, u32),
) -> (mmm_lab::MariaDb, mmm_lab::MariaDb) {
    let master = loopback_db(master.0, master.1).await;
    let slave = loopback_db(slave.0, slave.1).await;
    replicate_from(&slave, &master, &ReplicationMode::Gtid)
        .await
        .expect("start replication");
    (master, slave)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_set_up_then_ok_then_broken() {
    let master = loopback_db("chk-rm", 111).await;
    let slave = loopback_db("chk-rs", 112).await;
    let on_slave = target_for(&slave, "db2");

    assert_eq!(threads(&on_slave).await, "ERROR: Replication is not set up");
    assert_eq!(
        backlog(&on_slave, 60).await,
        "ERROR: Replication is not set up"
    );

    replicate_from(&slave, &master, &ReplicationMode::Gtid)
        .await
        .expect("start replication");
    assert_eq!(threads(&on_slave).await, "OK");
    let idle = eventually(Duration::from_secs(10), "OK: Backlog is null", || {
        backlog(&on_slave, 60)
    })
    .await;
    assert_eq!(idle, "OK: Backlog is null", "an idle slave is 0 s behind");

    slave
        .exec("STOP SLAVE SQL_THREAD")
        .await
        .expect("stop the SQL thread");
    assert_eq!(threads(&on_slave).await, "ERROR: Replication is broken");
    // With the SQL thread stopped Seconds_Behind_Master is NULL.
    assert_eq!(backlog(&on_slave, 60).await, "OK: Backlog is null");
    // The master itself replicates from nobody.
    assert_eq!(
        threads(&target_for(&master, "db1")).await,
        "ERROR: Replication is not set up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_slave_has_too_big_a_backlog() {
    let (master, slave) = replicating_pair(("chk-dm", 113), ("chk-ds", 114)).await;
    slave.exec("STOP SLAVE").await.expect("stop slave");
    slave
        .exec("CHANGE MASTER TO MASTER_DELAY = 60")
        .await
        .expect("delay the slave");
    slave.exec("START SLAVE").await.expect("start slave");
    master
        .exec("CREATE TABLE mmm_test.backlog (id INT PRIMARY KEY)")
        .await
        .expect("write on the master");

    let on_slave = target_for(&slave, "db2");
    let big = eventually(Duration::from_secs(15), "ERROR: Backlog is too big", || {
        backlog(&on_slave, 1)
    })
    .await;
    assert_eq!(big, "ERROR: Backlog is too big");
    // Seconds_Behind_Master of a delayed slave can read 0 for a moment between events.
    let within = eventually(Duration::from_secs(15), "OK", || backlog(&on_slave, 3600)).await;
    assert_eq!(within, "OK");
    assert_eq!(threads(&on_slave).await, "OK", "a delayed slave still runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_user_without_slave_monitor_gets_the_privilege_message() {
    let db = loopback_db("chk-priv", 115).await;
    db.exec("CREATE USER 'mmm_nopriv'@'%' IDENTIFIED BY 'nopriv-pass'")
        .await
        .expect("create an unprivileged user");
    let target = target_as(&db, "db1", "mmm_nopriv", "nopriv-pass");

    assert_eq!(check_mysql(&target, TIMEOUT).await, "OK", "USAGE is enough");
    let prefix = "ERROR: The monitor user 'mmm_nopriv' doesn't have the required \
                  REPLICATION CLIENT privilege! ";
    for line in [threads(&target).await, backlog(&target, 60).await] {
        assert!(line.starts_with(prefix), "{line}");
        assert!(
            line.contains("1227") || line.contains("Access denied"),
            "{line}"
        );
        assert!(line.contains("SLAVE MONITOR"), "{line}");
    }
}

/// The ids of `user`'s connections on `db`.
async fn connections_of(db: &mmm_lab::MariaDb, user: &str) -> String {
    db.query_value(&format!(
        "SELECT IFNULL(GROUP_CONCAT(ID ORDER BY ID), '') FROM information_schema.PROCESSLIST \
         WHERE USER = '{user}'"
    ))
    .await
    .expect("read the processlist")
    .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_checks_keep_one_connection_and_reopen_a_killed_one() {
    let (_master, slave) = replicating_pair(("chk-km", 124), ("chk-ks", 125)).await;
    let on_slave = target_for(&slave, "db2");
    let mut kept = KeptConnection::default();
    assert_eq!(kept.rep_threads(&on_slave, TIMEOUT).await, "OK");
    let first = connections_of(&slave, &on_slave.user).await;
    assert!(
        !first.is_empty() && !first.contains(','),
        "one kept connection, not {first:?}"
    );
    for _ in 0..3 {
        assert_eq!(kept.rep_threads(&on_slave, TIMEOUT).await, "OK");
        assert_ne!(kept.rep_backlog(&on_slave, TIMEOUT, 60).await, "");
        assert_eq!(connections_of(&slave, &on_slave.user).await, first);
    }
    // The server drops it (as an agent denying writes does): the next call reopens at once.
    slave
        .exec(&format!("KILL {first}"))
        .await
        .expect("kill the kept connection");
    assert_eq!(kept.rep_threads(&on_slave, TIMEOUT).await, "OK");
    let second = connections_of(&slave, &on_slave.user).await;
    assert!(
        !second.is_empty() && !second.contains(',') && second != first,
        "a new kept connection, not {second:?} (first {first})"
    );
    // A stopped SQL thread is seen on the kept connection as on a new one.
    slave.exec("STOP SLAVE SQL_THREAD").await.expect("stop");
    assert_eq!(
        kept.rep_threads(&on_slave, TIMEOUT).await,
        "ERROR: Replication is broken"
    );
    assert_eq!(connections_of(&slave, &on_slave.user).await, second);
}

/// SHOW SLAVE STATUS statements `db` has run so far.
async fn status_reads(db: &mmm_lab::MariaDb) -> u64 {
    db.query_value(
        "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
         WHERE VARIABLE_NAME = 'COM_SHOW_SLAVE_STATUS'",
    )
    .await
    .expect("read the status counter")
    .and_then(|v| v.parse().ok())
    .expect("a counter")
}

/// With the same period and timeout, a host's two replication checks come from one
/// SHOW SLAVE STATUS per round: both results at the same moment, and the server runs one
/// statement per round, not two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_replication_checks_share_one_status_read_per_round() {
    let (_master, slave) = replicating_pair(("chk-pm", 126), ("chk-ps", 127)).await;
    let runner = CheckRunner::new(
        vec![target_for(&slave, "db2")],
        super::checks_config(Duration::from_millis(100), TIMEOUT),
    )
    .with_kinds(&[CheckKind::RepThreads, CheckKind::RepBacklog]);
    let before = status_reads(&slave).await;
    let (tx, mut rx) = mpsc::channel(256);
    let handle = runner.spawn(tx);
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        events.push(event);
    }
    handle.shutdown().await;
    let reads = status_reads(&slave).await - before;

    let of = |kind| events.iter().filter(|e| e.kind == kind).collect::<Vec<_>>();
    let (threads, backlog) = (of(CheckKind::RepThreads), of(CheckKind::RepBacklog));
    assert!(threads.len() >= 5, "rounds: {events:?}");
    assert!(threads.iter().all(|e| e.line == "OK"), "{threads:?}");
    assert!(
        backlog.iter().all(|e| e.line.starts_with("OK")),
        "{backlog:?}"
    );
    for (t, b) in threads.iter().zip(&backlog) {
        assert_eq!((t.at, t.took), (b.at, b.took), "one read serves both");
    }
    let rounds = threads.len() as u64;
    assert!(
        (rounds..=rounds + 1).contains(&reads),
        "{reads} status reads for {rounds} rounds of both checks"
    );
}
