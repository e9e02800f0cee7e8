//! From an MMM-format config to tracked reports: what the monitor's driver loop does with
//! the runner's stream (runner → `CheckResult::parse` → `Tracker`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mmm_core::checks::{CheckKind, CheckResult, Tracker};
use mmm_core::config::{Config, Program, load_str};
use mmm_core::log::LogLine;
use mmm_lab::MariaDb;
use mmm_mond::checks::{CheckEvent, CheckRunner, NetworkChecker};
use tokio::sync::mpsc;

use super::loopback_db;

fn config_for(db1: &MariaDb, db2: &MariaDb) -> Config {
    let text = format!(
        "active_master_role writer
<host default>
monitor_user mmm_monitor
monitor_password monitor-pass
</host>
<host db1>
ip 127.0.0.1
mysql_port {}
mode master
peer db2
</host>
<host db2>
ip 127.0.0.1
mysql_port {}
mode master
peer db1
</host>
<role writer>
hosts db1, db2
ips 10.213.7.100
mode exclusive
</role>
<check default>
check_period 0.2
trap_period 0.6
timeout 1
</check>
<monitor>
ip 127.0.0.1
pid_path /run/mmm/mond.pid
ping_ips 127.0.0.1
ping_interval 0.2
</monitor>
",
        db1.port(),
        db2.port()
    );
    load_str(&text, "mmm_mon.conf", Program::Monitor).expect("a valid monitor config")
}

/// What the driver loop keeps per (host, check): the tracker and every report it made.
#[derive(Default)]
struct Driver {
    trackers: BTreeMap<(String, CheckKind), Tracker>,
    reports: Vec<(String, CheckKind, bool, Instant)>,
    lines: Vec<LogLine>,
}

impl Driver {
    fn feed(&mut self, config: &Config, event: &CheckEvent, network_ok: bool) {
        let tracker = self
            .trackers
            .entry((event.host.clone(), event.kind))
            .or_default();
        let trap = event.kind.config(&config.checks).trap_period;
        let out = tracker.observe(
            &event.host,
            event.kind,
            &CheckResult::parse(&event.line),
            network_ok,
            trap,
            event.at,
        );
        if let Some(ok) = out.report {
            self.reports
                .push((event.host.clone(), event.kind, ok, Instant::now()));
        }
        self.lines.extend(out.lines);
    }

    fn last_report(&self, host: &str, kind: CheckKind) -> Option<bool> {
        self.reports
            .iter()
            .rev()
            .find(|(h, k, _, _)| h == host && *k == kind)
            .map(|(_, _, ok, _)| *ok)
    }
}

/// Feeds events until `done` holds or `limit` passes; true when `done` held.
async fn drive_until(
    rx: &mut mpsc::Receiver<CheckEvent>,
    driver: &mut Driver,
    config: &Config,
    network_ok: &tokio::sync::watch::Receiver<bool>,
    limit: Duration,
    done: impl Fn(&Driver) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while !done(driver) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(event)) => driver.feed(config, &event, *network_ok.borrow()),
            _ => return false,
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_server_is_reported_failed_at_the_first_refusal_and_ok_again() {
    let mut db1 = loopback_db("chk-drv1", 131).await;
    let db2 = loopback_db("chk-drv2", 132).await;
    let config = config_for(&db1, &db2);

    let network = NetworkChecker::from_config(&config)
        .expect("network self-check")
        .spawn();
    network.wait_until_reachable().await;
    let network_ok = network.subscribe();
    let runner = CheckRunner::from_config(&config)
        .expect("check targets")
        .with_kinds(&[CheckKind::Ping, CheckKind::Mysql])
        .with_network(network.subscribe());
    assert_eq!(runner.targets().len(), 2);

    let mut driver = Driver::default();
    for event in runner.run_once().await {
        driver.feed(&config, &event, true);
    }
    for host in ["db1", "db2"] {
        assert_eq!(driver.last_report(host, CheckKind::Ping), Some(true));
        assert_eq!(driver.last_report(host, CheckKind::Mysql), Some(true));
    }

    let (tx, mut rx) = mpsc::channel(256);
    let handle = runner.spawn(tx);
    db1.kill9().expect("kill -9 db1");
    let killed = Instant::now();
    let failed = drive_until(
        &mut rx,
        &mut driver,
        &config,
        &network_ok,
        Duration::from_secs(5),
        |d| d.last_report("db1", CheckKind::Mysql) == Some(false),
    )
    .await;
    assert!(failed, "db1's mysql check is reported failed");
    println!(
        "db1's mysql check failed {:?} after the kill",
        killed.elapsed()
    );
    let failure = driver
        .lines
        .iter()
        .find(|l| l.text.starts_with("Check 'mysql' on 'db1' has failed for "))
        .cloned()
        .expect("a failure line");
    // Nothing listens on db1's port any more: the first refused connect fails the check,
    // before a trap period (0.6 s) of errors has passed.
    let secs: f64 = failure
        .text
        .trim_start_matches("Check 'mysql' on 'db1' has failed for ")
        .split_once(" seconds! ")
        .and_then(|(n, _)| n.parse().ok())
        .expect("the failing streak's length");
    assert!(secs < 0.6, "the trap was waited out: {failure:?}");
    assert!(
        failure.text.contains(&format!(
            "Message: ERROR: Connect error (host = 127.0.0.1:{}, user = mmm_monitor)! \
             Connection refused",
            db1.port()
        )),
        "{failure:?}"
    );

    db1.start_again().await.expect("restart db1");
    let recovered = drive_until(
        &mut rx,
        &mut driver,
        &config,
        &network_ok,
        Duration::from_secs(5),
        |d| d.last_report("db1", CheckKind::Mysql) == Some(true),
    )
    .await;
    handle.shutdown().await;
    assert!(recovered, "db1's mysql check is reported ok again");
    assert!(
        driver
            .lines
            .iter()
            .any(|l| l.text == "Check 'mysql' on 'db1' is ok!")
    );
    assert!(
        driver
            .reports
            .iter()
            .filter(|(h, _, _, _)| h == "db2")
            .all(|(_, _, ok, _)| *ok),
        "db2 was never reported failed"
    );
}
