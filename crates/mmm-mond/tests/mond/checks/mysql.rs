//! The `mysql` check: OK, connect errors, too many connections, and a frozen server.

use std::time::{Duration, Instant};

use mmm_lab::users::{APP_PASSWORD, APP_USER};
use mmm_mond::checks::{check_mysql, check_rep_backlog, check_rep_threads, hard_bound};
use mysql_async::prelude::Queryable;

use super::{TIMEOUT, loopback_db, target_as, target_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ok_on_a_live_server_then_connect_error_after_kill9() {
    let mut db = loopback_db("chk-kill", 101).await;
    let target = target_for(&db, "db1");
    assert_eq!(check_mysql(&target, TIMEOUT).await, "OK");

    let wrong = target_as(&db, "db1", &target.user, "not-the-password");
    let line = check_mysql(&wrong, TIMEOUT).await;
    let prefix = format!(
        "ERROR: Connect error (host = 127.0.0.1:{}, user = mmm_monitor)! ",
        db.port()
    );
    assert!(line.starts_with(&prefix) && line.contains("1045"), "{line}");

    db.kill9().expect("kill -9 mysqld");
    let started = Instant::now();
    let line = check_mysql(&target, TIMEOUT).await;
    assert!(line.starts_with(&prefix), "{line}");
    assert!(
        line.len() > prefix.len(),
        "the driver's reason follows: {line}"
    );
    assert!(
        started.elapsed() < TIMEOUT,
        "a refused port answers at once"
    );

    // The replication checks do not fail a host they cannot reach: UNKNOWN.
    let unknown = format!(
        "UNKNOWN: Connect error (host = 127.0.0.1:{}, user = mmm_monitor)! ",
        db.port()
    );
    let threads = check_rep_threads(&target, TIMEOUT).await;
    assert!(threads.starts_with(&unknown), "{threads}");
    let backlog = check_rep_backlog(&target, TIMEOUT, 60).await;
    assert!(backlog.starts_with(&unknown), "{backlog}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_on_time_while_mysqld_is_stopped() {
    let mut db = loopback_db("chk-stop", 102).await;
    let target = target_for(&db, "db1");
    db.sigstop().expect("SIGSTOP mysqld");

    let started = Instant::now();
    let line = check_mysql(&target, TIMEOUT).await;
    let took = started.elapsed();
    let threads = check_rep_threads(&target, TIMEOUT).await;
    db.sigcont().expect("SIGCONT mysqld");

    assert_eq!(line, "ERROR: Timeout");
    assert!(
        took >= TIMEOUT && took <= hard_bound(TIMEOUT) + Duration::from_millis(300),
        "took {took:?}"
    );
    assert!(
        threads.starts_with("UNKNOWN: Connect error (host = 127.0.0.1:")
            && threads.contains("timed out"),
        "{threads}"
    );
    // Resumed, the server answers again.
    assert_eq!(check_mysql(&target, TIMEOUT).await, "OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_connections_is_unknown_not_a_failure() {
    let db = loopback_db("chk-maxconn", 103).await;
    db.exec("SET GLOBAL max_connections = 10")
        .await
        .expect("lower max_connections");
    let mut held = Vec::new();
    for _ in 0..20 {
        match mysql_async::Conn::new(db.tcp_opts(APP_USER, APP_PASSWORD)).await {
            Ok(conn) => held.push(conn),
            Err(_) => break,
        }
    }
    let line = check_mysql(&target_for(&db, "db1"), TIMEOUT).await;
    for mut conn in held {
        let _ = conn.query_drop("DO 1").await;
        let _ = conn.disconnect().await;
    }
    assert!(
        line.starts_with("UNKNOWN: Too many connections! ") && line.contains("1040"),
        "{line}"
    );
}
