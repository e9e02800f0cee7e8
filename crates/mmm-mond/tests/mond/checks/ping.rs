//! `ping` and the network self-check inside lab namespaces (ICMP never leaves them).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use mmm_lab::{Lab, lab_ip};
use mmm_mond::checks::{NetworkChecker, PING_TIMEOUT, ProbeMethod, check_ping, probe};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const LOCALHOST_V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

/// A lab with a monitor host and one database host.
fn lab_with(tag: &str) -> (Lab, mmm_lab::Host, mmm_lab::Host) {
    let lab = Lab::new_unique(tag).expect("create lab");
    let mon = lab.add_host("mon", 2).expect("add mon");
    let db1 = lab.add_host("db1", 11).expect("add db1");
    (lab, mon, db1)
}

#[test]
fn icmp_ping_answers_and_silence() {
    let (lab, mon, db1) = lab_with("mchkp");
    let db1_ip = IpAddr::V4(db1.ip());
    let nobody = IpAddr::V4(lab_ip(250));

    let (live, method, empty, local, empty_took, local_v6) = mon
        .block_on(async move {
            let (live, method) = probe(db1_ip, 1, PING_TIMEOUT).await;
            let started = Instant::now();
            let empty = check_ping(nobody, 1).await;
            let took = started.elapsed();
            let local = check_ping(LOCALHOST, 1).await;
            (
                live,
                method,
                empty,
                local,
                took,
                probe(LOCALHOST_V6, 1, PING_TIMEOUT).await,
            )
        })
        .expect("run in mon");
    assert!(live, "db1 answers");
    assert_eq!(method, ProbeMethod::Icmp, "root may open ICMP sockets");
    assert_eq!(empty, "ERROR: Could not ping 10.213.7.250");
    assert!(
        empty_took < PING_TIMEOUT + Duration::from_millis(300),
        "{empty_took:?}"
    );
    assert_eq!(local, "OK");
    assert_eq!(local_v6, (true, ProbeMethod::Icmp), "ICMPv6 echo to ::1");

    lab.cut(&mon, &db1).expect("cut mon from db1");
    let cut = mon
        .block_on(async move { check_ping(db1_ip, 1).await })
        .expect("run in mon");
    assert_eq!(cut, "ERROR: Could not ping 10.213.7.11");
    lab.heal(&mon, &db1).expect("heal");
    let healed = mon
        .block_on(async move { check_ping(db1_ip, 1).await })
        .expect("run in mon");
    assert_eq!(healed, "OK");
}

/// Removes CAP_NET_RAW from the calling thread's effective set (capabilities are per
/// thread), so this thread can open no ICMP socket while the process is unchanged.
fn drop_net_raw_on_this_thread() {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    const CAP_NET_RAW: u32 = 13;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: header and a two-element data array are what capget/capset expect for v3.
    let got = unsafe { libc::syscall(libc::SYS_capget, &raw mut header, data.as_mut_ptr()) };
    assert_eq!(got, 0, "capget");
    data[0].effective &= !(1 << CAP_NET_RAW);
    // SAFETY: as above; only this thread's effective set shrinks.
    let set = unsafe { libc::syscall(libc::SYS_capset, &raw mut header, data.as_ptr()) };
    assert_eq!(set, 0, "capset");
}

/// Runs `fut` inside `host`'s namespace on a thread without CAP_NET_RAW.
fn run_without_net_raw<F>(host: &mmm_lab::Host, fut: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    host.run(move || {
        drop_net_raw_on_this_thread();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(fut)
    })
    .expect("run in the namespace")
}

#[test]
fn unprivileged_datagram_icmp_where_ping_group_range_allows() {
    let (_lab, mon, db1) = lab_with("mchkd");
    // A per-namespace sysctl: only the lab's monitor namespace lets every group ping.
    mon.exec("sysctl", &["-w", "net.ipv4.ping_group_range=0 2147483647"])
        .expect("open ping_group_range in mon");
    let db1_ip = IpAddr::V4(db1.ip());
    let nobody = IpAddr::V4(lab_ip(253));
    let (live, empty, local_v6) = run_without_net_raw(&mon, async move {
        (
            probe(db1_ip, 1, PING_TIMEOUT).await,
            probe(nobody, 1, PING_TIMEOUT).await,
            probe(LOCALHOST_V6, 1, PING_TIMEOUT).await,
        )
    });
    assert_eq!(live, (true, ProbeMethod::Icmp));
    assert_eq!(empty, (false, ProbeMethod::Icmp));
    assert_eq!(local_v6, (true, ProbeMethod::Icmp));
}

#[test]
fn tcp_fallback_without_icmp_privilege() {
    let (lab, mon, db1) = lab_with("mchkt");
    let db1_ip = IpAddr::V4(db1.ip());
    let nobody = IpAddr::V4(lab_ip(251));
    let (live, empty) = mon
        .run(move || {
            drop_net_raw_on_this_thread();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                // Nothing listens on port 1 of db1: the refusal proves the host is there.
                (
                    probe(db1_ip, 1, PING_TIMEOUT).await,
                    check_ping(nobody, 1).await,
                )
            })
        })
        .expect("run in mon");
    assert_eq!(live, (true, ProbeMethod::Tcp));
    assert_eq!(empty, "ERROR: Could not ping 10.213.7.251");

    lab.cut(&mon, &db1).expect("cut");
    let cut = run_without_net_raw(&mon, probe(db1_ip, 1, PING_TIMEOUT));
    assert_eq!(cut, (false, ProbeMethod::Tcp));
}

#[test]
fn network_self_check_flips_when_ping_ips_are_cut_off() {
    let (lab, mon, db1) = lab_with("mchkn");
    // The first address has no host: the round goes on to the next one.
    let ping_ips = vec![IpAddr::V4(lab_ip(252)), IpAddr::V4(db1.ip())];
    let (verdict_tx, verdicts) = std_mpsc::channel::<bool>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let done = mon
        .netns()
        .spawn_future(async move {
            let checker =
                NetworkChecker::new(ping_ips, Duration::from_millis(200)).expect("checker");
            let handle = checker.spawn();
            let mut rx = handle.subscribe();
            let forward = async {
                loop {
                    if rx.changed().await.is_err() {
                        return;
                    }
                    let ok = *rx.borrow_and_update();
                    if verdict_tx.send(ok).is_err() {
                        return;
                    }
                }
            };
            tokio::select! {
                _ = stop_rx => {}
                () = forward => {}
            }
        })
        .expect("start the checker in mon");

    let wait_for = |want: bool, limit: Duration| -> Option<Duration> {
        let started = Instant::now();
        while let Some(left) = limit.checked_sub(started.elapsed()) {
            match verdicts.recv_timeout(left) {
                Ok(v) if v == want => return Some(started.elapsed()),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    };
    assert!(
        wait_for(true, Duration::from_secs(5)).is_some(),
        "reachable at first"
    );
    lab.cut(&mon, &db1).expect("cut");
    let down = wait_for(false, Duration::from_secs(5));
    assert!(down.is_some(), "unreachable once cut off");
    lab.heal(&mon, &db1).expect("heal");
    assert!(
        wait_for(true, Duration::from_secs(5)).is_some(),
        "reachable again"
    );

    let _ = stop_tx.send(());
    let _ = done.blocking_recv();
}
