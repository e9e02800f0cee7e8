//! Stale epochs are refused with nothing changed; the epoch survives a restart.

use std::time::Duration;

use mmm_lab::users::{AGENT_PASSWORD, AGENT_USER};
use mmm_mysql::fence::fence_server;
use mmm_mysql::{ConnectOpts, connect};
use mmm_proto::pb;
use tonic::Code;

use super::harness::{WRITER_IP, cluster, lab_ip};
use mmm_lab::TopologySpec;

#[test]
fn stale_epoch_refused_and_epoch_survives_restart() {
    let Some(mut c) = cluster(
        "agf",
        TopologySpec {
            slaves: 0,
            ..Default::default()
        },
        "",
    ) else {
        return;
    };
    c.start_agent("db1");
    let reader = lab_ip(101);
    let reply = c
        .set_status("db1", "ONLINE", &[("reader", &reader)], "db2", 5, 0)
        .expect("epoch 5");
    assert_eq!(reply.epoch, 5);
    assert!(c.has_ip("db1", &reader));

    let e = c
        .set_status("db1", "ONLINE", &[("writer", WRITER_IP)], "db1", 4, 30_000)
        .expect_err("stale epoch");
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(
        e.message().contains('4') && e.message().contains('5'),
        "{}",
        e.message()
    );
    assert!(!c.has_ip("db1", WRITER_IP));
    assert!(c.read_only("db1"));
    let st = c.get_status("db1");
    assert_eq!(st.epoch, 5);
    assert_eq!(st.roles.len(), 1);
    assert_eq!(st.roles[0].ip, reader);

    let e = c
        .call("db1", |mut cl, host| async move {
            cl.clear_bad_roles(pb::ClearBadRolesRequest {
                host,
                fence: Some(pb::Fence {
                    epoch: 3,
                    term: 1,
                    leader_id: 1,
                }),
            })
            .await
        })
        .expect_err("stale clear_bad_roles");
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(c.has_ip("db1", &reader));

    // A stray writer IP (not held) is removed by ClearBadRoles with the current epoch.
    c.host("db1")
        .exec(
            "ip",
            &["addr", "add", &format!("{WRITER_IP}/32"), "dev", "eth0"],
        )
        .expect("stray IP");
    let reply = c
        .call("db1", |mut cl, host| async move {
            cl.clear_bad_roles(pb::ClearBadRolesRequest {
                host,
                fence: Some(pb::Fence {
                    epoch: 5,
                    term: 1,
                    leader_id: 1,
                }),
            })
            .await
        })
        .expect("clear_bad_roles");
    assert_eq!(reply.message, "OK: Removed 1 roles");
    assert!(!c.has_ip("db1", WRITER_IP));
    assert!(c.has_ip("db1", &reader), "held role must stay");
    assert!(c.read_only("db1"));

    // A second copy refuses to start.
    let mut second = c.spawn_second_agent("db1");
    let status = second
        .wait_exit(std::time::Duration::from_secs(10))
        .expect("wait second copy")
        .expect("second copy exits");
    assert!(!status.success());
    assert!(
        c.log("db1").contains("Can't run second copy"),
        "{}",
        c.log("db1")
    );

    // Equal epoch (periodic re-send) is accepted.
    c.set_status("db1", "ONLINE", &[("reader", &reader)], "db2", 5, 0)
        .expect("equal epoch");

    c.stop_agent("db1");
    let log = c.log("db1");
    assert!(log.contains("INFO Signal received: exiting..."), "{log}");
    assert!(log.contains("INFO END"), "{log}");

    c.start_agent("db1");
    assert_eq!(c.get_status("db1").epoch, 5);
    let e = c
        .set_status("db1", "ONLINE", &[("writer", WRITER_IP)], "db1", 4, 30_000)
        .expect_err("stale after restart");
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(!c.has_ip("db1", WRITER_IP));
    assert!(c.read_only("db1"));
}

/// A server a leader fenced over SQL at epoch 12 (while its agent, cut off, still stood at 10)
/// takes no writer role from a status at an epoch up to 12, although the agent accepts that
/// epoch as newer than its own; a status above the fence turns writes on again.
#[test]
fn a_server_fenced_over_sql_refuses_writes_at_epochs_up_to_the_fence() {
    let Some(mut c) = cluster(
        "agq",
        TopologySpec {
            slaves: 0,
            ..Default::default()
        },
        "",
    ) else {
        return;
    };
    c.start_agent("db1");
    c.set_status("db1", "ONLINE", &[], "db2", 10, 0)
        .expect("epoch 10");
    assert!(c.read_only("db1"));

    let db = c.topo.db("db1").expect("db1");
    let (ip, port) = (db.ip().to_string(), db.port());
    let limit = Duration::from_secs(2);
    let report = c
        .client
        .block_on(async move {
            let opts = ConnectOpts::tcp(ip, port, AGENT_USER, AGENT_PASSWORD, limit);
            let mut conn = connect(&opts).await.expect("connect as the agent user");
            fence_server(&mut conn, 12, "mon1", limit).await
        })
        .expect("client namespace")
        .expect("fence at 12");
    assert_eq!(report.epoch, 12);

    for epoch in [11, 12] {
        let reply = c
            .set_status(
                "db1",
                "ONLINE",
                &[("writer", WRITER_IP)],
                "db1",
                epoch,
                30_000,
            )
            .expect("the agent accepts the newer epoch");
        assert_eq!(reply.epoch, epoch);
        assert!(!reply.writable, "writable at epoch {epoch}: {reply:?}");
        assert!(
            reply
                .errors
                .iter()
                .any(|e| e.contains("fenced at epoch 12")),
            "{reply:?}"
        );
        assert!(c.read_only("db1"), "read_only=0 at epoch {epoch}");
    }

    let reply = c
        .set_status("db1", "ONLINE", &[("writer", WRITER_IP)], "db1", 13, 30_000)
        .expect("epoch 13");
    assert!(reply.writable, "{reply:?}");
    assert!(!c.read_only("db1"));
}
