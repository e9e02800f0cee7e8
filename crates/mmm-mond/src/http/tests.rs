use mmm_core::checks::CheckKind;
use mmm_core::state::{
    ClusterState, FenceProof, HistoryEntry, HookVerdict, HostState, PostChangeCursor, RoleIp,
    WriterRelease,
};
use mmm_core::time::Timestamp;

use super::metrics::render;
use super::status::{HISTORY_SHOWN, document};
use super::view::{Member, Snapshot, health};
use crate::local_checks::LocalView;

const TEXT: &str = "active_master_role writer\n<host default>\nmonitor_user m\nmonitor_password p\nmode master\n</host>\n<host db1>\nip 127.0.0.1\npeer db2\n</host>\n<host db2>\nip 127.0.0.2\npeer db1\n</host>\n<role writer>\nmode exclusive\nhosts db1, db2\nips 10.213.7.100\n</role>\n<monitor>\nip 127.0.0.1\npid_path /tmp/x.pid\nbin_path /tmp\nstatus_path /tmp/x.status\nping_ips 127.0.0.1\n</monitor>\n";

/// A leader's snapshot: db1 ONLINE with the writer, db2 HARD_OFFLINE with a failed mysql check.
fn config() -> mmm_core::config::Config {
    let Ok(config) = mmm_core::config::load_str(TEXT, "t.conf", mmm_core::config::Program::Monitor)
    else {
        panic!("test config must load");
    };
    config
}

fn leader_snapshot() -> Snapshot {
    let Ok(config) = mmm_core::config::load_str(TEXT, "t.conf", mmm_core::config::Program::Monitor)
    else {
        panic!("test config must load");
    };
    let at = Timestamp::from_secs(10);
    let mut cluster = ClusterState::new(&config, at);
    cluster.epoch = 7;
    cluster.hosts[0].state = HostState::Online;
    cluster.hosts[0].roles = vec![RoleIp::new("writer", "10.213.7.100".parse().unwrap())];
    cluster.hosts[1].state = HostState::HardOffline;
    cluster.hosts[1].agent_down = true;
    cluster.writer_moves.failover = 2;
    let mut local = LocalView::default();
    for kind in CheckKind::ALL {
        local.table.record("db1", kind, true, "OK", at);
        local
            .table
            .record("db2", kind, kind != CheckKind::Mysql, "ERROR: down", at);
    }
    local.network_ok = true;
    Snapshot {
        monitor: "mon1".into(),
        hosts: vec!["db1".into(), "db2".into()],
        raft_state: "Leader",
        term: 3,
        leader: Some("mon1".into()),
        last_log_index: Some(41),
        applied_index: Some(40),
        quorum_ack_ms: Some(250),
        cluster: Some(cluster),
        local,
        members: ["mon1", "mon2", "mon3"]
            .iter()
            .zip(1..)
            .map(|(name, id)| Member {
                id,
                name: (*name).into(),
                address: format!("127.0.0.{id}:9988"),
                voter: true,
                matched: Some(40),
                reachability: if id == 1 { "self" } else { "reachable" },
                last_contact_ms: (id != 1).then_some(30),
                error: String::new(),
            })
            .collect(),
    }
}

fn series(text: &str, prefix: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[test]
fn metrics_show_states_roles_raft_and_checks() {
    let text = render(&leader_snapshot(), &Default::default()).expect("renders");
    let has = |line: &str| assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    has(r#"mmm_monitor_host_state{host="db1",state="ONLINE"} 1"#);
    has(r#"mmm_monitor_host_state{host="db2",state="HARD_OFFLINE"} 1"#);
    has(r#"mmm_monitor_host_role{host="db1",role="writer",ip="10.213.7.100"} 1"#);
    has(r#"mmm_monitor_agent_down{host="db2"} 1"#);
    has(r#"mmm_monitor_agent_down{host="db1"} 0"#);
    has(r#"mmm_monitor_check_ok{host="db2",check="mysql"} 0"#);
    has(r#"mmm_monitor_check_ok{host="db2",check="ping"} 1"#);
    has("mmm_monitor_epoch 7");
    has(r#"mmm_monitor_mode{mode="ACTIVE"} 1"#);
    has("mmm_monitor_writer_release_pending 0");
    has("mmm_monitor_pre_failover_vetoed 0");
    has(r#"mmm_monitor_writer_moves_total{cause="failover"} 2"#);
    has(r#"mmm_monitor_writer_moves_total{cause="switchover"} 0"#);
    assert!(
        series(&text, "mmm_monitor_post_change_backlog_epochs").is_empty(),
        "no post-change hook, no backlog: {text}"
    );
    has("mmm_monitor_raft_is_leader 1");
    has(r#"mmm_monitor_raft_state{state="Leader"} 1"#);
    has("mmm_monitor_raft_term 3");
    has("mmm_monitor_raft_last_log_index 41");
    has("mmm_monitor_raft_applied_index 40");
    has("mmm_monitor_raft_quorum_ack_age_seconds 0.25");
    has("mmm_monitor_network_ok 1");
    // One state per host is 1: the series are one-hot over every state.
    let ones = series(&text, "mmm_monitor_host_state{")
        .into_iter()
        .filter(|l| l.ends_with(" 1"))
        .count();
    assert_eq!(ones, 2, "{text}");
    assert_eq!(
        series(&text, "mmm_monitor_host_state{").len(),
        2 * HostState::ALL.len()
    );
}

#[test]
fn a_vetoed_failover_and_the_post_change_backlog_show() {
    let mut snap = leader_snapshot();
    let Some(cluster) = snap.cluster.as_mut() else {
        panic!("the leader snapshot has a state");
    };
    cluster.writer_release = Some(WriterRelease {
        host: "db1".into(),
        ip: Some("10.213.7.100".parse().unwrap()),
        epoch: 6,
        at: Timestamp::from_secs(10),
        target: None,
        proof: Some(FenceProof::Operator),
        failover: true,
        hook: Some(HookVerdict {
            allowed: false,
            how: "exit 1".into(),
            output: String::new(),
        }),
    });
    cluster.post_change = Some(PostChangeCursor {
        finished: 4,
        started: Some((5, 3)),
    });
    let text = render(&snap, &Default::default()).expect("renders");
    let has = |line: &str| assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    has("mmm_monitor_writer_release_pending 1");
    has("mmm_monitor_pre_failover_vetoed 1");
    has("mmm_monitor_post_change_backlog_epochs 3");
}

#[test]
fn a_monitor_without_state_yet_shows_its_hosts_unknown() {
    let mut snap = leader_snapshot();
    snap.cluster = None;
    snap.raft_state = "Follower";
    snap.quorum_ack_ms = None;
    snap.applied_index = None;
    let text = render(&snap, &Default::default()).expect("renders");
    assert!(
        text.contains(r#"mmm_monitor_host_state{host="db1",state="UNKNOWN"} 1"#),
        "{text}"
    );
    assert!(text.contains("mmm_monitor_raft_is_leader 0"), "{text}");
    assert!(text.contains("mmm_monitor_raft_applied_index -1"), "{text}");
    assert!(!text.contains("mmm_monitor_epoch"), "{text}");
    assert!(!text.contains("quorum_ack_age"), "{text}");
}

#[test]
fn health_names_the_leader_and_each_hosts_checks() {
    let h = health(&leader_snapshot());
    assert_eq!(h["monitor"], "mon1");
    assert_eq!(h["raft"]["leader"], "mon1");
    assert_eq!(h["epoch"], 7);
    assert_eq!(h["hosts"][0]["roles"][0], "writer(10.213.7.100)");
    assert_eq!(h["hosts"][1]["state"], "HARD_OFFLINE");
    assert_eq!(h["hosts"][1]["checks"]["mysql"]["ok"], false);
    assert_eq!(h["hosts"][1]["checks"]["mysql"]["message"], "ERROR: down");
}

#[test]
fn the_status_document_carries_the_show_text_checks_members_and_newest_history() {
    let mut snap = leader_snapshot();
    let Some(cluster) = snap.cluster.as_mut() else {
        panic!("the leader snapshot has a state");
    };
    for i in 0..30u64 {
        cluster.history.push_back(HistoryEntry {
            epoch: i,
            at: Timestamp::from_secs(100 + i),
            line: format!("line {i}"),
        });
    }
    snap.local.table = Default::default();
    snap.local
        .table
        .record("db1", CheckKind::Ping, true, "OK", Timestamp::from_secs(5));
    let doc = document(&snap, &config(), Timestamp::from_secs(200));
    assert_eq!(doc["monitor"], "mon1");
    assert_eq!(doc["generated_at_ms"], 200_000);
    assert_eq!(doc["epoch"], 7);
    assert_eq!(
        doc["show"],
        "# Warning: agent on host db2 is not reachable\n  db1(127.0.0.1) master/ONLINE. Roles: writer(10.213.7.100)\n  db2(127.0.0.2) master/HARD_OFFLINE. Roles: \n"
    );
    assert_eq!(doc["hosts"][0]["roles"][0], "writer(10.213.7.100)");
    assert_eq!(doc["hosts"][1]["state"], "HARD_OFFLINE");
    assert_eq!(doc["hosts"][1]["agent_down"], true);
    assert_eq!(doc["checks"][0]["checks"]["ping"]["ok"], true);
    assert_eq!(doc["checks"][0]["checks"]["ping"]["last_change_ms"], 5000);
    assert!(doc["checks"][0]["checks"]["mysql"].is_null(), "{doc}");
    assert_eq!(doc["raft"]["members"].as_array().map(Vec::len), Some(3));
    assert_eq!(doc["raft"]["members"][0]["leader"], true);
    assert_eq!(doc["raft"]["members"][0]["this"], true);
    assert_eq!(doc["raft"]["members"][1]["leader"], false);
    assert_eq!(doc["raft"]["members"][0]["reachability"], "self");
    assert_eq!(doc["raft"]["members"][1]["reachability"], "reachable");
    assert_eq!(doc["raft"]["members"][1]["last_contact_ms"], 30);
    let history = doc["history"].as_array().cloned().unwrap_or_default();
    assert_eq!(history.len(), HISTORY_SHOWN);
    assert_eq!(history[0]["line"], "line 29", "newest first");
    assert_eq!(history[0]["at_ms"], 129_000);
}

#[test]
fn a_monitor_without_state_yet_serves_an_empty_show() {
    let mut snap = leader_snapshot();
    snap.cluster = None;
    let doc = document(&snap, &config(), Timestamp::from_secs(1));
    assert_eq!(doc["show"], "");
    assert!(doc["epoch"].is_null());
    assert_eq!(doc["hosts"][0]["state"], "UNKNOWN");
    assert_eq!(doc["history"].as_array().map(Vec::len), Some(0));
}

#[test]
fn the_page_and_its_files_carry_a_policy_that_runs_only_their_own_script() {
    for (response, kind) in [
        (super::status::page(), "text/html"),
        (super::status::script(), "text/javascript"),
        (super::status::style(), "text/css"),
    ] {
        assert_eq!(response.status(), 200);
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(header("content-type").starts_with(kind), "{kind}");
        let policy = header("content-security-policy");
        assert!(policy.contains("script-src 'self'"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert_eq!(header("x-content-type-options"), "nosniff");
    }
}
