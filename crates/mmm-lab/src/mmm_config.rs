//! Rendering mysql-mmm style configuration (`mmm_common.conf`) for a lab topology, and writing
//! config files with the private mode MMM insists on.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{LabError, Result};
use crate::host::HOST_INTERFACE;
use crate::lab::lab_ip;
use crate::mariadb::NAMESPACE_MYSQL_PORT;
use crate::topology::{NodeMode, Topology};
use crate::users::{
    AGENT_PASSWORD, AGENT_USER, MONITOR_PASSWORD, MONITOR_USER, REPLICATION_PASSWORD,
    REPLICATION_USER,
};

/// Last octet of the writer VIP; reader VIPs follow it.
pub const WRITER_VIP_OCTET: u8 = 100;
/// MMM's default agent port.
pub const DEFAULT_AGENT_PORT: u16 = 9989;

/// One `<host NAME>` section.
#[derive(Debug, Clone)]
pub struct MmmHost {
    /// Section name (`db1`).
    pub name: String,
    /// `ip`.
    pub ip: Ipv4Addr,
    /// `mode`.
    pub mode: NodeMode,
    /// `peer` (masters).
    pub peer: Option<String>,
    /// `pid_path` of this host's agent.
    pub pid_path: PathBuf,
}

/// Everything `mmm_common.conf` says about a cluster.
#[derive(Debug, Clone)]
pub struct MmmConfig {
    /// Hosts in file order.
    pub hosts: Vec<MmmHost>,
    /// The writer role's single VIP.
    pub writer_ip: Ipv4Addr,
    /// The reader role's VIPs.
    pub reader_ips: Vec<Ipv4Addr>,
    /// `cluster_interface`.
    pub cluster_interface: String,
    /// `mysql_port`.
    pub mysql_port: u16,
    /// `agent_port`.
    pub agent_port: u16,
    /// `bin_path`.
    pub bin_path: PathBuf,
}

impl MmmConfig {
    /// The config for `topo`: writer VIP 10.213.7.100 on the masters, one reader VIP per host from
    /// 10.213.7.101 on all hosts, agent pid files under `state_dir/<host>/`.
    pub fn for_topology(topo: &Topology, state_dir: &Path) -> Self {
        let hosts: Vec<MmmHost> = topo
            .nodes
            .iter()
            .map(|n| MmmHost {
                name: n.host.name().to_owned(),
                ip: n.host.ip(),
                mode: n.mode,
                peer: n.peer.clone(),
                pid_path: state_dir.join(n.host.name()).join("mmm_agentd.pid"),
            })
            .collect();
        let reader_ips = (1..=hosts.len())
            .filter_map(|i| u8::try_from(i).ok())
            .map(|i| lab_ip(WRITER_VIP_OCTET.saturating_add(i)))
            .collect();
        Self {
            hosts,
            writer_ip: lab_ip(WRITER_VIP_OCTET),
            reader_ips,
            cluster_interface: HOST_INTERFACE.to_owned(),
            mysql_port: NAMESPACE_MYSQL_PORT,
            agent_port: DEFAULT_AGENT_PORT,
            bin_path: PathBuf::from("/usr/lib/mysql-mmm"),
        }
    }

    /// The `mmm_common.conf` text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "active_master_role      writer\n");
        let _ = writeln!(s, "<host default>");
        let kv = |s: &mut String, k: &str, v: &dyn std::fmt::Display| {
            let _ = writeln!(s, "    {k:<24}{v}");
        };
        kv(&mut s, "cluster_interface", &self.cluster_interface);
        kv(&mut s, "bin_path", &self.bin_path.display());
        kv(&mut s, "mysql_port", &self.mysql_port);
        kv(&mut s, "agent_port", &self.agent_port);
        kv(&mut s, "replication_user", &REPLICATION_USER);
        kv(&mut s, "replication_password", &REPLICATION_PASSWORD);
        kv(&mut s, "agent_user", &AGENT_USER);
        kv(&mut s, "agent_password", &AGENT_PASSWORD);
        kv(&mut s, "monitor_user", &MONITOR_USER);
        kv(&mut s, "monitor_password", &MONITOR_PASSWORD);
        let _ = writeln!(s, "</host>\n");
        for h in &self.hosts {
            let _ = writeln!(s, "<host {}>", h.name);
            kv(&mut s, "ip", &h.ip);
            let mode = match h.mode {
                NodeMode::Master => "master",
                NodeMode::Slave => "slave",
            };
            kv(&mut s, "mode", &mode);
            if let Some(peer) = &h.peer {
                kv(&mut s, "peer", peer);
            }
            kv(&mut s, "pid_path", &h.pid_path.display());
            let _ = writeln!(s, "</host>\n");
        }
        let join_names = |f: &dyn Fn(&MmmHost) -> bool| {
            self.hosts
                .iter()
                .filter(|h| f(h))
                .map(|h| h.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(s, "<role writer>");
        kv(
            &mut s,
            "hosts",
            &join_names(&|h| h.mode == NodeMode::Master),
        );
        kv(&mut s, "ips", &self.writer_ip);
        kv(&mut s, "mode", &"exclusive");
        let _ = writeln!(s, "</role>\n");
        let _ = writeln!(s, "<role reader>");
        kv(&mut s, "hosts", &join_names(&|_| true));
        let ips: Vec<String> = self.reader_ips.iter().map(Ipv4Addr::to_string).collect();
        kv(&mut s, "ips", &ips.join(", "));
        kv(&mut s, "mode", &"balanced");
        let _ = writeln!(s, "</role>");
        s
    }
}

/// Writes `text` to `path` readable and writable by the owner only (0600), as MMM requires for
/// files holding passwords; replaces an existing file.
pub fn write_private_file(path: &Path, text: &str) -> Result<()> {
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| LabError::io(format!("creating {}", path.display()), e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| LabError::io(format!("writing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MmmConfig {
        let host = |name: &str, octet, mode, peer: Option<&str>| MmmHost {
            name: name.to_owned(),
            ip: lab_ip(octet),
            mode,
            peer: peer.map(str::to_owned),
            pid_path: PathBuf::from(format!("/tmp/x/{name}/mmm_agentd.pid")),
        };
        MmmConfig {
            hosts: vec![
                host("db1", 11, NodeMode::Master, Some("db2")),
                host("db2", 12, NodeMode::Master, Some("db1")),
                host("db3", 13, NodeMode::Slave, None),
            ],
            writer_ip: lab_ip(100),
            reader_ips: vec![lab_ip(101), lab_ip(102), lab_ip(103)],
            cluster_interface: "eth0".into(),
            mysql_port: 3306,
            agent_port: 9989,
            bin_path: PathBuf::from("/usr/lib/mysql-mmm"),
        }
    }

    #[test]
    fn renders_the_seed_layout() {
        let text = sample().render();
        assert!(text.starts_with("active_master_role      writer\n"));
        assert!(text.contains("<host db1>\n    ip                      10.213.7.11\n    mode                    master\n    peer                    db2\n"));
        assert!(text.contains("<host db3>\n    ip                      10.213.7.13\n    mode                    slave\n"));
        assert!(text.contains("<role writer>\n    hosts                   db1, db2\n    ips                     10.213.7.100\n    mode                    exclusive\n</role>"));
        assert!(text.contains("    hosts                   db1, db2, db3\n    ips                     10.213.7.101, 10.213.7.102, 10.213.7.103\n    mode                    balanced\n"));
        assert_eq!(
            text.matches("<host ").count(),
            text.matches("</host>").count()
        );
    }

    #[test]
    fn private_files_are_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("mmm_common.conf");
        write_private_file(&p, "x\n").expect("write");
        write_private_file(&p, "y\n").expect("rewrite");
        let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "y\n");
    }
}
