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
    /// The writer role's single VIP (unused when [`MmmConfig::vip_less`] is set).
    pub writer_ip: Ipv4Addr,
    /// VIP-less mode: no VIP at all — the writer role has no `ips`, there is no reader role —
    /// and every agent serves its health endpoints on this `http_port`, which is how a load
    /// balancer finds the writer (`/writer`) and the replicas (`/replica`).
    pub vip_less: Option<u16>,
    /// Hosts that may hold the writer role, in the role's `hosts` order.
    pub writer_hosts: Vec<String>,
    /// The reader role's VIPs.
    pub reader_ips: Vec<Ipv4Addr>,
    /// Hosts that may hold reader VIPs, in the role's `hosts` order.
    pub reader_hosts: Vec<String>,
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
        let mut config = Self::hosts_of(topo, state_dir);
        config.writer_hosts = config
            .hosts
            .iter()
            .filter(|h| h.mode == NodeMode::Master)
            .map(|h| h.name.clone())
            .collect();
        config.reader_hosts = config.hosts.iter().map(|h| h.name.clone()).collect();
        config.reader_ips = reader_vips(config.hosts.len());
        config
    }

    /// Replaces the default roles with those of `layout` (e.g. the second seed report's readers
    /// on the slaves only). Fails, changing nothing, when the layout names a host the config
    /// lacks, has no writer host or reader host, or asks for no or too many reader VIPs.
    pub fn set_roles(&mut self, layout: &RoleLayout) -> Result<()> {
        for name in layout.writer_hosts.iter().chain(&layout.reader_hosts) {
            if !self.hosts.iter().any(|h| &h.name == name) {
                return Err(LabError::Unsupported(format!(
                    "role layout names host {name}, which the topology does not have"
                )));
            }
        }
        if layout.writer_hosts.is_empty() || layout.reader_hosts.is_empty() {
            return Err(LabError::Unsupported(
                "a role layout needs writer hosts and reader hosts".to_owned(),
            ));
        }
        if layout.reader_ips == 0 || layout.reader_ips > MAX_READER_VIPS {
            return Err(LabError::Unsupported(format!(
                "{} reader VIPs; a lab cluster has 1..={MAX_READER_VIPS}",
                layout.reader_ips
            )));
        }
        self.writer_hosts = layout.writer_hosts.clone();
        self.reader_hosts = layout.reader_hosts.clone();
        self.reader_ips = reader_vips(layout.reader_ips);
        Ok(())
    }

    /// The hosts of `topo` and the fixed settings, with no roles yet.
    fn hosts_of(topo: &Topology, state_dir: &Path) -> Self {
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
        Self {
            hosts,
            writer_ip: lab_ip(WRITER_VIP_OCTET),
            vip_less: None,
            writer_hosts: Vec::new(),
            reader_ips: Vec::new(),
            reader_hosts: Vec::new(),
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
        if let Some(port) = self.vip_less {
            kv(&mut s, "http_port", &port);
        }
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
        let _ = writeln!(s, "<role writer>");
        kv(&mut s, "hosts", &self.writer_hosts.join(", "));
        if self.vip_less.is_none() {
            kv(&mut s, "ips", &self.writer_ip);
        }
        kv(&mut s, "mode", &"exclusive");
        let _ = writeln!(s, "</role>\n");
        if self.vip_less.is_some() {
            return s;
        }
        let _ = writeln!(s, "<role reader>");
        kv(&mut s, "hosts", &self.reader_hosts.join(", "));
        let ips: Vec<String> = self.reader_ips.iter().map(Ipv4Addr::to_string).collect();
        kv(&mut s, "ips", &ips.join(", "));
        kv(&mut s, "mode", &"balanced");
        let _ = writeln!(s, "</role>");
        s
    }
}

/// Which hosts may hold the writer and reader roles and how many reader VIPs there are, for a
/// cluster laid out like a given `mmm_common.conf` rather than the lab's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleLayout {
    /// The writer role's `hosts`, in order.
    pub writer_hosts: Vec<String>,
    /// The reader role's `hosts`, in order.
    pub reader_hosts: Vec<String>,
    /// Number of reader VIPs (10.213.7.101, .102, …).
    pub reader_ips: usize,
}

/// Most reader VIPs (10.213.7.101 up to .254).
pub const MAX_READER_VIPS: usize = (254 - WRITER_VIP_OCTET) as usize;

/// `count` reader VIPs from 10.213.7.101 on.
fn reader_vips(count: usize) -> Vec<Ipv4Addr> {
    (1..=count)
        .filter_map(|i| u8::try_from(i).ok())
        .map(|i| lab_ip(WRITER_VIP_OCTET.saturating_add(i)))
        .collect()
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
            vip_less: None,
            writer_hosts: vec!["db1".into(), "db2".into()],
            reader_ips: vec![lab_ip(101), lab_ip(102), lab_ip(103)],
            reader_hosts: vec!["db1".into(), "db2".into(), "db3".into()],
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
    fn vip_less_drops_every_vip_and_turns_on_every_agents_http() {
        let mut config = sample();
        config.vip_less = Some(9996);
        let text = config.render();
        assert!(text.contains("<role writer>\n    hosts                   db1, db2\n    mode                    exclusive\n</role>"));
        assert!(text.contains("<host default>\n"));
        assert_eq!(
            text.matches("http_port               9996").count(),
            1,
            "{text}"
        );
        assert!(!text.contains("10.213.7.10"), "no VIP at all: {text}");
        assert!(!text.contains("<role reader>"));
    }

    #[test]
    fn a_role_layout_replaces_the_default_roles() {
        let mut config = sample();
        let seed2 = RoleLayout {
            writer_hosts: vec!["db2".into(), "db1".into()],
            reader_hosts: vec!["db3".into()],
            reader_ips: 2,
        };
        config.set_roles(&seed2).expect("valid layout");
        let text = config.render();
        assert!(text.contains("<role writer>\n    hosts                   db2, db1\n"));
        assert!(text.contains("<role reader>\n    hosts                   db3\n    ips                     10.213.7.101, 10.213.7.102\n"));
        for bad in [
            RoleLayout {
                writer_hosts: vec!["db9".into()],
                ..seed2.clone()
            },
            RoleLayout {
                writer_hosts: vec![],
                ..seed2.clone()
            },
            RoleLayout {
                reader_ips: 0,
                ..seed2.clone()
            },
            RoleLayout {
                reader_ips: MAX_READER_VIPS + 1,
                ..seed2.clone()
            },
        ] {
            let mut c = sample();
            assert!(c.set_roles(&bad).is_err(), "{bad:?}");
            assert_eq!(
                c.render(),
                sample().render(),
                "a refused layout changed the config"
            );
        }
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
