//! The HTTP endpoints of the real daemons through a failover, scraped with curl from the lab's
//! client namespace as Prometheus or a load balancer would: every monitor's `/metrics` shows the
//! writer move from db1 to db2 and db1 fail, and the agents' own numbers agree (db1, then db2
//! holds the writer, shows its replication from the peer master, answers `/writer` with 200,
//! and accepted a higher epoch; db1's `/writer` is 503 after).

use std::time::Instant;

use mmm_lab::cluster::Cluster;

use super::support::{
    SETTLE, WRITER_VIP, bring_up, launch, seed1_roles, since, wait, wait_mysql_down, wait_writer_on,
};

const MONITOR_HTTP: u16 = 9995;
const AGENT_HTTP: u16 = 9996;

/// `GET http://{host's ip}:{port}{path}` from the client namespace: status and body, or the
/// reason curl gave (a daemon that does not answer within 3 s is an error).
fn get(c: &Cluster, host: &str, port: u16, path: &str) -> Result<(u16, String), String> {
    let ip = c.host(host).ok_or(format!("no host {host}"))?.ip();
    let url = format!("http://{ip}:{port}{path}");
    let out = c
        .client()
        .exec(
            "curl",
            &["-sS", "--max-time", "3", "-w", "\n%{http_code}", &url],
        )
        .map_err(|e| format!("{url}: {e}"))?;
    let (body, code) = out.trim_end().rsplit_once('\n').unwrap_or(("", out.trim()));
    let code = code
        .parse()
        .map_err(|_| format!("{url}: no status in {out:?}"))?;
    Ok((code, body.to_owned()))
}

/// The value of the series `line` (name and labels exactly as exposed), if `body` has it.
fn value(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn scrape(c: &Cluster, host: &str, port: u16) -> String {
    match get(c, host, port, "/metrics") {
        Ok((200, body)) => body,
        other => panic!("{host}:{port}/metrics: {other:?}"),
    }
}

/// Waits until every monitor's `/metrics` has each of `want` at value 1.
fn wait_monitors(c: &Cluster, what: &str, want: &[String]) {
    wait(c, what, || {
        c.monitor_names().iter().all(|m| {
            let body = scrape(c, m, MONITOR_HTTP);
            want.iter().all(|s| value(&body, s) == Some(1.0))
        })
    });
}

fn writer_series(host: &str) -> String {
    format!(r#"mmm_monitor_host_role{{host="{host}",role="writer",ip="{WRITER_VIP}"}}"#)
}

fn state_series(host: &str, state: &str) -> String {
    format!(r#"mmm_monitor_host_state{{host="{host}",state="{state}"}}"#)
}

const AGENT_WRITER: &str = "mmm_agent_role_held{role=\"writer\",ip=\"10.213.7.100\"}";

#[test]
fn metrics_and_health_endpoints_follow_a_writer_failover() {
    if !mmm_lab::lab_available("metrics") {
        return;
    }
    let mut c = launch("e2emet", |o| {
        o.roles = Some(seed1_roles());
        o.extra_config = format!(
            "<monitor>\n    http_port {MONITOR_HTTP}\n</monitor>\n<host db1>\n    http_port {AGENT_HTTP}\n</host>\n<host db2>\n    http_port {AGENT_HTTP}\n</host>\n<host db3>\n    http_port {AGENT_HTTP}\n</host>"
        );
    });
    bring_up(&c, &["db1", "db2", "db3"]);
    wait_monitors(
        &c,
        "every monitor's metrics show db1 ONLINE with the writer",
        &[state_series("db1", "ONLINE"), writer_series("db1")],
    );
    let leaders: usize = c
        .monitor_names()
        .iter()
        .filter(|m| value(&scrape(&c, m, MONITOR_HTTP), "mmm_monitor_raft_is_leader") == Some(1.0))
        .count();
    assert_eq!(leaders, 1, "exactly one monitor says it leads");
    let db1 = scrape(&c, "db1", AGENT_HTTP);
    assert_eq!(value(&db1, AGENT_WRITER), Some(1.0), "{db1}");
    writer_shows_its_replication_from_the_peer(&c);
    let epoch_before = value(&scrape(&c, "db2", AGENT_HTTP), "mmm_agent_accepted_epoch")
        .expect("db2's accepted epoch");
    assert_eq!(get(&c, "db1", AGENT_HTTP, "/writer").map(|r| r.0), Ok(200));

    let t0 = Instant::now();
    c.kill_mysqld("db1").expect("kill -9 db1's mysqld");
    wait_mysql_down(&c, "db1");
    wait_writer_on(&c, "db2");
    println!("{}: the writer VIP is on db2", since(t0));
    wait_monitors(
        &c,
        "every monitor's metrics show db1 HARD_OFFLINE and the writer on db2",
        &[state_series("db1", "HARD_OFFLINE"), writer_series("db2")],
    );
    for m in c.monitor_names() {
        let body = scrape(&c, &m, MONITOR_HTTP);
        assert_eq!(value(&body, &writer_series("db1")), None, "{m}: {body}");
        assert_eq!(
            value(&body, &state_series("db1", "ONLINE")),
            Some(0.0),
            "{m}"
        );
        let moves = |cause: &str| format!(r#"mmm_monitor_writer_moves_total{{cause="{cause}"}}"#);
        assert_eq!(value(&body, &moves("failover")), Some(1.0), "{m}: {body}");
        assert_eq!(value(&body, &moves("switchover")), Some(0.0), "{m}: {body}");
        let timed = r#"mmm_monitor_check_duration_seconds_count{host="db1",check="mysql"}"#;
        assert!(
            value(&body, timed).is_some_and(|n| n >= 1.0),
            "{m} times its checks: {body}"
        );
    }
    wait(&c, "db2's agent serves the writer", || {
        get(&c, "db2", AGENT_HTTP, "/writer").map(|r| r.0) == Ok(200)
    });
    let db2 = scrape(&c, "db2", AGENT_HTTP);
    assert_eq!(value(&db2, AGENT_WRITER), Some(1.0), "{db2}");
    assert_eq!(value(&db2, "mmm_agent_writer_ready"), Some(1.0), "{db2}");
    let epoch_after = value(&db2, "mmm_agent_accepted_epoch").expect("epoch");
    assert!(
        epoch_after > epoch_before,
        "{epoch_before} -> {epoch_after}"
    );
    assert_eq!(get(&c, "db1", AGENT_HTTP, "/writer").map(|r| r.0), Ok(503));
    agents_show_vips_replication_and_durations(&c);

    deploy_files_name_only_exposed_metrics(&c);

    let leader = c.leader().expect("a leader");
    let (code, health) = get(&c, &leader, MONITOR_HTTP, "/health").expect("health");
    assert_eq!(code, 200, "{health}");
    let h: serde_json::Value = serde_json::from_str(&health).expect("json");
    assert_eq!(h["raft"]["state"], "Leader", "{health}");
    assert_eq!(h["hosts"][0]["state"], "HARD_OFFLINE", "{health}");
    c.shutdown();
}

/// The metric families every daemon of `c` exposes now (from the `# TYPE` lines).
fn exposed(c: &Cluster) -> std::collections::BTreeSet<String> {
    let monitors = c.monitor_names().into_iter().map(|m| (m, MONITOR_HTTP));
    let agents = c.agent_names().into_iter().map(|a| (a, AGENT_HTTP));
    monitors
        .chain(agents)
        .flat_map(|(host, port)| {
            let body = scrape(c, &host, port);
            let names: Vec<String> = body
                .lines()
                .filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next())
                .map(str::to_owned)
                .collect();
            names
        })
        .collect()
}

/// Every `mmm_*` name in a line of `text`, by the line it is on.
fn referenced(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("mmm_") {
            let tail = &rest[at..];
            let end = tail
                .find(|ch: char| !(ch.is_ascii_lowercase() || ch == '_'))
                .unwrap_or(tail.len());
            out.push((i + 1, tail[..end].to_owned()));
            rest = &tail[end..];
        }
    }
    out
}

/// After the failover the agents' own numbers say where the writer VIP is, whom db3
/// replicates from, that db2 caught up before taking writes and that db1 ran a kill round when
/// it lost the role (its mysqld was dead, so the round failed: every attempt is timed).
fn agents_show_vips_replication_and_durations(c: &Cluster) {
    let vip = format!(r#"mmm_agent_vip_present{{ip="{WRITER_VIP}"}}"#);
    let db2_ip = c.host("db2").expect("db2").ip();
    let source = format!(r#"mmm_agent_replication_source{{source="{db2_ip}:3306"}}"#);
    wait(c, "the agents' metrics after the failover", || {
        let (db1, db2, db3) = (
            scrape(c, "db1", AGENT_HTTP),
            scrape(c, "db2", AGENT_HTTP),
            scrape(c, "db3", AGENT_HTTP),
        );
        value(&db2, &vip) == Some(1.0)
            && value(&db1, &vip) == Some(0.0)
            && value(&db3, &vip) == Some(0.0)
            && value(&db3, &source) == Some(1.0)
            && value(
                &db3,
                r#"mmm_agent_replication_thread_running{thread="sql"}"#,
            ) == Some(1.0)
            && value(&db2, "mmm_agent_catch_up_duration_seconds_count").is_some_and(|n| n >= 1.0)
            && value(&db1, "mmm_agent_kill_round_duration_seconds_count").is_some_and(|n| n >= 1.0)
            && value(&db2, "mmm_agent_failsafe_remaining_seconds") == Some(0.0)
    });
}

/// The writer db1 replicates from its peer master db2 (master-master), and its agent says so
/// as every other agent does for its own server.
fn writer_shows_its_replication_from_the_peer(c: &Cluster) {
    let db2_ip = c.host("db2").expect("db2").ip();
    let source = format!(r#"mmm_agent_replication_source{{source="{db2_ip}:3306"}}"#);
    let thread = |t: &str| format!(r#"mmm_agent_replication_thread_running{{thread="{t}"}}"#);
    wait(
        c,
        "the writer's agent shows its replication from db2",
        || {
            let db1 = scrape(c, "db1", AGENT_HTTP);
            value(&db1, AGENT_WRITER) == Some(1.0)
                && value(&db1, &source) == Some(1.0)
                && value(&db1, &thread("io")) == Some(1.0)
                && value(&db1, &thread("sql")) == Some(1.0)
        },
    );
}

/// The alert rules and the dashboard in `deploy/` ask only for metrics the daemons expose (one
/// misspelt name would leave an alert silent forever), and the dashboard is importable JSON.
/// Some families exist only while their fact is known (replication lag once a repointed slave
/// reports it again), so this waits until every referenced name has been exposed.
fn deploy_files_name_only_exposed_metrics(c: &Cluster) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    let files = ["prometheus/mmm-alerts.yml", "grafana/mmm-dashboard.json"];
    let mut wanted = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(root.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        let names = referenced(&text);
        assert!(names.len() > 10, "{f} names only {names:?}");
        wanted.extend(
            names
                .into_iter()
                .map(|(line, name)| (format!("{f}:{line}"), name)),
        );
    }
    let mut missing = Vec::new();
    let seen = c.wait_for("every metric deploy/ names exposed", SETTLE, || {
        let have = exposed(c);
        // Counters and histograms are typed under their base name (`_total`, `_bucket`,
        // `_sum` and `_count` are their series).
        let exposed_as = |n: &str| {
            have.contains(n)
                || ["_total", "_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| n.strip_suffix(suffix).is_some_and(|b| have.contains(b)))
        };
        missing = wanted
            .iter()
            .filter(|(_, n)| !exposed_as(n))
            .cloned()
            .collect();
        missing.is_empty()
    });
    assert!(
        seen.is_ok(),
        "named in deploy/ but never exposed: {missing:?}"
    );
    let dash = std::fs::read_to_string(root.join(files[1])).expect("dashboard");
    let dash: serde_json::Value = serde_json::from_str(&dash).expect("the dashboard is JSON");
    let panels = dash["panels"].as_array().expect("panels");
    assert!(
        panels
            .iter()
            .all(|p| p["targets"].as_array().is_some_and(|t| !t.is_empty()))
    );
}
