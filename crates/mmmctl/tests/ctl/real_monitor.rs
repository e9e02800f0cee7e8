//! mmmctl against the real system: the seeds' topologies in lab namespaces with real MariaDB
//! servers, real `mmm-agentd` on every database host and real `mmm-mond` monitors (Raft on
//! disk), mmmctl running in the lab's client namespace. Needs root; skipped with a message
//! otherwise.
//!
//! Role placements asserted here are derived from mysql-mmm's distribution rules (reference
//! §4.2, with the project's documented choices in `mmm_core::decide`):
//! * an orphaned IP goes to the eligible host with the lowest role count, ties to the earliest
//!   host in the role's `hosts`; the active-master role's IP counts half;
//! * balancing moves, while the busiest eligible host (ties: earliest) has more than one role
//!   more than the least busy one (ties: earliest), the busiest host's last IP of the role (in
//!   config order) to the least busy host.
//!
//! To make the placement a function of the rules alone (not of how many monitor loops ran
//! between two commands), hosts are set online one at a time and each step waits for the
//! placement it must produce.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mmm_lab::cluster::{Binaries, Cluster, ClusterOptions};
use mmm_lab::write_private_file;
use serde_json::Value;

use super::harness::Run;

/// How long one expected state may take to appear.
const SETTLE: Duration = Duration::from_secs(30);
/// The writer VIP of the lab config.
const WRITER_VIP: &str = "10.213.7.100";
/// An address on the lab subnet where nothing listens (no host has it).
const UNUSED_MONITOR: &str = "10.213.7.99:9988";

/// The three programs, built by cargo before the first use (never binaries left from an earlier
/// build).
fn binaries() -> Binaries {
    mmm_lab::build_binaries().expect("build mmm-agentd, mmm-mond and mmmctl")
}

/// Launches a cluster on the seeds' topology with `slaves` slaves and `monitors` monitors, or
/// `None` (with a message) when not root.
fn launch(tag: &str, slaves: usize, monitors: usize) -> Option<Cluster> {
    if !mmm_lab::lab_available(tag) {
        return None;
    }
    let mut opts = ClusterOptions::new(tag, binaries());
    opts.topology.slaves = slaves;
    opts.monitors = monitors;
    Some(Cluster::launch(opts).expect("launch the lab cluster"))
}

/// Runs mmmctl (in the client namespace, with the cluster's monitor config) and collects its
/// exit code and output.
fn ctl(c: &Cluster, args: &[&str]) -> Run {
    let out = c
        .mmmctl(args)
        .unwrap_or_else(|e| panic!("mmmctl {args:?}: {e}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs mmmctl and requires exit code `code` and exactly `stdout`.
fn expect_run(c: &Cluster, args: &[&str], code: i32, stdout: &str) {
    let run = ctl(c, args);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (code, stdout),
        "mmmctl {args:?}; stderr: {}",
        run.stderr
    );
}

/// Runs mmmctl `--json args` successfully and parses its document.
fn json(c: &Cluster, args: &[&str]) -> Value {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let run = ctl(c, &full);
    assert_eq!(run.code, 0, "mmmctl {full:?}: {}{}", run.stdout, run.stderr);
    let v: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("mmmctl {full:?} printed no JSON ({e}): {}", run.stdout));
    assert_eq!(v["version"], 1, "{v}");
    v
}

/// Waits until `mmmctl args` prints exactly `expected` (exit 0), e.g. a role placement that the
/// monitor reaches within a loop or two.
fn wait_output(c: &Cluster, args: &[&str], expected: &str) {
    let mut last = String::new();
    let waited = c.wait_for(
        &format!("mmmctl {args:?} to print the expected text"),
        SETTLE,
        || {
            let run = ctl(c, args);
            last = run.stdout;
            run.code == 0 && last == expected
        },
    );
    if let Err(e) = waited {
        panic!("mmmctl {args:?}\n--- expected ---\n{expected}--- last ---\n{last}\n{e}");
    }
}

/// Sets `host` online (retrying while its checks are not yet OK) with mysql-mmm's exact reply.
fn set_online(c: &Cluster, host: &str) {
    let ok = format!(
        "OK: State of '{host}' changed to ONLINE. Now you can wait some time and check its new roles!\n"
    );
    let mut replies: Vec<String> = Vec::new();
    let waited = c.wait_for(&format!("set_online {host}"), SETTLE, || {
        let run = ctl(c, &["set_online", host]);
        let reply = format!("exit {}: {}{}", run.code, run.stdout, run.stderr);
        if replies.last() != Some(&reply) {
            replies.push(reply);
        }
        run.code == 0 && run.stdout == ok
    });
    if let Err(e) = waited {
        panic!("set_online {host}: replies {replies:#?}\n{e}");
    }
}

/// One `show` line: two spaces, `name(ip) mode/state. Roles: ` and the roles.
fn show_line(host: &str, ip_octet: u8, mode: &str, state: &str, roles: &[(&str, u8)]) -> String {
    let roles: Vec<String> = roles
        .iter()
        .map(|(role, octet)| format!("{role}(10.213.7.{octet})"))
        .collect();
    format!(
        "  {host}(10.213.7.{ip_octet}) {mode}/{state}. Roles: {}\n",
        roles.join(", ")
    )
}

/// A whole `show` output: the host lines and mmm_control's trailing newline.
fn show_text(lines: &[String]) -> String {
    let mut s = lines.concat();
    s.push('\n');
    s
}

/// Replaces a checks line's `[last change: yyyy/MM/dd HH:mm:ss]` with `[last change: *]`,
/// failing when the timestamp does not have that shape.
fn mask_timestamp(line: &str) -> String {
    const OPEN: &str = "[last change: ";
    let start = line
        .find(OPEN)
        .unwrap_or_else(|| panic!("no timestamp in {line:?}"))
        + OPEN.len();
    let stamp = line.get(start..start + 19).unwrap_or("");
    let shape_ok = stamp.len() == 19
        && stamp.char_indices().all(|(i, ch)| match i {
            4 | 7 => ch == '/',
            10 => ch == ' ',
            13 | 16 => ch == ':',
            _ => ch.is_ascii_digit(),
        })
        && line[start + 19..].starts_with(']');
    assert!(shape_ok, "timestamp is not yyyy/MM/dd HH:mm:ss in {line:?}");
    format!("{}*{}", &line[..start], &line[start + 19..])
}

/// `checks` output with the timestamps masked.
fn masked_checks(c: &Cluster, args: &[&str]) -> (i32, String) {
    let run = ctl(c, args);
    if run.code != 0 {
        return (run.code, run.stdout);
    }
    let mut s = String::new();
    for line in run.stdout.lines() {
        if line.is_empty() {
            s.push('\n');
        } else {
            s.push_str(&mask_timestamp(line));
            s.push('\n');
        }
    }
    (run.code, s)
}

/// The expected masked `checks` text of a healthy idle cluster: every host (config order)
/// with ping, mysql, rep_threads and rep_backlog, host names of equal length so no extra pad,
/// check names padded to 11, and the blank line of a multi-line reply. Every host replicates
/// (db1 from db2, the others from db1) and nothing is written, so the backlog is 0 seconds:
/// `OK: Backlog is null`.
fn healthy_checks(hosts: &[&str]) -> String {
    let mut s = String::new();
    for h in hosts {
        for (check, msg) in [
            ("ping", "OK"),
            ("mysql", "OK"),
            ("rep_threads", "OK"),
            ("rep_backlog", "OK: Backlog is null"),
        ] {
            s.push_str(&format!("{h}  {check:<11}  [last change: *]  {msg}\n"));
        }
    }
    s.push('\n');
    s
}

/// Waits until the masked `checks` output equals `expected`.
fn wait_checks(c: &Cluster, args: &[&str], expected: &str) {
    let mut last = String::new();
    let waited = c.wait_for(&format!("mmmctl {args:?}"), SETTLE, || {
        let (code, text) = masked_checks(c, args);
        last = text;
        code == 0 && last == expected
    });
    if let Err(e) = waited {
        panic!("mmmctl {args:?}\n--- expected ---\n{expected}--- last ---\n{last}\n{e}");
    }
}

/// Unix seconds now.
fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// One host's expected `show`: name, mode and roles as (role, last octet of the VIP).
type ExpectedHost = (&'static str, &'static str, &'static [(&'static str, u8)]);

/// Checks `--json show` against the expected placement (sorted by host).
fn check_show_json(c: &Cluster, expected: &[ExpectedHost]) {
    let v = json(c, &["show"]);
    assert_eq!(v["mode"], "ACTIVE", "{v}");
    assert!(v["passive_cause"].is_null(), "{v}");
    assert!(v["epoch"].as_u64().is_some_and(|e| e > 0), "{v}");
    assert_eq!(v["preferred"], serde_json::json!([]), "{v}");
    let hosts = v["hosts"].as_array().expect("hosts array");
    assert_eq!(hosts.len(), expected.len(), "{v}");
    for (i, (h, (name, mode, roles))) in hosts.iter().zip(expected).enumerate() {
        let octet = 11 + i;
        assert_eq!(h["name"], *name, "{v}");
        assert_eq!(h["ip"], format!("10.213.7.{octet}"), "{v}");
        assert_eq!(h["mode"], *mode, "{v}");
        assert_eq!(h["state"], "ONLINE", "{v}");
        assert_eq!(h["agent_reachable"], true, "{v}");
        let want: Vec<Value> = roles
            .iter()
            .map(|(role, o)| serde_json::json!({ "role": role, "ip": format!("10.213.7.{o}") }))
            .collect();
        assert_eq!(h["roles"], Value::Array(want), "{v}");
    }
}

/// Checks `--json checks`: one row per host and check, all ok, recent `last_change`.
fn check_checks_json(c: &Cluster, hosts: &[&str]) {
    let v = json(c, &["checks"]);
    let rows = v["checks"].as_array().expect("checks array");
    let want: Vec<(String, &str)> = hosts
        .iter()
        .flat_map(|h| {
            ["ping", "mysql", "rep_threads", "rep_backlog"]
                .into_iter()
                .map(move |k| ((*h).to_owned(), k))
        })
        .collect();
    let got: Vec<(String, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["host"].as_str().unwrap_or("?").to_owned(),
                r["check"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(got, want, "{v}");
    let now = now_secs();
    for r in rows {
        assert_eq!(r["ok"], true, "{r}");
        let changed = r["last_change"]
            .as_i64()
            .expect("last_change is an integer");
        assert!(
            changed > now - 600 && changed <= now + 5,
            "last_change {changed} is not from this run (now {now}): {r}"
        );
        assert!(
            r["message"].as_str().is_some_and(|m| m.starts_with("OK")),
            "{r}"
        );
    }
}

/// Checks `--json cluster status` for `monitors` voters with one leader; returns the leader's
/// name and every member's `(name, Control address)` (the default Control port 9988).
fn check_cluster_json(c: &Cluster, monitors: usize) -> (String, Vec<(String, String)>) {
    let v = json(c, &["cluster", "status"]);
    let leader = v["leader_name"].as_str().expect("a leader").to_owned();
    let leader_id = v["leader_id"].as_u64().expect("leader_id");
    for field in ["term", "last_applied", "last_log", "epoch", "answered_by"] {
        assert!(v[field].as_u64().is_some(), "{field} in {v}");
    }
    assert!(v["last_applied"].as_u64() <= v["last_log"].as_u64(), "{v}");
    let members = v["members"].as_array().expect("members");
    assert_eq!(members.len(), monitors, "{v}");
    let mut out = Vec::new();
    for (i, m) in members.iter().enumerate() {
        let name = format!("mon{}", i + 1);
        let ip = c.host(&name).expect("monitor host").ip();
        assert_eq!(m["name"], name.as_str(), "{v}");
        // The monitor reports the member's Raft (Peer) address; only its host part is the
        // same as the Control address mmmctl connects to.
        let address = m["address"].as_str().expect("address");
        let (host, port) = address.rsplit_once(':').expect("host:port");
        assert_eq!(host, ip.to_string(), "{v}");
        assert!(port.parse::<u16>().is_ok(), "{v}");
        assert_eq!(m["voter"], true, "{v}");
        assert!(m["id"].as_u64().is_some(), "{v}");
        if m["name"] == leader.as_str() {
            assert_eq!(m["id"].as_u64(), Some(leader_id), "{v}");
        }
        out.push((name, format!("{ip}:9988")));
    }
    (leader, out)
}

/// Waits until `ip` is on `on` and on none of `off` (the agents' netlink view).
fn wait_vip(c: &Cluster, ip: &str, on: &str, off: &[&str]) {
    c.wait_for(&format!("{ip} only on {on}"), SETTLE, || {
        c.has_ip(on, ip) && off.iter().all(|h| !c.has_ip(h, ip))
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

/// The seeds' three hosts (db1, db2 masters, db3 slave of db1) with three monitors: goldens,
/// JSON, error paths with exit codes, a real writer move, and leader following.
#[test]
fn three_hosts_three_monitors() {
    let Some(mut c) = launch("ctl3", 1, 3) else {
        return;
    };
    c.wait_for("a leader monitor", SETTLE, || c.leader().is_some())
        .unwrap_or_else(|e| panic!("{e}"));

    // Config order: writer hosts db1, db2 (IP .100, exclusive); reader hosts db1, db2, db3
    // (IPs .101, .102, .103, balanced). Counts below are role counts, the writer counting 0.5.
    //
    // Startup (reference §5.2 step 8): no host holds the writer IP or is writable, so the
    // vote is decided by replication alone: db1 is the master the slave db3 replicates from,
    // so it wins the writer and becomes ONLINE; the others stay AWAITING_RECOVERY. In the
    // first loop db1, the only eligible host, also takes every orphaned reader IP.
    wait_output(
        &c,
        &["show"],
        &show_text(&[
            show_line(
                "db1",
                11,
                "master",
                "ONLINE",
                &[
                    ("reader", 101),
                    ("reader", 102),
                    ("reader", 103),
                    ("writer", 100),
                ],
            ),
            show_line("db2", 12, "master", "AWAITING_RECOVERY", &[]),
            show_line("db3", 13, "slave", "AWAITING_RECOVERY", &[]),
        ]),
    );
    expect_run(
        &c,
        &["set_online", "db1"],
        0,
        "OK: This host is already ONLINE. Skipping command.\n",
    );
    // db2 online: db1 3.5 vs db2 0 → db1's last reader IP .103 moves (2.5 vs 1), then .102
    // (1.5 vs 2); a difference of 0.5 stops the balancing.
    set_online(&c, "db2");
    wait_output(
        &c,
        &["show"],
        &show_text(&[
            show_line(
                "db1",
                11,
                "master",
                "ONLINE",
                &[("reader", 101), ("writer", 100)],
            ),
            show_line(
                "db2",
                12,
                "master",
                "ONLINE",
                &[("reader", 102), ("reader", 103)],
            ),
            show_line("db3", 13, "slave", "AWAITING_RECOVERY", &[]),
        ]),
    );
    // db3 online: db1 1.5, db2 2, db3 0 → the busiest, db2, gives its last reader IP .103 to
    // db3 (1.5, 1, 1), and 0.5 of difference stops it: the writer on the active master db1
    // with one reader fewer than its share would be, one reader IP per host.
    set_online(&c, "db3");
    let settled = show_text(&[
        show_line(
            "db1",
            11,
            "master",
            "ONLINE",
            &[("reader", 101), ("writer", 100)],
        ),
        show_line("db2", 12, "master", "ONLINE", &[("reader", 102)]),
        show_line("db3", 13, "slave", "ONLINE", &[("reader", 103)]),
    ]);
    wait_output(&c, &["show"], &settled);
    wait_vip(&c, WRITER_VIP, "db1", &["db2", "db3"]);

    // checks: all rows, one host, one check of all hosts, one host and one check (unpadded).
    wait_checks(&c, &["checks"], &healthy_checks(&["db1", "db2", "db3"]));
    wait_checks(
        &c,
        &["checks", "all", "all"],
        &healthy_checks(&["db1", "db2", "db3"]),
    );
    wait_checks(&c, &["checks", "db2"], &healthy_checks(&["db2"]));
    wait_checks(
        &c,
        &["checks", "all", "ping"],
        "db1  ping  [last change: *]  OK\ndb2  ping  [last change: *]  OK\ndb3  ping  [last change: *]  OK\n\n",
    );
    wait_checks(
        &c,
        &["checks", "db1", "mysql"],
        "db1  mysql  [last change: *]  OK\n",
    );
    expect_run(
        &c,
        &["checks", "db9"],
        1,
        "ERROR: Unknown host name 'db9'!\n",
    );
    expect_run(
        &c,
        &["checks", "all", "disk"],
        1,
        "ERROR: Unknown check 'disk'!\n",
    );
    expect_run(&c, &["mode"], 0, "ACTIVE\n");
    expect_run(&c, &["ping"], 0, "OK: Pinged successfully!\n");

    // JSON documents.
    let roles_before: [ExpectedHost; 3] = [
        ("db1", "master", &[("reader", 101), ("writer", 100)]),
        ("db2", "master", &[("reader", 102)]),
        ("db3", "slave", &[("reader", 103)]),
    ];
    check_show_json(&c, &roles_before);
    check_checks_json(&c, &["db1", "db2", "db3"]);
    assert_eq!(json(&c, &["mode"])["mode"], "ACTIVE");
    let (_, members) = check_cluster_json(&c, 3);
    let refused = ctl(&c, &["--json", "checks", "all", "disk"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    let doc: Value = serde_json::from_str(&refused.stdout).expect("error document");
    assert_eq!(
        doc,
        serde_json::json!({ "version": 1, "error": "ERROR: Unknown check 'disk'!" })
    );

    // Refusals and no-ops change nothing.
    expect_run(
        &c,
        &["set_online", "db9"],
        1,
        "ERROR: Unknown host name 'db9'!\n",
    );
    expect_run(
        &c,
        &["set_online", "db1"],
        0,
        "OK: This host is already ONLINE. Skipping command.\n",
    );
    expect_run(
        &c,
        &["move_role", "writer", "db3"],
        1,
        "ERROR: Host 'db3' can't handle role 'writer'. Only following hosts could: db1, db2\n",
    );
    expect_run(
        &c,
        &["set_ip", WRITER_VIP, "db2"],
        1,
        "ERROR: This command is only allowed in passive mode\n",
    );
    let usage = ctl(&c, &["move_role", "writer"]);
    assert_eq!(usage.code, 2, "{}{}", usage.stdout, usage.stderr);
    assert!(usage.stdout.is_empty() && !usage.stderr.is_empty());
    let unreachable = ctl(&c, &["--monitor", UNUSED_MONITOR, "set_offline", "db2"]);
    assert_eq!(
        (unreachable.code, unreachable.stdout.as_str()),
        (3, "ERROR: Can't connect to monitor daemon!\n"),
        "{}",
        unreachable.stderr
    );
    assert!(
        unreachable.stderr.contains(UNUSED_MONITOR),
        "{}",
        unreachable.stderr
    );
    expect_run(&c, &["show"], 0, &settled);
    assert!(c.has_ip("db1", WRITER_VIP));

    // A real writer move: db1 → db2. Afterwards db1 1 (reader), db2 1.5, db3 1: balanced.
    expect_run(
        &c,
        &["move_role", "writer", "db2"],
        0,
        "OK: Role 'writer' has been moved from 'db1' to 'db2'. Now you can wait some time and check new roles info!\n",
    );
    wait_output(
        &c,
        &["show"],
        &show_text(&[
            show_line("db1", 11, "master", "ONLINE", &[("reader", 101)]),
            show_line(
                "db2",
                12,
                "master",
                "ONLINE",
                &[("reader", 102), ("writer", 100)],
            ),
            show_line("db3", 13, "slave", "ONLINE", &[("reader", 103)]),
        ]),
    );
    wait_vip(&c, WRITER_VIP, "db2", &["db1", "db3"]);
    expect_run(
        &c,
        &["move_role", "writer", "db2"],
        0,
        "OK: Role is on 'db2' already. Skipping command.\n",
    );

    // Leader following: a follower listed first (the leader as of now, by cluster status).
    let (leader, _) = check_cluster_json(&c, 3);
    let address = |name: &str| -> String {
        members
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a.clone())
            .unwrap_or_else(|| panic!("no member {name}"))
    };
    let followers: Vec<String> = c
        .monitor_names()
        .into_iter()
        .filter(|n| *n != leader)
        .collect();
    let (f1, f2) = (followers[0].clone(), followers[1].clone());
    let via = |first: &[&str], args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for name in first {
            v.push("--monitor".into());
            v.push(address(name));
        }
        v.extend(args.iter().map(|a| (*a).to_owned()));
        v
    };
    let follower_first = [f1.as_str(), leader.as_str()];
    let args = via(&follower_first, &["--json", "cluster", "status"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = ctl(&c, &args);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let status: Value = serde_json::from_str(&run.stdout).expect("cluster status JSON");
    assert_eq!(status["leader_name"], leader.as_str(), "{status}");
    let args = via(&follower_first, &["set_offline", "db3"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    expect_run(
        &c,
        &args,
        0,
        "OK: State of 'db3' changed to ADMIN_OFFLINE. Now you can wait some time and check all roles!\n",
    );
    // db3's orphaned reader IP .103 goes to the least busy of db1 (1) and db2 (1.5): db1.
    let args = via(&follower_first, &["show"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    wait_output(
        &c,
        &args,
        &show_text(&[
            show_line(
                "db1",
                11,
                "master",
                "ONLINE",
                &[("reader", 101), ("reader", 103)],
            ),
            show_line(
                "db2",
                12,
                "master",
                "ONLINE",
                &[("reader", 102), ("writer", 100)],
            ),
            show_line("db3", 13, "slave", "ADMIN_OFFLINE", &[]),
        ]),
    );

    // The first monitor listed is dead (kill -9), the second a follower: still served.
    c.kill9(&f1).expect("kill -9 the first-listed follower");
    let dead_first = [f1.as_str(), f2.as_str(), leader.as_str()];
    let args = via(&dead_first, &["set_online", "db3"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    expect_run(
        &c,
        &args,
        0,
        "OK: State of 'db3' changed to ONLINE. Now you can wait some time and check its new roles!\n",
    );
    // db1 2, db2 1.5, db3 0 → db1 gives its last reader IP .103 back to db3.
    let args = via(&dead_first, &["show"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    wait_output(
        &c,
        &args,
        &show_text(&[
            show_line("db1", 11, "master", "ONLINE", &[("reader", 101)]),
            show_line(
                "db2",
                12,
                "master",
                "ONLINE",
                &[("reader", 102), ("writer", 100)],
            ),
            show_line("db3", 13, "slave", "ONLINE", &[("reader", 103)]),
        ]),
    );
    let args = via(&[f1.as_str()], &["show"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let only_dead = ctl(&c, &args);
    assert_eq!(
        only_dead.code, 3,
        "{}{}",
        only_dead.stdout, only_dead.stderr
    );

    // `cluster add` of a member is an error, not an "added".
    expect_run(
        &c,
        &["cluster", "add", &leader],
        1,
        &format!("ERROR: Monitor '{leader}' is already a member of the cluster.\n"),
    );
    // f1 back, then the leader killed: `show` right away is served by the new leader (the
    // followers name the dead leader until they elect another), and `cluster status` lists
    // the dead one as unreachable.
    c.start(&f1).expect("start f1 again");
    c.wait_for(&format!("{f1} reachable from the leader"), SETTLE, || {
        member_reachability(&c, &f1).as_deref() == Some("reachable")
    })
    .unwrap_or_else(|e| panic!("{e}"));
    c.kill9(&leader).expect("kill -9 the leader");
    let run = ctl(&c, &["show"]);
    assert_eq!(
        run.code, 0,
        "show right after the leader died: {}{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stdout.contains("db2(10.213.7.12) master/ONLINE."),
        "{}",
        run.stdout
    );
    c.wait_for(
        &format!("{leader} unreachable in cluster status"),
        SETTLE,
        || member_reachability(&c, &leader).as_deref() == Some("unreachable"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    stale_show_without_quorum(&mut c, &f1, &f2);
    c.shutdown();
}

/// With `kill` killed as well only `survivor` runs: no quorum, and `show` prints the
/// survivor's last state marked stale (exit 3) instead of only "No quorum".
fn stale_show_without_quorum(c: &mut Cluster, kill: &str, survivor: &str) {
    c.kill9(kill).expect("kill -9 a second monitor");
    let warning = format!(
        "# Warning: No quorum! This is the last state known to monitor '{survivor}' (epoch "
    );
    let mut last = Run::default();
    c.wait_for("a stale show from the surviving monitor", SETTLE, || {
        last = ctl(&*c, &["show"]);
        last.code == 3 && last.stdout.starts_with(&warning)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}{}", last.stdout, last.stderr));
    let mut lines = last.stdout.lines().skip(1);
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("# Cause: no quorum")),
        "{}",
        last.stdout
    );
    assert!(
        last.stdout.contains("db2(10.213.7.12) master/ONLINE."),
        "{}",
        last.stdout
    );
    let run = ctl(&*c, &["--json", "show"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let v: Value = serde_json::from_str(&run.stdout).expect("stale show JSON on stdout");
    assert_eq!(v["stale"], true, "{v}");
    assert_eq!(v["answered_by"], survivor, "{v}");
    assert!(v["hosts"].as_array().is_some_and(|h| h.len() == 3), "{v}");
}

/// `reachability` of member `name` in `--json cluster status` (the leader's view when the
/// leader answers); `None` when no monitor answers or the member is not listed.
fn member_reachability(c: &Cluster, name: &str) -> Option<String> {
    let run = ctl(c, &["--json", "cluster", "status"]);
    let v: Value = serde_json::from_str(&run.stdout).ok()?;
    v["members"]
        .as_array()?
        .iter()
        .find(|m| m["name"] == name)
        .and_then(|m| m["reachability"].as_str())
        .map(str::to_owned)
}

/// Rewrites every generated config of `c` so that the reader role has `hosts` and `ips`
/// instead of the lab's default (every host, one IP each), then restarts every daemon.
fn restart_with_reader_role(c: &mut Cluster, hosts: &str, ips: &[Ipv4Addr]) {
    c.shutdown();
    let ips: Vec<String> = ips.iter().map(Ipv4Addr::to_string).collect();
    let section = format!(
        "<role reader>\n    hosts {hosts}\n    ips {}\n    mode balanced\n</role>",
        ips.join(", ")
    );
    let names: Vec<String> = c
        .agent_names()
        .into_iter()
        .chain(c.monitor_names())
        .collect();
    let mut files: Vec<PathBuf> = names
        .iter()
        .map(|n| c.config_path(n).expect("config path"))
        .collect();
    files.push(c.mmmctl_config_path());
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read a lab config");
        let start = text.find("<role reader>").expect("reader role section");
        let len = text[start..].find("</role>").expect("end of reader role") + "</role>".len();
        let mut new = text.clone();
        new.replace_range(start..start + len, &section);
        write_private_file(&file, &new).expect("write a lab config");
    }
    for name in names {
        c.start(&name).expect("restart a lab daemon");
    }
}

/// Seed 002's four hosts (db1, db2 masters, db3 and db4 slaves of db1; readers on the slaves
/// only) with ONE monitor: show golden and checks.
#[test]
fn four_hosts_one_monitor() {
    let Some(mut c) = launch("ctl4", 2, 1) else {
        return;
    };
    restart_with_reader_role(
        &mut c,
        "db3, db4",
        &[
            Ipv4Addr::new(10, 213, 7, 101),
            Ipv4Addr::new(10, 213, 7, 102),
        ],
    );
    c.wait_for("a leader monitor", SETTLE, || c.leader().is_some())
        .unwrap_or_else(|e| panic!("{e}"));

    // Writer hosts db1, db2 (.100); reader hosts db3, db4 (.101, .102).
    // Startup: db1, the master both slaves replicate from, wins the writer vote and becomes
    // ONLINE (reference §5.2 step 8); no reader host is eligible yet.
    wait_output(
        &c,
        &["show"],
        &show_text(&[
            show_line("db1", 11, "master", "ONLINE", &[("writer", 100)]),
            show_line("db2", 12, "master", "AWAITING_RECOVERY", &[]),
            show_line("db3", 13, "slave", "AWAITING_RECOVERY", &[]),
            show_line("db4", 14, "slave", "AWAITING_RECOVERY", &[]),
        ]),
    );
    // db2 online: it can only hold the writer, which db1 keeps; db3 online: both reader IPs.
    set_online(&c, "db2");
    set_online(&c, "db3");
    wait_output(
        &c,
        &["show"],
        &show_text(&[
            show_line("db1", 11, "master", "ONLINE", &[("writer", 100)]),
            show_line("db2", 12, "master", "ONLINE", &[]),
            show_line(
                "db3",
                13,
                "slave",
                "ONLINE",
                &[("reader", 101), ("reader", 102)],
            ),
            show_line("db4", 14, "slave", "AWAITING_RECOVERY", &[]),
        ]),
    );
    // db4 online: db3 2 vs db4 0 → db3's last reader IP .102 moves to db4 (1 vs 1).
    set_online(&c, "db4");
    let settled = show_text(&[
        show_line("db1", 11, "master", "ONLINE", &[("writer", 100)]),
        show_line("db2", 12, "master", "ONLINE", &[]),
        show_line("db3", 13, "slave", "ONLINE", &[("reader", 101)]),
        show_line("db4", 14, "slave", "ONLINE", &[("reader", 102)]),
    ]);
    wait_output(&c, &["show"], &settled);
    wait_vip(&c, WRITER_VIP, "db1", &["db2", "db3", "db4"]);
    wait_vip(&c, "10.213.7.102", "db4", &["db1", "db2", "db3"]);

    let hosts = ["db1", "db2", "db3", "db4"];
    wait_checks(&c, &["checks"], &healthy_checks(&hosts));
    wait_checks(
        &c,
        &["checks", "db4", "rep_backlog"],
        "db4  rep_backlog  [last change: *]  OK: Backlog is null\n",
    );
    check_checks_json(&c, &hosts);
    check_show_json(
        &c,
        &[
            ("db1", "master", &[("writer", 100)]),
            ("db2", "master", &[]),
            ("db3", "slave", &[("reader", 101)]),
            ("db4", "slave", &[("reader", 102)]),
        ],
    );
    check_cluster_json(&c, 1);
    expect_run(&c, &["mode"], 0, "ACTIVE\n");
    expect_run(
        &c,
        &["move_role", "writer", "db3"],
        1,
        "ERROR: Host 'db3' can't handle role 'writer'. Only following hosts could: db1, db2\n",
    );
    // A balanced role is only taken away; its orphan goes to the least busy eligible host,
    // which is db4 again (db3 1, db4 0).
    expect_run(
        &c,
        &["move_role", "reader", "db4"],
        0,
        "OK: Balanced role reader has been removed from host 'db4'. Now you can wait some time and check new roles info!\n",
    );
    wait_output(&c, &["show"], &settled);
    c.shutdown();
}
