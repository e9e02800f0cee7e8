//! The writer lease: it runs from the basis the agent reported, so delay never stretches it;
//! expiry demotes the writer on time, also while mysqld is stopped; a lease that ran out is
//! not renewed at the same epoch.

use std::time::{Duration, Instant};

use mmm_lab::TopologySpec;
use mmm_proto::pb;

use super::harness::{Cluster, WRITER_IP, cluster, status_req};

pub(super) const LEASE_MS: u64 = 1500;

/// Takes the writer on `name` at `epoch` under a lease counted from a fresh basis; returns the
/// instants around the basis reading.
pub(super) fn take_writer(
    c: &Cluster,
    name: &str,
    epoch: u64,
    lease_ms: u64,
) -> (Instant, Instant) {
    let (before, basis, after) = c.ping_basis(name);
    let mut req = status_req(name, &[("writer", WRITER_IP)], name, epoch, lease_ms);
    req.basis = Some(basis);
    let reply = c.send_status(name, req).expect("take writer");
    assert!(reply.writable, "errors: {:?}", reply.errors);
    assert!(reply.present.iter().any(|r| r.ip == WRITER_IP));
    (before, after)
}

pub(super) fn two_masters(tag: &str) -> Option<Cluster> {
    cluster(
        tag,
        TopologySpec {
            slaves: 0,
            ..Default::default()
        },
        "catchup_timeout 5\n",
    )
}

#[test]
fn lease_expiry_demotes_writer_on_time_even_with_hung_mysql() {
    let Some(mut c) = two_masters("agl") else {
        return;
    };
    c.start_agent("db1");
    let lease = Duration::from_millis(LEASE_MS);
    let slack = Duration::from_millis(200);

    // 1. Healthy MySQL: the VIP goes once basis + lease passed, read_only=1 right after.
    let (before, after) = take_writer(&c, "db1", 1, LEASE_MS);
    let gone = c
        .wait_ip_gone("db1", WRITER_IP, lease + Duration::from_secs(3))
        .expect("VIP removed after lease");
    eprintln!(
        "lease {LEASE_MS} ms: VIP gone {:?} after the basis (healthy mysqld)",
        gone - after
    );
    assert!(gone - before >= lease, "dropped early: {:?}", gone - before);
    assert!(
        gone - after <= lease + slack,
        "VIP removed late: {:?}",
        gone - after
    );
    // The agent removes the VIP and denies writes concurrently (a hung mysqld must not delay the
    // VIP), so read_only=1 may land just after the VIP is gone.
    let ro = c.wait_for(Duration::from_secs(5), || c.read_only("db1"));
    assert!(ro.is_some(), "read_only not set; log:\n{}", c.log("db1"));
    let log = c.log("db1");
    assert!(
        log.contains("FATAL Lease expired: dropping role 'writer(10.213.7.100)'"),
        "{log}"
    );
    let st = c.get_status("db1");
    assert!(st.roles.is_empty());
    assert_eq!(st.report.expect("report").writer_ran_out_epoch, 1);

    // 2. mysqld stopped (SIGSTOP) while the host holds the writer.
    let (_, after) = take_writer(&c, "db1", 2, LEASE_MS);
    c.topo
        .db_mut("db1")
        .expect("db1")
        .sigstop()
        .expect("sigstop");
    let gone = c.wait_ip_gone("db1", WRITER_IP, lease + Duration::from_secs(3));
    c.topo
        .db_mut("db1")
        .expect("db1")
        .sigcont()
        .expect("sigcont");
    let gone = gone.expect("VIP still present with mysqld stopped");
    eprintln!(
        "lease {LEASE_MS} ms: VIP gone {:?} after the basis (mysqld stopped)",
        gone - after
    );
    assert!(
        gone - after <= lease + slack,
        "VIP removed late: {:?}",
        gone - after
    );
    // Once mysqld runs again the agent finishes the drop: read_only=1.
    let ro = c.wait_for(Duration::from_secs(15), || {
        c.try_read_only("db1") == Some(true)
    });
    assert!(
        ro.is_some(),
        "read_only not restored; log:\n{}",
        c.log("db1")
    );

    // 3. The agent is killed while it holds the writer with a long lease and restarts:
    //    it finds the VIP, holds it only for its startup lease, then drops it by itself.
    let reply = c
        .set_status("db1", "ONLINE", &[("writer", WRITER_IP)], "db1", 3, 600_000)
        .expect("take writer with a long lease");
    assert!(reply.writable, "errors: {:?}", reply.errors);
    c.kill_agent("db1");
    assert!(c.has_ip("db1", WRITER_IP) && !c.read_only("db1"));
    let restarted = Instant::now();
    c.start_agent("db1");
    let gone = c.wait_for(Duration::from_secs(6), || {
        !c.has_ip("db1", WRITER_IP) && c.read_only("db1")
    });
    assert!(
        gone.is_some(),
        "writer kept after restart; log:\n{}",
        c.log("db1")
    );
    assert!(restarted.elapsed() >= Duration::from_millis(1500));
    let log = c.log("db1");
    assert!(
        log.contains("WARN Found role 'writer(10.213.7.100)' configured at startup"),
        "{log}"
    );
    assert!(
        log.contains("WARN Unclean start - found stale pid file!"),
        "{log}"
    );
}

/// Sends `req` to `ip` from the client namespace in the background; the reply comes back
/// through the returned handle (the agent may be stopped meanwhile).
pub(super) fn send_in_background(
    c: &Cluster,
    ip: String,
    req: pb::SetStatusRequest,
) -> std::thread::JoinHandle<Result<pb::SetStatusReply, tonic::Status>> {
    let client = c.client.clone();
    std::thread::spawn(move || {
        client
            .block_on(async move {
                let mut agent = super::harness::connect_agent(&ip).await;
                agent.set_status(req).await.map(|r| r.into_inner())
            })
            .expect("client namespace")
    })
}

#[test]
fn a_renewal_delivered_late_neither_re_enables_writes_nor_extends_the_lease() {
    let Some(mut c) = two_masters("agd") else {
        return;
    };
    c.start_agent("db1");
    take_writer(&c, "db1", 1, LEASE_MS);
    let basis = c.basis("db1").expect("basis");
    let ip = c.host("db1").ip().to_string();

    // The agent freezes; the leader keeps renewing with the basis it last received, and the
    // renewals wait in the socket.
    c.signal_agent("db1", libc::SIGSTOP);
    let queued: Vec<_> = (0..3)
        .map(|_| {
            let mut req = status_req("db1", &[("writer", WRITER_IP)], "db1", 1, LEASE_MS);
            req.basis = Some(basis);
            send_in_background(&c, ip.clone(), req)
        })
        .collect();
    std::thread::sleep(Duration::from_millis(LEASE_MS + 1500));
    c.signal_agent("db1", libc::SIGCONT);

    // Woken up, the agent drops the role (its lease ran out while it was stopped) and the
    // late renewals give nothing back.
    let dropped = c.wait_for(Duration::from_secs(3), || {
        !c.has_ip("db1", WRITER_IP) && c.read_only("db1")
    });
    assert!(dropped.is_some(), "writer kept; log:\n{}", c.log("db1"));
    for q in queued {
        let reply = q.join().expect("thread").expect("late renewal answered");
        assert!(
            !reply.writable,
            "a late renewal re-enabled writes: {reply:?}"
        );
        let refused = reply.report.expect("report").writer_refused;
        assert!(
            refused.contains("arrived after its lease had run out")
                || refused.contains("ran out at epoch 1"),
            "{refused}"
        );
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        assert!(
            c.read_only("db1"),
            "db1 writable again; log:\n{}",
            c.log("db1")
        );
        assert!(!c.has_ip("db1", WRITER_IP), "VIP back on db1");
        std::thread::sleep(Duration::from_millis(50));
    }
    let st = c.get_status("db1").report.expect("report");
    assert_eq!(st.writer_lease_remaining_ms, 0);
}

#[test]
fn a_lease_that_ran_out_is_not_renewed_at_the_same_epoch() {
    let Some(mut c) = two_masters("age") else {
        return;
    };
    c.start_agent("db1");
    take_writer(&c, "db1", 3, LEASE_MS);
    let gone = c.wait_ip_gone(
        "db1",
        WRITER_IP,
        Duration::from_millis(LEASE_MS) + Duration::from_secs(3),
    );
    assert!(gone.is_some(), "lease did not run out");

    // A fresh basis at the same epoch: refused, and the reply says what is needed.
    let (_, basis, _) = c.ping_basis("db1");
    let mut req = status_req("db1", &[("writer", WRITER_IP)], "db1", 3, LEASE_MS);
    req.basis = Some(basis);
    let reply = c.send_status("db1", req).expect("status at the same epoch");
    assert!(!reply.writable);
    let report = reply.report.expect("report");
    assert_eq!(report.writer_ran_out_epoch, 3);
    assert!(
        report.writer_refused.contains("needs an epoch above 3"),
        "{}",
        report.writer_refused
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(c.read_only("db1") && !c.has_ip("db1", WRITER_IP));
    assert!(
        c.log("db1").contains(
            "Not taking role 'writer(10.213.7.100)': the writer lease ran out at epoch 3"
        ),
        "{}",
        c.log("db1")
    );

    // A new epoch gives the role back.
    take_writer(&c, "db1", 4, LEASE_MS);
    assert!(!c.read_only("db1") && c.has_ip("db1", WRITER_IP));
}

#[test]
fn first_contact_grants_no_writer_lease_and_a_future_basis_is_refused() {
    let Some(mut c) = two_masters("agb") else {
        return;
    };
    c.start_agent("db1");
    // No basis: the non-writer parts apply, the writer waits for a push with a basis.
    let reply = c
        .send_status(
            "db1",
            status_req(
                "db1",
                &[("writer", WRITER_IP), ("reader", "10.213.7.101")],
                "db1",
                1,
                LEASE_MS,
            ),
        )
        .expect("status without basis");
    assert!(!reply.writable);
    assert!(reply.present.iter().any(|r| r.ip == "10.213.7.101"));
    let report = reply.report.expect("report");
    assert!(
        report.writer_refused.contains("no lease basis"),
        "{}",
        report.writer_refused
    );
    assert!(c.read_only("db1") && !c.has_ip("db1", WRITER_IP));

    // A basis of this process from the future: refused as invalid, nothing changes.
    let mut req = status_req("db1", &[("writer", WRITER_IP)], "db1", 2, LEASE_MS);
    req.basis = Some(pb::LeaseBasis {
        incarnation: report.incarnation,
        basis_ms: report.lease_basis_ms + 3_600_000,
    });
    let e = c.send_status("db1", req).expect_err("future basis");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(
        e.message().contains("ahead of this agent's clock"),
        "{}",
        e.message()
    );
    assert_eq!(
        c.get_status("db1").epoch,
        1,
        "the bad request changed the epoch"
    );

    // Another process's basis (the agent restarted since): no writer lease either.
    let mut req = status_req("db1", &[("writer", WRITER_IP)], "db1", 2, LEASE_MS);
    req.basis = Some(pb::LeaseBasis {
        incarnation: report.incarnation ^ 1,
        basis_ms: report.lease_basis_ms,
    });
    let reply = c.send_status("db1", req).expect("other incarnation");
    assert!(!reply.writable);
    assert!(
        reply
            .report
            .expect("report")
            .writer_refused
            .contains("another agent process"),
    );

    // With the basis of the reply just received it takes the role.
    let reply = c
        .set_status(
            "db1",
            "ONLINE",
            &[("writer", WRITER_IP), ("reader", "10.213.7.101")],
            "db1",
            2,
            LEASE_MS * 10,
        )
        .expect("status with basis");
    assert!(reply.writable, "errors: {:?}", reply.errors);
    assert!(c.has_ip("db1", WRITER_IP));
}
