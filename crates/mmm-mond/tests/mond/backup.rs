//! Backup and restore of one monitor's Raft `data_dir` with the commands deploy/README.md gives
//! (`tar` of the stopped monitor's directory, then `rm -rf` + `tar -x` and a start), over real
//! monitors, agents and MariaDB in the lab: the restored monitor rejoins and catches up on
//! what the others committed while it was down.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mmm_lab::cluster::{Cluster, ClusterOptions};
use mmm_lab::process::output_with_deadline;

const LIMIT: Duration = Duration::from_secs(60);
const TAR_DEADLINE: Duration = Duration::from_secs(60);

/// Runs `sh -c script`, panicking with its output when it fails.
fn sh(script: &str) {
    let mut command = Command::new("sh");
    command.args(["-c", script]);
    let out = output_with_deadline(command, script, TAR_DEADLINE, None)
        .unwrap_or_else(|e| panic!("{script}: {e}"));
    assert!(
        out.status.success(),
        "{script}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_monitor_restored_from_a_backup_of_its_data_dir_rejoins_and_catches_up() {
    let tag = "mmmbkup";
    if !mmm_lab::lab_available(tag) {
        return;
    }
    let mut c = Cluster::launch(ClusterOptions::new(tag, super::lab::binaries())).expect("cluster");
    c.bring_online(LIMIT).unwrap_or_else(|e| panic!("{e}"));
    let leader = c.leader().expect("leader");
    let victim = c
        .monitor_names()
        .into_iter()
        .find(|n| *n != leader)
        .expect("a follower");
    let home = c.host(&victim).expect("victim host").dir().to_path_buf();
    let data_dir = home.join("raft");
    let backup = home.join("raft-backup.tgz");
    assert!(data_dir.is_dir(), "no data_dir {}", data_dir.display());

    // Backup: stop the monitor, archive its data_dir, start it again.
    c.stop(&victim).expect("stop the follower");
    sh(&format!(
        "tar -C {} -czf {} {}",
        home.display(),
        backup.display(),
        name(&data_dir)
    ));
    c.start(&victim).expect("start after the backup");

    // The others commit a change while the monitor is down again.
    c.stop(&victim).expect("stop the follower again");
    let (ok, out) = c.mmmctl_text(&["set_offline", "db3"]);
    assert!(
        ok && out.contains("OK: State of 'db3' changed to ADMIN_OFFLINE"),
        "{out}"
    );

    // Restore: the data_dir is lost and replaced by the backup, older than the cluster.
    sh(&format!(
        "rm -rf {dir} && tar -C {home} -xzf {backup}",
        dir = data_dir.display(),
        home = home.display(),
        backup = backup.display()
    ));
    let before = c.log(&victim).len();
    c.start(&victim).expect("start the restored monitor");
    // Every monitor logs the state changes it applies: the restored one applies the change it
    // missed once the leader has sent it the entries after its backup.
    let missed = "Admin changed state of 'db3' from ONLINE to ADMIN_OFFLINE";
    c.wait_for(&format!("{victim} applies '{missed}'"), LIMIT, || {
        c.log(&victim)
            .get(before..)
            .is_some_and(|l| l.contains(missed))
    })
    .unwrap_or_else(|e| panic!("{e}"));
    // And it is a live member again: the leader reaches it.
    c.wait_for(
        &format!("{victim} reachable from the leader"),
        LIMIT,
        || member_reachable(&c, &victim),
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

fn name(path: &Path) -> String {
    path.file_name()
        .expect("a file name")
        .to_string_lossy()
        .into_owned()
}

/// Whether `mmmctl --json cluster status` (the leader's view) lists `monitor` as reachable.
fn member_reachable(c: &Cluster, monitor: &str) -> bool {
    let Ok(out) = c.mmmctl(&["--json", "cluster", "status"]) else {
        return false;
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
        return false;
    };
    v.get("members")
        .and_then(|m| m.as_array())
        .is_some_and(|members| {
            members.iter().any(|m| {
                m.get("name").and_then(|n| n.as_str()) == Some(monitor)
                    && m.get("reachability").and_then(|r| r.as_str()) == Some("reachable")
            })
        })
}
