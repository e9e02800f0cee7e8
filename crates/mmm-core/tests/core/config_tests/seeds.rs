//! The configs of the two field reports this project started from: as published they must
//! load (first report) or fail with file and line (second report's glued lines); fixed,
//! they must load.

use std::net::IpAddr;
use std::time::Duration;

use mmm_core::config::{HostMode, Program, RoleMode};

use super::{
    errors, fixture, line_of, load_fixture, load_fixture_at, load_text, load_text_including, loaded,
};

fn ip(text: &str) -> IpAddr {
    text.parse().expect("ip")
}

#[test]
fn first_report_loads_for_agent_monitor_and_control() {
    let agent = loaded(load_fixture("seed0", "mmm_agent.conf", Program::Agent));
    assert_eq!(agent.this_host().map(|h| h.ip), Some(ip("192.168.1.186")));
    assert_eq!(agent.hosts.len(), 3);
    for host in &agent.hosts {
        assert_eq!(host.mysql_port, 3308, "from <host default>");
        assert_eq!(host.replication_user.as_deref(), Some("abc"));
        assert_eq!(host.cluster_interface.as_deref(), Some("eth0"));
    }
    assert_eq!(agent.host("db3").map(|h| h.mode), Some(HostMode::Slave));
    let writer = agent.active_master_role().expect("writer");
    assert_eq!(
        (writer.mode, writer.hosts.clone(), writer.ips.clone()),
        (
            RoleMode::Exclusive,
            vec!["db2".to_owned(), "db1".to_owned()],
            vec![ip("192.168.1.200")]
        )
    );
    let reader = agent.role("reader").expect("reader");
    assert_eq!(reader.ips, [ip("192.168.1.201"), ip("192.168.1.202")]);

    let monitor = loaded(load_fixture("seed0", "mmm_mon.conf", Program::Monitor));
    assert_eq!(
        monitor.host("db2").and_then(|h| h.monitor_user.as_deref()),
        Some("mmm_monitor")
    );
    assert_eq!(
        monitor.monitor.as_ref().map(|m| m.ip),
        Some(ip("192.168.1.175"))
    );
    assert_eq!(monitor.checks.mysql.trap_period, Duration::from_secs(10));
    loaded(load_fixture("seed0", "mmm_mon.conf", Program::Control));
}

#[test]
fn second_report_fixed_loads() {
    let agent = loaded(load_fixture(
        "seed2/fixed",
        "mmm_agent.conf",
        Program::Agent,
    ));
    assert_eq!(agent.this.as_deref(), Some("db1"));
    assert_eq!(agent.hosts.len(), 4);
    assert_eq!(
        agent.host("db1").and_then(|h| h.pid_path.clone()),
        Some("/var/run/mysql-mmm/mmm_agentd.pid".into())
    );
    let monitor = loaded(load_fixture(
        "seed2/fixed",
        "mmm_mon.conf",
        Program::Monitor,
    ));
    let m = monitor.monitor.as_ref().expect("monitor");
    assert_eq!(m.auto_set_online, Duration::from_secs(10));
    assert_eq!(m.ping_ips.len(), 5);
    assert_eq!(
        monitor.role("reader").map(|r| r.hosts.clone()),
        Some(vec!["db3".to_owned(), "db4".to_owned()])
    );
}

#[test]
fn second_report_as_written_fails_on_every_glued_line_with_file_and_line() {
    let got = errors(load_fixture(
        "seed2/as-written",
        "mmm_agent.conf",
        Program::Agent,
    ));
    let common = fixture("seed2/as-written/mmm_common.conf");
    let c = common.display();
    assert_eq!(
        got[0],
        format!(
            "{c}:4: Unknown variable pid_path/var/run/mysql-mmm/mmm_agentd.pid in '{c}' on line 4! \
             (missing space between 'pid_path' and its value '/var/run/mysql-mmm/mmm_agentd.pid'?)"
        )
    );
    assert_eq!(
        got[4],
        format!(
            "{c}:14: Unknown variable modemaster in '{c}' on line 14! \
             (missing space between 'mode' and its value 'master'?)"
        )
    );
    assert_eq!(
        got[10],
        format!(
            "{c}:37: Unknown variable modeexclusive in '{c}' on line 37! \
             (missing space between 'mode' and its value 'exclusive #只有一个虚拟IP可以写'?)"
        )
    );
    let lines: Vec<String> = got
        .iter()
        .map(|e| {
            e.strip_prefix(&format!("{c}:"))
                .and_then(|rest| rest.split(':').next())
                .unwrap_or("?")
                .to_owned()
        })
        .collect();
    assert_eq!(
        lines,
        [
            "4", "5", "6", "7", "14", "15", "20", "21", "26", "31", "37", "43"
        ]
    );
    assert!(
        got.iter().all(|e| e.contains("Unknown variable")),
        "{got:#?}"
    );
}

#[test]
fn second_report_trailing_comments_are_values_and_fail() {
    let fixed = fixture("seed2/fixed");
    let agent = fixture("seed2/as-written/mmm_agent.conf");
    let got = errors(load_fixture_at(&agent, &fixed, Program::Agent));
    assert_eq!(
        got,
        [format!(
            "{}:2: Config entry 'this' has invalid value 'db1   #分别修改为本机的主机名，即db1、db2、db3和db4' \
             allowed values are: 'db1', 'db2', 'db3', 'db4'",
            agent.display()
        )]
    );
    let mon = std::fs::read_to_string(fixed.join("mmm_mon.conf")).expect("fixture");
    let mon = super::replace_line(
        &mon,
        "auto_set_online",
        "auto_set_online 10  #恢复后自动设置在线的时间",
    );
    let at = line_of(&mon, "auto_set_online");
    let got = errors(load_text_including(
        &mon,
        "mmm_mon.conf",
        &fixed,
        Program::Monitor,
    ));
    assert_eq!(
        got,
        [format!(
            "mmm_mon.conf:{at}: Config entry 'monitor->auto_set_online' has invalid value \
             '10  #恢复后自动设置在线的时间': expected a number of seconds such as 5 or 0.5"
        )]
    );
}

#[test]
fn second_report_monitor_file_as_written_reports_its_own_lines() {
    let mon = fixture("seed2/as-written/mmm_mon.conf");
    let got = errors(load_fixture_at(
        &mon,
        &fixture("seed2/fixed"),
        Program::Monitor,
    ));
    let m = mon.display();
    let lines: Vec<&str> = got
        .iter()
        .map(|e| {
            e.strip_prefix(&format!("{m}:"))
                .and_then(|rest| rest.split(':').next())
                .unwrap_or("?")
        })
        .collect();
    assert_eq!(lines, ["4", "5", "7", "11", "12"], "{got:#?}");
    assert!(
        got[2].contains("Unknown variable ping_ips192.168.10.131,"),
        "{got:#?}"
    );
}

#[test]
fn the_fixed_seed_text_also_loads_from_memory() {
    let common = std::fs::read_to_string(fixture("seed2/fixed/mmm_common.conf")).expect("fixture");
    let cfg = loaded(load_text(&format!("{common}\nthis db4\n"), Program::Agent));
    assert_eq!(cfg.this_host().map(|h| h.mode), Some(HostMode::Slave));
}
