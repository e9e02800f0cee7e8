//! The fencing epoch in a real MariaDB: fence, refuse lower epochs, allow higher ones, the
//! lock, stay out of the binlog, name a missing grant, stay bounded on a frozen server.

use std::time::{Duration, Instant};

use mmm_lab::users::{AGENT_PASSWORD, AGENT_USER, APP_PASSWORD, APP_USER};
use mmm_lab::{MariaDb, MariaDbOpts};
use mmm_mysql::fence::{FenceError, allow_writes_at, fence_server, stored_epoch};
use mmm_mysql::{ConnectOpts, Mysql, MysqlError, connect};
use mysql_async::prelude::Queryable;

const LIMIT: Duration = Duration::from_secs(2);

async fn agent(db: &MariaDb) -> Mysql {
    let opts = ConnectOpts::tcp(
        db.ip().to_string(),
        db.port(),
        AGENT_USER,
        AGENT_PASSWORD,
        Duration::from_secs(1),
    );
    connect(&opts).await.expect("connect as agent")
}

async fn read_only(db: &MariaDb) -> bool {
    let v = db.query_value("SELECT @@GLOBAL.read_only").await;
    v.expect("read_only").as_deref() == Some("1")
}

#[test]
fn fence_over_real_mariadb() {
    if !mmm_lab::lab_available("mmm-mysql fence_over_real_mariadb") {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut db = MariaDb::start(MariaDbOpts::loopback("fence", 1))
            .await
            .expect("server");
        let mut c = agent(&db).await;
        assert_eq!(stored_epoch(&mut c).await.expect("no table yet"), 0);
        epochs_order_writes(&db, &mut c).await;
        fence_stays_out_of_the_binlog(&db, &mut c).await;
        lock_is_honoured(&db, &mut c).await;
        missing_grant_is_named(&db).await;

        db.sigstop().expect("sigstop");
        let started = Instant::now();
        let r = fence_server(&mut c, 99, "mon1", LIMIT).await;
        db.sigcont().expect("sigcont");
        assert!(r.is_err(), "a frozen server cannot be fenced: {r:?}");
        assert!(
            started.elapsed() < LIMIT + Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    });
}

/// Allow at 5, fence at 7 (kills the app session), refuse 6 and 7, keep 7 against a fence at 3,
/// allow at 8.
async fn epochs_order_writes(db: &MariaDb, c: &mut Mysql) {
    assert_eq!(allow_writes_at(c, 5, LIMIT).await.expect("allow at 5"), 0);
    assert!(!read_only(db).await);
    let mut app = db.conn_as(APP_USER, APP_PASSWORD).await.expect("app");
    app.query_drop("CREATE TABLE IF NOT EXISTS mmm_test.f (id INT PRIMARY KEY)")
        .await
        .expect("app writes while allowed");

    let report = fence_server(c, 7, "mon1", LIMIT).await.expect("fence at 7");
    assert_eq!(report.epoch, 7);
    assert!(report.killed >= 1, "the app session is killed: {report:?}");
    assert!(read_only(db).await);
    assert!(
        app.query_drop("SELECT 1").await.is_err(),
        "app session ended"
    );
    let mut app = db.conn_as(APP_USER, APP_PASSWORD).await.expect("app again");
    let refused = app.query_drop("INSERT INTO mmm_test.f VALUES (1)").await;
    assert!(refused.is_err(), "read_only refuses the app: {refused:?}");

    for epoch in [6, 7] {
        match allow_writes_at(c, epoch, LIMIT).await {
            Err(FenceError::Fenced {
                stored: 7,
                epoch: e,
            }) if e == epoch => {}
            other => panic!("allow at {epoch} after a fence at 7: {other:?}"),
        }
        assert!(read_only(db).await, "a refused allow leaves read_only=1");
    }
    let again = fence_server(c, 3, "mon2", LIMIT).await.expect("fence at 3");
    assert_eq!(again.epoch, 7, "the stored epoch never goes back");
    let by = db
        .query_value("SELECT fenced_by FROM mmm.fence WHERE id = 1")
        .await;
    assert_eq!(by.expect("fenced_by").as_deref(), Some("mon1"));

    assert_eq!(allow_writes_at(c, 8, LIMIT).await.expect("allow at 8"), 7);
    assert!(!read_only(db).await);
    let mut app = db
        .conn_as(APP_USER, APP_PASSWORD)
        .await
        .expect("app after the fences");
    app.query_drop("INSERT INTO mmm_test.f VALUES (2)")
        .await
        .expect("app writes at 8");
}

/// The fence writes nothing to the binary log (it must never replicate to the other master).
async fn fence_stays_out_of_the_binlog(db: &MariaDb, c: &mut Mysql) {
    let pos = "SELECT @@GLOBAL.gtid_binlog_pos";
    let before = db.query_value(pos).await.expect("gtid before");
    fence_server(c, 20, "mon1", LIMIT)
        .await
        .expect("fence at 20");
    let after = db.query_value(pos).await.expect("gtid after");
    assert_eq!(before, after, "the fence wrote to the binlog");
    let rows = db.query_value("SELECT COUNT(*) FROM mmm.fence").await;
    assert_eq!(rows.expect("rows").as_deref(), Some("1"));
}

/// An allow waits for the lock and gives up; a fence kills the holder and goes through.
async fn lock_is_honoured(db: &MariaDb, c: &mut Mysql) {
    let mut holder = db.root_conn().await.expect("holder");
    let got: Option<u8> = holder
        .query_first("SELECT GET_LOCK('mmm.fence', 1)")
        .await
        .expect("get lock");
    assert_eq!(got, Some(1));
    let started = Instant::now();
    match allow_writes_at(c, 21, Duration::from_millis(800)).await {
        Err(FenceError::Locked { .. }) => {}
        other => panic!("allow while the lock is held: {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert!(read_only(db).await);
    let report = fence_server(c, 21, "mon3", LIMIT)
        .await
        .expect("fence steals");
    assert_eq!(report.epoch, 21);
    assert!(
        holder.query_drop("SELECT 1").await.is_err(),
        "holder killed"
    );
}

/// An agent account without rights on `mmm`.* gets an error naming the grant and the scope.
async fn missing_grant_is_named(db: &MariaDb) {
    db.exec(
        "SET sql_log_bin=0; CREATE USER 'nofence'@'%' IDENTIFIED BY 'nofence'; \
         GRANT PROCESS, SUPER, CONNECTION ADMIN, READ_ONLY ADMIN ON *.* TO 'nofence'@'%'",
    )
    .await
    .expect("user without mmm.*");
    let opts = ConnectOpts::tcp(db.ip().to_string(), db.port(), "nofence", "nofence", LIMIT);
    let mut weak = connect(&opts).await.expect("connect");
    match fence_server(&mut weak, 30, "mon1", LIMIT).await {
        Err(FenceError::Mysql {
            source: e @ MysqlError::MissingPrivilege { .. },
            ..
        }) => {
            let text = e.to_string();
            assert!(text.contains("ON `mmm`.*"), "{text}");
            assert!(text.contains("INSERT"), "{text}");
        }
        other => panic!("fence without rights on mmm.*: {other:?}"),
    }
}
