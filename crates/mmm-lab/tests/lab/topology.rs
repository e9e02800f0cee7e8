//! The seeds' layout (db1⇄db2, db3 slave of db1) with GTID and with binlog coordinates.

use std::time::Duration;

use mmm_lab::replication::{slave_status, wait_caught_up};
use mmm_lab::users::{APP_PASSWORD, APP_USER, TEST_DB};
use mmm_lab::{ReplicationMode, Topology, TopologySpec};
use mysql_async::prelude::Queryable;

use super::common::{assert_namespaces_gone, lab};

const CATCH_UP: Duration = Duration::from_secs(15);

async fn seeds_layout_replicates(mode: ReplicationMode) {
    let Some(lab) = lab() else { return };
    let spec = TopologySpec {
        slaves: 1,
        mode: mode.clone(),
        db1_writable: true,
    };
    let extra = ["max_allowed_packet=32M".to_owned()];
    let topo = Topology::start_with(&lab, &spec, &extra)
        .await
        .expect("topology");
    let (db1, db2, db3) = (
        topo.db("db1").expect("db1"),
        topo.db("db2").expect("db2"),
        topo.db("db3").expect("db3"),
    );

    // Wiring: db2 and db3 follow db1, db1 follows db2, all threads running, in the requested mode.
    let using_gtid = if mode == ReplicationMode::Gtid {
        "Slave_Pos"
    } else {
        "No"
    };
    for (slave, master) in [(db2, db1), (db3, db1), (db1, db2)] {
        let status = slave_status(slave)
            .await
            .expect("status")
            .expect("configured");
        assert_eq!(
            status.master_host(),
            master.ip().to_string(),
            "{}",
            slave.label()
        );
        assert_eq!(status.get("Using_Gtid"), using_gtid, "{}", slave.label());
        assert!(status.running(), "{}: {:?}", slave.label(), status.fields);
    }
    assert_eq!(
        db1.query_value("SELECT @@auto_increment_offset")
            .await
            .expect("q")
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        db2.query_value("SELECT @@auto_increment_offset")
            .await
            .expect("q")
            .as_deref(),
        Some("2")
    );
    assert_eq!(
        db2.query_value("SELECT @@auto_increment_increment")
            .await
            .expect("q")
            .as_deref(),
        Some("2")
    );
    assert_eq!(
        db2.query_value("SELECT @@gtid_domain_id")
            .await
            .expect("q")
            .as_deref(),
        Some("2")
    );

    // The application writes on db1 (read_only=0) over the bridge from a client namespace.
    let client = lab.add_host("client", 50).expect("client host");
    let opts = db1.tcp_opts(APP_USER, APP_PASSWORD);
    client
        .block_on(async move {
            let mut c = tokio::time::timeout(Duration::from_secs(5), mysql_async::Conn::new(opts))
                .await
                .expect("timeout")
                .expect("app connects to db1");
            c.query_drop(format!(
                "CREATE TABLE {TEST_DB}.rows (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))"
            ))
            .await
            .expect("create");
            c.query_drop(format!(
                "INSERT INTO {TEST_DB}.rows (v) VALUES ('from-db1')"
            ))
            .await
            .expect("insert on db1");
            c.disconnect().await.expect("disconnect");
        })
        .expect("enter client");

    // The row reaches db2 and db3.
    wait_caught_up(db2, db1, CATCH_UP)
        .await
        .expect("db2 caught up");
    wait_caught_up(db3, db1, CATCH_UP)
        .await
        .expect("db3 caught up");
    for db in [db2, db3] {
        assert_eq!(
            db.query_value(&format!("SELECT v FROM {TEST_DB}.rows WHERE id = 1"))
                .await
                .expect("q")
                .as_deref(),
            Some("from-db1"),
            "row missing on {}",
            db.label()
        );
    }

    // A write on db2 (by root, which read_only does not stop) flows back to db1 and on to db3,
    // with db2's auto_increment offset.
    db2.exec(&format!(
        "INSERT INTO {TEST_DB}.rows (v) VALUES ('from-db2')"
    ))
    .await
    .expect("root insert on db2");
    assert_eq!(
        db2.query_value(&format!(
            "SELECT id FROM {TEST_DB}.rows WHERE v = 'from-db2'"
        ))
        .await
        .expect("q")
        .as_deref(),
        Some("2")
    );
    wait_caught_up(db1, db2, CATCH_UP)
        .await
        .expect("db1 caught up with db2");
    wait_caught_up(db3, db1, CATCH_UP)
        .await
        .expect("db3 caught up");
    assert_eq!(
        db3.query_value(&format!("SELECT COUNT(*) FROM {TEST_DB}.rows"))
            .await
            .expect("q")
            .as_deref(),
        Some("2")
    );

    // db2 is read_only=1: the application account cannot write there.
    let mut app = db2
        .conn_as(APP_USER, APP_PASSWORD)
        .await
        .expect("app on db2");
    let err = app
        .query_drop(format!("INSERT INTO {TEST_DB}.rows (v) VALUES ('nope')"))
        .await
        .expect_err("app wrote on read-only db2");
    assert!(err.to_string().contains("read-only"), "{err}");
    drop(app);

    // A conflicting local row on db3 breaks its SQL thread; waiting reports that at once.
    db3.exec(&format!(
        "INSERT INTO {TEST_DB}.rows (id, v) VALUES (99, 'local')"
    ))
    .await
    .expect("local row");
    db1.exec(&format!(
        "INSERT INTO {TEST_DB}.rows (id, v) VALUES (99, 'dup')"
    ))
    .await
    .expect("dup row");
    let started = std::time::Instant::now();
    let err = wait_caught_up(db3, db1, CATCH_UP)
        .await
        .expect_err("broken slave reported caught up");
    assert!(
        matches!(err, mmm_lab::LabError::ReplicationBroken { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("1062"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // The rendered mmm_common.conf describes this layout.
    let conf = lab.mmm_config(&topo);
    assert!(conf.contains("<host db1>\n    ip                      10.213.7.11\n    mode                    master\n    peer                    db2\n"), "{conf}");
    assert!(conf.contains("<host db3>\n    ip                      10.213.7.13\n    mode                    slave\n"), "{conf}");
    assert!(conf.contains("cluster_interface       eth0"), "{conf}");

    let names = lab.namespaces();
    drop(topo);
    drop(lab);
    assert_namespaces_gone(&names);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_layout_with_gtid() {
    seeds_layout_replicates(ReplicationMode::Gtid).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_layout_with_binlog_coordinates() {
    seeds_layout_replicates(ReplicationMode::BinlogCoordinates).await;
}
