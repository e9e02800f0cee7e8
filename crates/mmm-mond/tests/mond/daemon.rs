//! The mmm-mond binary with a classic single `<monitor>` config: a one-node cluster that
//! serves Control, and a clean SIGTERM.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mmm_core::state::HostState;
use mmm_proto::pb;
use mmm_proto::pb::control_client::ControlClient;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

fn classic_config(dir: &std::path::Path, port: u16, raft: u16) -> String {
    format!(
        "active_master_role writer\n<host default>\nmonitor_user monitor\nmonitor_password m\n</host>\n\
<host db1>\nip 127.0.0.1\nmode master\npeer db2\nagent_port {a1}\n</host>\n\
<host db2>\nip 127.0.0.1\nmode master\npeer db1\nagent_port {a2}\n</host>\n\
<role writer>\nhosts db1, db2\nips 10.213.7.100\nmode exclusive\n</role>\n\
<monitor>\nip 127.0.0.1\nport {port}\nraft_port {raft}\ndata_dir {d}/raft\npid_path {d}/mond.pid\nping_ips 127.0.0.1\n</monitor>\n",
        a1 = free_port(),
        a2 = free_port(),
        d = dir.display()
    )
}

/// Starts mmm-mond on `conf` with `args`, its stderr into `log`.
fn spawn(conf: &std::path::Path, log: &std::path::Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_mmm-mond"))
        .args(["--config", conf.to_str().expect("utf8")])
        .args(args)
        .env("RUST_LOG", "info,openraft=error")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("spawn mmm-mond")
}

/// `show` from the monitor's Control port once the startup vote is applied (15 s at most).
fn wait_for_show(port: u16, log: &std::path::Path) -> pb::ShowReply {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let attempt = async {
                let ch =
                    tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
                        .map_err(|e| e.to_string())?
                        .connect_timeout(Duration::from_millis(500))
                        .timeout(Duration::from_secs(2))
                        .connect()
                        .await
                        .map_err(|e| e.to_string())?;
                let s = ControlClient::new(ch)
                    .show(pb::ShowRequest { stale_ok: false })
                    .await
                    .map_err(|e| e.to_string())?
                    .into_inner();
                if s.hosts.iter().all(|h| state(h) != HostState::Unknown) {
                    Ok(s)
                } else {
                    Err("startup not applied yet".to_string())
                }
            };
            match attempt.await {
                Ok(s) => break s,
                Err(e) => {
                    let text = std::fs::read_to_string(log).unwrap_or_default();
                    assert!(Instant::now() < deadline, "no answer: {e}\n{text}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    })
}

/// Waits up to 10 s for a line containing `text` in the log file `log`.
fn wait_for_line(log: &std::path::Path, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let logged = std::fs::read_to_string(log).unwrap_or_default();
        if logged.lines().any(|l| l.contains(text)) {
            return;
        }
        assert!(Instant::now() < deadline, "no line {text:?} in:\n{logged}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits up to 10 s for `child` to exit.
fn wait_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            return st;
        }
        assert!(Instant::now() < deadline, "mmm-mond did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn classic_single_monitor_runs_as_a_one_node_cluster_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (port, raft) = (free_port(), free_port());
    let conf = dir.path().join("mmm_mon.conf");
    std::fs::write(&conf, classic_config(dir.path(), port, raft)).expect("write config");
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let log = dir.path().join("mond.log");
    let mut child = spawn(&conf, &log, &[]);
    let show = wait_for_show(port, &log);
    let pid_file = dir.path().join("mond.pid");
    let pid_text = std::fs::read_to_string(&pid_file).expect("pid file written");
    assert_eq!(pid_text.trim(), child.id().to_string());
    assert_eq!(show.mode, "ACTIVE");
    assert_eq!(show.hosts.len(), 2);
    // No agent answers: the vote leaves every host waiting for the admin. Nothing listens on
    // their MySQL port, so the main loop may already have failed them after the vote (a
    // refused connect fails the mysql check without a trap period).
    for h in &show.hosts {
        match state(h) {
            HostState::AwaitingRecovery => {}
            HostState::HardOffline => wait_for_line(
                &log,
                &format!(
                    "State of host '{}' changed from AWAITING_RECOVERY to HARD_OFFLINE",
                    h.name
                ),
            ),
            _ => panic!("the vote left {} in another state: {show:?}", h.name),
        }
    }

    // SIGHUP reloads certificates; without TLS it is logged and changes nothing.
    // SAFETY: kill sends a signal to the child we spawned.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGHUP) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("SIGHUP received: nothing to reload")
    {
        assert!(Instant::now() < deadline, "no SIGHUP line");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(wait_for_show(port, &log).hosts.len(), 2, "still serving");

    // SAFETY: kill sends SIGTERM to the child we spawned.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = wait_exit(&mut child);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "exit {status:?}\n{text}");
    assert!(text.contains("Signal received: exiting..."), "{text}");
    assert!(text.trim_end().ends_with(" INFO END"), "{text}");
    assert!(!pid_file.exists(), "pid file left behind");
    // mysql-mmm's layout: `yyyy/MM/dd HH:mm:ss LEVEL message`, FATAL for state changes.
    let starting = text
        .lines()
        .find(|l| l.ends_with("STARTING..."))
        .expect("STARTING line");
    let (date, rest) = starting.split_at(19);
    assert!(
        date.len() == 19 && date.as_bytes()[4] == b'/' && date.as_bytes()[13] == b':',
        "{starting}"
    );
    assert_eq!(rest, "  INFO STARTING...");
    assert!(
        text.contains("The status of the agent on host 'db1' could not be determined"),
        "{text}"
    );
}

#[test]
fn this_names_the_node_when_the_config_does_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (port, raft) = (free_port(), free_port());
    let classic = classic_config(dir.path(), port, raft);
    // The same node as a named <monitor mon1> section, with no this_monitor line.
    let shared = format!(
        "<monitor>\npid_path {d}/mond.pid\nping_ips 127.0.0.1\n</monitor>\n\
         <monitor mon1>\nip 127.0.0.1\nport {port}\nraft_port {raft}\ndata_dir {d}/raft\n</monitor>\n",
        d = dir.path().display()
    );
    let text = format!(
        "{}{shared}",
        &classic[..classic.find("<monitor>").expect("monitor")]
    );
    let conf = dir.path().join("mmm_mon.conf");
    std::fs::write(&conf, text).expect("write config");
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).expect("chmod");

    let log = dir.path().join("refused.log");
    let status = wait_exit(&mut spawn(&conf, &log, &[]));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!status.success(), "{text}");
    assert!(
        text.contains("Required config entry 'this_monitor' is missing"),
        "{text}"
    );

    let log = dir.path().join("mond.log");
    let mut child = spawn(&conf, &log, &["--this", "mon1"]);
    let show = wait_for_show(port, &log);
    assert_eq!(show.hosts.len(), 2);
    // SAFETY: kill sends SIGTERM to the child we spawned.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    assert!(wait_exit(&mut child).success());
}

/// The state a host view carries (a bad number fails the test).
fn state(h: &pb::HostView) -> HostState {
    mmm_proto::convert::state_from_wire(h.state).expect("host state")
}
