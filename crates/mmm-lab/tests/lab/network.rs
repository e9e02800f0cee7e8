//! Namespaces, the bridge, isolation from the root namespace, and running code inside a namespace.

use std::io::{Read, Write};
use std::time::Duration;

use super::common::{assert_namespaces_gone, lab};

#[test]
fn hosts_ping_over_the_bridge_and_the_root_namespace_has_no_lab_route() {
    let Some(lab) = lab() else { return };
    let a = lab.add_host("a", 1).expect("host a");
    let b = lab.add_host("b", 2).expect("host b");
    assert!(a.ping(b.ip()), "a cannot ping b");
    assert!(b.ping(a.ip()), "b cannot ping a");

    // The root namespace has neither an address nor a route in the lab subnet.
    let ip = |args: &[&str]| {
        let out = std::process::Command::new("ip")
            .args(args)
            .output()
            .expect("ip");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(ip(&["-4", "route", "show", "10.213.7.0/24"]).trim(), "");
    assert!(!ip(&["-4", "addr", "show"]).contains("10.213.7."));
    // Inside a host: only the lab subnet, no default route (nothing leaves the lab).
    let routes = a.exec("ip", &["-4", "route", "show"]).expect("routes in a");
    assert!(routes.contains("10.213.7.0/24 dev eth0"), "{routes}");
    assert!(
        !routes.contains("default"),
        "host has a default route: {routes}"
    );

    let names = lab.namespaces();
    assert_eq!(names.len(), 3);
    drop(lab);
    assert_namespaces_gone(&names);
}

#[test]
fn block_on_connects_to_a_listener_in_another_namespace() {
    let Some(lab) = lab() else { return };
    let a = lab.add_host("a", 1).expect("host a");
    let b = lab.add_host("b", 2).expect("host b");
    let b_ip = b.ip();
    // A socket belongs to the namespace it was created in, even after that thread ends.
    let listener = b
        .run(move || std::net::TcpListener::bind((b_ip, 7001)))
        .expect("enter b")
        .expect("bind in b");
    let server = std::thread::spawn(move || {
        let (mut stream, peer) = listener.accept().expect("accept");
        let mut buf = [0u8; 5];
        stream.read_exact(&mut buf).expect("read");
        stream.write_all(b"pong!").expect("write");
        (peer, buf)
    });
    let reply = a
        .block_on(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::time::timeout(
                Duration::from_secs(5),
                tokio::net::TcpStream::connect((b_ip, 7001)),
            )
            .await
            .expect("connect timeout")
            .expect("connect");
            s.write_all(b"ping!").await.expect("send");
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await.expect("recv");
            buf
        })
        .expect("enter a");
    let (peer, got) = server.join().expect("server thread");
    assert_eq!(&got, b"ping!");
    assert_eq!(&reply, b"pong!");
    assert_eq!(
        peer.ip(),
        std::net::IpAddr::V4(a.ip()),
        "connection did not come from a"
    );

    // The same listener address is not reachable from the root namespace's view: binding it there
    // fails because the address does not exist outside the lab.
    assert!(std::net::TcpListener::bind((b_ip, 7002)).is_err());
}

#[test]
fn spawned_processes_run_inside_the_host_and_die_with_their_handle() {
    let Some(lab) = lab() else { return };
    let a = lab.add_host("a", 1).expect("host a");
    let log = a.dir().join("sleep.log");
    let mut p = a
        .spawn(
            "/bin/sh",
            &[
                "-c",
                "ip -4 -o addr show dev eth0; echo $FOO; echo mac=$(cat /sys/class/net/eth0/address); exec sleep 60",
            ],
            &[("FOO", "bar")],
            &log,
        )
        .expect("spawn");
    let pid = p.pid();
    // `ip netns exec` enters the namespace and then execs the program under the same pid.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while !a.netns().pids().expect("pids").contains(&(pid as i32)) {
        assert!(
            std::time::Instant::now() < deadline,
            "{pid} never entered the namespace"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    p.stop().expect("sigstop");
    let state = || std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while !state().contains(") T ") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(state().contains(") T "), "not stopped: {}", state());
    p.cont().expect("sigcont");
    assert_eq!(p.wait_exit(Duration::from_millis(100)).expect("wait"), None);
    std::thread::sleep(Duration::from_millis(200));
    let out = std::fs::read_to_string(&log).expect("log");
    assert!(out.contains("10.213.7.1/24"), "{out}");
    assert!(out.contains("bar"), "{out}");
    // /sys shows the host's own interfaces (the root namespace has no such eth0 MAC).
    let link = a.netns().ip(&["-o", "link", "show", "eth0"]).expect("link");
    let mac = link
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .expect("mac")
        .to_owned();
    assert!(out.contains(&format!("mac={mac}")), "{out} vs {mac}");
    drop(p);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists() || {
            // A reused pid would belong to another namespace.
            !a.netns().pids().expect("pids").contains(&(pid as i32))
        }
    );
}
