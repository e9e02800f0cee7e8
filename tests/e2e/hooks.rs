//! The pre-failover hook over the real daemons: `pre_failover_hook` in `<monitor>` names a
//! script that records each run and exits 1 (a change freeze). mysqld on db1 (the writer)
//! dies; once db1 is proven unable to take writes the leader runs the hook, which vetoes the
//! failover: the veto is in the replicated history and in `mmmctl show`, the writer role stays
//! orphaned (no writer VIP anywhere, db2 refuses writes). The leader monitor is then killed:
//! its successor finds the verdict recorded and does not run the hook again. An operator's
//! `move_role` is no failover, so it moves the writer to db2 without the hook.
//!
//! The post-change hook runs once for every epoch (every change of a host state or role),
//! through a failover and a leader kill: no epoch twice, none silently skipped.

use std::path::Path;

use mmm_lab::cluster::Cluster;

use super::support::{
    WRITER_VIP, bring_up, history, launch, seed1_roles, wait, wait_change, wait_mysql_down,
    wait_writer_on, wait_writer_vip_on,
};

const VETO: &str = "Pre-failover hook vetoed moving role 'writer(10.213.7.100)' away from host \
                    'db1' (exit 1). Output was: change freeze. The role stays orphaned until \
                    'move_role writer HOST' moves it";
const RENEWING: &str = "Agent leases are renewed by this monitor";

#[test]
fn a_vetoing_pre_failover_hook_stops_the_failover_once_across_a_leader_kill() {
    if !mmm_lab::lab_available("hooks") {
        return;
    }
    let dir = tempfile::tempdir().expect("a directory for the hook");
    let runs = dir.path().join("runs");
    let hook = write_hook(dir.path(), &runs);
    let mut c = launch_hooked("e2ehook", "pre_failover_hook", &hook);

    c.kill_mysqld("db1").expect("kill -9 db1's mysqld");
    wait_mysql_down(&c, "db1");
    let veto = wait_change(&c, VETO);
    let (_, show) = c.mmmctl_text(&["show"]);
    let held = format!(
        "# Warning: Role 'writer({WRITER_VIP})' is held back since host 'db1' lost it at epoch"
    );
    assert!(show.contains(&held), "{show}");
    assert!(
        show.contains("the pre-failover hook vetoed the failover (exit 1)"),
        "{show}"
    );
    assert_nobody_writes(&c);
    let once = hook_runs(&runs);
    assert_eq!(once.len(), 1, "{once:?}");
    assert!(
        once[0].starts_with("db1 ") && once[0].ends_with(" pre_failover writer(10.213.7.100)"),
        "{once:?}"
    );

    let leader = c.leader().expect("a leader monitor");
    c.kill9(&leader).expect("kill -9 the leader monitor");
    wait(&c, "a new leader renewing the agents' leases", || {
        c.leader()
            .filter(|l| *l != leader)
            .is_some_and(|l| c.log(&l).contains(RENEWING))
    });
    assert_nobody_writes(&c);
    assert_eq!(hook_runs(&runs), once, "the new leader ran the hook again");

    let (ok, reply) = c.mmmctl_text(&["move_role", "writer", "db2"]);
    assert!(ok, "{reply}");
    assert_eq!(
        reply,
        "OK: Role 'writer' has been moved from '' to 'db2'. Now you can wait some time and check new roles info!\n"
    );
    wait_writer_vip_on(&c, "db2");
    wait(&c, "writes through the writer VIP on db2", || {
        c.app_exec(WRITER_VIP, "CREATE TABLE IF NOT EXISTS hook_probe (id INT)")
            .is_ok()
    });
    assert_eq!(hook_runs(&runs), once, "move_role ran the hook");
    println!("veto at epoch {}; hook runs {once:?}", veto.epoch);
    c.shutdown();
}

#[test]
fn the_post_change_hook_runs_once_per_epoch_across_a_leader_kill() {
    if !mmm_lab::lab_available("post_change_hook") {
        return;
    }
    let dir = tempfile::tempdir().expect("a directory for the hook");
    let runs = dir.path().join("runs");
    let slow = dir.path().join("slow");
    let body = format!(
        "echo \"$1 start writer=$MMM_WRITER\" >> {runs}\n[ -e {slow} ] && sleep 5\necho \"$1 end\" >> {runs}\n",
        runs = runs.display(),
        slow = slow.display()
    );
    let hook = write_script(dir.path(), "post-change", &body);
    let mut c = launch_hooked("e2epost", "post_change_hook", &hook);
    let before = wait_hook_caught_up(&c, &runs);

    // The leader is killed while its run of the hook for a failover epoch is under way.
    std::fs::write(&slow, "").expect("slow down the hook");
    c.kill_mysqld("db1").expect("kill -9 db1's mysqld");
    wait_mysql_down(&c, "db1");
    let mut cut = None;
    wait(&c, "the hook running for the failover", || {
        cut = started(&hook_runs(&runs))
            .into_iter()
            .find(|e| !before.contains(e));
        cut.is_some()
    });
    let cut = cut.expect("an interrupted epoch");
    let leader = c.leader().expect("a leader monitor");
    c.kill9(&leader).expect("kill -9 the leader monitor");
    std::fs::remove_file(&slow).expect("speed the hook up again");
    wait(&c, "a new leader renewing the agents' leases", || {
        c.leader()
            .filter(|l| *l != leader)
            .is_some_and(|l| c.log(&l).contains(RENEWING))
    });
    wait_writer_on(&c, "db2");
    let (ok, reply) = c.mmmctl_text(&["set_offline", "db3"]);
    assert!(ok, "{reply}");
    wait_change(
        &c,
        "Admin changed state of 'db3' from ONLINE to ADMIN_OFFLINE",
    );
    let epochs = wait_hook_caught_up(&c, &runs);
    let all = hook_runs(&runs);
    assert!(
        epochs.windows(2).all(|w| w[0] < w[1]),
        "an epoch's hook started twice or out of order: {all:#?}"
    );
    let logs: String = c.monitor_names().iter().map(|m| c.log(m)).collect();
    let unknown = |e: u64| format!("Post-change hook for epoch {e} may not have run");
    assert!(
        logs.contains(&unknown(cut)),
        "epoch {cut} was not reported: {all:#?}"
    );
    for epoch in epochs[0]..=epochs.last().copied().unwrap_or_default() {
        assert!(
            epochs.contains(&epoch) || logs.contains(&unknown(epoch)),
            "epoch {epoch} neither ran nor was reported: {all:#?}"
        );
    }
    assert!(
        all.iter().any(|l| l.ends_with(" start writer=db2")),
        "no run told of the new writer: {all:#?}"
    );
    println!("interrupted epoch {cut}; post-change runs: {all:#?}");
    c.shutdown();
}

/// The epochs whose run started, in order (`EPOCH start …` lines).
fn started(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .filter(|l| l.contains(" start "))
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect()
}

/// Waits until the hook's latest run started is for the newest epoch in the history and has
/// ended, and returns the epochs of every run started.
fn wait_hook_caught_up(c: &Cluster, runs: &Path) -> Vec<u64> {
    wait(c, "the post-change hook run for the newest epoch", || {
        let newest = history(c).iter().map(|e| e.epoch).max();
        let lines = hook_runs(runs);
        let ended = newest.is_some_and(|n| lines.contains(&format!("{n} end")));
        newest.is_some() && started(&lines).last().copied() == newest && ended
    });
    started(&hook_runs(runs))
}

/// The first seed's cluster with `<monitor> directive hook`, brought up.
fn launch_hooked(tag: &str, directive: &str, hook: &Path) -> Cluster {
    let c = launch(tag, |o| {
        o.roles = Some(seed1_roles());
        o.extra_config = format!("<monitor>\n    {directive} {}\n</monitor>", hook.display());
    });
    bring_up(&c, &["db1", "db2", "db3"]);
    c
}

/// A hook that appends `HOST EPOCH MMM_HOOK MMM_ROLE` to `runs`, says why and vetoes.
fn write_hook(dir: &Path, runs: &Path) -> std::path::PathBuf {
    let body = format!(
        "echo \"$1 $2 $MMM_HOOK $MMM_ROLE\" >> {}\necho change freeze\nexit 1\n",
        runs.display()
    );
    write_script(dir, "pre-failover", &body)
}

/// An executable shell script `dir/name` running `body`.
fn write_script(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).expect("write the hook");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn hook_runs(runs: &Path) -> Vec<String> {
    std::fs::read_to_string(runs)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// No database host has the writer VIP and db2, the standby master, refuses the
/// application's writes (`read_only=1`).
fn assert_nobody_writes(c: &Cluster) {
    for host in c.agent_names() {
        assert!(!c.has_ip(&host, WRITER_VIP), "{host} has the writer VIP");
    }
    let db2 = c.host("db2").expect("db2").ip().to_string();
    let refused = c.app_exec(&db2, "CREATE TABLE IF NOT EXISTS hook_probe (id INT)");
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("read-only")),
        "db2 took a write: {refused:?}"
    );
}
