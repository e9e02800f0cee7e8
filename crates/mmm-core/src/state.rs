//! The replicated cluster state: host states, role assignment, mode, epoch, history.
//!
//! Every monitor holds the same `ClusterState`; it only changes through
//! [`crate::command::apply`], so it derives serde for Raft snapshots.

use std::collections::VecDeque;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::config::{Config, RoleMode};
use crate::time::Timestamp;

/// How many history entries the state keeps (oldest dropped first).
pub const HISTORY_LIMIT: usize = 1000;

/// A host's state, with mysql-mmm's names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum HostState {
    /// Healthy; may hold roles.
    Online,
    /// Taken offline by the admin; automation leaves it alone.
    AdminOffline,
    /// ping and/or mysql failed.
    HardOffline,
    /// Back up, waiting to be set online.
    AwaitingRecovery,
    /// rep_backlog failed.
    ReplicationDelay,
    /// rep_threads failed.
    ReplicationFail,
    /// Not determined yet (before startup).
    Unknown,
}

impl HostState {
    /// Every state, in declaration order.
    pub const ALL: [HostState; 7] = [
        HostState::Online,
        HostState::AdminOffline,
        HostState::HardOffline,
        HostState::AwaitingRecovery,
        HostState::ReplicationDelay,
        HostState::ReplicationFail,
        HostState::Unknown,
    ];

    /// mysql-mmm's name (`ONLINE`, `ADMIN_OFFLINE`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            HostState::Online => "ONLINE",
            HostState::AdminOffline => "ADMIN_OFFLINE",
            HostState::HardOffline => "HARD_OFFLINE",
            HostState::AwaitingRecovery => "AWAITING_RECOVERY",
            HostState::ReplicationDelay => "REPLICATION_DELAY",
            HostState::ReplicationFail => "REPLICATION_FAIL",
            HostState::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for HostState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of mysql-mmm's host states.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown host state '{0}'")]
pub struct UnknownHostState(pub String);

impl FromStr for HostState {
    type Err = UnknownHostState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HostState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownHostState(s.to_string()))
    }
}

/// The monitor's mode (`mmm_control mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    /// Full automation.
    Active,
    /// States tracked; roles not removed from failing hosts; no `prefer`.
    Manual,
    /// Manual until both masters are ONLINE or `wait_for_other_master` passes.
    Wait,
    /// States tracked; no roles distributed, nothing sent to agents.
    Passive,
}

impl Mode {
    /// The word `mmm_control mode` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Active => "ACTIVE",
            Mode::Manual => "MANUAL",
            Mode::Wait => "WAIT",
            Mode::Passive => "PASSIVE",
        }
    }

    /// mysql-mmm's "is manual": roles stay on failing hosts and `prefer` is ignored.
    pub fn is_manual(self) -> bool {
        matches!(self, Mode::Manual | Mode::Wait)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<crate::config::StartMode> for Mode {
    fn from(m: crate::config::StartMode) -> Self {
        match m {
            crate::config::StartMode::Active => Mode::Active,
            crate::config::StartMode::Manual => Mode::Manual,
            crate::config::StartMode::Wait => Mode::Wait,
            crate::config::StartMode::Passive => Mode::Passive,
        }
    }
}

/// One role instance, `role(ip)`, or a bare `role` when the role has no `ips` (VIP-less: load
/// balancers find its holder through the agents' health endpoints); ordered by role name,
/// then IP, as mysql-mmm sorts them.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct RoleIp {
    /// Role name.
    pub role: String,
    /// One of the role's virtual IPs; `None` for the one instance of a role without `ips`.
    pub ip: Option<IpAddr>,
}

impl RoleIp {
    /// `role(ip)`.
    pub fn new(role: impl Into<String>, ip: IpAddr) -> Self {
        RoleIp {
            role: role.into(),
            ip: Some(ip),
        }
    }

    /// The bare instance of a role without `ips`.
    pub fn bare(role: impl Into<String>) -> Self {
        RoleIp {
            role: role.into(),
            ip: None,
        }
    }
}

impl fmt::Display for RoleIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            Some(ip) => write!(f, "{}({ip})", self.role),
            None => f.write_str(&self.role),
        }
    }
}

/// Per-host replicated data (mysql-mmm's agent record in the monitor).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostStatus {
    /// Host name from the config.
    pub name: String,
    /// Current state.
    pub state: HostState,
    /// Role instances held, sorted.
    pub roles: Vec<RoleIp>,
    /// When the state last changed.
    pub last_state_change: Timestamp,
    /// When the host last entered ONLINE.
    pub online_since: Option<Timestamp>,
    /// Agent OS uptime (ms) recorded with the last state change, for diagnostics.
    pub uptime_ms: u64,
    /// Agent OS uptime (ms) last seen while the host was ONLINE (the 60-second rule).
    pub last_uptime_ms: u64,
    /// Set when the host went down too often within `flap_duration`.
    pub flapping: bool,
    /// Start of the current flap-counting window.
    pub flapstart: Option<Timestamp>,
    /// Downs counted in the current window.
    pub flapcount: u32,
    /// The leader could not reach the host's agent; the host gets no new roles.
    pub agent_down: bool,
    /// The host's agent reported its server's lease timer usable (event scheduler ON, event
    /// in place), so every writer lease it grants is armed in the server; a leader echoes no
    /// lease basis from a reply saying otherwise until this is false. Only with it can the
    /// server timer prove an unreachable writer fenced ([`FenceProof::ServerTimer`]).
    #[serde(default)]
    pub server_timer: bool,
}

impl HostStatus {
    /// A host with no history in the given state.
    pub fn new(name: impl Into<String>, state: HostState, now: Timestamp) -> Self {
        HostStatus {
            name: name.into(),
            state,
            roles: Vec::new(),
            last_state_change: now,
            online_since: (state == HostState::Online).then_some(now),
            uptime_ms: 0,
            last_uptime_ms: 0,
            flapping: false,
            flapstart: None,
            flapcount: 0,
            agent_down: false,
            server_timer: false,
        }
    }
}

/// The active-master role was taken from a host and may not go elsewhere until fenced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WriterRelease {
    /// The host that lost the role.
    pub host: String,
    /// The role IP.
    pub ip: Option<IpAddr>,
    /// Epoch of the change that removed it; the agent confirms at this epoch or later.
    pub epoch: u64,
    /// When it was removed.
    pub at: Timestamp,
    /// Where an admin move or `prefer` wants it to go once fenced.
    pub target: Option<String>,
    /// How the host was proven unable to take writes; the role goes elsewhere only with one.
    pub proof: Option<FenceProof>,
    /// The host failed (its checks, not an operator or `prefer`, took the role): with a
    /// `pre_failover_hook` configured, the role goes to another host only once the hook
    /// allowed it.
    pub failover: bool,
    /// What the pre-failover hook decided for this release.
    pub hook: Option<HookVerdict>,
}

impl WriterRelease {
    /// The role instance this release holds back: the active-master role of `config` with
    /// the released IP, named the same way in logs, `show` and the hooks.
    pub fn role(&self, config: &crate::config::Config) -> RoleIp {
        RoleIp {
            role: config.active_master_role.clone().unwrap_or_default(),
            ip: self.ip,
        }
    }
}

/// A pre-failover hook's decision, recorded in the replicated state so it is made once per
/// release whatever leader runs it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HookVerdict {
    /// Whether the failover may go on.
    pub allowed: bool,
    /// How the hook ended: `exit N`, or why it did not and which default applied.
    pub how: String,
    /// What it printed (trimmed, at most a few hundred bytes).
    pub output: String,
}

/// Why a host that lost the writer role provably cannot accept writes any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FenceProof {
    /// Its agent reported read_only=1 and no writer IP at this epoch (≥ the release epoch).
    Agent {
        /// The epoch the agent reported.
        epoch: u64,
    },
    /// The leader set read_only=1 over SQL, killed client sessions, and the server now
    /// stores this fencing epoch (≥ the release epoch), so no lower epoch allows writes.
    Sql {
        /// The epoch stored in the server's `mmm.fence`.
        epoch: u64,
    },
    /// `kill_host_bin` (STONITH) exited 0 for the host.
    KillHost,
    /// The host is unreachable (its MySQL failed by quorum, its agent does not answer) and
    /// every writer lease it may hold has run out on its server's own lease timer, which its
    /// agent reported usable: the server set read_only=1 without the agent's help.
    ServerTimer,
    /// An operator declared it (`confirm_fenced`).
    Operator,
}

impl std::fmt::Display for FenceProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FenceProof::Agent { epoch } => write!(f, "its agent confirmed at epoch {epoch}"),
            FenceProof::Sql { epoch } => write!(f, "fenced over SQL at epoch {epoch}"),
            FenceProof::KillHost => f.write_str("killed by kill_host_bin"),
            FenceProof::ServerTimer => {
                f.write_str("unreachable past its writer lease, fenced by its server's lease timer")
            }
            FenceProof::Operator => f.write_str("confirmed by the operator"),
        }
    }
}

/// One entry of the bounded history of role and state changes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HistoryEntry {
    /// Epoch after the change.
    pub epoch: u64,
    /// Leader time of the change.
    pub at: Timestamp,
    /// The MMM log line.
    pub line: String,
}

/// Everything the monitors replicate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClusterState {
    /// Hosts in config-file order.
    pub hosts: Vec<HostStatus>,
    /// Current mode.
    pub mode: Mode,
    /// Why the monitor is PASSIVE ("" otherwise).
    pub passive_cause: String,
    /// Fencing epoch: grows by one with every committed change of a host state or role.
    pub epoch: u64,
    /// Bounded history of state and role changes, oldest first.
    pub history: VecDeque<HistoryEntry>,
    /// Pending release of the active-master role (held back until its host is proven fenced).
    pub writer_release: Option<WriterRelease>,
    /// True once the startup vote has been applied.
    pub started: bool,
    /// How far the post-change hook has come; `None` until a leader first finds one
    /// configured (it then starts after the epoch it found, not with the whole past).
    pub post_change: Option<PostChangeCursor>,
    /// How often the active-master role reached another host, by cause, since the cluster
    /// was created (replicated, so every monitor reports the same counts).
    pub writer_moves: WriterMoves,
}

/// Handoffs of the active-master role to a host other than the one it was released from,
/// counted when the role is assigned there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WriterMoves {
    /// The role left a host that failed (its checks took it).
    pub failover: u64,
    /// An operator (`move_role`, `set_ip`) or `prefer` moved it from a working host.
    pub switchover: u64,
}

/// The post-change hook's progress through the epochs, replicated so that each epoch's run is
/// started once: a leader records the start before it runs the hook and the end after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PostChangeCursor {
    /// Every epoch up to this one has been handled.
    pub finished: u64,
    /// The epoch whose run has started and the Raft term of the leader running it.
    pub started: Option<(u64, u64)>,
}

impl ClusterState {
    /// A fresh state: every configured host UNKNOWN, no roles, mode from the config.
    pub fn new(config: &Config, now: Timestamp) -> Self {
        let mode = config
            .monitor
            .as_ref()
            .map(|m| Mode::from(m.mode))
            .unwrap_or(Mode::Active);
        ClusterState {
            hosts: config
                .hosts
                .iter()
                .map(|h| HostStatus::new(h.name.clone(), HostState::Unknown, now))
                .collect(),
            mode,
            passive_cause: if mode == Mode::Passive {
                "Configured to start up in passive mode.".to_string()
            } else {
                String::new()
            },
            epoch: 0,
            history: VecDeque::new(),
            writer_release: None,
            started: false,
            post_change: None,
            writer_moves: WriterMoves::default(),
        }
    }

    /// A copy without the history, for trial runs of commands (history is never read by
    /// decisions, and copying it would dominate their cost).
    pub fn scratch(&self) -> Self {
        ClusterState {
            hosts: self.hosts.clone(),
            mode: self.mode,
            passive_cause: self.passive_cause.clone(),
            epoch: self.epoch,
            history: VecDeque::new(),
            writer_release: self.writer_release.clone(),
            started: self.started,
            post_change: self.post_change,
            writer_moves: self.writer_moves,
        }
    }

    /// The status of `name`, if configured.
    pub fn host(&self, name: &str) -> Option<&HostStatus> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Mutable access to the status of `name`.
    pub fn host_mut(&mut self, name: &str) -> Option<&mut HostStatus> {
        self.hosts.iter_mut().find(|h| h.name == name)
    }

    /// State of `name` (None when not configured).
    pub fn state_of(&self, name: &str) -> Option<HostState> {
        self.host(name).map(|h| h.state)
    }

    /// Role instances held by `name` (empty when unknown).
    pub fn roles_of(&self, name: &str) -> &[RoleIp] {
        self.host(name).map(|h| h.roles.as_slice()).unwrap_or(&[])
    }

    /// Which host holds `role(ip)`.
    pub fn owner_of(&self, role: &str, ip: impl Into<Option<IpAddr>>) -> Option<&str> {
        let ip = ip.into();
        self.hosts
            .iter()
            .find(|h| h.roles.iter().any(|r| r.role == role && r.ip == ip))
            .map(|h| h.name.as_str())
    }

    /// The host holding the active-master role (`active_master_role`), if any.
    pub fn active_master(&self, config: &Config) -> Option<&str> {
        let role = config.active_master_role.as_deref()?;
        self.hosts
            .iter()
            .find(|h| h.roles.iter().any(|r| r.role == role))
            .map(|h| h.name.as_str())
    }

    /// mysql-mmm's weighted role count: every role IP counts 1, the active-master role 0.5
    /// (returned doubled, as an integer, to stay exact).
    pub fn role_count_x2(&self, host: &str, config: &Config) -> u32 {
        let am = config.active_master_role.as_deref();
        self.roles_of(host)
            .iter()
            .map(|r| if Some(r.role.as_str()) == am { 1 } else { 2 })
            .sum()
    }

    /// Every host that holds roles without being ONLINE, in config order (the hosts an
    /// offline notification must clear when ACTIVE mode begins).
    pub fn role_holders_not_online(&self) -> Vec<(String, HostState)> {
        self.hosts
            .iter()
            .filter(|h| h.state != HostState::Online && !h.roles.is_empty())
            .map(|h| (h.name.clone(), h.state))
            .collect()
    }

    /// Role instances of the config that no host holds, exclusive roles first, then balanced,
    /// each in config order.
    pub fn orphans(&self, config: &Config) -> Vec<RoleIp> {
        let mut out = Vec::new();
        for mode in [RoleMode::Exclusive, RoleMode::Balanced] {
            for role in config.roles.iter().filter(|r| r.mode == mode) {
                for instance in role.instances() {
                    if self.owner_of(&role.name, instance.ip).is_none() {
                        out.push(instance);
                    }
                }
            }
        }
        out
    }

    /// Appends a history entry, dropping the oldest beyond [`HISTORY_LIMIT`].
    pub(crate) fn record(&mut self, at: Timestamp, line: String) {
        self.history.push_back(HistoryEntry {
            epoch: self.epoch,
            at,
            line,
        });
        while self.history.len() > HISTORY_LIMIT {
            self.history.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip() {
        for s in HostState::ALL {
            assert_eq!(s.as_str().parse::<HostState>(), Ok(s));
        }
        assert!("online".parse::<HostState>().is_err());
    }

    #[test]
    fn role_ip_orders_by_role_then_ip() {
        let a = RoleIp::new("reader", "10.0.0.2".parse().unwrap());
        let b = RoleIp::new("reader", "10.0.0.10".parse().unwrap());
        let w = RoleIp::new("writer", "10.0.0.1".parse().unwrap());
        let mut v = vec![w.clone(), b.clone(), a.clone()];
        v.sort();
        assert_eq!(v, vec![a, b, w]);
        assert_eq!(v[2].to_string(), "writer(10.0.0.1)");
    }
}
