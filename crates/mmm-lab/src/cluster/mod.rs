//! The whole system in the lab: the seeds' topology (db1⇄db2 masters, slaves of db1) with a real
//! `mmm-agentd` on every database host, N real `mmm-mond` processes each in its own namespace
//! (`mon1` = 10.213.7.21, …), and a `client` namespace (10.213.7.50) for `mmmctl` and the
//! application. One launcher shared by the monitor's lab tests, end-to-end tests, the chaos suite
//! and the `mmm-lab demo` binary.
//!
//! The caller names the binaries ([`Binaries`]); the cluster writes one config file per daemon
//! (the lab's `mmm_common.conf` text plus `<check default>`, `<monitor>` and `<monitor monN>`
//! sections with the [`Timings`], then `this`/`this_monitor`), starts, stops, kills and restarts
//! daemons by name, runs `mmmctl` inside the client namespace, and tears everything down on drop
//! (daemons by pid, then the servers, then the lab's namespaces by name).

use std::fmt::Write as _;
use std::future::Future;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};
use crate::host::Host;
use crate::lab::{CLIENT_OCTET, Lab, MONITOR_OCTET_BASE, lab_ip};
use crate::mmm_config::{MmmConfig, WRITER_VIP_OCTET};
use crate::process::{LabProcess, output_with_deadline};
use crate::topology::Topology;
use crate::workload::{Outcome, Target, execute};

mod configs;
mod options;

pub use options::{Binaries, ClusterOptions, MAX_MONITORS, MAX_SLAVES, Timings, results_path};

/// Name of the client host (namespace `<prefix>-client`) that runs `mmmctl` and application SQL.
pub const CLIENT_HOST: &str = "client";
/// How long one `mmmctl` run may take before it is killed.
const MMMCTL_DEADLINE: Duration = Duration::from_secs(30);
/// How long [`Cluster::stop`] waits after SIGTERM before it kills.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Deadline of one application connection or statement.
const APP_TIMEOUT: Duration = Duration::from_secs(3);
/// Each daemon's output file inside its host's directory.
const LOG_FILE: &str = "daemon.log";

/// Whether a daemon is an agent or a monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonKind {
    /// `mmm-agentd` on a database host.
    Agent,
    /// `mmm-mond` on a monitor host.
    Monitor,
}

/// One daemon slot: where it runs and, while started, its process.
#[derive(Debug)]
struct Daemon {
    name: String,
    kind: DaemonKind,
    host: Host,
    process: Option<LabProcess>,
}

/// A running cluster. Field order is teardown order: daemons, then servers, then namespaces.
#[derive(Debug)]
pub struct Cluster {
    daemons: Vec<Daemon>,
    topo: Topology,
    client: Host,
    opts: ClusterOptions,
    config: MmmConfig,
    lab: Lab,
}

impl Cluster {
    /// Builds the lab, starts the seeds' topology's servers, then an agent per database host and
    /// every monitor. Returns once the processes run (see [`Cluster::bring_online`] for the
    /// cluster to take roles). Needs root.
    pub fn launch(opts: ClusterOptions) -> Result<Self> {
        opts.validate()?;
        let lab = Lab::new_unique(&opts.tag)?;
        let topo = on_runtime_thread(start_topology(&lab, &opts))??;
        let client = lab.add_host(CLIENT_HOST, CLIENT_OCTET)?;
        let mut daemons: Vec<Daemon> = topo
            .nodes
            .iter()
            .map(|n| Daemon {
                name: n.host.name().to_owned(),
                kind: DaemonKind::Agent,
                host: n.host.clone(),
                process: None,
            })
            .collect();
        for i in 1..=opts.monitors {
            let name = format!("mon{i}");
            let octet = u8::try_from(i)
                .ok()
                .and_then(|i| MONITOR_OCTET_BASE.checked_add(i))
                .ok_or_else(|| LabError::Unsupported(format!("monitor {name} has no address")))?;
            let host = lab.add_host(&name, octet)?;
            daemons.push(Daemon {
                name,
                kind: DaemonKind::Monitor,
                host,
                process: None,
            });
        }
        let mut config = MmmConfig::for_topology(&topo, lab.dir());
        if let Some(layout) = &opts.roles {
            config.set_roles(layout)?;
        }
        config.vip_less = opts.vip_less;
        let mut cluster = Self {
            daemons,
            topo,
            client,
            opts,
            config,
            lab,
        };
        if let Some(dir) = cluster.tls_dir() {
            cluster.make_certificates(&dir)?;
        }
        cluster.write_configs()?;
        let names: Vec<String> = cluster.daemons.iter().map(|d| d.name.clone()).collect();
        for name in names {
            cluster.spawn_daemon(&name)?;
        }
        tracing::info!(prefix = cluster.lab.prefix(), "lab cluster started");
        Ok(cluster)
    }

    /// Sends `signal` (e.g. `libc::SIGHUP`) to daemon `name`; fails if it is not running.
    pub fn signal(&mut self, name: &str, signal: i32) -> Result<()> {
        match self.daemon_mut(name)?.process.as_mut() {
            Some(p) => p.kill(signal),
            None => Err(LabError::Unsupported(format!("{name} is not running"))),
        }
    }

    fn daemon_config_path(&self, d: &Daemon) -> PathBuf {
        let file = match d.kind {
            DaemonKind::Agent => "mmm_agent.conf",
            DaemonKind::Monitor => "mmm_mon.conf",
        };
        d.host.dir().join(file)
    }

    fn daemons_of(&self, kind: DaemonKind) -> impl Iterator<Item = &Daemon> {
        self.daemons.iter().filter(move |d| d.kind == kind)
    }

    fn daemon(&self, name: &str) -> Result<&Daemon> {
        self.daemons
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| unknown(name))
    }

    fn daemon_mut(&mut self, name: &str) -> Result<&mut Daemon> {
        self.daemons
            .iter_mut()
            .find(|d| d.name == name)
            .ok_or_else(|| unknown(name))
    }

    fn spawn_daemon(&mut self, name: &str) -> Result<()> {
        let d = self.daemon(name)?;
        let config = self.daemon_config_path(d);
        let config = path_arg(&config)?;
        let dir = d.host.dir().to_path_buf();
        let log = dir.join(LOG_FILE);
        let process = match d.kind {
            DaemonKind::Agent => {
                let state = dir.join("state");
                let pid_file = dir.join("agentd.pid");
                let io_ms = self.opts.timings.agent_io_timeout.as_millis().to_string();
                let mut args = vec![
                    "--config",
                    config,
                    "--state-dir",
                    path_arg(&state)?,
                    "--pid-file",
                    path_arg(&pid_file)?,
                    "--io-timeout-ms",
                    &io_ms,
                ];
                args.extend(self.opts.log_json.then_some("--log-json"));
                d.host.spawn(
                    &self.opts.binaries.agentd,
                    &args,
                    &[("RUST_LOG", &self.opts.agent_log_filter)],
                    &log,
                )?
            }
            DaemonKind::Monitor => {
                let mut args = vec!["--config", config];
                args.extend(self.opts.log_json.then_some("--log-json"));
                d.host.spawn(
                    &self.opts.binaries.mond,
                    &args,
                    &[("RUST_LOG", &self.opts.monitor_log_filter)],
                    &log,
                )?
            }
        };
        tracing::debug!(daemon = name, pid = process.pid(), "lab daemon started");
        self.daemon_mut(name)?.process = Some(process);
        Ok(())
    }

    /// Starts the agent (`db1`…) or monitor (`mon1`…) called `name`; fails if it is running.
    pub fn start(&mut self, name: &str) -> Result<()> {
        if self.is_running(name)? {
            return Err(LabError::Unsupported(format!("{name} is already running")));
        }
        self.spawn_daemon(name)
    }

    /// Stops daemon `name` cleanly: SIGTERM, then SIGKILL if it has not exited within 10 s. A
    /// daemon that is not running is left alone.
    pub fn stop(&mut self, name: &str) -> Result<()> {
        let d = self.daemon_mut(name)?;
        if let Some(mut p) = d.process.take() {
            p.cont()?;
            p.kill(libc::SIGTERM)?;
            if p.wait_exit(STOP_GRACE)?.is_none() {
                tracing::warn!(daemon = name, "did not stop on SIGTERM; killing it");
                p.kill_and_wait()?;
            }
        }
        Ok(())
    }

    /// kill -9 of daemon `name` (reaped at once); a daemon that is not running is left alone.
    pub fn kill9(&mut self, name: &str) -> Result<()> {
        if let Some(mut p) = self.daemon_mut(name)?.process.take() {
            p.kill_and_wait()?;
        }
        Ok(())
    }

    /// Stops daemon `name` (see [`Cluster::stop`]) and starts it again with the same files.
    pub fn restart(&mut self, name: &str) -> Result<()> {
        self.stop(name)?;
        self.spawn_daemon(name)
    }

    /// Freezes daemon `name` (SIGSTOP), as a hung process would be; [`Cluster::resume`] undoes it.
    pub fn freeze(&mut self, name: &str) -> Result<()> {
        match self.daemon_mut(name)?.process.as_mut() {
            Some(p) => p.stop(),
            None => Err(LabError::Unsupported(format!("{name} is not running"))),
        }
    }

    /// Continues a daemon frozen by [`Cluster::freeze`] (SIGCONT).
    pub fn resume(&mut self, name: &str) -> Result<()> {
        match self.daemon_mut(name)?.process.as_mut() {
            Some(p) => p.cont(),
            None => Err(LabError::Unsupported(format!("{name} is not running"))),
        }
    }

    /// Powers database host `db` off as far as the others can tell: its bridge port drops
    /// everything at once (VIPs and ARP included), then its agent and its mysqld are killed with
    /// SIGKILL. Its VIPs stay on its interface, as on a machine that lost power;
    /// [`Cluster::power_on`] boots it again.
    pub fn power_off(&mut self, db: &str) -> Result<()> {
        let host = self.topo.host(db)?.clone();
        self.lab.isolate(&host)?;
        self.kill9(db)?;
        self.topo.db_mut(db)?.kill9()?;
        tracing::info!(host = db, "lab host powered off");
        Ok(())
    }

    /// Boots database host `db` after [`Cluster::power_off`]: its interface comes up without
    /// VIPs (addresses do not survive a reboot), mysqld starts on its datadir, the host rejoins
    /// the bridge and its agent starts.
    pub fn power_on(&mut self, db: &str) -> Result<()> {
        let host = self.topo.host(db)?.clone();
        let own = host.ip();
        let present = host.run(|| crate::ifaddrs::ipv4_addresses(host.interface()))?;
        let present = present.map_err(|e| LabError::io(format!("listing {db}'s addresses"), e))?;
        for ip in present.into_iter().filter(|ip| *ip != own) {
            host.netns()
                .ip(&["addr", "del", &format!("{ip}/32"), "dev", host.interface()])?;
        }
        let server = self.topo.db_mut(db)?;
        on_runtime_thread(server.start_again())??;
        self.lab.rejoin(&host)?;
        if !self.is_running(db)? {
            self.spawn_daemon(db)?;
        }
        tracing::info!(host = db, "lab host powered on");
        Ok(())
    }

    /// kill -9 of database host `host`'s mariadbd (a crash); a server that is down is left alone.
    pub fn kill_mysqld(&mut self, host: &str) -> Result<()> {
        self.topo.db_mut(host)?.kill9()
    }

    /// Clean shutdown of database host `host`'s mariadbd (see [`MariaDb::stop`]).
    ///
    /// [`MariaDb::stop`]: crate::MariaDb::stop
    pub fn stop_mysqld(&mut self, host: &str) -> Result<()> {
        self.topo.db_mut(host)?.stop()
    }

    /// Starts database host `host`'s mariadbd again on its datadir after a kill or stop, and
    /// waits until it answers; a running server is left alone.
    pub fn start_mysqld(&mut self, host: &str) -> Result<()> {
        let db = self.topo.db_mut(host)?;
        on_runtime_thread(db.start_again())?
    }

    /// Whether database host `host`'s mariadbd runs (false for an unknown host).
    pub fn mysqld_running(&mut self, host: &str) -> bool {
        self.topo.db_mut(host).is_ok_and(|db| db.is_running())
    }

    /// Whether daemon `name` has been started and not exited (an exited one is reaped).
    pub fn is_running(&mut self, name: &str) -> Result<bool> {
        Ok(self
            .daemon_mut(name)?
            .process
            .as_mut()
            .is_some_and(LabProcess::is_running))
    }

    /// The pid of daemon `name` while it runs (valid for `kill` from the root namespace).
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.daemon(name)
            .ok()
            .and_then(|d| d.process.as_ref().map(LabProcess::pid))
    }

    /// Whether `name` is an agent or a monitor.
    pub fn kind(&self, name: &str) -> Option<DaemonKind> {
        self.daemon(name).ok().map(|d| d.kind)
    }

    /// Names of the agents, which are the database hosts (`db1`, `db2`, `db3`, …).
    pub fn agent_names(&self) -> Vec<String> {
        self.names(DaemonKind::Agent)
    }

    /// Names of the monitors (`mon1`, `mon2`, …).
    pub fn monitor_names(&self) -> Vec<String> {
        self.names(DaemonKind::Monitor)
    }

    fn names(&self, kind: DaemonKind) -> Vec<String> {
        self.daemons_of(kind).map(|d| d.name.clone()).collect()
    }

    /// The lab host called `name`: a database host, a monitor host or [`CLIENT_HOST`].
    pub fn host(&self, name: &str) -> Option<Host> {
        self.lab.host(name)
    }

    /// The client host (runs `mmmctl`, application connections).
    pub fn client(&self) -> &Host {
        &self.client
    }

    /// The lab, for faults between hosts (`cut`, `isolate`, `netem`, …).
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// The database servers and their hosts.
    pub fn topology(&self) -> &Topology {
        &self.topo
    }

    /// Mutable access to the servers, for faults such as `db_mut("db1")?.kill9()`.
    pub fn topology_mut(&mut self) -> &mut Topology {
        &mut self.topo
    }

    /// The rendered `mmm_common.conf` model (hosts, VIPs).
    pub fn mmm_config(&self) -> &MmmConfig {
        &self.config
    }

    /// The writer role's VIP (10.213.7.100).
    pub fn writer_vip(&self) -> Ipv4Addr {
        lab_ip(WRITER_VIP_OCTET)
    }

    /// The options the cluster was started with.
    pub fn options(&self) -> &ClusterOptions {
        &self.opts
    }

    /// The config file daemon `name` runs with (`mmm_agent.conf` / `mmm_mon.conf` in its host's
    /// directory).
    pub fn config_path(&self, name: &str) -> Result<PathBuf> {
        Ok(self.daemon_config_path(self.daemon(name)?))
    }

    /// The monitor config `mmmctl` reads (lists every monitor's Control address).
    pub fn mmmctl_config_path(&self) -> PathBuf {
        self.client.dir().join("mmm_mon.conf")
    }

    /// The file receiving daemon `name`'s stdout and stderr.
    pub fn log_path(&self, name: &str) -> Result<PathBuf> {
        Ok(self.daemon(name)?.host.dir().join(LOG_FILE))
    }

    /// Everything daemon `name` logged so far (empty when unknown or nothing yet).
    pub fn log(&self, name: &str) -> String {
        self.log_path(name)
            .ok()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// The argument vector that runs `mmmctl args…` in the client namespace against the monitors
    /// (`ip netns exec <client-ns> <mmmctl> --config <file> args…`), for printing or running.
    pub fn mmmctl_argv(&self, args: &[&str]) -> Vec<String> {
        self.mmmctl_argv_with(&self.mmmctl_config_path(), args)
    }

    fn mmmctl_argv_with(&self, config: &Path, args: &[&str]) -> Vec<String> {
        let mut argv: Vec<String> = vec![
            "ip".into(),
            "netns".into(),
            "exec".into(),
            self.client.netns().name().to_owned(),
            self.opts.binaries.mmmctl.display().to_string(),
            "--config".into(),
            config.display().to_string(),
        ];
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        argv
    }

    /// Runs `mmmctl args…` inside the client namespace (30 s deadline) and returns its output.
    pub fn mmmctl(&self, args: &[&str]) -> Result<Output> {
        self.mmmctl_with_config(&self.mmmctl_config_path(), args)
    }

    /// [`Cluster::mmmctl`] reading another config file (e.g. with other certificates).
    pub fn mmmctl_with_config(&self, config: &Path, args: &[&str]) -> Result<Output> {
        let argv = self.mmmctl_argv_with(config, args);
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        output_with_deadline(
            command,
            &format!("mmmctl {}", args.join(" ")),
            MMMCTL_DEADLINE,
            None,
        )
    }

    /// Runs `mmmctl args…` and returns whether it succeeded and its stdout followed by stderr.
    pub fn mmmctl_text(&self, args: &[&str]) -> (bool, String) {
        match self.mmmctl(args) {
            Ok(out) => {
                let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
                text.push_str(&String::from_utf8_lossy(&out.stderr));
                (out.status.success(), text)
            }
            Err(e) => (false, e.to_string()),
        }
    }

    /// The monitor that currently leads, by `mmmctl --json cluster status`; `None` while there is
    /// no leader or no monitor answers.
    pub fn leader(&self) -> Option<String> {
        let out = self.mmmctl(&["--json", "cluster", "status"]).ok()?;
        if !out.status.success() {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let name = v.get("leader_name")?.as_str()?;
        self.daemons_of(DaemonKind::Monitor)
            .any(|d| d.name == name)
            .then(|| name.to_owned())
    }

    /// Waits for a leader, sets every database host online (`mmmctl set_online`), and waits until
    /// `mmmctl show` lists the writer VIP on a host; returns that `show` output.
    pub fn bring_online(&self, limit: Duration) -> Result<String> {
        let deadline = Instant::now() + limit;
        let left = || deadline.saturating_duration_since(Instant::now());
        self.wait_for("a leader monitor", left(), || self.leader().is_some())?;
        for db in self.agent_names() {
            self.wait_for(&format!("set_online {db}"), left(), || {
                let (ok, out) = self.mmmctl_text(&["set_online", &db]);
                ok && (out.contains("OK: State of") || out.contains("already ONLINE"))
            })?;
        }
        let mut show = String::new();
        self.wait_for("the writer role on a host", left(), || {
            let (ok, out) = self.mmmctl_text(&["show"]);
            let found = ok && writer_in_show(&out, self.writer_vip()).is_some();
            show = out;
            found
        })?;
        Ok(show)
    }

    /// Polls `cond` every 50 ms until it holds (returns how long that took) or `limit` passes (a
    /// [`LabError::Timeout`] whose text carries every daemon's log tail and `mmmctl show`).
    pub fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        mut cond: impl FnMut() -> bool,
    ) -> Result<Duration> {
        let start = Instant::now();
        loop {
            if cond() {
                return Ok(start.elapsed());
            }
            if start.elapsed() >= limit {
                return Err(LabError::Timeout {
                    what: format!("{what}\n{}", self.logs()),
                    timeout: limit,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last lines of every daemon's log and the current `mmmctl show`, for failure messages.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for d in self.daemons.iter().rev() {
            let lines = match d.kind {
                DaemonKind::Monitor => 60,
                DaemonKind::Agent => 30,
            };
            let kind = match d.kind {
                DaemonKind::Monitor => "monitor",
                DaemonKind::Agent => "agent",
            };
            let _ = writeln!(
                s,
                "--- {kind} {} ---\n{}",
                d.name,
                tail(&self.log(&d.name), lines)
            );
        }
        let _ = writeln!(s, "--- show ---\n{}", self.mmmctl_text(&["show"]).1);
        s
    }

    /// Whether `host` has `ip` as a /32 on its `eth0` (a VIP).
    pub fn has_ip(&self, host: &str, ip: &str) -> bool {
        self.lab
            .host(host)
            .and_then(|h| {
                h.exec("ip", &["-4", "-o", "addr", "show", "dev", "eth0"])
                    .ok()
            })
            .is_some_and(|out| out.contains(&format!("inet {ip}/32")))
    }

    /// Runs `sql` as the application user in the test database, from the client namespace over
    /// TCP to `ip` (a VIP or a host address), with a 3 s deadline per step (one
    /// [`crate::workload::execute`]).
    pub fn app_exec(&self, ip: &str, sql: &str) -> Result<()> {
        let addr: Ipv4Addr = ip
            .parse()
            .map_err(|_| LabError::Unsupported(format!("{ip:?} is not an IPv4 address")))?;
        let target = Target {
            connect_timeout: APP_TIMEOUT,
            statement_timeout: APP_TIMEOUT,
            ..Target::new(addr, self.config.mysql_port)
        };
        let record = self.client.block_on(execute(&target, sql))?;
        match record.outcome {
            Outcome::Ok(_) => Ok(()),
            Outcome::Failed(reason) | Outcome::Unknown(reason) => Err(LabError::Application {
                target: format!("{ip}:{}", target.port),
                sql: sql.to_owned(),
                reason,
            }),
        }
    }

    /// `Master_Host` of database host `db`'s replication, `None` without replication or when the
    /// server does not answer.
    pub fn master_host(&self, db: &str) -> Option<String> {
        let server = self.topo.db(db).ok()?;
        on_runtime_thread(crate::replication::slave_status(server))
            .ok()?
            .ok()
            .flatten()
            .map(|s| s.master_host().to_owned())
    }

    /// Stops every daemon cleanly (monitors first, then agents), for an orderly end; dropping the
    /// cluster afterwards removes the servers and namespaces.
    pub fn shutdown(&mut self) {
        let order: Vec<String> = self
            .monitor_names()
            .into_iter()
            .chain(self.agent_names())
            .collect();
        for name in order {
            if let Err(e) = self.stop(&name) {
                tracing::warn!(daemon = %name, error = %e, "could not stop a lab daemon");
            }
        }
    }
}

/// The `show` line's host that holds the writer VIP (`  db1(10.213.7.11) master/ONLINE. Roles:
/// …writer(10.213.7.100)…`), if any.
pub fn writer_in_show(show: &str, writer_vip: Ipv4Addr) -> Option<String> {
    let role = format!("writer({writer_vip})");
    show.lines()
        .filter(|l| l.contains(&role) && l.contains("Roles:"))
        .find_map(|l| l.trim_start().split('(').next().map(str::to_owned))
        .filter(|h| !h.is_empty())
}

/// The seeds' topology, semi-synchronous between the masters when asked (and then only returned
/// once db1 has its acker).
async fn start_topology(lab: &Lab, opts: &ClusterOptions) -> Result<Topology> {
    if !opts.semi_sync {
        return Topology::start(lab, &opts.topology).await;
    }
    let masters = crate::replication::semi_sync_config();
    let topo = Topology::start_with_masters(lab, &opts.topology, &[], &masters).await?;
    for db in ["db1", "db2"] {
        crate::replication::wait_semi_sync_on(topo.db(db)?, Duration::from_secs(20)).await?;
    }
    Ok(topo)
}

fn unknown(name: &str) -> LabError {
    LabError::Unsupported(format!("no agent or monitor called {name} in this cluster"))
}

fn path_arg(path: &Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| LabError::Unsupported(format!("path {} is not UTF-8", path.display())))
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs `fut` on a current-thread runtime on a fresh thread, so callers inside or outside a
/// tokio runtime can use it (children it spawns are forked by the lab's spawner thread, so they
/// outlive this thread).
fn on_runtime_thread<F>(fut: F) -> Result<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        let handle = scope.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(fut))
                .map_err(|e| LabError::io("building a tokio runtime", e))
        });
        match handle.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_is_found_in_show_output() {
        let vip = lab_ip(100);
        let show = "  db1(10.213.7.11) master/ONLINE. Roles: reader(10.213.7.101), writer(10.213.7.100)\n  db2(10.213.7.12) master/ONLINE. Roles: reader(10.213.7.102)\n";
        assert_eq!(writer_in_show(show, vip).as_deref(), Some("db1"));
        let none = "  db1(10.213.7.11) master/AWAITING_RECOVERY. Roles: \n";
        assert_eq!(writer_in_show(none, vip), None);
    }
}
