//! Malformed and hostile requests are refused with a clear status and change nothing.

use mmm_proto::pb;
use tonic::Code;

use super::harness::{WRITER_IP, cluster, status_req};
use mmm_lab::TopologySpec;

#[test]
fn hostile_requests_are_refused_without_change() {
    let Some(mut c) = cluster(
        "agv",
        TopologySpec {
            slaves: 0,
            ..Default::default()
        },
        "",
    ) else {
        return;
    };
    c.start_agent("db1");
    let send = |req: pb::SetStatusRequest| {
        c.call(
            "db1",
            move |mut cl, _| async move { cl.set_status(req).await },
        )
    };
    let cases: Vec<(pb::SetStatusRequest, &str)> = vec![
        (
            status_req("db9", &[("writer", WRITER_IP)], "db1", 9, 30_000),
            "ERROR: Invalid hostname in command (db9)! My name is 'db1'",
        ),
        (
            status_req("db1", &[("boss", WRITER_IP)], "db1", 9, 30_000),
            "Unknown role 'boss'",
        ),
        (
            status_req("db1", &[("writer", "10.213.7.200")], "db1", 9, 30_000),
            "IP '10.213.7.200' is not configured for role 'writer'",
        ),
        (
            status_req(
                "db1",
                &[("writer", "1.1.1.1'; DROP TABLE x; --")],
                "db1",
                9,
                30_000,
            ),
            "is not configured for role 'writer'",
        ),
        (
            status_req("db1", &[("writer", WRITER_IP)], "db1", 9, 0),
            "needs a lease",
        ),
        (
            status_req("db1", &[("writer", WRITER_IP)], "db1", 9, u64::MAX),
            "longer than the maximum",
        ),
        (
            status_req("db1", &[], "nobody", 9, 0),
            "Unknown active master 'nobody'",
        ),
        (
            pb::SetStatusRequest {
                state: 42,
                ..status_req("db1", &[], "db1", 9, 0)
            },
            "Invalid state: unknown host state number 42",
        ),
        (
            pb::SetStatusRequest {
                state: 0,
                ..status_req("db1", &[], "db1", 9, 0)
            },
            "Invalid state: the host state is missing",
        ),
        (
            pb::SetStatusRequest {
                fence: None,
                ..status_req("db1", &[("writer", WRITER_IP)], "db1", 9, 30_000)
            },
            "Missing fence",
        ),
    ];
    for (req, want) in cases {
        let e = send(req).expect_err(want);
        assert_eq!(e.code(), Code::InvalidArgument, "{want}: {e:?}");
        assert!(e.message().contains(want), "{want}: {}", e.message());
    }
    let e = c
        .call("db1", |mut cl, _| async move {
            cl.ping(pb::PingRequest { host: "db2".into() }).await
        })
        .expect_err("ping for another host");
    assert_eq!(e.code(), Code::InvalidArgument);

    let st = c.get_status("db1");
    assert_eq!(st.epoch, 0, "epoch changed");
    assert!(st.roles.is_empty());
    assert_eq!(
        mmm_proto::convert::state_from_wire(st.state),
        Ok(mmm_core::state::HostState::Unknown)
    );
    assert!(!c.has_ip("db1", WRITER_IP));
    assert!(c.read_only("db1"));
    let log = c.log("db1");
    assert!(
        log.contains("ERROR: Invalid hostname in command (db9)! My name is 'db1'"),
        "{log}"
    );
}
