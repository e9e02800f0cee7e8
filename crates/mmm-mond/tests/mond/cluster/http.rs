//! Every monitor's `/metrics` and `/health` over real HTTP while three monitors run a failover.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mmm_core::checks::CheckKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::harness::{MonCluster, free_ports};
use super::rt;

/// One HTTP/1.1 GET (the server closes the connection after answering): status and body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.expect("send");
        let mut raw = String::new();
        s.read_to_string(&mut raw).await.expect("read");
        raw
    };
    let raw = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .expect("answered within 5 s");
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {raw:?}"));
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_owned())
}

/// Waits until every monitor's `/metrics` has every line of `want`.
async fn wait_scrapes(addrs: &[SocketAddr], want: &[&str]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut bodies = Vec::new();
        for a in addrs {
            let (status, body) = get(*a, "/metrics").await;
            assert_eq!(status, 200, "{body}");
            bodies.push(body);
        }
        let all = bodies
            .iter()
            .all(|b| want.iter().all(|w| b.lines().any(|l| l == *w)));
        if all {
            return bodies;
        }
        assert!(
            Instant::now() < deadline,
            "not every scrape has {want:?}: {bodies:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn every_monitor_serves_metrics_and_health_through_a_failover() {
    rt().block_on(async {
        let ports = free_ports(3).await;
        let mut next = ports.iter();
        let c = MonCluster::start_tuned(
            3,
            |_| {},
            |text| {
                text.lines()
                    .map(|l| {
                        if l.starts_with("raft_port ") {
                            format!("{l}\nhttp_port {}\n", next.next().expect("port"))
                        } else {
                            format!("{l}\n")
                        }
                    })
                    .collect()
            },
        )
        .await;
        let addrs: Vec<SocketAddr> = ports
            .iter()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], *p)))
            .collect();
        c.bring_online().await;
        let online = [
            r#"mmm_monitor_host_state{host="db1",state="ONLINE"} 1"#,
            r#"mmm_monitor_host_role{host="db1",role="writer",ip="10.213.7.100"} 1"#,
            r#"mmm_monitor_mode{mode="ACTIVE"} 1"#,
        ];
        let bodies = wait_scrapes(&addrs, &online).await;
        let leaders = bodies
            .iter()
            .filter(|b| b.lines().any(|l| l == "mmm_monitor_raft_is_leader 1"))
            .count();
        assert_eq!(leaders, 1, "{bodies:#?}");

        let down = "ERROR: Connect error (host = 127.0.0.1:3306, user = monitor)! down";
        for id in 1..=3 {
            c.overrides
                .lock()
                .expect("lock")
                .insert((id, "db1".into(), CheckKind::Mysql), down.to_owned());
        }
        let failed = [
            r#"mmm_monitor_host_state{host="db1",state="HARD_OFFLINE"} 1"#,
            r#"mmm_monitor_host_state{host="db1",state="ONLINE"} 0"#,
            r#"mmm_monitor_host_role{host="db2",role="writer",ip="10.213.7.100"} 1"#,
            r#"mmm_monitor_check_ok{host="db1",check="mysql"} 0"#,
        ];
        let bodies = wait_scrapes(&addrs, &failed).await;
        for b in &bodies {
            assert!(!b.contains(r#"mmm_monitor_host_role{host="db1""#), "{b}");
        }

        // The leader counts its pushes to db2 and the tables the other monitors send it.
        let deadline = Instant::now() + Duration::from_secs(10);
        let leader = loop {
            let leader = c.wait_leader(Duration::from_secs(5)).await;
            let (_, body) = get(addrs[leader as usize - 1], "/metrics").await;
            if leader_counted(&body, leader) {
                break leader;
            }
            assert!(
                Instant::now() < deadline,
                "the leader's counters stay short:\n{body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let (status, body) = get(addrs[leader as usize - 1], "/health").await;
        assert_eq!(status, 200, "{body}");
        let h: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(h["monitor"], format!("mon{leader}"));
        assert_eq!(h["raft"]["state"], "Leader");
        assert_eq!(h["hosts"][0]["state"], "HARD_OFFLINE");
        assert_eq!(h["hosts"][0]["checks"]["mysql"]["message"], down);
        // The status page: its files, and the document its script draws from.
        let (status, page) = get(addrs[0], "/").await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("<title>mmm cluster status</title>"), "{page}");
        let (status, script) = get(addrs[0], "/status.js").await;
        assert_eq!(status, 200, "{script}");
        assert!(script.contains(r#"fetch("/status""#), "{script}");
        let (status, body) = get(addrs[0], "/status").await;
        assert_eq!(status, 200, "{body}");
        let doc: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(doc["monitor"], "mon1");
        assert_eq!(doc["hosts"][0]["state"], "HARD_OFFLINE", "{body}");
        assert_eq!(doc["raft"]["members"].as_array().map(Vec::len), Some(3));
        let show = doc["show"].as_str().unwrap_or_default();
        assert!(show.contains("master/HARD_OFFLINE. Roles: \n"), "{show}");
        let (status, body) = get(addrs[0], "/nope").await;
        assert_eq!(status, 404, "{body}");
        assert!(body.contains("/metrics, /health"), "{body}");
        c.shutdown().await;
    });
}

/// Whether the leader `leader`'s scrape counts pushes to db2 (each one timed) and tables from
/// both other monitors.
fn leader_counted(body: &str, leader: u64) -> bool {
    let count = |series: &str| {
        body.lines()
            .find_map(|l| {
                l.strip_prefix(series)?
                    .strip_prefix(' ')?
                    .parse::<f64>()
                    .ok()
            })
            .unwrap_or(0.0)
    };
    let pushes =
        count(r#"mmm_monitor_agent_calls_total{host="db2",call="set_status",outcome="ok"}"#);
    let timed =
        count(r#"mmm_monitor_agent_call_duration_seconds_count{host="db2",call="set_status"}"#);
    let tables = (1..=3).filter(|m| *m != leader).all(|m| {
        count(&format!(
            r#"mmm_monitor_observations_received_total{{monitor="mon{m}"}}"#
        )) >= 1.0
    });
    pushes >= 2.0 && timed >= pushes && tables
}
