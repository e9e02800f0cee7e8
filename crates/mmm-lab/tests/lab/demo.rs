//! The `mmm-lab demo` binary: it brings the seeds' cluster up with three monitors, shows the
//! writer on a host, and leaves nothing behind — after `--exit-after-ready`, after SIGTERM, and
//! (with `mmm-lab cleanup`) after being killed with SIGKILL.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::common::root_or_skip;
use super::system::{Lines, alive, bin_dir, mmm_lab_bin, namespaces_with_prefix, wait_dead};

const READY: Duration = Duration::from_secs(180);

fn start_demo(extra: &[&str]) -> Child {
    Command::new(mmm_lab_bin())
        .arg("demo")
        .args(["--bin-dir", bin_dir().to_str().expect("utf8")])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start mmm-lab demo")
}

/// What the ready summary says: the lab prefix, its directory, and every pid it lists.
struct Summary {
    prefix: String,
    dir: String,
    pids: Vec<u32>,
}

fn parse_summary(text: &str) -> Summary {
    let ready = text
        .lines()
        .find(|l| l.starts_with("mmm lab demo is ready: lab "))
        .unwrap_or_else(|| panic!("no ready line in:\n{text}"));
    let rest = ready.trim_start_matches("mmm lab demo is ready: lab ");
    let (prefix, dir) = rest.split_once(" (files in ").expect("prefix and dir");
    let dir = dir.trim_end_matches(')').to_owned();
    let mut pids = Vec::new();
    for line in text.lines().filter(|l| l.contains(" mmmdemo-")) {
        let words: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        for pair in words.windows(2) {
            if ["mariadbd", "mmm-agentd", "mmm-mond"].contains(&pair[0]) {
                pids.push(pair[1].parse().expect("pid"));
            }
        }
    }
    Summary {
        prefix: prefix.to_owned(),
        dir,
        pids,
    }
}

/// Checks the summary's `show` lists the writer VIP on a database host and that every process
/// of the demo was listed (3 servers, 3 agents, 3 monitors).
fn assert_ready_output(text: &str, summary: &Summary) {
    assert!(
        text.lines().any(|l| l.starts_with("  db")
            && l.contains(" master/ONLINE. Roles: ")
            && l.contains("writer(10.213.7.100)")),
        "the show output does not list the writer on a host:\n{text}"
    );
    assert!(summary.prefix.starts_with("mmmdemo-"), "{}", summary.prefix);
    assert_eq!(summary.pids.len(), 9, "pids listed:\n{text}");
    assert!(
        text.contains(&format!(
            "ip netns exec {}-client {}/mmmctl --config ",
            summary.prefix,
            bin_dir().display()
        )),
        "no mmmctl command to copy:\n{text}"
    );
}

fn assert_nothing_left(summary: &Summary) {
    let left = wait_dead(&summary.pids, Duration::from_secs(10));
    assert!(left.is_empty(), "processes of the demo still run: {left:?}");
    let namespaces = namespaces_with_prefix(&format!("{}-", summary.prefix));
    assert!(namespaces.is_empty(), "namespaces left: {namespaces:?}");
    assert!(
        !std::path::Path::new(&summary.dir).exists(),
        "{} is left",
        summary.dir
    );
}

/// SIGTERM to the demo: it exits successfully and leaves nothing behind.
fn stop_with_sigterm(child: &mut Child, lines: &mut Lines, summary: &Summary) {
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: plain kill(2) of our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    lines.drain();
    let status = child.wait().expect("wait for the demo");
    assert!(
        status.success(),
        "demo after SIGTERM: {status}\n{}",
        lines.text()
    );
    assert_nothing_left(summary);
}

#[test]
fn demo_exits_after_ready_and_leaves_nothing_behind() {
    if !root_or_skip() {
        return;
    }
    let mut child = start_demo(&["--exit-after-ready"]);
    let mut lines = Lines::of(&mut child);
    lines.wait_for("is ready: lab", READY);
    lines.drain();
    let status = child.wait().expect("wait for the demo");
    let text = lines.text();
    println!("{text}");
    assert!(status.success(), "demo failed ({status}):\n{text}");
    let summary = parse_summary(&text);
    assert_ready_output(&text, &summary);
    assert!(text.contains(&format!("mmm-lab: lab {} removed", summary.prefix)));
    assert_nothing_left(&summary);
}

#[test]
fn demo_stays_up_until_sigterm_then_removes_everything() {
    if !root_or_skip() {
        return;
    }
    let mut child = start_demo(&[]);
    let mut lines = Lines::of(&mut child);
    lines.wait_for("stops everything and removes the namespaces", READY);
    let summary = parse_summary(&lines.text());
    assert_ready_output(&lines.text(), &summary);
    // Still up a while later: every listed process runs.
    std::thread::sleep(Duration::from_secs(2));
    assert!(summary.pids.iter().all(|&p| alive(p)), "{:?}", summary.pids);
    assert_eq!(
        child.try_wait().expect("try_wait"),
        None,
        "the demo exited by itself"
    );
    stop_with_sigterm(&mut child, &mut lines, &summary);
}

#[test]
fn a_killed_demo_takes_its_processes_along_and_cleanup_removes_the_rest() {
    if !root_or_skip() {
        return;
    }
    let mut child = start_demo(&[]);
    let mut lines = Lines::of(&mut child);
    lines.wait_for("stops everything and removes the namespaces", READY);
    let summary = parse_summary(&lines.text());
    assert_eq!(summary.pids.len(), 9, "{}", lines.text());
    // SIGKILL: no destructor runs. The servers, agents and monitors die with the demo
    // (PR_SET_PDEATHSIG), even though they run under `ip netns exec` in other namespaces.
    child.kill().expect("kill -9 the demo");
    child.wait().expect("reap the demo");
    let left = wait_dead(&summary.pids, Duration::from_secs(5));
    assert!(
        left.is_empty(),
        "still running after the demo was killed: {left:?}"
    );
    // Its namespaces and directory stay until a cleanup (this one, or any lab started meanwhile).
    let out = Command::new(mmm_lab_bin())
        .arg("cleanup")
        .output()
        .expect("mmm-lab cleanup");
    assert!(out.status.success(), "{out:?}");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert_nothing_left(&summary);
}

/// Runs `mmm-lab --control <socket> args…` and returns its exit code and stdout+stderr.
fn control(socket: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(mmm_lab_bin())
        .arg("--control")
        .arg(socket)
        .args(args)
        .output()
        .expect("run mmm-lab");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// Polls `mmm-lab mmmctl show` until a line starts with `line`.
fn wait_show_line(socket: &Path, line: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (code, show) = control(socket, &["mmmctl", "show"]);
        if code == 0 && show.lines().any(|l| l.starts_with(line)) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no show line {line:?}; last show:\n{show}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The client namespace of the demo `prefix`.
fn client_netns(prefix: &str) -> mmm_lab::Netns {
    mmm_lab::Netns::from_name(format!("{prefix}-client"))
}

/// How long a healed link may take to answer its first ping (an ARP probe the cut dropped
/// times out first; see `Netns::ping_within`).
const AFTER_HEAL: Duration = Duration::from_secs(5);

#[test]
fn the_running_demo_is_broken_and_repaired_with_its_commands() {
    if !root_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("demo.sock");
    let (code, text) = control(&socket, &["kill-mysqld", "db2"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("no mmm-lab demo answers on"), "{text}");

    let mut child = start_demo(&["--control", socket.to_str().expect("utf8")]);
    let mut lines = Lines::of(&mut child);
    lines.wait_for("stops everything and removes the namespaces", READY);
    let summary = parse_summary(&lines.text());
    assert!(
        lines
            .text()
            .contains(&format!("{} kill-mysqld db", mmm_lab_bin().display())),
        "the demo does not print how to break it:\n{}",
        lines.text()
    );

    // The seeds' test 1, typed as an operator would: db2's mysqld dies and comes back.
    let (code, text) = control(&socket, &["kill-mysqld", "db2"]);
    assert_eq!(code, 0, "{text}");
    let pid: u32 = text
        .trim()
        .strip_prefix("OK: killed db2's mariadbd (pid ")
        .and_then(|rest| rest.strip_suffix(") with SIGKILL"))
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("unexpected reply: {text}"));
    assert!(summary.pids.contains(&pid) && !alive(pid), "{pid}");
    let (code, text) = control(&socket, &["kill-mysqld", "db2"]);
    assert_eq!(
        (code, text.trim()),
        (1, "ERROR: db2's mariadbd is not running")
    );
    let (code, text) = control(&socket, &["kill-mysqld", "db9"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.starts_with("ERROR: no database host 'db9'"), "{text}");
    wait_show_line(&socket, "  db2(10.213.7.12) master/HARD_OFFLINE. Roles: ");
    let (code, text) = control(&socket, &["start-mysqld", "db2"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.starts_with("OK: started db2's mariadbd (pid "),
        "{text}"
    );
    // Down for less than a minute: mysql-mmm's 60-second rule sets it online by itself.
    wait_show_line(&socket, "  db2(10.213.7.12) master/ONLINE. Roles: ");

    // Network and daemon faults, then one heal for everything.
    let (code, text) = control(&socket, &["cut", "db1"]);
    assert_eq!(code, 0, "{text}");
    assert!(!client_netns(&summary.prefix).ping(mmm_lab::lab_ip(11)));
    let (code, text) = control(&socket, &["kill-daemon", "mon1"]);
    assert_eq!(code, 0, "{text}");
    let (code, status) = control(&socket, &["status"]);
    assert_eq!(code, 0, "{status}");
    assert!(
        status.contains("mmm-mond down") && status.contains("network: db1 cut off"),
        "{status}"
    );
    let (code, text) = control(&socket, &["heal"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("every link is up") && text.contains("started mon1's mmm-mond (pid "),
        "{text}"
    );
    assert!(client_netns(&summary.prefix).ping_within(mmm_lab::lab_ip(11), AFTER_HEAL));
    let (_, status) = control(&socket, &["status"]);
    assert!(
        !status.contains(" down") && status.contains("network: no cuts"),
        "{status}"
    );
    lines.wait_for("mmm-lab: heal: OK: every link is up", READY);

    stop_with_sigterm(&mut child, &mut lines, &summary);
    assert!(!socket.exists(), "the control socket is left");
}
