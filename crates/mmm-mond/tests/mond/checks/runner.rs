//! The runner: startup round, cadence with a frozen host, network gating.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mmm_core::checks::{CheckKind, CheckResult, Outcome};
use mmm_mond::checks::{CheckEvent, CheckRunner, hard_bound};
use tokio::sync::{mpsc, watch};

use super::{TIMEOUT, checks_config, loopback_db, target_for};

/// Collects events for `window`.
async fn collect(
    rx: &mut mpsc::Receiver<CheckEvent>,
    window: Duration,
) -> Vec<(Instant, CheckEvent)> {
    let deadline = tokio::time::Instant::now() + window;
    let mut out = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        out.push((Instant::now(), event));
    }
    out
}

fn largest_gap(times: &[Instant]) -> Duration {
    times
        .windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .max()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_host_times_out_while_others_keep_their_cadence() {
    let mut frozen = loopback_db("chk-frz", 121).await;
    let live = loopback_db("chk-liv", 122).await;
    let period = Duration::from_millis(200);
    // A frozen call lasts 2 s: far longer than any gap a live host may show.
    let timeout = Duration::from_secs(2);
    let runner = CheckRunner::new(
        vec![target_for(&frozen, "db1"), target_for(&live, "db2")],
        checks_config(period, timeout),
    )
    .with_kinds(&[CheckKind::Mysql, CheckKind::RepThreads]);
    frozen.sigstop().expect("SIGSTOP db1");
    let (tx, mut rx) = mpsc::channel(256);
    let handle = runner.spawn(tx);
    let events = collect(&mut rx, Duration::from_secs(6)).await;
    handle.shutdown().await;
    frozen.sigcont().expect("SIGCONT db1");

    let mut by_stream: BTreeMap<(String, CheckKind), Vec<(Instant, String)>> = BTreeMap::new();
    for (at, e) in events {
        by_stream
            .entry((e.host.clone(), e.kind))
            .or_default()
            .push((at, e.line));
    }
    let stream = |host: &str, kind| {
        by_stream
            .get(&(host.to_string(), kind))
            .cloned()
            .unwrap_or_default()
    };

    let db1 = stream("db1", CheckKind::Mysql);
    assert!(db1.len() >= 2, "db1 keeps being checked: {db1:?}");
    assert!(db1.iter().all(|(_, l)| l == "ERROR: Timeout"), "{db1:?}");
    let db1_times: Vec<Instant> = db1.iter().map(|(t, _)| *t).collect();
    assert!(
        largest_gap(&db1_times) <= hard_bound(timeout) + period + Duration::from_millis(400),
        "each frozen call ends on time: {:?}",
        largest_gap(&db1_times)
    );

    for kind in [CheckKind::Mysql, CheckKind::RepThreads] {
        let db2 = stream("db2", kind);
        assert!(
            db2.len() >= 10,
            "db2 {kind} keeps its cadence: {} results",
            db2.len()
        );
        let times: Vec<Instant> = db2.iter().map(|(t, _)| *t).collect();
        let gap = largest_gap(&times);
        assert!(
            gap < period + Duration::from_millis(600),
            "db2 {kind} gap {gap:?}"
        );
    }
    assert!(
        stream("db2", CheckKind::Mysql)
            .iter()
            .all(|(_, l)| l == "OK")
    );
    assert!(
        stream("db2", CheckKind::RepThreads)
            .iter()
            .all(|(_, l)| l == "ERROR: Replication is not set up")
    );
    let db1_threads = stream("db1", CheckKind::RepThreads);
    assert!(
        db1_threads
            .iter()
            .all(|(_, l)| CheckResult::parse(l).outcome == Outcome::Unknown),
        "{db1_threads:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_round_and_network_gate() {
    let db = loopback_db("chk-once", 123).await;
    let runner = CheckRunner::new(
        vec![target_for(&db, "db1")],
        checks_config(Duration::from_millis(100), TIMEOUT),
    );
    let once = runner.run_once().await;
    let lines: Vec<(CheckKind, String)> = once.iter().map(|e| (e.kind, e.line.clone())).collect();
    assert_eq!(
        lines,
        vec![
            (CheckKind::Ping, "OK".to_string()),
            (CheckKind::Mysql, "OK".to_string()),
            (
                CheckKind::RepThreads,
                "ERROR: Replication is not set up".to_string()
            ),
            (
                CheckKind::RepBacklog,
                "ERROR: Replication is not set up".to_string()
            ),
        ]
    );

    let (net_tx, net_rx) = watch::channel(false);
    let gated = runner.with_kinds(&[CheckKind::Mysql]).with_network(net_rx);
    let (tx, mut rx) = mpsc::channel(64);
    let handle = gated.spawn(tx);
    let silent = collect(&mut rx, Duration::from_millis(800)).await;
    assert!(silent.is_empty(), "no checks without network: {silent:?}");
    net_tx.send_replace(true);
    let flowing = collect(&mut rx, Duration::from_millis(800)).await;
    assert!(
        flowing.len() >= 3,
        "checks resume with the network: {flowing:?}"
    );
    net_tx.send_replace(false);
    tokio::time::sleep(Duration::from_millis(300)).await;
    while rx.try_recv().is_ok() {}
    let paused = collect(&mut rx, Duration::from_millis(600)).await;
    assert!(paused.is_empty(), "paused again: {paused:?}");
    handle.shutdown().await;
}
