//! Cleanup after a crashed run: `cleanup_orphans` removes namespaces and directories whose name
//! carries a dead pid and keeps those of live owners; lab children outlive the thread that
//! started them.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::common::{lab, root_or_skip};
use super::system::namespaces_with_prefix;

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(out.status.success(), "ip {args:?}: {out:?}");
}

/// A pid that surely belonged to a process that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("true");
    let pid = child.id();
    child.wait().expect("wait");
    pid
}

fn wait_exit(child: &mut Child, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if child.try_wait().expect("try_wait").is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn cleanup_removes_a_dead_owners_namespaces_and_dir_and_keeps_a_live_owners() {
    if !root_or_skip() {
        return;
    }
    let dead = dead_pid();
    let me = std::process::id();
    let dead_br = format!("mmmorph-{dead}-0-br");
    let dead_db = format!("mmmorph-{dead}-0-db1");
    let live_br = format!("mmmorph-{me}-99-br");
    // A dead pid but not the lab's scheme (no counter): never touched.
    let foreign = format!("mmmorph-{dead}-db1");
    for name in [&dead_br, &dead_db, &live_br, &foreign] {
        ip(&["netns", "add", name]);
    }
    // A process left inside the dead owner's namespace (started without the lab, so nothing
    // else would kill it).
    let mut straggler = Command::new("ip")
        .args(["netns", "exec", &dead_db, "sleep", "120"])
        .spawn()
        .expect("sleep in the orphaned namespace");
    let tmp = std::env::temp_dir();
    let dead_dir: PathBuf = tmp.join(format!("mmmorph-{dead}-0-AbC123"));
    let live_dir: PathBuf = tmp.join(format!("mmmorph-{me}-99-XyZ789"));
    for d in [&dead_dir, &live_dir] {
        std::fs::create_dir_all(d.join("db1")).expect("dir");
        std::fs::write(d.join("db1").join("daemon.log"), "x\n").expect("file");
    }
    // Let `ip netns exec` enter the namespace before looking.
    std::thread::sleep(Duration::from_millis(300));

    let report = mmm_lab::cleanup_orphans().expect("cleanup_orphans");
    println!("{report:?}");

    assert!(
        wait_exit(&mut straggler, Duration::from_secs(5)),
        "the process in the orphaned namespace was not killed"
    );
    let left = namespaces_with_prefix("mmmorph-");
    assert!(
        !left.contains(&dead_br) && !left.contains(&dead_db),
        "{left:?}"
    );
    assert!(!dead_dir.exists(), "the dead owner's directory is left");
    assert!(
        left.contains(&live_br),
        "the live owner's namespace was removed"
    );
    assert!(live_dir.exists(), "the live owner's directory was removed");
    assert!(
        left.contains(&foreign),
        "a name outside the scheme was removed"
    );
    assert!(report.failures.is_empty(), "{:?}", report.failures);

    for name in [&live_br, &foreign] {
        ip(&["netns", "delete", name]);
    }
    std::fs::remove_dir_all(&live_dir).expect("remove the live dir");
}

#[test]
fn lab_processes_outlive_the_thread_that_started_them() {
    let Some(lab) = lab() else { return };
    let host = lab.add_host("h1", 11).expect("host");
    let log = lab.dir().join("sleep.log");
    // Started from a thread that ends at once: PR_SET_PDEATHSIG would kill it with that
    // thread, were it not forked by the lab's long-lived spawner thread.
    let mut process = std::thread::scope(|s| {
        s.spawn(|| host.spawn("/bin/sleep", &["60"], &[], &log))
            .join()
            .expect("spawning thread")
    })
    .expect("spawn sleep");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        process.is_running(),
        "the child died with its spawning thread"
    );
    let pid = process.pid();
    let names = lab.namespaces();
    drop(process);
    drop(lab);
    assert!(!super::system::alive(pid));
    super::common::assert_namespaces_gone(&names);
}

#[test]
fn new_labs_are_not_blocked_by_or_removing_live_labs() {
    let Some(first) = lab() else { return };
    // A second lab of the same (live) process runs the orphan cleanup and must keep the first.
    let second = lab().expect("second lab");
    let first_names = first.namespaces();
    let listed = namespaces_with_prefix(first.prefix());
    for name in &first_names {
        assert!(listed.contains(name), "{name} was removed: {listed:?}");
    }
    drop(second);
    drop(first);
    super::common::assert_namespaces_gone(&first_names);
}
