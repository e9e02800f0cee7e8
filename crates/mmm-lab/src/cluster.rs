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
use crate::mmm_config::{MmmConfig, RoleLayout, WRITER_VIP_OCTET, write_private_file};
use crate::process::{LabProcess, output_with_deadline};
use crate::topology::{Topology, TopologySpec};
use crate::workload::{Outcome, Target, execute};

/// Name of the client host (namespace `<prefix>-client`) that runs `mmmctl` and application SQL.
pub const CLIENT_HOST: &str = "client";
/// Most monitors a cluster can have (10.213.7.21 up to the client's .50).
pub const MAX_MONITORS: usize = (CLIENT_OCTET - MONITOR_OCTET_BASE - 1) as usize;
/// Most slaves (db3…db30; see [`crate::topology::db_octet`] for their addresses).
pub const MAX_SLAVES: usize = crate::topology::MAX_DB_HOSTS - 2;
/// How long one `mmmctl` run may take before it is killed.
const MMMCTL_DEADLINE: Duration = Duration::from_secs(30);
/// How long [`Cluster::stop`] waits after SIGTERM before it kills.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Deadline of one application connection or statement.
const APP_TIMEOUT: Duration = Duration::from_secs(3);
/// Each daemon's output file inside its host's directory.
const LOG_FILE: &str = "daemon.log";
/// How long the certificate script may take.
const TLS_SCRIPT_DEADLINE: Duration = Duration::from_secs(60);

/// Paths of the three programs the cluster runs; the caller builds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    /// `mmm-agentd`.
    pub agentd: PathBuf,
    /// `mmm-mond`.
    pub mond: PathBuf,
    /// `mmmctl`.
    pub mmmctl: PathBuf,
}

impl Binaries {
    /// The three programs inside `dir` (e.g. `target/debug`).
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            agentd: dir.join("mmm-agentd"),
            mond: dir.join("mmm-mond"),
            mmmctl: dir.join("mmmctl"),
        }
    }

    /// Fails with the list of programs that are not files.
    pub fn check(&self) -> Result<()> {
        let missing: Vec<String> = [&self.agentd, &self.mond, &self.mmmctl]
            .into_iter()
            .filter(|p| !p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(LabError::Unsupported(format!(
                "missing program(s): {} (build them with `cargo build --workspace --bins`)",
                missing.join(", ")
            )))
        }
    }
}

/// `<target>/<kind>/<unix seconds><suffix>`, where `<target>` is the cargo target directory
/// holding `exe_dir` (else `exe_dir` itself): where a lab program's run keeps its results, so
/// runs never overwrite each other.
pub fn results_path(exe_dir: &Path, kind: &str, suffix: &str) -> PathBuf {
    let target = exe_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "target"))
        .unwrap_or(exe_dir);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    target.join(kind).join(format!("{now}{suffix}"))
}

/// The cluster's timing knobs; the defaults are short so tests see failovers within seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Timings {
    /// `<check default> check_period`.
    pub check_period: Duration,
    /// `<check default> trap_period`.
    pub trap_period: Duration,
    /// `<check default> timeout`.
    pub check_timeout: Duration,
    /// `<monitor> agent_lease`: how long a writer stays writable without hearing the leader.
    pub agent_lease: Duration,
    /// `<monitor> status_interval`: how often the leader pushes status (and renews leases).
    pub status_interval: Duration,
    /// `<monitor> agent_timeout`: deadline of one agent call.
    pub agent_timeout: Duration,
    /// `<monitor> lease_margin`: extra wait before a lease counts as surely expired.
    pub lease_margin: Duration,
    /// `mmm-agentd --io-timeout-ms`: deadline of each MySQL and netlink call of the agents.
    pub agent_io_timeout: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            check_period: Duration::from_millis(200),
            trap_period: Duration::from_millis(800),
            check_timeout: Duration::from_secs(1),
            agent_lease: Duration::from_secs(2),
            status_interval: Duration::from_millis(300),
            agent_timeout: Duration::from_secs(1),
            lease_margin: Duration::from_millis(600),
            agent_io_timeout: Duration::from_secs(1),
        }
    }
}

/// What to launch. Start from [`ClusterOptions::new`] and adjust the public fields.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Lab tag: namespaces are `<tag>-<pid>-<n>-<host>`.
    pub tag: String,
    /// Number of monitors (`mon1`…); default 3.
    pub monitors: usize,
    /// Slaves and replication mode (GTID or binlog coordinates) of the seeds' topology.
    pub topology: TopologySpec,
    /// Which hosts hold which roles; `None` is the lab's default (writer on the masters, one
    /// reader VIP per host on every host).
    pub roles: Option<RoleLayout>,
    /// Check, lease and status timings.
    pub timings: Timings,
    /// The programs to run.
    pub binaries: Binaries,
    /// Extra configuration text appended to every daemon's file (before `this`).
    pub extra_config: String,
    /// `RUST_LOG` of the agents.
    pub agent_log_filter: String,
    /// `RUST_LOG` of the monitors.
    pub monitor_log_filter: String,
    /// The script that makes a test CA and per-host certificates (`deploy/tls/mmm-make-test-ca`);
    /// when set, the cluster makes a certificate for every daemon and for `mmmctl` and every hop
    /// uses mutual TLS (`<socket type ssl>`).
    pub tls_script: Option<PathBuf>,
    /// Semi-synchronous replication between the masters (each the other's acker, `AFTER_SYNC`,
    /// no fallback; see [`crate::replication::semi_sync_config`]); slaves stay asynchronous.
    pub semi_sync: bool,
    /// Run the daemons with `--log-json` (microsecond timestamps, for the benchmark's phase
    /// breakdown) instead of mysql-mmm's layout.
    pub log_json: bool,
    /// VIP-less mode: no writer VIP, every agent serving its health endpoints on this port
    /// (see [`MmmConfig::vip_less`]).
    pub vip_less: Option<u16>,
}

impl ClusterOptions {
    /// Three monitors, one slave, GTID replication, [`Timings::default`].
    pub fn new(tag: &str, binaries: Binaries) -> Self {
        Self {
            tag: tag.to_owned(),
            monitors: 3,
            topology: TopologySpec::default(),
            roles: None,
            timings: Timings::default(),
            binaries,
            extra_config: String::new(),
            agent_log_filter: "info".to_owned(),
            monitor_log_filter: "info,openraft=error".to_owned(),
            tls_script: None,
            semi_sync: false,
            log_json: false,
            vip_less: None,
        }
    }

    fn validate(&self) -> Result<()> {
        if self.monitors == 0 || self.monitors > MAX_MONITORS {
            return Err(LabError::Unsupported(format!(
                "{} monitors; a lab cluster has 1..={MAX_MONITORS}",
                self.monitors
            )));
        }
        if self.topology.slaves > MAX_SLAVES {
            return Err(LabError::Unsupported(format!(
                "{} slaves; a lab cluster has at most {MAX_SLAVES}",
                self.topology.slaves
            )));
        }
        if self.timings.status_interval >= self.timings.agent_lease {
            return Err(LabError::Unsupported(
                "status_interval must be shorter than agent_lease".to_owned(),
            ));
        }
        self.binaries.check()
    }
}

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

    /// The configuration every daemon shares: the topology's `mmm_common.conf`, checks, the
    /// monitor cluster (with `pid_path`, which each monitor needs for itself) and any extra text.
    fn render_common(&self, monitor_pid_path: &Path) -> String {
        let t = &self.opts.timings;
        let mut s = self.config.render();
        let _ = write!(
            s,
            "\n<check default>\n    check_period {}\n    trap_period {}\n    timeout {}\n</check>\n",
            secs(t.check_period),
            secs(t.trap_period),
            secs(t.check_timeout)
        );
        let ping_ips: Vec<String> = self.config.hosts.iter().map(|h| h.ip.to_string()).collect();
        let _ = write!(
            s,
            "\n<monitor>\n    pid_path {}\n    ping_ips {}\n    agent_lease {}\n    status_interval {}\n    agent_timeout {}\n    lease_margin {}\n</monitor>\n",
            monitor_pid_path.display(),
            ping_ips.join(", "),
            secs(t.agent_lease),
            secs(t.status_interval),
            secs(t.agent_timeout),
            secs(t.lease_margin)
        );
        for d in self.daemons_of(DaemonKind::Monitor) {
            let _ = write!(
                s,
                "\n<monitor {}>\n    ip {}\n    data_dir {}\n</monitor>\n",
                d.name,
                d.host.ip(),
                d.host.dir().join("raft").display()
            );
        }
        if !self.opts.extra_config.is_empty() {
            s.push('\n');
            s.push_str(&self.opts.extra_config);
            s.push('\n');
        }
        s
    }

    fn write_configs(&self) -> Result<()> {
        for d in &self.daemons {
            let (this, pid_dir) = match d.kind {
                DaemonKind::Agent => (format!("this {}", d.name), self.client.dir()),
                DaemonKind::Monitor => (format!("this_monitor {}", d.name), d.host.dir()),
            };
            let common = self.render_common(&pid_dir.join("mmm_mond.pid"));
            let socket = self.render_socket(&d.name);
            write_private_file(
                &self.daemon_config_path(d),
                &format!("{common}{socket}\n{this}\n"),
            )?;
        }
        let common = self.render_common(&self.client.dir().join("mmm_mond.pid"));
        let socket = self.render_socket(CLIENT_HOST);
        write_private_file(&self.mmmctl_config_path(), &format!("{common}{socket}"))
    }

    /// The `<socket>` section of `name`'s file: its own certificate when the cluster uses TLS.
    fn render_socket(&self, name: &str) -> String {
        match self.tls_dir() {
            None => String::new(),
            Some(dir) => format!(
                "\n<socket>\n    type ssl\n    cert_file {d}/{name}.crt\n    key_file {d}/{name}.key\n    ca_file {d}/ca.crt\n</socket>\n",
                d = dir.display()
            ),
        }
    }

    /// Where the daemons' certificates are (`<lab dir>/tls`), when the cluster uses TLS.
    pub fn tls_dir(&self) -> Option<PathBuf> {
        self.opts
            .tls_script
            .as_ref()
            .map(|_| self.lab.dir().join("tls"))
    }

    /// Runs the certificate script into `dir` for every daemon (`db1=10.213.7.11`, …, `mon1=…`)
    /// and the client (`client=10.213.7.50`): a new CA there unless `dir` already has one. With
    /// a fresh `dir` this makes a second, unrelated CA (certificates the cluster does not trust).
    pub fn make_certificates(&self, dir: &Path) -> Result<()> {
        let script = self.opts.tls_script.as_ref().ok_or_else(|| {
            LabError::Unsupported("the cluster was launched without tls_script".to_owned())
        })?;
        let mut command = Command::new(script);
        command.arg(dir);
        for d in &self.daemons {
            command.arg(format!("{}={}", d.name, d.host.ip()));
        }
        command.arg(format!("{CLIENT_HOST}={}", self.client.ip()));
        let out =
            output_with_deadline(command, "the certificate script", TLS_SCRIPT_DEADLINE, None)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(LabError::Unsupported(format!(
                "{} failed: {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            )))
        }
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

/// Seconds as MMM's config writes them (`0.2`, `1`).
fn secs(d: Duration) -> String {
    let text = format!("{:.3}", d.as_secs_f64());
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
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
    fn seconds_are_written_without_trailing_zeros() {
        assert_eq!(secs(Duration::from_millis(200)), "0.2");
        assert_eq!(secs(Duration::from_secs(1)), "1");
        assert_eq!(secs(Duration::from_millis(2500)), "2.5");
        assert_eq!(secs(Duration::from_millis(1)), "0.001");
    }

    #[test]
    fn the_writer_is_found_in_show_output() {
        let vip = lab_ip(100);
        let show = "  db1(10.213.7.11) master/ONLINE. Roles: reader(10.213.7.101), writer(10.213.7.100)\n  db2(10.213.7.12) master/ONLINE. Roles: reader(10.213.7.102)\n";
        assert_eq!(writer_in_show(show, vip).as_deref(), Some("db1"));
        let none = "  db1(10.213.7.11) master/AWAITING_RECOVERY. Roles: \n";
        assert_eq!(writer_in_show(none, vip), None);
    }

    #[test]
    fn options_are_validated_before_anything_starts() {
        let bins = Binaries::in_dir(Path::new("/nonexistent-dir"));
        let mut opts = ClusterOptions::new("mmmc", bins);
        assert!(
            matches!(opts.validate(), Err(LabError::Unsupported(m)) if m.contains("missing program"))
        );
        opts.monitors = 0;
        assert!(opts.validate().is_err());
        opts.monitors = MAX_MONITORS + 1;
        assert!(opts.validate().is_err());
        opts.monitors = 3;
        opts.topology.slaves = MAX_SLAVES + 1;
        assert!(opts.validate().is_err());
        opts.topology.slaves = 1;
        opts.timings.status_interval = opts.timings.agent_lease;
        assert!(opts.validate().is_err());
    }
}
