//! Mutual TLS from the config's `<socket>` section, with certificates made by `openssl`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use super::harness::{mmmctl, runtime};
use super::server::{Behaviour, ServerTls, Topology, start_with};

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed for the TLS test");
    assert!(
        status.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA.
fn make_pki(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend_from_slice(&ec);
    ca.extend_from_slice(&[
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=mmm test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    for (name, usage, san) in [
        ("server", "serverAuth", "subjectAltName=IP:127.0.0.1\n"),
        ("client", "clientAuth", ""),
    ] {
        let ext = format!("{name}.ext");
        std::fs::write(
            dir.join(&ext),
            format!("basicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n{san}"),
        )
        .expect("write ext");
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        let mut req = vec!["req"];
        req.extend_from_slice(&ec);
        req.extend_from_slice(&["-keyout", &key, "-out", &csr, "-subj", "/CN=mmm test"]);
        openssl(dir, &req);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
    }
}

#[test]
fn mutual_tls_from_the_socket_section() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    make_pki(d);
    let read = |f: &str| std::fs::read(d.join(f)).expect("read pem");
    let rt = runtime();
    let mon = start_with(
        &rt,
        Behaviour::Leader(Topology::Seed000),
        Some(ServerTls {
            cert: read("server.pem"),
            key: read("server.key"),
            client_ca: read("ca.pem"),
        }),
    );
    let conf = d.join("mmm_mon.conf");
    std::fs::write(
        &conf,
        format!(
            "active_master_role writer
<host db1>
    ip 192.168.1.186
    mode master
    peer db2
</host>
<host db2>
    ip 192.168.1.187
    mode master
    peer db1
</host>
<role writer>
    hosts db1, db2
    ips 192.168.1.200
    mode exclusive
</role>
<monitor>
    ip 127.0.0.1
    port {}
    pid_path /run/mmm.pid
    bin_path /usr/lib/mysql-mmm
    status_path /var/lib/mmm/status
    ping_ips 192.168.1.186
</monitor>
<socket>
    type ssl
    ca_file {d}/ca.pem
    cert_file {d}/client.pem
    key_file {d}/client.key
</socket>
",
            mon.addr.port(),
            d = d.display()
        ),
    )
    .expect("write config");
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).expect("chmod");

    let run = mmmctl(&["--config", conf.to_str().expect("utf-8"), "show"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("  db3(192.168.1.184) slave/ONLINE."),
        "{}",
        run.stdout
    );

    // Without the config's TLS settings the monitor is not reachable.
    let plain = mmmctl(&["--monitor", &mon.address(), "show"]);
    assert_eq!(plain.code, 3, "{}{}", plain.stdout, plain.stderr);
    assert_eq!(mon.calls().len(), 1);
}
