//! The effective configuration after parsing, templates, defaults and validation.
//!
//! Field names follow mysql-mmm's directives. Hosts and roles keep config-file order,
//! which is the deterministic order every decision uses.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Which program loads the files; mysql-mmm validates required keys per program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Program {
    /// `mmm-mond` (mysql-mmm's `mmm_mond`).
    Monitor,
    /// `mmm-agentd` (mysql-mmm's `mmm_agentd`).
    Agent,
    /// `mmmctl` (mysql-mmm's `mmm_control`).
    Control,
    /// The backup/clone tools; accepted so their keys are not "unknown".
    Tools,
}

/// A whole cluster's configuration as one program sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Name of the local host section (`this`), required by the agent.
    pub this: Option<String>,
    /// `debug`: no daemonizing, debug logging.
    pub debug: bool,
    /// `active_master_role`: the exclusive role that marks the writable master.
    pub active_master_role: Option<String>,
    /// `max_kill_retries`: rounds to let writing statements finish before killing them.
    pub max_kill_retries: u32,
    /// `catchup_timeout` (extension): bound on waiting for relay log / old master before
    /// a new writer allows writes or a slave is repointed.
    pub catchup_timeout: Duration,
    /// `use_gtid` (extension): repoint slaves with GTID auto-positioning when both sides have it.
    pub use_gtid: bool,
    /// `failsafe_mode` (extension, default on): while no monitor leads, the writer keeps
    /// taking writes under failsafe leases every other host's agent grants (off: it stops when
    /// its lease runs out, and this host grants no failsafe lease).
    pub failsafe_mode: bool,
    /// `<host NAME>` sections in file order (the `default` template already applied).
    pub hosts: Vec<HostConfig>,
    /// `<role NAME>` sections in file order.
    pub roles: Vec<RoleConfig>,
    /// The four checks, always present for the monitor.
    pub checks: ChecksConfig,
    /// Monitor settings shared by every monitor node (`<monitor>`), when the program needs them.
    pub monitor: Option<MonitorConfig>,
    /// The monitor cluster's members (extension: named `<monitor NAME>` sections). A classic
    /// single `<monitor>` section yields one node.
    pub monitor_nodes: Vec<MonitorNode>,
    /// `this_monitor` (extension): which monitor node this process is.
    pub this_monitor: Option<String>,
    /// `<socket>`: plain or mutual TLS for agent and control connections.
    pub socket: SocketConfig,
}

/// `mode` of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum HostMode {
    /// A master that may hold the active-master role; has a `peer`.
    Master,
    /// A slave that follows the active master.
    Slave,
}

impl HostMode {
    /// The word mysql-mmm prints (`master` / `slave`).
    pub fn as_str(self) -> &'static str {
        match self {
            HostMode::Master => "master",
            HostMode::Slave => "slave",
        }
    }
}

/// One `<host NAME>` section.
#[derive(Debug, Clone, PartialEq)]
pub struct HostConfig {
    /// Section name, e.g. `db1`.
    pub name: String,
    /// Permanent host IP: checks, agent address, replication address.
    pub ip: IpAddr,
    /// `master` or `slave`.
    pub mode: HostMode,
    /// The other master's name (required for masters).
    pub peer: Option<String>,
    /// Agent pid file.
    pub pid_path: Option<PathBuf>,
    /// mysql-mmm's helper directory; accepted and kept for compatibility.
    pub bin_path: Option<PathBuf>,
    /// Port of the agent's gRPC service (default 9989).
    pub agent_port: u16,
    /// Port of the agent's HTTP endpoints (`/writer`, `/reader`, `/health`, `/metrics`) on
    /// `ip`; `None` (no `http_port` directive) keeps HTTP off.
    pub http_port: Option<u16>,
    /// NIC on which role IPs are added.
    pub cluster_interface: Option<String>,
    /// MySQL port (default 3306).
    pub mysql_port: u16,
    /// Tools-only settings kept verbatim (mysql_pidfile, mysql_rcscript, mysql_cnf, ssh_*, lvm_*, ...).
    pub tools: Vec<(String, String)>,
    /// MySQL credentials of the agent.
    pub agent_user: Option<String>,
    /// Password of `agent_user`.
    pub agent_password: Option<String>,
    /// MySQL credentials of the monitor's checks.
    pub monitor_user: Option<String>,
    /// Password of `monitor_user`.
    pub monitor_password: Option<String>,
    /// Used in CHANGE MASTER towards this host when it becomes a master.
    pub replication_user: Option<String>,
    /// Password of `replication_user`.
    pub replication_password: Option<String>,
}

/// `mode` of a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RoleMode {
    /// One IP on one host (the writer).
    Exclusive,
    /// IPs spread evenly over eligible hosts (readers).
    Balanced,
}

/// One `<role NAME>` section.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleConfig {
    /// Role name, e.g. `writer`.
    pub name: String,
    /// Exclusive or balanced. Required by the monitor; when other programs find it unset,
    /// the active-master role is exclusive and any other role balanced.
    pub mode: RoleMode,
    /// Hosts allowed to hold the role, in order (order breaks ties).
    pub hosts: Vec<String>,
    /// The role's virtual IPs.
    pub ips: Vec<IpAddr>,
    /// Preferred host (exclusive roles only).
    pub prefer: Option<String>,
}

impl RoleConfig {
    /// The role's instances: one per IP, or one bare instance when it has no `ips`
    /// (a VIP-less exclusive role), so every caller enumerates them the same way.
    pub fn instances(&self) -> Vec<crate::state::RoleIp> {
        if self.ips.is_empty() {
            return vec![crate::state::RoleIp::bare(self.name.clone())];
        }
        self.ips
            .iter()
            .map(|ip| crate::state::RoleIp::new(self.name.clone(), *ip))
            .collect()
    }

    /// Whether `instance` is one of this role's instances.
    pub fn has_instance(&self, instance: &crate::state::RoleIp) -> bool {
        instance.role == self.name
            && match instance.ip {
                Some(ip) => self.ips.contains(&ip),
                None => self.ips.is_empty(),
            }
    }
}

/// Settings of one check (`<check NAME>`).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckConfig {
    /// Pause after each full round over all hosts (default 5 s).
    pub check_period: Duration,
    /// How long a check must keep failing before it is reported failed (default 10 s).
    pub trap_period: Duration,
    /// Per-call timeout of MySQL checks (default 2 s).
    pub timeout: Duration,
    /// Accepted for compatibility; has no effect (as in mysql-mmm 2.2.1).
    pub restart_after: u64,
    /// `rep_backlog` fails above this many seconds behind (default 60).
    pub max_backlog: u64,
}

/// The four checks by name.
#[derive(Debug, Clone, PartialEq)]
pub struct ChecksConfig {
    /// `<check ping>`.
    pub ping: CheckConfig,
    /// `<check mysql>`.
    pub mysql: CheckConfig,
    /// `<check rep_threads>`.
    pub rep_threads: CheckConfig,
    /// `<check rep_backlog>`.
    pub rep_backlog: CheckConfig,
}

/// Startup mode of the monitor (`<monitor> mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum StartMode {
    /// Full automation.
    Active,
    /// States tracked, roles not removed from failing hosts.
    Manual,
    /// Manual until both masters are ONLINE or `wait_for_other_master` passes.
    Wait,
    /// Nothing is distributed or sent.
    Passive,
}

/// `<monitor>`: settings every monitor node shares.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorConfig {
    /// Listen address of this node's Control service: the classic `<monitor> ip`, or with
    /// named sections the `ip` of the node `this_monitor` names (else the first node).
    pub ip: IpAddr,
    /// Control port of that node (default 9988).
    pub port: u16,
    /// Pid file.
    pub pid_path: Option<PathBuf>,
    /// Accepted for compatibility.
    pub bin_path: Option<PathBuf>,
    /// mysql-mmm's status file; accepted, state lives in Raft.
    pub status_path: Option<PathBuf>,
    /// Seconds between network self-check rounds (default 1).
    pub ping_interval: Duration,
    /// IPs pinged to decide whether this monitor has network.
    pub ping_ips: Vec<IpAddr>,
    /// Flap detection window (default 3600 s).
    pub flap_duration: Duration,
    /// More than this many downs within `flap_duration` is flapping (default 3; 0 disables).
    pub flap_count: u32,
    /// AWAITING_RECOVERY hosts go ONLINE after this long; zero = never (default 0).
    pub auto_set_online: Duration,
    /// Optional external fencing hook (kept for compatibility).
    pub kill_host_bin: Option<PathBuf>,
    /// Extension: the pre-failover hook, run by the leader before the writer role goes to
    /// another host after its host failed; a non-zero exit vetoes that failover.
    pub pre_failover_hook: Option<PathBuf>,
    /// Extension: the post-change hook, run by the leader once for every committed epoch
    /// (every change of a host state or role) after it was configured.
    pub post_change_hook: Option<PathBuf>,
    /// Extension: bound of one hook run (default 10 s).
    pub hook_timeout: Duration,
    /// Extension: what a pre-failover hook that did not finish in time decides (default
    /// proceed).
    pub pre_failover_default: HookDefault,
    /// Enter PASSIVE at startup when the active-master role is found on more than one host (default true).
    pub careful_startup: bool,
    /// Startup mode (default active).
    pub mode: StartMode,
    /// WAIT mode: how long one ONLINE master waits for the other; zero = forever (default 120 s).
    pub wait_for_other_master: Duration,
    /// Extension: lease stamped on every status sent to agents (default 5 s).
    pub agent_lease: Duration,
    /// Extension: extra wait after a lease before the writer may move elsewhere (default 1 s).
    pub lease_margin: Duration,
    /// Extension: how often the leader re-sends every agent its status (default 1 s).
    pub status_interval: Duration,
    /// Extension: per-call timeout of agent RPCs (default 2 s).
    pub agent_timeout: Duration,
    /// Extension: monitors that must see a check failed before it counts as failed
    /// (default: a majority of the monitor nodes).
    pub observer_quorum: Option<usize>,
}

/// What a pre-failover hook that timed out (or could not run) decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum HookDefault {
    /// The failover goes on.
    Proceed,
    /// The failover is vetoed.
    Abort,
}

/// One member of the monitor cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorNode {
    /// Section name (`<monitor mon1>`), or `monitor` for the classic single section.
    pub name: String,
    /// Raft node id: `id` directive, else position in the file starting at 1.
    pub id: u64,
    /// Address the Control service listens on.
    pub ip: IpAddr,
    /// Control port (default 9988).
    pub port: u16,
    /// Port of the Peer (Raft) service (default 9990).
    pub raft_port: u16,
    /// Extension: port of the HTTP endpoints (`/metrics`, `/health`, the status page) on `ip`;
    /// `None` (no `http_port` directive) keeps HTTP off.
    pub http_port: Option<u16>,
    /// Directory of the Raft store (default /var/lib/mmm/NAME).
    pub data_dir: PathBuf,
}

/// `<socket> type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketType {
    /// No TLS.
    Plain,
    /// Mutual TLS.
    Ssl,
}

/// `<socket>`: transport security for agent and control connections.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketConfig {
    /// plain or ssl.
    pub kind: SocketType,
    /// PEM certificate of this process.
    pub cert_file: Option<PathBuf>,
    /// PEM key of this process.
    pub key_file: Option<PathBuf>,
    /// CA that signs every peer's certificate.
    pub ca_file: Option<PathBuf>,
}
