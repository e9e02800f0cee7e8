//! The server's own lease timer: a stopped agent's server fences itself at the lease
//! deadline, and a renewal delivered after the agent resumes does not undo it; a stopping
//! agent gives up the writer role before it exits.

use std::time::{Duration, Instant};

use mmm_proto::pb;

use super::harness::{WRITER_IP, status_req};
use super::lease::{LEASE_MS, send_in_background, take_writer, two_masters};

#[test]
fn a_stopped_agent_is_fenced_by_the_server_timer() {
    let Some(mut c) = two_masters("agt") else {
        return;
    };
    c.start_agent("db1");
    // The agent answers Ping before its driver has probed the scheduler.
    let probed = c.wait_for(Duration::from_secs(10), || {
        c.log("db1")
            .contains("Event scheduler is ON: the server fences itself")
    });
    assert!(probed.is_some(), "{}", c.log("db1"));
    let (_, after) = take_writer(&c, "db1", 1, LEASE_MS);
    let report = c.get_status("db1").report.expect("report");
    assert_eq!(report.server_timer, "ON");
    assert!(report.server_timer_armed, "{report:?}");
    let basis = c.basis("db1").expect("basis");

    // The agent freezes with the writer role: nothing in that process counts the lease.
    c.signal_agent("db1", libc::SIGSTOP);
    let fenced = c.wait_for(Duration::from_millis(LEASE_MS + 3000), || {
        c.read_only("db1")
    });
    let fenced_at = Instant::now();
    let late: Vec<_> = (0..2)
        .map(|_| {
            let mut req = status_req("db1", &[("writer", WRITER_IP)], "db1", 1, LEASE_MS);
            req.basis = Some(basis);
            send_in_background(&c, c.host("db1").ip().to_string(), req)
        })
        .collect();
    // The timer is scheduled in whole seconds rounded down, so it may fire before the agent's
    // own deadline; the agent resumes only once that deadline has passed too (a resumed agent
    // with a lease still running would rightly re-assert writes).
    let lease_end = after + Duration::from_millis(LEASE_MS + 300);
    std::thread::sleep(lease_end.saturating_duration_since(Instant::now()));
    c.signal_agent("db1", libc::SIGCONT);
    assert!(
        fenced.is_some(),
        "db1 still writable {LEASE_MS} ms + 3 s after its agent stopped"
    );
    eprintln!(
        "server timer fenced db1 {:?} after the lease basis (lease {LEASE_MS} ms)",
        fenced_at - after
    );

    // Resumed, the agent gets the renewals that waited in the socket: they give nothing back.
    for q in late {
        let reply: pb::SetStatusReply = q.join().expect("thread").expect("late renewal");
        assert!(
            !reply.writable,
            "a late renewal re-enabled writes: {reply:?}"
        );
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        assert!(
            c.read_only("db1"),
            "db1 writable again; log:\n{}",
            c.log("db1")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!c.has_ip("db1", WRITER_IP), "VIP still on db1");
}

#[test]
fn a_stopping_agent_gives_up_the_writer_role() {
    let Some(mut c) = two_masters("ags") else {
        return;
    };
    c.start_agent("db1");
    // A lease far longer than the test: only the stop can end it.
    take_writer(&c, "db1", 1, 60_000);
    assert!(!c.read_only("db1") && c.has_ip("db1", WRITER_IP));
    c.stop_agent("db1");
    assert!(c.read_only("db1"), "db1 writable after its agent stopped");
    assert!(!c.has_ip("db1", WRITER_IP), "writer VIP left on db1");
    let log = c.log("db1");
    assert!(
        log.contains("Stopping: dropping role 'writer(10.213.7.100)' before exit"),
        "{log}"
    );
}

#[test]
fn a_scheduler_switched_off_refuses_the_renewal_and_is_reported() {
    let Some(mut c) = two_masters("agq") else {
        return;
    };
    c.start_agent("db1");
    take_writer(&c, "db1", 1, LEASE_MS);
    assert_eq!(
        c.get_status("db1").report.expect("report").server_timer,
        "ON"
    );
    c.root_exec("db1", "SET GLOBAL event_scheduler = OFF");
    // A renewal would arm a timer that can no longer fire: it is refused and the timer is
    // reported unusable, so the leader stops counting on it.
    let (_, basis, _) = c.ping_basis("db1");
    let mut req = status_req("db1", &[("writer", WRITER_IP)], "db1", 1, LEASE_MS);
    req.basis = Some(basis);
    let reply = c.send_status("db1", req).expect("renewal");
    let report = reply.report.expect("report");
    assert!(
        report
            .writer_refused
            .contains("event_scheduler was switched to OFF"),
        "{report:?}"
    );
    assert_eq!(report.server_timer, "event_scheduler is OFF");
    assert!(!report.server_timer_armed, "{report:?}");
    let log = c.log("db1");
    assert!(log.contains("Event scheduler was switched to OFF"), "{log}");
}
