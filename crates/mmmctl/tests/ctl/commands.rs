//! Admin commands: the words sent, the replies printed, the exit codes.

use super::harness::{mmmctl, runtime};
use super::server::{Behaviour, Topology, start};

fn words(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_string()).collect()
}

#[test]
fn admin_commands_send_mmm_words_and_print_replies() {
    let rt = runtime();
    let mon = start(&rt, Behaviour::Leader(Topology::Seed000));
    let addr = mon.address();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["ping"], 0, "OK: Pinged successfully!\n"),
        (
            &["set_online", "db2"],
            0,
            "OK: State of 'db2' changed to ONLINE. Now you can wait some time and check its new roles!\n",
        ),
        (
            &["set_online", "db9"],
            1,
            "ERROR: Unknown host name 'db9'!\n",
        ),
        (
            &["set_offline", "db3"],
            0,
            "OK: State of 'db3' changed to ADMIN_OFFLINE. Now you can wait some time and check all roles!\n",
        ),
        (&["set_active"], 0, "OK: Already in active mode.\n"),
        (&["set_manual"], 0, "OK: Switched into manual mode.\n"),
        (&["set_passive"], 0, "OK: Switched into passive mode.\n"),
        (
            &["move_role", "writer", "db1"],
            0,
            "OK: Role 'writer' has been moved from 'db2' to 'db1'. Now you can wait some time and check new roles info!\n",
        ),
        (
            &["move_role", "--force", "writer", "db2"],
            0,
            "OK: Role 'writer' has been moved from 'db1' to 'db2' enforcedly. Now you can wait some time and check new roles info!\n",
        ),
        (
            &["set_ip", "192.168.1.200", "db1"],
            1,
            "ERROR: This command is only allowed in passive mode\n",
        ),
        (&["mode"], 0, "ACTIVE\n"),
    ];
    for (args, code, stdout) in cases {
        let mut full = vec!["--monitor", addr.as_str()];
        full.extend_from_slice(args);
        let run = mmmctl(&full);
        assert_eq!(
            run.code, *code,
            "mmmctl {args:?}: {}{}",
            run.stdout, run.stderr
        );
        assert_eq!(run.stdout, *stdout, "mmmctl {args:?}");
    }
    let calls = mon.calls();
    assert!(calls.contains(&words(&["command", "set_online", "db2"])));
    assert!(calls.contains(&words(&[
        "command",
        "move_role",
        "--force",
        "writer",
        "db2"
    ])));
    assert!(calls.contains(&words(&["command", "set_ip", "192.168.1.200", "db1"])));
    assert!(calls.contains(&words(&["command", "set_passive"])));
}

#[test]
fn leading_at_cluster_is_accepted_like_mmm_control() {
    let rt = runtime();
    let mon = start(&rt, Behaviour::Leader(Topology::Seed000));
    let run = mmmctl(&["@c2", "--monitor", &mon.address(), "ping"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "OK: Pinged successfully!\n");
}

#[test]
fn cluster_commands() {
    let rt = runtime();
    let mon = start(&rt, Behaviour::Leader(Topology::Seed000));
    let addr = mon.address();
    let status = mmmctl(&["--monitor", &addr, "cluster", "status"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(
        status
            .stdout
            .starts_with("Leader: mon1 (id 1)\nTerm: 4\nEpoch: 7\nLog: last 43, applied 42\n"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("mon3  10.213.7.13:9988  voter"),
        "{}",
        status.stdout
    );
    for line in [
        "    1  mon1  10.213.7.11:9988  voter    matched 43  leader\n",
        "    2  mon2  10.213.7.12:9988  voter    matched 43  reachable, last contact 0.1 s ago\n",
        "    3  mon3  10.213.7.13:9988  voter    unreachable: connection refused, never contacted\n",
    ] {
        assert!(status.stdout.contains(line), "{line}in:\n{}", status.stdout);
    }
    let members = mmmctl(&["--monitor", &addr, "cluster", "members"]);
    assert_eq!(members.stdout.lines().count(), 4, "{}", members.stdout);
    let add = mmmctl(&["--monitor", &addr, "cluster", "add", "mon4"]);
    assert_eq!(
        (add.code, add.stdout.as_str()),
        (0, "OK: Added monitor 'mon4'.\n")
    );
    let bad = mmmctl(&["--monitor", &addr, "cluster", "add", "mon9"]);
    assert_eq!(
        (bad.code, bad.stdout.as_str()),
        (1, "ERROR: Unknown monitor 'mon9'!\n")
    );
    let rm = mmmctl(&["--monitor", &addr, "cluster", "remove", "mon3"]);
    assert_eq!(rm.code, 0);
    let tl = mmmctl(&["--monitor", &addr, "cluster", "transfer-leader", "mon2"]);
    assert_eq!(
        (tl.code, tl.stdout.as_str()),
        (0, "OK: Leadership handed to 'mon2'.\n")
    );
    let calls = mon.calls();
    assert!(calls.contains(&words(&["remove_member", "mon3"])));
    assert!(calls.contains(&words(&["transfer_leader", "mon2"])));
}

#[test]
fn history_prints_mmm_log_lines_in_local_time() {
    let rt = runtime();
    let mon = start(&rt, Behaviour::Leader(Topology::Seed000));
    let run = mmmctl(&["--monitor", &mon.address(), "history", "--limit", "2"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "2012/08/23 17:03:10 [epoch 6] State of host 'db2' changed from ONLINE to HARD_OFFLINE (ping: OK, mysql: not OK)\n\
         2012/08/23 17:03:10 [epoch 7] Orphaned role 'reader(192.168.1.201)' has been assigned to 'db3'\n"
    );
    assert_eq!(mon.calls(), vec![words(&["history", "2"])]);
}
