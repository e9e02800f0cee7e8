//! A single MariaDB on loopback and inside a namespace.

use std::time::Duration;

use mmm_lab::users::{APP_PASSWORD, APP_USER, MONITOR_PASSWORD, MONITOR_USER, TEST_DB};
use mmm_lab::{MariaDb, MariaDbOpts};
use mysql_async::prelude::Queryable;

use super::common::{lab, root_or_skip};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_server_starts_answers_and_is_cleaned_up() {
    if !root_or_skip() {
        return;
    }
    let db = MariaDb::start(MariaDbOpts::loopback("solo", 7))
        .await
        .expect("start");
    assert_eq!(db.ip().to_string(), "127.0.0.1");
    let pid = db.pid().expect("pid");
    let dir = db.dir().to_path_buf();
    assert_eq!(
        db.query_value("SELECT @@server_id")
            .await
            .expect("q")
            .as_deref(),
        Some("7")
    );
    assert_eq!(
        db.query_value("SELECT @@read_only")
            .await
            .expect("q")
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        db.query_value("SELECT @@log_bin")
            .await
            .expect("q")
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        db.query_value("SELECT @@binlog_format")
            .await
            .expect("q")
            .as_deref(),
        Some("ROW")
    );

    // TCP really is TCP (prefer_socket off) and the monitor account works over it.
    let mut conn = tokio::time::timeout(
        Duration::from_secs(5),
        mysql_async::Conn::new(db.tcp_opts(MONITOR_USER, MONITOR_PASSWORD)),
    )
    .await
    .expect("timeout")
    .expect("tcp connect");
    let host: Option<String> = conn
        .query_first("SELECT host FROM information_schema.processlist WHERE id = CONNECTION_ID()")
        .await
        .expect("processlist");
    assert!(
        host.unwrap_or_default().starts_with("127.0.0.1"),
        "not a TCP session"
    );
    conn.disconnect().await.expect("disconnect");

    // read_only=1 stops the application account.
    let mut app = db.conn_as(APP_USER, APP_PASSWORD).await.expect("app conn");
    let err = app
        .query_drop(format!("CREATE TABLE {TEST_DB}.t (id INT PRIMARY KEY)"))
        .await
        .expect_err("app wrote to a read-only server");
    assert!(err.to_string().contains("read-only"), "{err}");
    drop(app);

    drop(db);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "mariadbd {pid} survived drop"
    );
    assert!(!dir.exists(), "{} survived drop", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaced_server_listens_on_its_lab_address() {
    let Some(lab) = lab() else { return };
    let h = lab.add_host("db1", 11).expect("host");
    let client = lab.add_host("cl", 50).expect("client");
    let mut opts = MariaDbOpts::on_host(&h, 11);
    opts.read_only = false;
    let db = MariaDb::start(opts).await.expect("start");
    // It runs in db1's namespace.
    let pid = db.pid().expect("pid");
    assert!(h.netns().pids().expect("pids").contains(&(pid as i32)));
    // A client in another namespace reaches it over the bridge as the app user and can write.
    let opts = db.tcp_opts(APP_USER, APP_PASSWORD);
    let n: u64 = client
        .block_on(async move {
            let mut c = tokio::time::timeout(Duration::from_secs(5), mysql_async::Conn::new(opts))
                .await
                .expect("timeout")
                .expect("connect over the bridge");
            c.query_drop(format!("CREATE TABLE {TEST_DB}.t (id INT PRIMARY KEY)"))
                .await
                .expect("create");
            c.query_drop(format!("INSERT INTO {TEST_DB}.t VALUES (1), (2)"))
                .await
                .expect("insert");
            let n: Option<u64> = c
                .query_first(format!("SELECT COUNT(*) FROM {TEST_DB}.t"))
                .await
                .expect("count");
            c.disconnect().await.expect("disconnect");
            n.unwrap_or(0)
        })
        .expect("enter client");
    assert_eq!(n, 2);
    // The root connection goes through the unix socket, across namespaces.
    assert_eq!(
        db.query_value(&format!("SELECT COUNT(*) FROM {TEST_DB}.t"))
            .await
            .expect("q")
            .as_deref(),
        Some("2")
    );
}
