//! Faults: mysqld kill -9 / SIGSTOP / restart, link cuts (both ways and one way), isolation,
//! netem (loss, delay, jitter, reordering).

use std::time::{Duration, Instant};

use mmm_lab::users::{MONITOR_PASSWORD, MONITOR_USER};
use mmm_lab::{Host, Lab, MariaDb, MariaDbOpts};
use mysql_async::prelude::Queryable;

use super::common::lab;

/// From `client`'s namespace: connect to `db` over TCP as the monitor and run `SELECT 1`, all
/// within `limit`. Ok(()) when it answered.
fn probe(client: &Host, db: &MariaDb, limit: Duration) -> Result<(), String> {
    let opts = db.tcp_opts(MONITOR_USER, MONITOR_PASSWORD);
    client
        .block_on(async move {
            let work = async {
                let mut c = mysql_async::Conn::new(opts)
                    .await
                    .map_err(|e| e.to_string())?;
                let one: Option<u8> = c.query_first("SELECT 1").await.map_err(|e| e.to_string())?;
                let _ = c.disconnect().await;
                if one == Some(1) {
                    Ok(())
                } else {
                    Err(format!("odd reply {one:?}"))
                }
            };
            match tokio::time::timeout(limit, work).await {
                Ok(r) => r,
                Err(_) => Err("timed out".to_owned()),
            }
        })
        .unwrap_or_else(|e| Err(e.to_string()))
}

async fn server(lab: &Lab) -> (Host, Host, MariaDb) {
    let h = lab.add_host("db1", 11).expect("db host");
    let client = lab.add_host("mon", 40).expect("client host");
    let db = MariaDb::start(MariaDbOpts::on_host(&h, 1))
        .await
        .expect("start");
    (h, client, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysqld_kill9_sigstop_and_restart() {
    let Some(lab) = lab() else { return };
    let (_h, client, mut db) = server(&lab).await;
    let short = Duration::from_millis(1500);
    probe(&client, &db, short).expect("answers at first");

    // SIGSTOP: the port stays open but nothing answers; SIGCONT brings it back.
    db.sigstop().expect("sigstop");
    let err = probe(&client, &db, short).expect_err("a stopped server answered");
    assert_eq!(err, "timed out");
    db.sigcont().expect("sigcont");
    probe(&client, &db, Duration::from_secs(5)).expect("answers after SIGCONT");

    // kill -9: connections are refused at once; starting again on the same datadir works and
    // keeps the data.
    db.exec("CREATE TABLE mmm_test.keep (id INT PRIMARY KEY)")
        .await
        .expect("create");
    db.exec("INSERT INTO mmm_test.keep VALUES (42)")
        .await
        .expect("insert");
    let old_pid = db.pid().expect("pid");
    db.kill9().expect("kill9");
    assert!(!db.is_running());
    assert!(!std::path::Path::new(&format!("/proc/{old_pid}")).exists());
    let err = probe(&client, &db, short).expect_err("a killed server answered");
    assert!(err.contains("refused"), "{err}");
    db.start_again().await.expect("start after crash");
    probe(&client, &db, Duration::from_secs(5)).expect("answers after crash recovery");
    assert_eq!(
        db.query_value("SELECT id FROM mmm_test.keep")
            .await
            .expect("q")
            .as_deref(),
        Some("42")
    );

    // Clean restart: a new process, uptime reset, data kept.
    let before = db.pid().expect("pid");
    db.restart().await.expect("restart");
    assert_ne!(db.pid().expect("pid"), before);
    let uptime: u64 = db
        .query_value("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'UPTIME'")
        .await
        .expect("q")
        .and_then(|v| v.parse().ok())
        .expect("uptime");
    assert!(uptime < 10, "uptime {uptime}");
    assert_eq!(
        db.query_value("SELECT id FROM mmm_test.keep")
            .await
            .expect("q")
            .as_deref(),
        Some("42")
    );
    assert_eq!(
        db.query_value("SELECT @@read_only")
            .await
            .expect("q")
            .as_deref(),
        Some("1")
    );

    // Clean stop: refused afterwards.
    db.stop().expect("stop");
    assert!(!db.is_running());
    assert!(probe(&client, &db, short).is_err());
}

/// How long a healed link may take to answer again (neighbour entries left INCOMPLETE by the
/// cut must time out first; see `Host::ping_within`).
const AFTER_HEAL: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_heal_isolate_and_netem() {
    let Some(lab) = lab() else { return };
    let (h, client, db) = server(&lab).await;
    let other = lab.add_host("db2", 12).expect("third host");
    let short = Duration::from_millis(1500);

    // cut(db1, mon): both directions drop, other links stay up.
    lab.cut(&h, &client).expect("cut");
    lab.cut(&client, &h).expect("cut again is a no-op");
    assert!(!client.ping(h.ip()));
    assert!(!h.ping(client.ip()));
    assert!(other.ping(h.ip()), "cut hit an unrelated link");
    // Either silence or "no route to host" once the neighbour entry has failed; never an answer.
    let err = probe(&client, &db, short).expect_err("answered across a cut");
    assert!(
        err == "timed out" || err.contains("No route to host"),
        "{err}"
    );
    // A VIP added on db1 is cut too (the cut is per link, not per address).
    h.exec("ip", &["addr", "add", "10.213.7.100/32", "dev", "eth0"])
        .expect("vip");
    assert!(!client.ping(mmm_lab::lab_ip(100)));
    assert!(other.ping(mmm_lab::lab_ip(100)));
    lab.heal(&client, &h).expect("heal");
    lab.heal(&client, &h).expect("heal again is a no-op");
    assert!(client.ping_within(h.ip(), AFTER_HEAL));
    assert!(client.ping_within(mmm_lab::lab_ip(100), AFTER_HEAL));
    probe(&client, &db, Duration::from_secs(5)).expect("answers after heal");

    // partition({db1}, {mon, db2}) and heal_all.
    lab.partition(&[&h], &[&client, &other]).expect("partition");
    assert!(!client.ping(h.ip()) && !other.ping(h.ip()));
    assert!(client.ping(other.ip()), "partition split a side");
    lab.heal_all().expect("heal all");
    assert!(client.ping_within(h.ip(), AFTER_HEAL) && other.ping_within(h.ip(), AFTER_HEAL));

    // isolate(db1): nobody reaches it; rejoin restores.
    lab.isolate(&h).expect("isolate");
    assert!(!client.ping(h.ip()));
    assert!(!other.ping(h.ip()));
    assert!(other.ping(client.ip()), "isolation hit other hosts");
    lab.rejoin(&h).expect("rejoin");
    assert!(client.ping_within(h.ip(), AFTER_HEAL));

    // Loss (nftables on db1's bridge port, egress only): 100 % drops everything db1 sends.
    lab.netem(&h, 0, 100.0).expect("loss");
    assert!(!client.ping(h.ip()), "100% loss still answered");
    lab.clear_netem(&h).expect("clear");
    lab.clear_netem(&h).expect("clear again is a no-op");
    assert!(client.ping_within(h.ip(), AFTER_HEAL), "loss not cleared");
    // 50 % loss on a burst of 40 pings: some but not all come back.
    lab.netem(&h, 0, 50.0).expect("partial loss");
    let out = client
        .exec(
            "ping",
            &[
                "-c",
                "40",
                "-i",
                "0.01",
                "-W",
                "1",
                "-n",
                "-q",
                &h.ip().to_string(),
            ],
        )
        .unwrap_or_else(|e| e.to_string());
    assert!(
        out.contains("40 packets transmitted") || out.contains("exit status: 1"),
        "{out}"
    );
    assert!(
        !out.contains(" 0% packet loss") && !out.contains(" 100% packet loss"),
        "{out}"
    );
    lab.clear_netem(&h).expect("clear");

    // Delay (tc netem, or the userspace delay line on kernels without it) shows up in round
    // trips, keeps TCP working, can be changed, combines with a cut, and clears.
    let rtt = |host: &Host, ip| {
        let start = Instant::now();
        assert!(host.ping(ip), "no ping reply");
        start.elapsed()
    };
    eprintln!("kernel netem: {}", lab.kernel_netem());
    lab.netem(&h, 300, 0.0).expect("delay");
    let slow = rtt(&client, h.ip());
    assert!(slow >= Duration::from_millis(300), "rtt {slow:?}");
    assert!(slow < Duration::from_millis(1000), "rtt {slow:?}");
    probe(&client, &db, Duration::from_secs(10)).expect("mysql works through the delay");
    let opts = db.tcp_opts(MONITOR_USER, MONITOR_PASSWORD);
    let big: usize = client
        .block_on(async move {
            let mut c = mysql_async::Conn::new(opts).await.expect("connect");
            let v: Option<String> = c
                .query_first("SELECT REPEAT('x', 1000000)")
                .await
                .expect("big reply");
            v.map_or(0, |v| v.len())
        })
        .expect("enter client");
    assert_eq!(big, 1_000_000, "large replies pass the delay intact");
    lab.netem(&h, 100, 0.0).expect("change delay");
    let mid = rtt(&client, h.ip());
    assert!(
        mid >= Duration::from_millis(100) && mid < Duration::from_millis(300),
        "rtt {mid:?}"
    );
    lab.cut(&h, &client).expect("cut while delayed");
    assert!(!client.ping(h.ip()));
    lab.heal(&h, &client).expect("heal");
    lab.clear_netem(&h).expect("clear delay");
    let fast = rtt(&client, h.ip());
    assert!(fast < Duration::from_millis(100), "rtt {fast:?}");
    probe(&client, &db, Duration::from_secs(5)).expect("mysql after clearing the delay");
    assert!(lab.netem(&h, 1, 150.0).is_err(), "loss over 100% accepted");
}

#[test]
fn cleanup_stale_removes_only_its_own_prefix() {
    if !super::common::root_or_skip() {
        return;
    }
    let prefix = format!("mmms-{}", std::process::id());
    let crashed = Lab::new(&prefix).expect("lab");
    let h = crashed.add_host("db1", 11).expect("host");
    let neighbour = Lab::new(&format!("{prefix}-9")).expect("neighbour lab");
    let names = crashed.namespaces();
    // Simulate a crash: the lab's drop never runs.
    std::mem::forget(crashed);
    assert!(mmm_lab::netns::exists(h.netns().name()).expect("list"));
    let dir = h.dir().parent().expect("lab dir").to_path_buf();
    assert!(dir.exists());
    let mut removed = Lab::cleanup_stale(&prefix).expect("cleanup");
    removed.sort();
    let mut expected = names.clone();
    expected.push(dir.display().to_string());
    expected.sort();
    assert_eq!(removed, expected);
    assert!(!dir.exists(), "stale lab directory left behind");
    assert!(
        mmm_lab::netns::exists(neighbour.bridge_netns().name()).expect("list"),
        "cleanup touched another prefix"
    );
    assert!(Lab::cleanup_stale("x").is_err());
    drop(neighbour);
}

/// Sends `n` numbered UDP datagrams from `from` to `to` (port 9) and returns the numbers `to`
/// received within a short wait, in arrival order.
fn udp_burst(from: &Host, to: &Host, n: u32) -> Vec<u32> {
    let listen = to
        .run(|| std::net::UdpSocket::bind((std::net::Ipv4Addr::UNSPECIFIED, 9)))
        .expect("enter")
        .expect("bind");
    listen
        .set_read_timeout(Some(Duration::from_millis(400)))
        .expect("timeout");
    let target = (to.ip(), 9);
    from.run(|| {
        let s = std::net::UdpSocket::bind((std::net::Ipv4Addr::UNSPECIFIED, 0)).expect("bind");
        for i in 0..n {
            let _ = s.send_to(&i.to_be_bytes(), target);
            std::thread::sleep(Duration::from_millis(2));
        }
    })
    .expect("enter");
    let mut got = Vec::new();
    let mut buf = [0u8; 4];
    while let Ok((4, _)) = listen.recv_from(&mut buf) {
        got.push(u32::from_be_bytes(buf));
    }
    got
}

#[test]
fn one_way_cuts_and_jittered_reordering_links() {
    let Some(lab) = lab() else { return };
    let a = lab.add_host("db1", 11).expect("a");
    let b = lab.add_host("db2", 12).expect("b");
    // Warm the neighbour entries both ways, so ARP is not what the cut tests.
    assert!(a.ping(b.ip()) && b.ping(a.ip()));
    assert_eq!(udp_burst(&a, &b, 5).len(), 5);

    // a → b dropped, b → a still delivered.
    lab.cut_one_way(&a, &b).expect("one-way cut");
    assert!(udp_burst(&a, &b, 5).is_empty(), "a still reaches b");
    assert_eq!(udp_burst(&b, &a, 5).len(), 5, "b no longer reaches a");
    assert!(!a.ping(b.ip()), "a round trip survived a one-way cut");
    lab.heal_one_way(&a, &b).expect("heal one way");
    lab.heal_one_way(&a, &b).expect("healing again is a no-op");
    assert_eq!(udp_burst(&a, &b, 5).len(), 5, "not healed");
    lab.cut_one_way(&b, &a).expect("other way");
    lab.heal_all().expect("heal_all clears one-way cuts too");
    assert_eq!(udp_burst(&b, &a, 5).len(), 5);

    // Delay with jitter and reordering: everything arrives, not in order.
    let shape = mmm_lab::Netem {
        delay: Duration::from_millis(40),
        jitter: Duration::from_millis(30),
        reorder_pct: 25.0,
        loss_pct: 0.0,
    };
    lab.shape(&a, &shape).expect("shape");
    let got = udp_burst(&a, &b, 100);
    assert_eq!(got.len(), 100, "{got:?}");
    assert!(
        got.windows(2).any(|w| w[0] > w[1]),
        "no reordering: {got:?}"
    );
    lab.clear_netem(&a).expect("clear");
    let got = udp_burst(&a, &b, 50);
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "still reordering: {got:?}"
    );
    assert!(
        lab.shape(
            &a,
            &mmm_lab::Netem {
                reorder_pct: 5.0,
                ..Default::default()
            }
        )
        .is_err()
    );
}
