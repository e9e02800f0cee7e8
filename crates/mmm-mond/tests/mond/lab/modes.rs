//! The operator's hands-off and override modes on the real system: PASSIVE keeps the writer's
//! lease renewed (the database keeps taking writes far past `agent_lease`), and `move_role
//! --force` keeps the writer on the forced host while it stays reachable.

use std::time::{Duration, Instant};

use mmm_lab::cluster::{Cluster, writer_in_show};

use super::fencing::SingleWriter;
use super::{WRITER_IP, bring_up, exec_root, start, wait_for};

/// How long the modes are watched: many times the lab's `agent_lease`.
const WATCH: Duration = Duration::from_secs(30);

fn writer_host(c: &Cluster) -> Option<String> {
    let (ok, out) = c.mmmctl_text(&["show"]);
    if !ok {
        return None;
    }
    writer_in_show(&out, c.writer_vip())
}

#[test]
fn passive_keeps_the_writer_writable() {
    let Some(c) = start("mondp") else {
        return;
    };
    bring_up(&c);
    let (ok, out) = c.mmmctl_text(&["set_passive"]);
    assert!(ok && out.starts_with("OK"), "set_passive: {out}");
    let mut w = SingleWriter::start(&c);
    let until = Instant::now() + WATCH;
    let mut writes = 0;
    while Instant::now() < until {
        w.check();
        c.app_exec(WRITER_IP, "INSERT INTO t (v) VALUES (2)")
            .unwrap_or_else(|e| panic!("a write through the VIP failed in PASSIVE: {e}"));
        writes += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(w.writable("db1"), "db1 became read-only in PASSIVE");
    w.stop();
    println!("{writes} writes acknowledged in {WATCH:?} of PASSIVE");
    let (ok, out) = c.mmmctl_text(&["set_active"]);
    assert!(ok && out.starts_with("OK"), "set_active: {out}");
}

#[test]
fn a_forced_move_to_a_replication_failed_master_sticks() {
    let Some(c) = start("mondr") else {
        return;
    };
    bring_up(&c);
    // The IO thread stops; the SQL thread applies what was received, so db2 can take writes
    // once forced (a host with unapplied relay log is refused the writer, forced or not).
    exec_root(&c, "db2", "STOP SLAVE IO_THREAD");
    // mysql-mmm ignores a master's replication for 60 s after its peer went ONLINE (the grace
    // for master-connect-retry), so db2 fails its replication only a minute after bring-up.
    wait_for(&c, "db2 REPLICATION_FAIL", Duration::from_secs(90), || {
        let (_, out) = c.mmmctl_text(&["show"]);
        out.lines()
            .any(|l| l.trim_start().starts_with("db2(") && l.contains("/REPLICATION_FAIL"))
    });
    let (ok, out) = c.mmmctl_text(&["move_role", "--force", "writer", "db2"]);
    assert!(
        ok && out.starts_with("OK: Role 'writer' has been moved from 'db1' to 'db2' enforcedly."),
        "move_role --force: {out}"
    );
    let mut w = SingleWriter::start(&c);
    wait_for(&c, "db2 writable", Duration::from_secs(30), || {
        w.check();
        w.writable("db2")
    });
    let until = Instant::now() + WATCH;
    while Instant::now() < until {
        w.check();
        assert_eq!(
            writer_host(&c).as_deref(),
            Some("db2"),
            "the writer left the forced host"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(c.has_ip("db2", WRITER_IP), "the writer VIP is not on db2");
    w.stop();
}
