//! Commands the leader proposes to Raft, and the deterministic `apply` every monitor runs.
//!
//! Each command names the state it expects (`from`), so a stale command is rejected the
//! same way on every monitor and a rejected command changes nothing. The epoch grows by one
//! with every applied change of a host state or a role, and never otherwise.

use std::net::IpAddr;
use std::time::Duration;

use crate::config::Config;
use crate::invariant;
use crate::log::LogLine;
use crate::state::{
    ClusterState, FenceProof, HookVerdict, HostState, HostStatus, Mode, PostChangeCursor, RoleIp,
};
use crate::time::Timestamp;

mod validate;
mod writer;

use validate::validate;
use writer::{Release, assign_role, note_writer_removed, prove_fenced, record_hook_verdict};

/// One change to the replicated state, with the leader's time and the MMM lines it stands for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Command {
    /// Leader's wall-clock time when it decided.
    pub at: Timestamp,
    /// What changes.
    pub change: Change,
    /// The MMM log lines the decision stands for (apply adds the lines it derives).
    pub lines: Vec<LogLine>,
}

/// The kinds of change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Change {
    /// A host moves from `from` to `to`.
    SetState {
        /// Host name.
        host: String,
        /// Expected current state.
        from: HostState,
        /// New state.
        to: HostState,
        /// Remove all its roles (mysql-mmm's offline notification).
        clear_roles: bool,
        /// Clear the flapping flag (`set_online`, quiet flap window).
        clear_flapping: bool,
        /// Agent OS uptime (ms) last seen while ONLINE, stored for the 60-second rule.
        last_uptime_ms: Option<u64>,
    },
    /// Remove all roles of a host that is in `state` (WAIT/MANUAL → ACTIVE).
    ClearRoles {
        /// Host name.
        host: String,
        /// Expected current state.
        state: HostState,
    },
    /// Give `role(ip)` to `to`; `from` is its expected current owner (None = orphaned).
    /// The active-master role never moves directly from one host to another: it is
    /// released first ([`Change::ReleaseWriter`]).
    AssignRole {
        /// Role name.
        role: String,
        /// Role IP.
        ip: Option<IpAddr>,
        /// Expected current owner.
        from: Option<String>,
        /// New owner (must be ONLINE and allowed by the role).
        to: String,
    },
    /// Take the active-master role from `host`; it may go elsewhere only once fenced.
    ReleaseWriter {
        /// Current owner.
        host: String,
        /// The role IP.
        ip: Option<IpAddr>,
        /// Where it should go once fenced (admin move, `prefer`).
        target: Option<String>,
    },
    /// Record that the host the active-master role was released from (at `epoch`) provably
    /// cannot accept writes; only then may the role go to another host.
    ProveFenced {
        /// The host of the pending release.
        host: String,
        /// The release's epoch.
        epoch: u64,
        /// What proves it.
        proof: FenceProof,
    },
    /// Record the pre-failover hook's verdict on the pending writer release of `epoch`.
    RecordHookVerdict {
        /// The release's epoch.
        epoch: u64,
        /// What the hook decided.
        verdict: HookVerdict,
    },
    /// One step of the post-change hook's progress (see [`PostChangeCursor`]).
    PostChange(PostChangeStep),
    /// Change where a released active-master role should go once fenced.
    RetargetWriter {
        /// New destination.
        to: String,
    },
    /// Remove every IP of the balanced `role` from `host` (`move_role` of a balanced role).
    RemoveRole {
        /// Host name.
        host: String,
        /// Balanced role name.
        role: String,
    },
    /// Switch mode from `from` to `to`; `cause` is kept when entering PASSIVE.
    SetMode {
        /// Expected current mode.
        from: Mode,
        /// New mode.
        to: Mode,
        /// Passive cause (ignored for other modes).
        cause: String,
    },
    /// Record whether a host's agent reports its server's lease timer usable.
    SetServerTimer {
        /// Host name.
        host: String,
        /// New value.
        on: bool,
    },
    /// Mark a host's agent unreachable (true) or reachable again (false).
    SetAgentDown {
        /// Host name.
        host: String,
        /// New value.
        down: bool,
    },
    /// The startup vote's result (see [`crate::startup`]): states and roles of every host,
    /// replacing an unstarted state.
    Startup {
        /// (host, state, roles) for every configured host, in config order.
        hosts: Vec<(String, HostState, Vec<RoleIp>)>,
        /// Mode to run in.
        mode: Mode,
        /// Passive cause when `mode` is PASSIVE.
        cause: String,
    },
}

/// The post-change hook's steps through the epochs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PostChangeStep {
    /// The hook is not configured (any more): forget the cursor, so that configuring it
    /// again starts with the next change instead of replaying every epoch since.
    Reset,
    /// The hook was just configured: it starts after epoch `to`.
    Skip {
        /// The epoch it starts after.
        to: u64,
    },
    /// The leader of Raft term `term` runs the hook for `epoch` now.
    Begin {
        /// The epoch.
        epoch: u64,
        /// The running leader's term.
        term: u64,
    },
    /// The run for `epoch` is over: `ran` with how it ended, or not known to have run
    /// because the leader that began it lost leadership first (it is not run again).
    Finish {
        /// The epoch.
        epoch: u64,
        /// Whether this leader saw it end.
        ran: bool,
        /// `exit N`, or why there is no exit code.
        how: String,
    },
}

/// What an applied command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Every log line, in order (the command's own, then derived ones).
    pub lines: Vec<LogLine>,
    /// Epoch after the command.
    pub epoch: u64,
    /// Whether a host state or role changed (and so the epoch grew).
    pub changed: bool,
}

/// Why a command was refused; the state is untouched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// Host not in the config.
    #[error("unknown host '{0}'")]
    UnknownHost(String),
    /// Role or role IP not in the config.
    #[error("unknown role instance '{0}'")]
    UnknownRole(String),
    /// The host's state is not what the command expected.
    #[error("host '{host}' is {actual}, expected {expected}")]
    StateMismatch {
        /// Host name.
        host: String,
        /// Expected state.
        expected: HostState,
        /// Actual state.
        actual: HostState,
    },
    /// The role's owner is not what the command expected.
    #[error("role '{role}' is on {actual:?}, expected {expected:?}")]
    OwnerMismatch {
        /// The role instance.
        role: String,
        /// Expected owner.
        expected: Option<String>,
        /// Actual owner.
        actual: Option<String>,
    },
    /// The host may not hold that role.
    #[error("host '{host}' can't handle role '{role}'")]
    CannotHold {
        /// Host name.
        host: String,
        /// Role name.
        role: String,
    },
    /// A role may only be given to an ONLINE host.
    #[error("host '{host}' is {state}; roles go to ONLINE hosts only")]
    NotOnline {
        /// Host name.
        host: String,
        /// Its state.
        state: HostState,
    },
    /// The active-master role must be released before it moves.
    #[error("the active-master role must be released before it moves")]
    WriterNotReleased,
    /// No release of the active-master role is pending.
    #[error("no release of the active-master role is pending")]
    NoReleasePending,
    /// A post-change step out of order.
    #[error("post-change hook step out of order: {0}")]
    BadPostChange(String),
    /// The mode is not what the command expected.
    #[error("mode is {actual}, expected {expected}")]
    ModeMismatch {
        /// Expected mode.
        expected: Mode,
        /// Actual mode.
        actual: Mode,
    },
    /// The command would change nothing.
    #[error("command changes nothing")]
    NoChange,
    /// Startup was already applied, or its host list does not match the config.
    #[error("invalid startup command: {0}")]
    BadStartup(String),
    /// Applying the command would break an invariant of the state (a bug, refused).
    #[error("{0}")]
    Invariant(String),
}

/// What applying one proposal (a batch of commands) did, identical on every monitor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    /// Why the batch was refused (nothing changed), or None when it was applied.
    pub rejected: Option<String>,
    /// The MMM log lines of every applied command, in order.
    pub lines: Vec<LogLine>,
    /// The leader's time of the first command (when the lines happened).
    pub at: Timestamp,
    /// Epoch after the batch.
    pub epoch: u64,
    /// Whether a host state or role changed.
    pub changed: bool,
}

/// Applies one proposal atomically and reports what it did (the replicated step).
pub fn apply_proposal(state: &mut ClusterState, cmds: &[Command], config: &Config) -> Outcome {
    let at = cmds.first().map(|c| c.at).unwrap_or_default();
    match apply_all(state, cmds, config) {
        Ok(applied) => Outcome {
            rejected: None,
            changed: applied.iter().any(|a| a.changed),
            lines: applied.into_iter().flat_map(|a| a.lines).collect(),
            at,
            epoch: state.epoch,
        },
        Err(e) => Outcome {
            rejected: Some(e.to_string()),
            lines: Vec::new(),
            at,
            epoch: state.epoch,
            changed: false,
        },
    }
}

/// Applies one command; on `Err` the state is unchanged.
pub fn apply(
    state: &mut ClusterState,
    cmd: &Command,
    config: &Config,
) -> Result<Applied, Rejected> {
    validate(state, cmd, config)?;
    let mut after = state.scratch();
    let mut lines = cmd.lines.clone();
    let changed = mutate(&mut after, cmd, config, &mut lines);
    holds_invariants(state, &after, changed, config).map_err(|v| Rejected::Invariant(v.0))?;
    let history = std::mem::take(&mut state.history);
    *state = after;
    state.history = history;
    if changed {
        state.epoch += 1;
    }
    // A hook's verdict changes no state or role, but an operator looks for it in the history.
    if changed || matches!(cmd.change, Change::RecordHookVerdict { .. }) {
        for l in &lines {
            state.record(cmd.at, l.text.clone());
        }
    }
    Ok(Applied {
        lines,
        epoch: state.epoch,
        changed,
    })
}

/// What every applied command leaves true: no role instance (so not the writer) gains a
/// second holder, and the epoch only moves with a change of states or roles.
fn holds_invariants(
    before: &ClusterState,
    after: &ClusterState,
    changed: bool,
    config: &Config,
) -> Result<(), invariant::Violation> {
    invariant::check(after.epoch == before.epoch, || {
        format!(
            "mutate moved the epoch from {} to {}",
            before.epoch, after.epoch
        )
    })?;
    let states_and_roles = |s: &ClusterState| -> Vec<(HostState, Vec<RoleIp>)> {
        s.hosts.iter().map(|h| (h.state, h.roles.clone())).collect()
    };
    invariant::check(
        changed || states_and_roles(before) == states_and_roles(after),
        || "a command reported no change of states or roles but changed them".into(),
    )?;
    for role in &config.roles {
        for instance in role.instances() {
            let holders = |s: &ClusterState| -> Vec<String> {
                s.hosts
                    .iter()
                    .filter(|h| h.roles.contains(&instance))
                    .map(|h| h.name.clone())
                    .collect()
            };
            let now = holders(after);
            invariant::check(now.len() <= holders(before).len().max(1), || {
                format!("role '{instance}' given to a second host: {now:?}")
            })?;
        }
    }
    Ok(())
}

/// Applies a batch atomically: all commands or none.
pub fn apply_all(
    state: &mut ClusterState,
    cmds: &[Command],
    config: &Config,
) -> Result<Vec<Applied>, Rejected> {
    // Dry run on a history-less copy; apply is deterministic and never reads the history,
    // so the real run below cannot fail once the dry run succeeded.
    let mut trial = state.scratch();
    for c in cmds {
        apply(&mut trial, c, config)?;
    }
    let mut out = Vec::with_capacity(cmds.len());
    for c in cmds {
        out.push(apply(state, c, config)?);
    }
    Ok(out)
}

/// Removes all roles of `host`, logging as mysql-mmm does and recording a writer release.
fn clear_roles(
    state: &mut ClusterState,
    (host, failover): (&str, bool),
    at: Timestamp,
    config: &Config,
    lines: &mut Vec<LogLine>,
) {
    lines.push(LogLine::info(format!(
        "Removing all roles from host '{host}':"
    )));
    let roles = match state.host_mut(host) {
        Some(h) => std::mem::take(&mut h.roles),
        None => return,
    };
    for r in &roles {
        lines.push(LogLine::info(format!(
            "    Removed role '{r}' from host '{host}'"
        )));
    }
    let release = Release {
        target: None,
        failover,
    };
    note_writer_removed(state, host, &roles, release, at, config, lines);
}

/// Performs a validated command; returns whether states or roles changed.
fn mutate(
    state: &mut ClusterState,
    cmd: &Command,
    config: &Config,
    lines: &mut Vec<LogLine>,
) -> bool {
    let at = cmd.at;
    match &cmd.change {
        Change::SetState { .. } => {
            set_state(state, cmd, config, lines);
            true
        }
        Change::ClearRoles { host, .. } => {
            clear_roles(state, (host, true), at, config, lines);
            true
        }
        Change::AssignRole { role, ip, from, to } => {
            assign_role(
                state,
                RoleIp {
                    role: role.clone(),
                    ip: *ip,
                },
                from.as_deref(),
                to,
                config,
            );
            true
        }
        Change::ReleaseWriter { host, ip, target } => {
            let role = config.active_master_role.clone().unwrap_or_default();
            let r = RoleIp { role, ip: *ip };
            if let Some(h) = state.host_mut(host) {
                h.roles.retain(|x| x != &r);
            }
            let release = Release {
                target: target.clone(),
                failover: false,
            };
            note_writer_removed(state, host, &[r], release, at, config, lines);
            true
        }
        Change::ProveFenced { host, proof, .. } => {
            prove_fenced(state, host, *proof, config, lines);
            false
        }
        Change::RecordHookVerdict { verdict, .. } => {
            record_hook_verdict(state, verdict, config, lines);
            false
        }
        Change::PostChange(step) => {
            post_change(state, step, lines);
            false
        }
        Change::RetargetWriter { to } => {
            // An operator chose where the writer goes: that is no failover to veto.
            if let Some(rel) = state.writer_release.as_mut() {
                rel.target = Some(to.clone());
                rel.failover = false;
            }
            false
        }
        Change::RemoveRole { host, role } => {
            remove_balanced(state, host, role, lines);
            true
        }
        Change::SetMode { to, cause, .. } => {
            set_mode(state, *to, cause);
            false
        }
        Change::SetAgentDown { host, down } => {
            if let Some(h) = state.host_mut(host) {
                h.agent_down = *down;
            }
            false
        }
        Change::SetServerTimer { host, on } => {
            if let Some(h) = state.host_mut(host) {
                h.server_timer = *on;
            }
            false
        }
        Change::Startup { hosts, mode, cause } => {
            let changed = startup(state, hosts, at);
            set_mode(state, *mode, cause);
            state.started = true;
            changed
        }
    }
}

/// `PostChange`: moves the cursor; a finish is logged.
fn post_change(state: &mut ClusterState, step: &PostChangeStep, lines: &mut Vec<LogLine>) {
    match step {
        PostChangeStep::Reset => state.post_change = None,
        PostChangeStep::Skip { to } => {
            state.post_change = Some(PostChangeCursor {
                finished: *to,
                started: None,
            });
        }
        PostChangeStep::Begin { epoch, term } => {
            if let Some(c) = state.post_change.as_mut() {
                c.started = Some((*epoch, *term));
            }
        }
        PostChangeStep::Finish { epoch, ran, how } => {
            if let Some(c) = state.post_change.as_mut() {
                c.finished = *epoch;
                c.started = None;
            }
            lines.push(if *ran {
                LogLine::info(format!("Post-change hook for epoch {epoch} ran ({how})"))
            } else {
                LogLine::warn(format!(
                    "Post-change hook for epoch {epoch} may not have run: the leader that \
                     started it lost leadership first; it is not run again"
                ))
            });
        }
    }
}

/// `SetState`: the new state, its bookkeeping (online since, uptime, flapping) and the
/// offline notification.
fn set_state(state: &mut ClusterState, cmd: &Command, config: &Config, lines: &mut Vec<LogLine>) {
    let Change::SetState {
        host,
        from,
        to,
        clear_roles: clear,
        clear_flapping,
        last_uptime_ms,
    } = &cmd.change
    else {
        return;
    };
    let at = cmd.at;
    if let Some(h) = state.host_mut(host) {
        h.state = *to;
        h.last_state_change = at;
        if *to == HostState::Online {
            h.online_since = Some(at);
        }
        if let Some(u) = last_uptime_ms {
            h.last_uptime_ms = *u;
            h.uptime_ms = *u;
        }
        if *clear_flapping {
            h.flapping = false;
            h.flapstart = None;
            h.flapcount = 0;
        }
        if *from == HostState::Online && *to != HostState::AdminOffline {
            count_flap(h, at, config, lines);
        }
    }
    if *clear {
        let failover = *to != HostState::AdminOffline;
        clear_roles(state, (host, failover), at, config, lines);
    }
}

/// mysql-mmm's flap detection: more than `flap_count` downs within `flap_duration`.
fn count_flap(h: &mut HostStatus, at: Timestamp, config: &Config, lines: &mut Vec<LogLine>) {
    let mon = config.monitor.as_ref();
    let flap_count = mon.map(|m| m.flap_count).unwrap_or(3);
    let flap_duration = mon
        .map(|m| m.flap_duration)
        .unwrap_or(Duration::from_secs(3600));
    if flap_count == 0 {
        return;
    }
    match h.flapstart {
        Some(start) if at.since(start) <= flap_duration => {
            h.flapcount += 1;
            if h.flapcount > flap_count {
                h.flapping = true;
                h.flapstart = None;
                lines.push(LogLine::fatal(format!("Host {} is flapping!", h.name)));
            }
        }
        _ => {
            h.flapstart = Some(at);
            h.flapcount = 1;
        }
    }
}

fn remove_balanced(state: &mut ClusterState, host: &str, role: &str, lines: &mut Vec<LogLine>) {
    lines.push(LogLine::info(format!(
        "Removing balanced role {role} from host '{host}':"
    )));
    if let Some(h) = state.host_mut(host) {
        let (gone, keep): (Vec<RoleIp>, Vec<RoleIp>) = std::mem::take(&mut h.roles)
            .into_iter()
            .partition(|r| r.role == role);
        h.roles = keep;
        for r in gone {
            lines.push(LogLine::info(format!(
                "    Removed role '{r}' from host '{host}'"
            )));
        }
    }
}

fn set_mode(state: &mut ClusterState, to: Mode, cause: &str) {
    state.mode = to;
    state.passive_cause = if to == Mode::Passive {
        cause.to_string()
    } else {
        String::new()
    };
}

/// The startup vote's states and roles; returns whether any of them changed.
fn startup(
    state: &mut ClusterState,
    hosts: &[(String, HostState, Vec<RoleIp>)],
    at: Timestamp,
) -> bool {
    let mut changed = false;
    for (name, st, roles) in hosts {
        if let Some(h) = state.host_mut(name) {
            let mut roles = roles.clone();
            roles.sort();
            changed |= h.state != *st || h.roles != roles;
            if h.state != *st {
                h.state = *st;
                h.last_state_change = at;
                if *st == HostState::Online {
                    h.online_since = Some(at);
                }
            }
            h.roles = roles;
        }
    }
    changed
}
