//! The endpoints over a real socket: status codes and bodies for good and bad requests.

use std::time::Duration;

use mmm_core::state::{HostState, RoleIp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::desired::Desired;

async fn serve(snap: Snapshot) -> (SocketAddr, watch::Sender<Snapshot>) {
    let (tx, rx) = watch::channel(snap);
    let facts = Facts {
        host: "db1".into(),
        writer_role: Some("writer".into()),
        ..Facts::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mmm_daemon::http::serve(listener, None, router(facts, rx)));
    (addr, tx)
}

/// Sends `request` and returns the status code and body.
async fn call(addr: SocketAddr, request: &str) -> (u16, String) {
    let io = async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        String::from_utf8_lossy(&out).into_owned()
    };
    let reply = tokio::time::timeout(Duration::from_secs(5), io)
        .await
        .unwrap();
    let code = reply[9..12].parse().unwrap();
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (code, body)
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    call(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
    .await
}

fn writer_snapshot() -> Snapshot {
    Snapshot {
        desired: Desired {
            state: HostState::Online,
            roles: vec![
                RoleIp::new("reader", "10.213.7.101".parse().unwrap()),
                RoleIp::new("writer", "10.213.7.100".parse().unwrap()),
            ],
            active_master: "db1".into(),
        },
        epoch: 3,
        lease_deadline: Some(crate::clock::now().plus(Duration::from_secs(60))),
        writer_synced: true,
        writable: Some(true),
        lag: Some(1),
        ..Snapshot::default()
    }
}

#[tokio::test]
async fn writer_follows_the_published_snapshot() {
    let (addr, tx) = serve(writer_snapshot()).await;
    assert_eq!(get(addr, "/writer").await, (200, "OK: writer\n".into()));
    tx.send_modify(|s| s.writable = Some(false));
    assert_eq!(get(addr, "/writer").await, (503, "NOT: writer\n".into()));
    tx.send_modify(|s| {
        s.writable = Some(true);
        s.lease_deadline = Some(crate::clock::now());
    });
    assert_eq!(get(addr, "/writer").await.0, 503, "lease ran out");
}

#[tokio::test]
async fn reader_checks_lag_and_rejects_bad_queries() {
    let (addr, _tx) = serve(writer_snapshot()).await;
    assert_eq!(get(addr, "/reader").await.0, 200);
    assert_eq!(get(addr, "/reader?max_lag=1").await.0, 200);
    assert_eq!(get(addr, "/reader?max_lag=0").await.0, 503);
    let (code, body) = get(addr, "/reader?max_lag=abc").await;
    assert_eq!(code, 400);
    assert!(body.contains("max_lag must be a whole number"), "{body}");
    assert_eq!(get(addr, "/reader?lag=2").await.0, 400);
}

#[tokio::test]
async fn replica_leaves_out_the_writer_and_rejects_bad_queries() {
    let (addr, tx) = serve(writer_snapshot()).await;
    assert_eq!(get(addr, "/replica").await, (503, "NOT: replica\n".into()));
    tx.send_modify(|s| s.desired.roles.retain(|r| r.role != "writer"));
    assert_eq!(get(addr, "/replica").await, (200, "OK: replica\n".into()));
    assert_eq!(get(addr, "/replica?max_lag=1").await.0, 200);
    assert_eq!(get(addr, "/replica?max_lag=0").await.0, 503);
    assert_eq!(get(addr, "/replica?lag=2").await.0, 400);
    tx.send_modify(|s| s.desired.state = HostState::HardOffline);
    assert_eq!(get(addr, "/replica").await.0, 503, "not ONLINE");
}

#[tokio::test]
async fn health_metrics_and_bad_requests() {
    let (addr, _tx) = serve(writer_snapshot()).await;
    let (code, body) = get(addr, "/health").await;
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["writer"], true);
    assert_eq!(v["epoch"], 3);
    let (code, body) = get(addr, "/metrics").await;
    assert_eq!(code, 200);
    assert!(body.contains("mmm_agent_writer_ready 1"), "{body}");
    assert_eq!(get(addr, "/nope").await.0, 404);
    let post = "POST /writer HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    assert_eq!(call(addr, post).await.0, 405);
    let huge = format!(
        "GET /writer HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(1 << 20)
    );
    assert_eq!(call(addr, &huge).await.0, 431);
    assert_eq!(get(addr, "/writer").await.0, 200, "server still answers");
}
