//! Carrying out an operator's [`Request`] against the demo's cluster: break a server, a daemon or
//! the network, and repair it again.

use std::fmt::Write as _;

use mmm_lab::cluster::{Cluster, DaemonKind};

use crate::control::{Reply, Request};

/// The network faults the operator applied and has not healed yet (for `status`).
#[derive(Debug, Default)]
pub struct Faults {
    network: Vec<String>,
}

impl Faults {
    /// Carries out `request`; the reply says what was done, or why nothing was.
    pub fn execute(&mut self, cluster: &mut Cluster, request: &Request) -> Reply {
        let result = match request {
            Request::KillMysqld { host } => kill_mysqld(cluster, host),
            Request::StopMysqld { host } => stop_mysqld(cluster, host),
            Request::StartMysqld { host } => start_mysqld(cluster, host),
            Request::KillDaemon { name } => kill_daemon(cluster, name),
            Request::StartDaemon { name } => start_daemon(cluster, name),
            Request::Cut { host, other } => self.cut(cluster, host, other.as_deref()),
            Request::Heal => self.heal(cluster),
            Request::Status => {
                let mut reply = Reply::ok(self.status(cluster));
                reply.mmmctl = cluster.mmmctl_argv(&[]);
                return reply;
            }
        };
        match result {
            Ok(text) => Reply::ok(format!("OK: {text}")),
            Err(text) => Reply::error(format!("ERROR: {text}")),
        }
    }

    fn cut(
        &mut self,
        cluster: &Cluster,
        host: &str,
        other: Option<&str>,
    ) -> Result<String, String> {
        let a = lab_host(cluster, host)?;
        let (done, fault) = match other {
            None => {
                cluster.lab().isolate(&a).map_err(|e| e.to_string())?;
                (
                    format!(
                        "{host} is cut off: all its traffic (VIPs and ARP included) is dropped until `heal`"
                    ),
                    format!("{host} cut off"),
                )
            }
            Some(other) => {
                let b = lab_host(cluster, other)?;
                if a.name() == b.name() {
                    return Err(format!("cannot cut {host} from itself"));
                }
                cluster.lab().cut(&a, &b).map_err(|e| e.to_string())?;
                (
                    format!("the link between {host} and {other} is cut until `heal`"),
                    format!("{host} <-> {other} cut"),
                )
            }
        };
        if !self.network.contains(&fault) {
            self.network.push(fault);
        }
        Ok(done)
    }

    /// Heals the network and starts every server and daemon that is down.
    fn heal(&mut self, cluster: &mut Cluster) -> Result<String, String> {
        let mut done = Vec::new();
        let mut failed = Vec::new();
        match cluster.lab().heal_all() {
            Ok(()) => {
                done.push("every link is up".to_owned());
                self.network.clear();
            }
            Err(e) => failed.push(format!("healing the network: {e}")),
        }
        for host in cluster.agent_names() {
            if !cluster.mysqld_running(&host) {
                match start_mysqld(cluster, &host) {
                    Ok(text) => done.push(text),
                    Err(text) => failed.push(text),
                }
            }
        }
        for name in daemon_names(cluster) {
            if !cluster.is_running(&name).unwrap_or(true) {
                match start_daemon(cluster, &name) {
                    Ok(text) => done.push(text),
                    Err(text) => failed.push(text),
                }
            }
        }
        if failed.is_empty() {
            Ok(done.join("; "))
        } else {
            Err(format!("{}; done: {}", failed.join("; "), done.join("; ")))
        }
    }

    /// Every host with its processes, and the network faults in force.
    fn status(&self, cluster: &mut Cluster) -> String {
        let mut s = format!(
            "lab {} (files in {})\n",
            cluster.lab().prefix(),
            cluster.lab().dir().display()
        );
        for host in cluster.lab().hosts() {
            let name = host.name().to_owned();
            let mut procs = Vec::new();
            if cluster.topology().db(&name).is_ok() {
                procs.push(match mysqld_pid(cluster, &name) {
                    Some(pid) => format!("mariadbd {pid} running"),
                    None => "mariadbd down".to_owned(),
                });
            }
            if let Some(kind) = cluster.kind(&name) {
                let running = cluster.is_running(&name).unwrap_or(false);
                procs.push(match (running, cluster.pid(&name)) {
                    (true, Some(pid)) => format!("{} {pid} running", program(kind)),
                    _ => format!("{} down", program(kind)),
                });
            }
            let _ = writeln!(s, "  {:<7} {:<13} {}", name, host.ip(), procs.join(", "));
        }
        if self.network.is_empty() {
            s.push_str("network: no cuts");
        } else {
            let _ = write!(s, "network: {}", self.network.join("; "));
        }
        s
    }
}

fn kill_mysqld(cluster: &mut Cluster, host: &str) -> Result<String, String> {
    let pid = running_mysqld(cluster, host)?;
    cluster.kill_mysqld(host).map_err(|e| e.to_string())?;
    Ok(format!("killed {host}'s mariadbd (pid {pid}) with SIGKILL"))
}

fn stop_mysqld(cluster: &mut Cluster, host: &str) -> Result<String, String> {
    let pid = running_mysqld(cluster, host)?;
    cluster.stop_mysqld(host).map_err(|e| e.to_string())?;
    Ok(format!("shut {host}'s mariadbd (pid {pid}) down cleanly"))
}

fn start_mysqld(cluster: &mut Cluster, host: &str) -> Result<String, String> {
    db_host(cluster, host)?;
    if let Some(pid) = mysqld_pid(cluster, host) {
        return Err(format!("{host}'s mariadbd already runs (pid {pid})"));
    }
    cluster
        .start_mysqld(host)
        .map_err(|e| format!("starting {host}'s mariadbd: {e}"))?;
    let pid = mysqld_pid(cluster, host).unwrap_or_default();
    Ok(format!(
        "started {host}'s mariadbd (pid {pid}) on its data; it answers"
    ))
}

fn kill_daemon(cluster: &mut Cluster, name: &str) -> Result<String, String> {
    let kind = daemon(cluster, name)?;
    let Some(pid) = cluster
        .pid(name)
        .filter(|_| cluster.is_running(name).unwrap_or(false))
    else {
        return Err(format!("{name}'s {} is not running", program(kind)));
    };
    cluster.kill9(name).map_err(|e| e.to_string())?;
    Ok(format!(
        "killed {name}'s {} (pid {pid}) with SIGKILL",
        program(kind)
    ))
}

fn start_daemon(cluster: &mut Cluster, name: &str) -> Result<String, String> {
    let kind = daemon(cluster, name)?;
    cluster
        .start(name)
        .map_err(|e| format!("starting {name}'s {}: {e}", program(kind)))?;
    let pid = cluster.pid(name).unwrap_or_default();
    Ok(format!("started {name}'s {} (pid {pid})", program(kind)))
}

/// The pid of `host`'s mariadbd, or why there is none.
fn running_mysqld(cluster: &mut Cluster, host: &str) -> Result<u32, String> {
    db_host(cluster, host)?;
    mysqld_pid(cluster, host).ok_or_else(|| format!("{host}'s mariadbd is not running"))
}

/// The pid of `host`'s mariadbd while it runs.
fn mysqld_pid(cluster: &mut Cluster, host: &str) -> Option<u32> {
    if cluster.mysqld_running(host) {
        cluster.topology().db(host).ok().and_then(|db| db.pid())
    } else {
        None
    }
}

fn db_host(cluster: &Cluster, host: &str) -> Result<(), String> {
    if cluster.topology().db(host).is_ok() {
        Ok(())
    } else {
        Err(format!(
            "no database host '{host}' in this demo (database hosts: {})",
            cluster.agent_names().join(", ")
        ))
    }
}

fn daemon(cluster: &Cluster, name: &str) -> Result<DaemonKind, String> {
    cluster.kind(name).ok_or_else(|| {
        format!(
            "no agent or monitor '{name}' in this demo (daemons: {})",
            daemon_names(cluster).join(", ")
        )
    })
}

fn lab_host(cluster: &Cluster, name: &str) -> Result<mmm_lab::Host, String> {
    cluster.host(name).ok_or_else(|| {
        let names: Vec<String> = cluster
            .lab()
            .hosts()
            .iter()
            .map(|h| h.name().to_owned())
            .collect();
        format!(
            "no host '{name}' in this demo (hosts: {})",
            names.join(", ")
        )
    })
}

fn daemon_names(cluster: &Cluster) -> Vec<String> {
    let mut names = cluster.agent_names();
    names.extend(cluster.monitor_names());
    names
}

/// The program a daemon runs.
pub fn program(kind: DaemonKind) -> &'static str {
    match kind {
        DaemonKind::Agent => "mmm-agentd",
        DaemonKind::Monitor => "mmm-mond",
    }
}
