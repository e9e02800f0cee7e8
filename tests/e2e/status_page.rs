//! The monitor's status page as a person sees it, in Debian's headless Chromium: the page of
//! one monitor shows the same `show` table as `mmmctl show`, the hosts, this monitor's checks,
//! the three Raft members with the leader, and the history; when db1's mysqld is killed, the
//! open page follows the failover to db2 without being reloaded; when the monitor behind the
//! page dies, the page keeps its last state and says that its monitor does not answer.
//! Screenshots of both moments are saved under the target directory's `e2e-artifacts/`.

use std::path::PathBuf;

use mmm_lab::cluster::{Cluster, results_path};

use super::browser::{Browser, Seen};
use super::support::{
    WRITER_VIP, bring_up, launch, seed1_roles, wait, wait_mysql_down, wait_writer_on,
};

const MONITOR_HTTP: u16 = 9994;

/// `text` without trailing blanks on its lines and with no trailing empty lines: the page's
/// `<pre>` and mmmctl's output compared as a person reads them.
fn lines(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text.lines().map(|l| l.trim_end().to_owned()).collect();
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out
}

/// The row of `table` (rendered text, one row per line, cells apart) whose first cell is `first`.
fn row<'a>(table: &'a str, first: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(first))
        .unwrap_or_else(|| panic!("no row {first} in\n{table}"))
}

fn artifact(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().expect("test binary directory");
    results_path(dir, "e2e-artifacts", &format!("-{name}.png"))
}

/// Waits until the page and `mmmctl show` print the same table, and returns it.
fn same_show_as_mmmctl(c: &Cluster, b: &mut Browser, what: &str) -> Seen {
    let mut seen = Seen::default();
    wait(c, what, || {
        let (ok, cli) = c.mmmctl_text(&["show"]);
        let cli = lines(&cli);
        seen = b.wait("a drawn show table", |s| !s.show.is_empty());
        ok && lines(&seen.show) == cli
    });
    seen
}

fn assert_first_view(c: &Cluster, seen: &Seen, monitor: &str) {
    let leader = c.leader().expect("a leader");
    assert!(
        seen.summary
            .starts_with(&format!("Answered by monitor {monitor} (")),
        "{seen:#?}"
    );
    assert!(
        seen.summary.contains(&format!("leader {leader};")),
        "{seen:#?}"
    );
    let db1 = row(&seen.hosts, "db1");
    assert!(
        db1.contains("ONLINE") && db1.contains(&format!("writer({WRITER_VIP})")),
        "{db1}"
    );
    for host in ["db1", "db2", "db3"] {
        let checks = row(&seen.checks, host);
        assert_eq!(checks.matches("OK").count(), 4, "{host}'s checks: {checks}");
    }
    let members: Vec<&str> = seen.monitors.lines().skip(1).collect();
    assert_eq!(members.len(), 3, "{}", seen.monitors);
    assert_eq!(
        members.iter().filter(|m| m.contains("leader")).count(),
        1,
        "{}",
        seen.monitors
    );
    assert!(
        row(&seen.monitors, leader.as_str()).contains("leader"),
        "{}",
        seen.monitors
    );
    assert!(
        row(&seen.monitors, monitor).contains("(this monitor)"),
        "{}",
        seen.monitors
    );
    if leader != monitor {
        let heard = row(&seen.monitors, leader.as_str());
        assert!(
            heard.contains("reachable (last contact") && !heard.contains("unreachable"),
            "the leader's heartbeats reach this monitor: {}",
            seen.monitors
        );
    }
    assert!(!seen.history.is_empty(), "{seen:#?}");
    assert!(seen.banner.is_none(), "{seen:#?}");
}

#[test]
fn the_status_page_in_chromium_follows_a_failover_without_reloading() {
    if !mmm_lab::lab_available("status page") || !super::browser::available("status page") {
        return;
    }
    let mut c = launch("e2epage", |o| {
        o.roles = Some(seed1_roles());
        o.extra_config = format!("<monitor>\n    http_port {MONITOR_HTTP}\n</monitor>");
    });
    bring_up(&c, &["db1", "db2", "db3"]);
    let monitor = c.monitor_names()[0].clone();
    let ip = c.host(&monitor).expect("the monitor's host").ip();
    let mut b = Browser::start(c.client());
    b.open(&format!("http://{ip}:{MONITOR_HTTP}/"));
    let first = same_show_as_mmmctl(&c, &mut b, "the page's show table equal to mmmctl's");
    assert_first_view(&c, &first, &monitor);

    c.kill_mysqld("db1").expect("kill -9 db1's mysqld");
    wait_mysql_down(&c, "db1");
    wait_writer_on(&c, "db2");
    let assigned = format!("Orphaned role 'writer({WRITER_VIP})' has been assigned to 'db2'");
    let after = b.wait("the failover", move |s| s.history.contains(&assigned));
    let db1 = row(&after.hosts, "db1");
    assert!(
        db1.contains("HARD_OFFLINE") && !db1.contains("writer("),
        "{db1}"
    );
    assert!(
        row(&after.hosts, "db2").contains(&format!("writer({WRITER_VIP})")),
        "{after:#?}"
    );
    assert!(
        row(&after.checks, "db1").contains("ERROR"),
        "{}",
        after.checks
    );
    assert!(after.same_load, "the page was reloaded: {after:#?}");
    let after = same_show_as_mmmctl(&c, &mut b, "the page's show table after the failover");
    assert!(after.same_load, "the page was reloaded: {after:#?}");
    let shot = artifact("status-page-after-failover");
    b.screenshot(&shot);
    assert_png(&shot);

    c.kill9(&monitor).expect("kill -9 the page's monitor");
    let gone = b.wait("the banner saying the monitor does not answer", |s| {
        s.banner
            .as_deref()
            .is_some_and(|t| t.starts_with("This monitor does not answer since"))
    });
    assert_eq!(
        lines(&gone.show),
        lines(&after.show),
        "the last state stays shown"
    );
    assert!(gone.same_load, "the page was reloaded: {gone:#?}");
    let shot = artifact("status-page-monitor-gone");
    b.screenshot(&shot);
    assert_png(&shot);
    drop(b);
    c.shutdown();
}

/// `path` holds a PNG image of a real window (not an empty or broken file).
fn assert_png(path: &std::path::Path) {
    let png = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", path.display());
    assert!(
        png.len() > 10_000,
        "{}: {} bytes",
        path.display(),
        png.len()
    );
    println!("screenshot: {}", path.display());
}
