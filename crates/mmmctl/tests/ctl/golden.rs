//! mmm_control's exact text for the seeds' topologies.

use super::harness::{mmmctl, runtime};
use super::server::{Behaviour, Topology, start};

#[test]
fn show_seed000_three_hosts() {
    let rt = runtime();
    let mon = start(&rt, Behaviour::Leader(Topology::Seed000));
    let run = mmmctl(&["--monitor", &mon.address(), "show"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "  db1(192.168.1.186) master/ONLINE. Roles: \n\
         \x20 db2(192.168.1.187) master/ONLINE. Roles: reader(192.168.1.201), writer(192.168.1.200)\n\
         \x20 db3(192.168.1.184) slave/ONLINE. Roles: reader(192.168.1.202)\n\n"
    );
}

#[test]
fn show_seed002_four_hosts() {
    let rt = runtime();
    let mon = start(&rt, Behaviour::Leader(Topology::Seed002));
    let run = mmmctl(&["--monitor", &mon.address(), "show"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "  db1(192.168.10.131) master/ONLINE. Roles: writer(192.168.10.128)\n\
         \x20 db2(192.168.10.132) master/HARD_OFFLINE. Roles: \n\
         \x20 db3(192.168.10.133) slave/ONLINE. Roles: reader(192.168.10.129)\n\
         \x20 db4(192.168.10.134) slave/ONLINE. Roles: reader(192.168.10.130)\n\n"
    );
}

#[test]
fn show_passive_banner_warning_and_preference() {
    let rt = runtime();
    let mon = start(&rt, Behaviour::Leader(Topology::Seed000Passive));
    let run = mmmctl(&["--monitor", &mon.address(), "show"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "# --- Monitor is in PASSIVE MODE ---\n\
         # Cause: Conflicting roles during startup:\n\
         # writer(192.168.1.200) on db1, db2\n\
         # Warning: agent on host db1 is not reachable\n\
         \x20 db1(192.168.1.186) master/ONLINE. Roles: \n\
         \x20 db2(192.168.1.187) master/ONLINE. Roles: reader(192.168.1.201), writer(192.168.1.200)\n\
         \x20 db3(192.168.1.184) slave/ONLINE. Roles: reader(192.168.1.202)\n\
         # Role writer has db1 configured as it's preferred host but is assigned to db2 at the moment.\n\n"
    );
    let mode = mmmctl(&["--monitor", &mon.address(), "mode"]);
    assert_eq!(mode.stdout, "PASSIVE\n");
}

const DB2_MYSQL: &str = "ERROR: Connect error (host = 192.168.1.187:3308, user = mmm_monitor)! Lost connection to MySQL server at 'reading initial communication packet', system error: 111";

#[test]
fn checks_all_pads_hosts_and_checks() {
    let rt = runtime();
    let mon = start(&rt, Behaviour::Leader(Topology::Seed002));
    let run = mmmctl(&["--monitor", &mon.address(), "checks"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 17, "{}", run.stdout); // 16 rows + mmm_control's blank line
    assert_eq!(
        lines[0],
        "db1  ping         [last change: 2012/08/23 17:03:09]  OK"
    );
    assert_eq!(
        lines[3],
        "db1  rep_backlog  [last change: 2012/08/23 17:03:09]  OK"
    );
    assert_eq!(
        lines[5],
        format!("db2  mysql        [last change: 2012/08/23 17:03:09]  {DB2_MYSQL}")
    );
    assert_eq!(
        lines[15],
        "db4  rep_backlog  [last change: 2012/08/23 17:03:09]  OK"
    );
    assert_eq!(lines[16], "");
    assert_eq!(
        mon.calls(),
        vec![vec!["checks".to_string(), "all".into(), "all".into()]]
    );
}

#[test]
fn checks_one_host_one_check_and_all_hosts_one_check() {
    let rt = runtime();
    let mon = start(&rt, Behaviour::Leader(Topology::Seed000));
    let addr = mon.address();
    let one = mmmctl(&["--monitor", &addr, "checks", "db2", "mysql"]);
    assert_eq!(one.code, 0);
    assert_eq!(
        one.stdout,
        format!("db2  mysql  [last change: 2012/08/23 17:03:09]  {DB2_MYSQL}\n")
    );
    let host = mmmctl(&["--monitor", &addr, "checks", "db1"]);
    assert_eq!(
        host.stdout,
        "db1  ping         [last change: 2012/08/23 17:03:09]  OK\n\
         db1  mysql        [last change: 2012/08/23 17:03:09]  OK\n\
         db1  rep_threads  [last change: 2012/08/23 17:03:09]  OK\n\
         db1  rep_backlog  [last change: 2012/08/23 17:03:09]  OK\n\n"
    );
    let check = mmmctl(&["--monitor", &addr, "checks", "all", "ping"]);
    assert_eq!(
        check.stdout,
        "db1  ping  [last change: 2012/08/23 17:03:09]  OK\n\
         db2  ping  [last change: 2012/08/23 17:03:09]  OK\n\
         db3  ping  [last change: 2012/08/23 17:03:09]  OK\n\n"
    );
}

#[test]
fn checks_errors_are_mmm_replies_with_exit_1() {
    let rt = runtime();
    let mon = start(&rt, Behaviour::Leader(Topology::Seed000));
    let addr = mon.address();
    let run = mmmctl(&["--monitor", &addr, "checks", "all", "disk"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "ERROR: Unknown check 'disk'!\n");
    let run = mmmctl(&["--monitor", &addr, "checks", "db9"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "ERROR: Unknown host name 'db9'!\n");
}
