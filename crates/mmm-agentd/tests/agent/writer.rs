//! Taking and dropping the writer role, killing client sessions, and moving the VIP with ARP.

use std::time::Duration;

use mmm_lab::TopologySpec;
use mysql_async::prelude::Queryable;

use super::harness::{
    WRITER_IP, app_conn, cluster, connect_agent, lab_ip, server_code, status_req,
};

#[test]
fn writer_take_drop_kill_sessions_and_move_vip_with_arp() {
    let Some(mut c) = cluster(
        "agw",
        TopologySpec {
            slaves: 0,
            ..Default::default()
        },
        // No monitor leads here (the test sends each status itself), so with failsafe_mode on
        // each agent would count the leader as gone and grant the other failsafe leases.
        "max_kill_retries 1\ncatchup_timeout 5\nfailsafe_mode off\n",
    ) else {
        return;
    };
    c.start_agent("db1");
    c.start_agent("db2");
    assert!(
        c.read_only("db1") && c.read_only("db2"),
        "lab starts read-only"
    );

    // The client knows the VIP at a stale, unrelated MAC.
    c.client
        .exec(
            "ip",
            &[
                "neigh",
                "replace",
                WRITER_IP,
                "lladdr",
                "02:00:00:00:00:01",
                "dev",
                "eth0",
                "nud",
                "stale",
            ],
        )
        .expect("seed neighbour");

    // Take the writer on db1.
    let reply = c
        .set_status("db1", "ONLINE", &[("writer", WRITER_IP)], "db1", 1, 30_000)
        .expect("set_status db1 writer");
    assert_eq!(reply.message, "OK: Status applied successfully!");
    assert!(reply.errors.is_empty(), "errors: {:?}", reply.errors);
    assert!(reply.writable);
    assert!(reply.present.iter().any(|r| r.ip == WRITER_IP));
    assert!(c.has_ip("db1", WRITER_IP), "{}", c.addresses("db1"));
    assert!(!c.read_only("db1"));
    let mac1 = c.mac("db1");
    let seen = c.wait_for(Duration::from_secs(2), || {
        c.client_neigh(WRITER_IP).contains(&mac1)
    });
    assert!(
        seen.is_some(),
        "client neighbour: {}",
        c.client_neigh(WRITER_IP)
    );

    // The non-privileged application user writes through the VIP.
    c.app_exec(
        WRITER_IP,
        "CREATE TABLE IF NOT EXISTS w (id INT AUTO_INCREMENT PRIMARY KEY, v INT)",
    )
    .expect("create through VIP");
    c.app_exec(WRITER_IP, "INSERT INTO w (v) VALUES (1)")
        .expect("insert through VIP");

    // Drop it while an idle and a busy application session are open.
    let db1_ip = lab_ip(11);
    let (idle_after, busy_after, writing_after, drop_took, reply) = c
        .client
        .block_on(async move {
            let mut idle = app_conn(WRITER_IP).await.expect("idle session");
            let busy = tokio::spawn(async move {
                let mut conn = app_conn(WRITER_IP).await?;
                conn.query_drop("SELECT SLEEP(60)").await
            });
            let writing = tokio::spawn(async move {
                let mut conn = app_conn(WRITER_IP).await?;
                conn.query_drop("INSERT INTO w (v) SELECT SLEEP(30)").await
            });
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut agent = connect_agent(&db1_ip).await;
            let started = std::time::Instant::now();
            let reply = agent
                .set_status(status_req("db1", &[], "db2", 2, 30_000))
                .await
                .map(|r| r.into_inner());
            let drop_took = started.elapsed();
            let idle_after = idle.query_drop("SELECT 1").await;
            let busy_after = tokio::time::timeout(Duration::from_secs(5), busy).await;
            let writing_after = tokio::time::timeout(Duration::from_secs(5), writing).await;
            (idle_after, busy_after, writing_after, drop_took, reply)
        })
        .expect("client namespace");
    let reply = reply.expect("set_status drop");
    assert!(reply.errors.is_empty(), "errors: {:?}", reply.errors);
    assert!(!reply.writable);
    assert!(idle_after.is_err(), "idle session survived the drop");
    match busy_after {
        Ok(Ok(r)) => assert!(r.is_err(), "busy session survived the drop"),
        other => panic!("busy session did not end promptly: {other:?}"),
    }
    // The running write blocked read_only=1 until the agent killed it (after its timeout).
    match writing_after {
        Ok(Ok(r)) => assert!(r.is_err(), "writing session survived the drop"),
        other => panic!("writing session did not end promptly: {other:?}"),
    }
    assert!(
        drop_took >= Duration::from_secs(1),
        "the running write did not delay read_only: {drop_took:?}"
    );
    assert!(c.read_only("db1"));
    assert!(!c.has_ip("db1", WRITER_IP), "{}", c.addresses("db1"));
    let e = c
        .app_exec(&lab_ip(11), "INSERT INTO w (v) VALUES (2)")
        .expect_err("db1 must refuse writes");
    assert_eq!(server_code(&e), Some(1290), "{e}");

    // Move the writer to db2: the client's ARP entry follows without waiting for expiry.
    let reply = c
        .set_status("db2", "ONLINE", &[("writer", WRITER_IP)], "db2", 3, 30_000)
        .expect("set_status db2 writer");
    assert!(reply.errors.is_empty(), "errors: {:?}", reply.errors);
    assert!(reply.writable);
    assert!(c.has_ip("db2", WRITER_IP));
    let mac2 = c.mac("db2");
    assert_ne!(mac1, mac2);
    let seen = c.wait_for(Duration::from_secs(2), || {
        c.client_neigh(WRITER_IP).contains(&mac2)
    });
    assert!(
        seen.is_some(),
        "client neighbour: {}",
        c.client_neigh(WRITER_IP)
    );
    c.app_exec(WRITER_IP, "INSERT INTO w (v) VALUES (3)")
        .expect("insert through VIP on db2");
    let log = c.log("db1");
    assert!(
        log.contains("We have some new roles added or old rules deleted!"),
        "{log}"
    );
    assert!(log.contains("Deleted: writer(10.213.7.100)"), "{log}");
}

/// The writer announces its VIP again every second: a client whose neighbour entry was
/// pointed at another host (as after a partition heals, when an old ARP answer won) comes back
/// to the writer within a few seconds without any role change.
#[test]
fn a_held_writer_vip_is_announced_again_every_second() {
    let Some(mut c) = super::lease::two_masters("aga") else {
        return;
    };
    c.start_agent("db1");
    super::lease::take_writer(&c, "db1", 1, 60_000);
    let (mac1, mac2) = (c.mac("db1"), c.mac("db2"));
    // Talking to the VIP gives the client a neighbour entry (an announcement alone creates none).
    c.app_exec(WRITER_IP, "SELECT 1")
        .expect("a query through the VIP");
    assert!(
        c.wait_for(Duration::from_secs(2), || c
            .client_neigh(WRITER_IP)
            .contains(&mac1))
            .is_some(),
        "client neighbour: {}",
        c.client_neigh(WRITER_IP)
    );
    c.client
        .exec(
            "ip",
            &[
                "neigh", "replace", WRITER_IP, "lladdr", &mac2, "dev", "eth0", "nud", "stale",
            ],
        )
        .expect("point the client's neighbour entry at db2");
    assert!(c.client_neigh(WRITER_IP).contains(&mac2));
    let back = c.wait_for(Duration::from_secs(5), || {
        c.client_neigh(WRITER_IP).contains(&mac1)
    });
    assert!(
        back.is_some(),
        "client neighbour still: {}",
        c.client_neigh(WRITER_IP)
    );
    eprintln!("client back on db1's MAC after {back:?}");
}
