//! `--json` shapes (documented in crates/mmmctl/JSON.md, version 1).

use serde_json::{Value, json};

use super::harness::{mmmctl, runtime};
use super::server::{Behaviour, SEED_CHANGE, Topology, start};

fn parse(args: &[&str]) -> (i32, Value) {
    let run = mmmctl(args);
    let value: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("mmmctl {args:?} printed no JSON ({e}): {}", run.stdout));
    (run.code, value)
}

#[test]
fn show_json_shape() {
    let rt = runtime();
    let mon = start(&rt, Behaviour::Leader(Topology::Seed000Passive));
    let (code, v) = parse(&["--json", "--monitor", &mon.address(), "show"]);
    assert_eq!(code, 0);
    assert_eq!(
        v,
        json!({
            "version": 1,
            "mode": "PASSIVE",
            "passive_cause": "Conflicting roles during startup:\nwriter(192.168.1.200) on db1, db2",
            "epoch": 7,
            "hosts": [
                {"name": "db1", "ip": "192.168.1.186", "mode": "master", "state": "ONLINE",
                 "roles": [], "agent_reachable": false},
                {"name": "db2", "ip": "192.168.1.187", "mode": "master", "state": "ONLINE",
                 "roles": [{"role": "reader", "ip": "192.168.1.201"},
                           {"role": "writer", "ip": "192.168.1.200"}],
                 "agent_reachable": true},
                {"name": "db3", "ip": "192.168.1.184", "mode": "slave", "state": "ONLINE",
                 "roles": [{"role": "reader", "ip": "192.168.1.202"}], "agent_reachable": true}
            ],
            "preferred": [{"role": "writer", "preferred_host": "db1", "assigned_host": "db2"}],
            "stale": false,
            "stale_reason": null,
            "answered_by": null,
            "failsafe": [],
            "writer_held": null
        })
    );
    let rt2 = runtime();
    let active = start(&rt2, Behaviour::Leader(Topology::Seed002));
    let (_, v) = parse(&["--json", "--monitor", &active.address(), "show"]);
    assert_eq!(v["passive_cause"], Value::Null);
    assert_eq!(v["hosts"].as_array().map(Vec::len), Some(4));
}

#[test]
fn checks_mode_cluster_history_json_shapes() {
    let rt = runtime();
    let mon = start(&rt, Behaviour::Leader(Topology::Seed000));
    let addr = mon.address();

    let (code, v) = parse(&["--json", "--monitor", &addr, "checks", "db2", "mysql"]);
    assert_eq!(code, 0);
    assert_eq!(v["version"], 1);
    assert_eq!(v["checks"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["checks"][0]["host"], "db2");
    assert_eq!(v["checks"][0]["check"], "mysql");
    assert_eq!(v["checks"][0]["ok"], false);
    assert_eq!(v["checks"][0]["last_change"], SEED_CHANGE);
    assert!(
        v["checks"][0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("ERROR: Connect error"))
    );

    let (code, v) = parse(&["--json", "--monitor", &addr, "checks", "all", "disk"]);
    assert_eq!(code, 1);
    assert_eq!(
        v,
        json!({"version": 1, "error": "ERROR: Unknown check 'disk'!"})
    );

    let (_, v) = parse(&["--json", "--monitor", &addr, "mode"]);
    assert_eq!(v, json!({"version": 1, "mode": "ACTIVE"}));

    let (_, v) = parse(&["--json", "--monitor", &addr, "cluster", "status"]);
    assert_eq!(v["version"], 1);
    assert_eq!(v["leader_id"], 1);
    assert_eq!(v["leader_name"], "mon1");
    assert_eq!(v["term"], 4);
    assert_eq!(v["last_applied"], 42);
    assert_eq!(v["last_log"], 43);
    assert_eq!(v["epoch"], 7);
    assert_eq!(v["answered_by"], 1);
    assert_eq!(
        v["members"][2],
        json!({"id": 3, "name": "mon3", "address": "10.213.7.13:9988", "voter": true, "matched": null,
               "reachability": "unreachable", "last_contact_ms": null, "error": "connection refused"})
    );
    assert_eq!(
        v["members"][1],
        json!({"id": 2, "name": "mon2", "address": "10.213.7.12:9988", "voter": true, "matched": 43,
               "reachability": "reachable", "last_contact_ms": 120, "error": null})
    );

    let (_, v) = parse(&["--json", "--monitor", &addr, "cluster", "members"]);
    assert_eq!(v["version"], 1);
    assert_eq!(v["members"].as_array().map(Vec::len), Some(3));

    let (_, v) = parse(&["--json", "--monitor", &addr, "history"]);
    assert_eq!(v["version"], 1);
    assert_eq!(
        v["entries"][1],
        json!({"epoch": 7, "at_ms": 1_345_712_590_500_u64,
               "line": "Orphaned role 'reader(192.168.1.201)' has been assigned to 'db3'"})
    );
}

#[test]
fn failures_under_json_are_json_documents_on_stderr() {
    let dead = super::server::dead_address();
    let run = mmmctl(&["--json", "--monitor", &dead, "show"]);
    assert_eq!(run.code, 3);
    assert_eq!(run.stdout, "", "nothing on stdout");
    let v: Value = serde_json::from_str(&run.stderr).expect("JSON on stderr");
    assert_eq!(v["version"], 1);
    assert_eq!(v["error"], "ERROR: Can't connect to monitor daemon!");
    assert_eq!(v["kind"], "unreachable");
    assert_eq!(v["exit_code"], 3);
    assert!(
        v["details"].as_array().is_some_and(|d| d
            .iter()
            .any(|l| l.as_str().is_some_and(|l| l.contains(&dead)))),
        "{v}"
    );

    let run = mmmctl(&["--json", "--timeout", "0", "--monitor", &dead, "show"]);
    assert_eq!((run.code, run.stdout.as_str()), (2, ""));
    let v: Value = serde_json::from_str(&run.stderr).expect("JSON on stderr");
    assert_eq!(v["kind"], "usage");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("--timeout 0 is out of range")),
        "{v}"
    );

    let run = mmmctl(&["--json", "frobnicate"]);
    assert_eq!((run.code, run.stdout.as_str()), (2, ""));
    let v: Value = serde_json::from_str(&run.stderr).expect("JSON on stderr");
    assert_eq!(
        (v["kind"].as_str(), v["exit_code"].as_u64()),
        (Some("usage"), Some(2))
    );
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("frobnicate")),
        "{v}"
    );
}
