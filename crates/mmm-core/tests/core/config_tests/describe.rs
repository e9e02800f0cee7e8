//! `describe`: the effective cluster, stable and line oriented, without passwords.

use mmm_core::config::{self, Program};

use super::{BASE, load_fixture, load_text, loaded, with_base};

#[test]
fn describes_the_effective_configuration() {
    let text = with_base(
        "<check default>\ntrap_period 0.5\n</check>\n<role writer>\nprefer db1\n</role>\n",
    );
    let cfg = loaded(load_text(&text, Program::Monitor));
    let expected = "\
# effective mysql-mmm configuration as read by mmm-mond (monitor)
global
  this                   db1
  debug                  no
  active_master_role     writer
  max_kill_retries       10
  catchup_timeout        30s
  use_gtid               yes
  failsafe_mode          yes
  this_monitor           -
host db1
  ip                     10.213.7.11
  mode                   master
  peer                   db2
  mysql_port             3306
  agent_port             9989
  http_port              -
  cluster_interface      eth0
  pid_path               /run/mmm/agent.pid
  bin_path               -
  agent_user             agent (password set)
  monitor_user           monitor (password set)
  replication_user       repl (password set)
host db2
  ip                     10.213.7.12
  mode                   master
  peer                   db1
  mysql_port             3306
  agent_port             9989
  http_port              -
  cluster_interface      eth0
  pid_path               /run/mmm/agent.pid
  bin_path               -
  agent_user             agent (password set)
  monitor_user           monitor (password set)
  replication_user       repl (password set)
host db3
  ip                     10.213.7.13
  mode                   slave
  peer                   -
  mysql_port             3306
  agent_port             9989
  http_port              -
  cluster_interface      eth0
  pid_path               /run/mmm/agent.pid
  bin_path               -
  agent_user             agent (password set)
  monitor_user           monitor (password set)
  replication_user       repl (password set)
role writer (active master role)
  mode                   exclusive
  hosts                  db1, db2
  ips                    10.213.7.100
  prefer                 db1
role reader
  mode                   balanced
  hosts                  db1, db2, db3
  ips                    10.213.7.101, 10.213.7.102
  prefer                 -
check ping
  check_period           5s
  trap_period            0.5s
  timeout                2s
  restart_after          10000 (accepted, unused: checks run inside mmm-mond, nothing to restart)
  max_backlog            60
check mysql
  check_period           5s
  trap_period            0.5s
  timeout                2s
  restart_after          10000 (accepted, unused: checks run inside mmm-mond, nothing to restart)
  max_backlog            60
check rep_threads
  check_period           5s
  trap_period            0.5s
  timeout                2s
  restart_after          10000 (accepted, unused: checks run inside mmm-mond, nothing to restart)
  max_backlog            60
check rep_backlog
  check_period           5s
  trap_period            0.5s
  timeout                2s
  restart_after          10000 (accepted, unused: checks run inside mmm-mond, nothing to restart)
  max_backlog            60
monitor
  ip                     127.0.0.1
  port                   9988
  pid_path               /run/mmm/mond.pid
  bin_path               -
  status_path            -
  ping_interval          1s
  ping_ips               10.213.7.1
  flap_duration          3600s
  flap_count             3
  auto_set_online        0s
  kill_host_bin          -
  pre_failover_hook      -
  post_change_hook       -
  hook_timeout           10s
  pre_failover_default   proceed
  careful_startup        yes
  mode                   active
  wait_for_other_master  120s
  agent_lease            5s
  lease_margin           1s
  status_interval        1s
  agent_timeout          2s
  observer_quorum        majority (1 of 1)
monitor node monitor (this node)
  id                     1
  ip                     127.0.0.1
  port                   9988
  raft_port              9990
  http_port              -
  data_dir               /var/lib/mmm/monitor
socket
  type                   plain
  cert_file              -
  key_file               -
  ca_file                -
";
    assert_eq!(config::describe(&cfg, Program::Monitor), expected);
}

#[test]
fn never_prints_passwords() {
    for (dir, file, program) in [
        ("seed0", "mmm_mon.conf", Program::Monitor),
        ("seed2/fixed", "mmm_agent.conf", Program::Agent),
        ("cluster", "mmm_mon.conf", Program::Monitor),
    ] {
        let cfg = loaded(load_fixture(dir, file, program));
        let text = config::describe(&cfg, program);
        for host in &cfg.hosts {
            for password in [
                &host.agent_password,
                &host.monitor_password,
                &host.replication_password,
            ]
            .into_iter()
            .flatten()
            {
                // Passwords that are also user names (seed 2 uses replication/replication)
                // appear as the user; check the password text is not printed as a value.
                let shown = text
                    .lines()
                    .filter(|line| line.trim_end().ends_with(password.as_str()))
                    .count();
                let users = text
                    .lines()
                    .filter(|line| {
                        line.contains("_user") && line.contains(&format!(" {password} ("))
                    })
                    .count();
                assert!(
                    shown == 0 || users > 0,
                    "{dir}/{file}: password {password} printed:\n{text}"
                );
            }
        }
        assert!(
            !text.contains("MMM\n") && !text.contains("-secret"),
            "{text}"
        );
    }
}

#[test]
fn marks_this_monitor_node_and_shows_extensions() {
    let cfg = loaded(load_fixture("cluster", "mmm_mon.conf", Program::Monitor));
    let text = config::describe(&cfg, Program::Monitor);
    assert!(
        text.contains("monitor node mon1\n  id                     1\n"),
        "{text}"
    );
    assert!(
        text.contains("monitor node mon2 (this node)\n  id                     2\n"),
        "{text}"
    );
    assert!(
        text.contains("  data_dir               /srv/mmm/mon3\n"),
        "{text}"
    );
    assert!(
        text.contains("  observer_quorum        majority (2 of 3)\n"),
        "{text}"
    );
    assert!(text.contains("  status_interval        0.5s\n"), "{text}");
    assert!(text.contains("  check_period           0.2s\n"), "{text}");
    assert!(text.contains("  this_monitor           mon2\n"), "{text}");
}

#[test]
fn notes_accepted_but_unused_mysql_mmm_paths() {
    let cfg = loaded(load_fixture("seed0", "mmm_mon.conf", Program::Monitor));
    let text = config::describe(&cfg, Program::Monitor);
    // status_path is read for a take-over from mysql-mmm, so it carries no note.
    assert!(
        text.contains("  status_path            /var/lib/misc/mmm_mond.status\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "  bin_path               /usr/lib/mysql-mmm/ (accepted, unused: checks are built in)\n"
        ),
        "{text}"
    );
    assert!(
        text.starts_with("# effective mysql-mmm configuration as read by mmm-mond (monitor)\n")
    );
    let agent = loaded(load_text(BASE, Program::Agent));
    assert!(
        config::describe(&agent, Program::Agent)
            .starts_with("# effective mysql-mmm configuration as read by mmm-agentd (agent)\n")
    );
}

#[test]
fn load_source_reports_the_files_read_in_order_and_the_unused_directives() {
    let dir = super::fixture("seed0");
    let main = dir.join("mmm_mon.conf");
    let text = std::fs::read_to_string(&main).expect("fixture");
    let includes = super::FixtureDir(dir.clone());
    let loaded = config::load_source(
        config::SourceFile::new(&main, text),
        Program::Monitor,
        &includes,
    )
    .expect("seed0 loads");
    let common = dir.join("mmm_common.conf");
    assert_eq!(loaded.files, [main.clone(), common.clone()]);
    let unused: Vec<(String, String, Option<usize>)> = loaded
        .unused
        .iter()
        .map(|u| (u.name.clone(), u.file.display().to_string(), u.line))
        .collect();
    assert_eq!(
        unused,
        [
            (
                "monitor->bin_path".to_owned(),
                main.display().to_string(),
                Some(6)
            ),
            (
                "host->default->bin_path".to_owned(),
                common.display().to_string(),
                Some(5)
            ),
        ]
    );
    assert_eq!(loaded.unused[0].why, "checks are built in");
}

#[test]
fn load_str_reads_nothing_from_disk() {
    let got = super::errors(load_text("include /etc/passwd\nthis db1\n", Program::Agent));
    assert_eq!(
        got,
        [
            "test.conf:1: Can't include '/etc/passwd' in 'test.conf' on line 1: text given in memory \
             can't include files (load it from a file instead)"
        ]
    );
}
