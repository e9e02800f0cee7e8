//! Mutual TLS on every hop over the real system: monitors, agents and mmmctl run with
//! certificates made by `deploy/tls/mmm-make-test-ca`. The cluster works over TLS (Raft,
//! observations, pushes to agents, mmmctl); a client whose certificate another CA signed is
//! refused by the Peer, Control and Agent services, and each daemon logs the refusal; after
//! the files are replaced with a new CA's and the daemons get SIGHUP, clients of the new CA
//! work and those of the old one are refused, with no daemon restarted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mmm_daemon::tls::{Tls, TlsFiles};
use mmm_lab::cluster::{Cluster, ClusterOptions};
use mmm_proto::pb;

const LIMIT: Duration = Duration::from_secs(60);

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/tls/mmm-make-test-ca")
}

fn start(tag: &str) -> Option<Cluster> {
    if !mmm_lab::lab_available(tag) {
        return None;
    }
    let mut opts = ClusterOptions::new(tag, super::lab::binaries());
    opts.tls_script = Some(script());
    let c = Cluster::launch(opts).expect("lab cluster");
    c.bring_online(LIMIT)
        .unwrap_or_else(|e| panic!("bring online over TLS: {e}\n{}", c.logs()));
    Some(c)
}

/// A copy of mmmctl's config whose `<socket>` files are `ca`, `cert` and `key`.
fn mmmctl_config(c: &Cluster, name: &str, ca: &Path, cert: &Path, key: &Path) -> PathBuf {
    let tls = c.tls_dir().expect("tls cluster");
    let text = std::fs::read_to_string(c.mmmctl_config_path()).expect("mmmctl config");
    let text = text
        .replace(
            &format!("ca_file {}/ca.crt", tls.display()),
            &format!("ca_file {}", ca.display()),
        )
        .replace(
            &format!("cert_file {}/client.crt", tls.display()),
            &format!("cert_file {}", cert.display()),
        )
        .replace(
            &format!("key_file {}/client.key", tls.display()),
            &format!("key_file {}", key.display()),
        );
    let path = c.client().dir().join(name);
    mmm_lab::mmm_config::write_private_file(&path, &text).expect("write config");
    path
}

fn mmmctl_ok(c: &Cluster, config: &Path, args: &[&str]) -> (bool, String) {
    let out = c.mmmctl_with_config(config, args).expect("run mmmctl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn wait_log(c: &Cluster, daemon: &str, needle: &str) {
    c.wait_for(&format!("{daemon} logs '{needle}'"), LIMIT, || {
        c.log(daemon).contains(needle)
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

/// Calls `Peer.Vote` on mon1 and `Agent.GetStatus` on db1 from the client host with `tls`;
/// returns both results' error texts (`None` when the call got through).
fn call_peer_and_agent(c: &Cluster, tls: Tls) -> (Option<String>, Option<String>) {
    let mon1 = c.host("mon1").expect("mon1").ip();
    let db1 = c.host("db1").expect("db1").ip();
    c.client()
        .block_on(async move {
            let endpoint = |addr: String| {
                tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                    .expect("endpoint")
                    .connect_timeout(Duration::from_secs(2))
                    .timeout(Duration::from_secs(2))
            };
            let peer = mmm_daemon::tls::lazy_channel(endpoint(format!("{mon1}:9990")), Some(&tls));
            let vote = pb::peer_client::PeerClient::new(peer)
                .vote(pb::RaftPayload::default())
                .await;
            let agent = mmm_daemon::tls::lazy_channel(endpoint(format!("{db1}:9989")), Some(&tls));
            let status = pb::agent_client::AgentClient::new(agent)
                .get_status(pb::GetStatusRequest {
                    host: "db1".to_owned(),
                })
                .await;
            (
                vote.err().map(|s| s.to_string()),
                status.err().map(|s| s.to_string()),
            )
        })
        .expect("client namespace")
}

fn files(ca: &Path, dir: &Path) -> TlsFiles {
    TlsFiles {
        ca: ca.to_path_buf(),
        cert: dir.join("client.crt"),
        key: dir.join("client.key"),
    }
}

#[test]
fn every_hop_refuses_a_client_certificate_of_another_ca() {
    let Some(c) = start("mmmtlsa") else { return };
    let tls = c.tls_dir().expect("tls dir");
    let foreign = c.lab().dir().join("foreign");
    c.make_certificates(&foreign).expect("a second CA");
    // The foreign client trusts the cluster's CA but presents a certificate the cluster's CA
    // did not sign: the servers must refuse it.
    let ca = tls.join("ca.crt");

    let conf = mmmctl_config(
        &c,
        "foreign.conf",
        &ca,
        &foreign.join("client.crt"),
        &foreign.join("client.key"),
    );
    let (ok, out) = mmmctl_ok(&c, &conf, &["show"]);
    assert!(
        !ok,
        "mmmctl with a foreign certificate got an answer:\n{out}"
    );
    let client_ip = c.client().ip();
    wait_log(
        &c,
        "mon1",
        &format!("Refused a connection to the Control service from {client_ip}:"),
    );

    let foreign_tls = Tls::load(files(&ca, &foreign)).expect("foreign client TLS");
    let (vote, status) = call_peer_and_agent(&c, foreign_tls);
    assert!(
        vote.is_some(),
        "Peer.Vote with a foreign certificate got through"
    );
    assert!(
        status.is_some(),
        "Agent.GetStatus with a foreign certificate got through"
    );
    wait_log(
        &c,
        "mon1",
        &format!("Refused a connection to the Peer service from {client_ip}:"),
    );
    wait_log(
        &c,
        "db1",
        &format!("Refused a connection to the Agent service from {client_ip}:"),
    );
    assert!(
        c.log("db1").contains("invalid peer certificate"),
        "{}",
        c.log("db1")
    );

    // The cluster's own client certificate still gets through every hop.
    let own = Tls::load(files(&ca, &tls)).expect("own client TLS");
    let (vote, status) = call_peer_and_agent(&c, own);
    assert!(
        status.is_none(),
        "GetStatus with the cluster's certificate: {status:?}"
    );
    // An empty vote request is refused by openraft, not by TLS: the call reached the node.
    assert!(
        vote.as_deref()
            .is_none_or(|e| !e.contains("transport") && !e.contains("certificate")),
        "{vote:?}"
    );
    let (ok, out) = c.mmmctl_text(&["show"]);
    assert!(ok, "{out}");
}

#[test]
fn sighup_reloads_certificates_without_a_restart() {
    let Some(mut c) = start("mmmtlsb") else {
        return;
    };
    let tls = c.tls_dir().expect("tls dir");
    let old = c.lab().dir().join("old");
    let next = c.lab().dir().join("next");
    copy_dir(&tls, &old);
    c.make_certificates(&next).expect("a new CA");
    copy_dir(&next, &tls);
    let names: Vec<String> = c
        .monitor_names()
        .into_iter()
        .chain(c.agent_names())
        .collect();
    let pids: Vec<Option<u32>> = names.iter().map(|n| c.pid(n)).collect();

    // mmmctl reads the new files at once; the daemons still use the old ones.
    let (ok, out) = c.mmmctl_text(&["show"]);
    assert!(
        !ok,
        "the daemons took the new certificates before SIGHUP:\n{out}"
    );

    for name in &names {
        c.signal(name, libc::SIGHUP).expect("SIGHUP");
    }
    for name in &names {
        wait_log(&c, name, "Reloaded TLS certificates");
    }
    c.wait_for("mmmctl with the new CA", LIMIT, || {
        c.mmmctl_text(&["show"]).0
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let old_conf = mmmctl_config(
        &c,
        "old.conf",
        &old.join("ca.crt"),
        &old.join("client.crt"),
        &old.join("client.key"),
    );
    let (ok, out) = mmmctl_ok(&c, &old_conf, &["show"]);
    assert!(
        !ok,
        "a client of the old CA got an answer after the reload:\n{out}"
    );
    let after: Vec<Option<u32>> = names.iter().map(|n| c.pid(n)).collect();
    assert_eq!(pids, after, "no daemon was restarted");

    // New connections between the daemons use the new certificates: a restarted agent is
    // reached by the leader again, and a restarted monitor rejoins Raft.
    c.restart("db3").expect("restart db3");
    c.restart("mon3").expect("restart mon3");
    c.wait_for("db3's agent reachable over the new TLS", LIMIT, || {
        let (ok, out) = c.mmmctl_text(&["show"]);
        ok && !out.contains("agent on host db3 is not reachable") && out.contains("db3(")
    })
    .unwrap_or_else(|e| panic!("{e}"));
    // mmmctl through mon3: it answers once it knows the leader (Raft from the leader over a
    // new connection) and forwards to it (Control between monitors).
    let mon3 = format!("{}:9988", c.host("mon3").expect("mon3").ip());
    c.wait_for("mon3 rejoined over the new TLS", LIMIT, || {
        c.mmmctl_text(&["--monitor", &mon3, "show"]).0
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}
