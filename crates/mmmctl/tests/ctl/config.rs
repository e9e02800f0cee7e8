//! `config check`, and finding the monitors from MMM config files.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::harness::{mmmctl, runtime};
use super::server::{Behaviour, Topology, dead_address, start};

/// Seed 000's mmm_common.conf, as the report printed it.
const SEED000_COMMON: &str = "active_master_role      writer
<host default>
        cluster_interface                      eth0
        pid_path                                /var/run/mmm_agentd.pid
        bin_path                                /usr/lib/mysql-mmm/
    replication_user                           abc
    replication_password                       MMM
        agent_user                             mmm_agent
        agent_password                         MMM
        mysql_port                             3308
</host>
<host db1>
        ip                                      192.168.1.186
        mode                                    master
        peer                                    db2
</host>
<host db2>
        ip                                      192.168.1.187
        mode                                    master
        peer                                    db1
</host>
<host db3>
        ip                                      192.168.1.184
        mode                                    slave
</host>
<role writer>
        hosts                                   db2,db1
        ips                                     192.168.1.200
        mode                                    exclusive
</role>
<role reader>
        hosts                                   db2,db3
        ips                                     192.168.1.201,192.168.1.202
        mode                                    balanced
</role>
";

/// Seed 002's mmm_common.conf with the blog's glued key/value lines (`modemaster`).
const SEED002_COMMON: &str = "active_master_role  writer
<host default>
cluster_interface   eth0
pid_path/var/run/mysql-mmm/mmm_agentd.pid
bin_path/usr/libexec/mysql-mmm/
replication_userreplication
replication_passwordreplication
agent_user  mmm_agent
agent_password  agent
</host>

<host db1>
ip  192.168.10.131
modemaster
peerdb2
</host>
";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

fn mon_conf(monitor_sections: &str) -> String {
    format!(
        "include mmm_common.conf
{monitor_sections}
<host default>
    monitor_user        mmm_monitor
    monitor_password    s3cret-monitor-pw
</host>
debug 0
"
    )
}

fn classic_monitor(port: u16) -> String {
    format!(
        "<monitor>
    ip                  127.0.0.1
    port                {port}
    pid_path            /var/run/mysql-mmm/mmm_mond.pid
    bin_path            /usr/libexec/mysql-mmm
    status_path         /var/lib/mysql-mmm/mmm_mond.status
    ping_ips            192.168.1.186, 192.168.1.187, 192.168.1.184
    auto_set_online     10
</monitor>"
    )
}

#[test]
fn config_check_prints_the_effective_cluster() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "mmm_common.conf", SEED000_COMMON);
    let mon = write(
        dir.path(),
        "mmm_mon.conf",
        &mon_conf(&classic_monitor(9988)),
    );
    let run = mmmctl(&["config", "check", mon.to_str().expect("utf-8 path")]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    for needle in [
        "db1",
        "192.168.1.186",
        "db3",
        "192.168.1.184",
        "writer",
        "192.168.1.202",
    ] {
        assert!(
            run.stdout.contains(needle),
            "{needle} missing from:\n{}",
            run.stdout
        );
    }
    assert!(
        !run.stdout.contains("s3cret-monitor-pw"),
        "password printed"
    );
    let agent = write(
        dir.path(),
        "mmm_agent.conf",
        "include mmm_common.conf\nthis db1\n",
    );
    let run = mmmctl(&[
        "config",
        "check",
        "--as",
        "agent",
        agent.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn config_check_reports_a_glued_seed_line_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let common = write(dir.path(), "mmm_common.conf", SEED002_COMMON);
    let line = SEED002_COMMON
        .lines()
        .position(|l| l == "modemaster")
        .map(|i| i + 1)
        .expect("glued line present");
    let mon = write(
        dir.path(),
        "mmm_mon.conf",
        &mon_conf(&classic_monitor(9988)),
    );
    let run = mmmctl(&["config", "check", mon.to_str().expect("utf-8")]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.is_empty());
    let expected = format!("{}:{line}:", common.display());
    assert!(
        run.stderr.contains(&expected),
        "want {expected} in:\n{}",
        run.stderr
    );
}

#[test]
fn config_check_of_a_missing_file_exits_2() {
    let run = mmmctl(&["config", "check", "/nonexistent/mmm_mon.conf"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("/nonexistent/mmm_mon.conf"),
        "{}",
        run.stderr
    );
}

#[test]
fn monitors_come_from_the_classic_monitor_section() {
    let rt = runtime();
    let fake = start(&rt, Behaviour::Leader(Topology::Seed000));
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "mmm_common.conf", SEED000_COMMON);
    let mon = write(
        dir.path(),
        "mmm_mon.conf",
        &mon_conf(&classic_monitor(fake.addr.port())),
    );
    let run = mmmctl(&["--config", mon.to_str().expect("utf-8"), "show"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("  db1(192.168.1.186) master/ONLINE. Roles: \n")
    );
}

#[test]
fn monitors_come_from_named_monitor_sections_and_the_leader_is_followed() {
    let rt = runtime();
    let leader = start(&rt, Behaviour::Leader(Topology::Seed000));
    let follower = start(&rt, Behaviour::Follower(leader.address()));
    let dead = dead_address();
    let dead_port: u16 = dead
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let node = |name: &str, port: u16, raft: u16| {
        format!(
            "<monitor {name}>\n    ip 127.0.0.1\n    port {port}\n    raft_port {raft}\n    data_dir /var/lib/mmm/{name}\n</monitor>\n"
        )
    };
    let sections = format!(
        "<monitor>
    pid_path            /var/run/mysql-mmm/mmm_mond.pid
    bin_path            /usr/libexec/mysql-mmm
    status_path         /var/lib/mysql-mmm/mmm_mond.status
    ping_ips            192.168.1.186
</monitor>
{}{}{}",
        node("mon1", dead_port, 39001),
        node("mon2", follower.addr.port(), 39002),
        node("mon3", leader.addr.port(), 39003),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "mmm_common.conf", SEED000_COMMON);
    let mon = write(dir.path(), "mmm_mon.conf", &mon_conf(&sections));
    let run = mmmctl(&[
        "--config",
        mon.to_str().expect("utf-8"),
        "set_online",
        "db2",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(follower.calls().len(), 1);
    assert_eq!(leader.calls().len(), 1);
}

#[test]
fn an_unusable_config_exits_2_before_any_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "mmm_common.conf", SEED002_COMMON);
    let mon = write(
        dir.path(),
        "mmm_mon.conf",
        &mon_conf(&classic_monitor(9988)),
    );
    let run = mmmctl(&["--config", mon.to_str().expect("utf-8"), "show"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("mmm_common.conf:"), "{}", run.stderr);
    assert!(run.stderr.contains("--monitor HOST:PORT"), "{}", run.stderr);
}

#[test]
fn config_check_lists_the_files_read_and_marks_unused_directives() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "mmm_common.conf", SEED000_COMMON);
    write(
        dir.path(),
        "mmm_mon.conf",
        &mon_conf(&classic_monitor(9988)),
    );
    // A relative path: the include is found beside the file, not on /etc's search path.
    let run = super::harness::mmmctl_in(dir.path(), &["config", "check", "./mmm_mon.conf"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.starts_with(
            "# files read, in order:\n#   ./mmm_mon.conf\n#   ./mmm_common.conf\n# effective"
        ),
        "{}",
        run.stdout
    );
    let mon_text = mon_conf(&classic_monitor(9988));
    let line = |text: &str, needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
            .expect("needle present")
    };
    for expected in [
        format!(
            "#   ./mmm_common.conf:{}: host->default->bin_path: the agent needs no helpers\n",
            line(SEED000_COMMON, "bin_path")
        ),
        format!(
            "#   ./mmm_mon.conf:{}: monitor->bin_path: checks are built in\n",
            line(&mon_text, "bin_path")
        ),
    ] {
        assert!(
            run.stdout.contains(&expected),
            "{expected}in:\n{}",
            run.stdout
        );
    }
    assert!(
        run.stdout
            .contains("# accepted but unused (these directives have no effect in mmm):\n"),
        "{}",
        run.stdout
    );
    // status_path is read for a take-over from mysql-mmm.
    assert!(
        !run.stdout.contains("monitor->status_path"),
        "{}",
        run.stdout
    );
}
