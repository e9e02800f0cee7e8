//! The `mmm-lab demo` binary: it brings the seeds' cluster up with three monitors, shows the
//! writer on a host, and leaves nothing behind — after `--exit-after-ready`, after SIGTERM, and
//! (with `mmm-lab cleanup`) after being killed with SIGKILL.

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
    assert_nothing_left(&summary);
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
