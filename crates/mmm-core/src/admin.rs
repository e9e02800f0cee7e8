//! mmm_control's state-changing commands with their exact replies.
//!
//! `admin` validates a request against the replicated state and returns the commands to
//! propose plus mmm_control's reply. A refused request returns no commands. `show` and
//! `checks` only read state; their text comes from [`crate::render`].

use std::net::IpAddr;

use crate::checks::{CheckKind, CheckTable};
use crate::command::{Change, Command, apply};
use crate::config::{Config, RoleMode};
use crate::decide::peer_of;
use crate::invariant::{self, Violation};
use crate::log::LogLine;
use crate::state::{ClusterState, HostState, Mode};
use crate::time::Timestamp;

/// One parsed mmm_control command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminRequest {
    /// `help`.
    Help,
    /// `ping`.
    Ping,
    /// `show` (rendered by [`crate::render`]).
    Show,
    /// `checks [host|all [check|all]]` (rendered by [`crate::render`]).
    Checks {
        /// Host name or `all` (None = all).
        host: Option<String>,
        /// Check name or `all` (None = all).
        check: Option<String>,
    },
    /// `mode`.
    Mode,
    /// `set_online HOST`.
    SetOnline(String),
    /// `set_offline HOST`.
    SetOffline(String),
    /// `set_active`.
    SetActive,
    /// `set_manual`.
    SetManual,
    /// `set_passive`.
    SetPassive,
    /// `move_role [--force] ROLE HOST`.
    MoveRole {
        /// Role name.
        role: String,
        /// Target host.
        host: String,
        /// `--force`.
        force: bool,
    },
    /// `confirm_fenced HOST` (new): the operator declares that the host a writer role is
    /// held back from cannot take writes (powered off, isolated), so the role may move.
    ConfirmFenced(String),
    /// `set_ip IP HOST`.
    SetIp {
        /// The role IP as typed.
        ip: String,
        /// Target host.
        host: String,
    },
}

/// The text mmm_control prints, and whether the command succeeded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reply {
    /// False when refused (`ERROR: …`, `Invalid command …`).
    pub ok: bool,
    /// The exact text.
    pub text: String,
}

impl Reply {
    /// A reply of a command that succeeded.
    pub fn ok(text: impl Into<String>) -> Self {
        Reply {
            ok: true,
            text: text.into(),
        }
    }

    /// A reply of a command that was refused.
    pub fn err(text: impl Into<String>) -> Self {
        Reply {
            ok: false,
            text: text.into(),
        }
    }
}

impl AdminRequest {
    /// Parses mmm_control's words; unknown commands or wrong argument counts give the
    /// `Invalid command '<line>'` reply followed by the help text.
    pub fn parse(args: &[String]) -> Result<Self, Reply> {
        let words: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
        let line = words.join(" ");
        let invalid = || {
            Reply::err(format!(
                "Invalid command '{line}'\n\n{}",
                crate::render::help_text()
            ))
        };
        let s = |i: usize| words[i].to_string();
        let Some((cmd, rest)) = words.split_first() else {
            return Err(invalid());
        };
        let req = match (*cmd, rest.len()) {
            ("help", 0) => AdminRequest::Help,
            ("ping", 0) => AdminRequest::Ping,
            ("show", 0) => AdminRequest::Show,
            ("mode", 0) => AdminRequest::Mode,
            ("set_active", 0) => AdminRequest::SetActive,
            ("set_manual", 0) => AdminRequest::SetManual,
            ("set_passive", 0) => AdminRequest::SetPassive,
            ("checks", n) if n <= 2 => AdminRequest::Checks {
                host: rest.first().map(|h| h.to_string()),
                check: rest.get(1).map(|c| c.to_string()),
            },
            ("set_online", 1) => AdminRequest::SetOnline(s(1)),
            ("set_offline", 1) => AdminRequest::SetOffline(s(1)),
            ("confirm_fenced", 1) => AdminRequest::ConfirmFenced(s(1)),
            ("move_role", 2) => AdminRequest::MoveRole {
                role: s(1),
                host: s(2),
                force: false,
            },
            ("move_role", 3) if rest[0] == "--force" => AdminRequest::MoveRole {
                role: s(2),
                host: s(3),
                force: true,
            },
            ("set_ip", 2) => AdminRequest::SetIp {
                ip: s(1),
                host: s(2),
            },
            _ => return Err(invalid()),
        };
        Ok(req)
    }
}

/// Builds and validates the commands of one admin request on a scratch copy.
struct Batch<'a> {
    work: ClusterState,
    out: Vec<Command>,
    violation: Option<Violation>,
    now: Timestamp,
    config: &'a Config,
}

impl Batch<'_> {
    /// Adds a command the request's checks have validated; one that does not apply is a bug.
    fn emit(&mut self, change: Change, lines: Vec<LogLine>) {
        if self.violation.is_some() {
            return;
        }
        let cmd = Command {
            at: self.now,
            change,
            lines,
        };
        match apply(&mut self.work, &cmd, self.config) {
            Ok(_) => self.out.push(cmd),
            Err(e) => {
                let broken = invariant::check(false, || {
                    format!("admin produced a command that does not apply ({e}): {cmd:?}")
                });
                self.violation = broken.err();
            }
        }
    }
}

/// Runs one mmm_control request. `agent_reachable` is the result of pinging the target
/// host's agent (mysql-mmm pings before set_online, set_offline and move_role).
///
/// Returns the commands to propose (none when refused) and mmm_control's reply; a command
/// the request's own checks let through but that does not apply is a bug (see
/// [`crate::invariant`]).
pub fn admin(
    state: &ClusterState,
    checks: &CheckTable,
    req: &AdminRequest,
    agent_reachable: bool,
    now: Timestamp,
    config: &Config,
) -> Result<(Vec<Command>, Reply), Violation> {
    let mut b = Batch {
        work: state.scratch(),
        out: Vec::new(),
        violation: None,
        now,
        config,
    };
    let reply = match req {
        AdminRequest::Help => Reply::ok(crate::render::help_text()),
        AdminRequest::Ping => Reply::ok("OK: Pinged successfully!"),
        AdminRequest::Show | AdminRequest::Checks { .. } => Reply::ok(""),
        AdminRequest::Mode => Reply::ok(state.mode.as_str()),
        AdminRequest::SetOnline(h) => set_online(&mut b, checks, h, agent_reachable),
        AdminRequest::SetOffline(h) => set_offline(&mut b, h, agent_reachable),
        AdminRequest::SetActive => set_active(&mut b),
        AdminRequest::SetManual => set_mode(&mut b, Mode::Manual),
        AdminRequest::SetPassive => set_mode(&mut b, Mode::Passive),
        AdminRequest::MoveRole { role, host, force } => {
            move_role(&mut b, checks, role, host, *force, agent_reachable)
        }
        AdminRequest::SetIp { ip, host } => set_ip(&mut b, ip, host),
        AdminRequest::ConfirmFenced(h) => confirm_fenced(&mut b, h),
    };
    if let Some(v) = b.violation {
        return Err(v);
    }
    if !reply.ok {
        return Ok((Vec::new(), reply));
    }
    Ok((b.out, reply))
}

impl AdminRequest {
    /// The host whose agent mysql-mmm pings before running the request, if any.
    pub fn target_host(&self) -> Option<&str> {
        match self {
            AdminRequest::SetOnline(h) | AdminRequest::SetOffline(h) => Some(h),
            AdminRequest::MoveRole { host, .. } => Some(host),
            _ => None,
        }
    }
}

fn unknown_host(h: &str) -> Reply {
    Reply::err(format!("ERROR: Unknown host name '{h}'!"))
}

fn set_online(b: &mut Batch<'_>, checks: &CheckTable, h: &str, reachable: bool) -> Reply {
    let Some(st) = b.work.state_of(h) else {
        return unknown_host(h);
    };
    if st == HostState::Online {
        return Reply::ok("OK: This host is already ONLINE. Skipping command.");
    }
    if st != HostState::AdminOffline && st != HostState::AwaitingRecovery {
        return Reply::err(format!(
            "ERROR: Host '{h}' is '{st}' at the moment. It can't be switched to ONLINE."
        ));
    }
    if !(checks.ok(h, CheckKind::Ping) && checks.ok(h, CheckKind::Mysql)) {
        return Reply::err(format!(
            "ERROR: Checks ping and/or mysql are not ok for host '{h}'. It can't be switched to ONLINE."
        ));
    }
    if let Some(p) = peer_of(&b.work, h, b.config)
        && b.work.state_of(&p) == Some(HostState::Online)
        && !(checks.ok(&p, CheckKind::RepThreads) && checks.ok(&p, CheckKind::RepBacklog))
    {
        return Reply::err(format!(
            "ERROR: Some replication checks failed on peer '{p}'. We can't set '{h}' online now. Please, wait some time."
        ));
    }
    if !reachable {
        return Reply::err(format!(
            "ERROR: Can't reach agent daemon on '{h}'! Can't switch its state!"
        ));
    }
    let line = LogLine::fatal(format!("Admin changed state of '{h}' from {st} to ONLINE"));
    b.emit(
        Change::SetState {
            host: h.to_string(),
            from: st,
            to: HostState::Online,
            clear_roles: false,
            clear_flapping: true,
            last_uptime_ms: None,
        },
        vec![line],
    );
    Reply::ok(format!(
        "OK: State of '{h}' changed to ONLINE. Now you can wait some time and check its new roles!"
    ))
}

fn set_offline(b: &mut Batch<'_>, h: &str, reachable: bool) -> Reply {
    let Some(st) = b.work.state_of(h) else {
        return unknown_host(h);
    };
    if st == HostState::AdminOffline {
        return Reply::ok("OK: This host is already ADMIN_OFFLINE. Skipping command.");
    }
    if !matches!(
        st,
        HostState::Online | HostState::ReplicationFail | HostState::ReplicationDelay
    ) {
        return Reply::err(format!(
            "ERROR: Host '{h}' is '{st}' at the moment. It can't be switched to ADMIN_OFFLINE."
        ));
    }
    if !reachable {
        return Reply::err(format!(
            "ERROR: Can't reach agent daemon on '{h}'! Can't switch its state!"
        ));
    }
    let line = LogLine::fatal(format!(
        "Admin changed state of '{h}' from {st} to ADMIN_OFFLINE"
    ));
    b.emit(
        Change::SetState {
            host: h.to_string(),
            from: st,
            to: HostState::AdminOffline,
            clear_roles: true,
            clear_flapping: false,
            last_uptime_ms: None,
        },
        vec![line],
    );
    Reply::ok(format!(
        "OK: State of '{h}' changed to ADMIN_OFFLINE. Now you can wait some time and check all roles!"
    ))
}

fn set_active(b: &mut Batch<'_>) -> Reply {
    let old = b.work.mode;
    if old == Mode::Active {
        return Reply::ok("OK: Already in active mode.");
    }
    let line = LogLine::info(format!("Admin changed mode from '{old}' to 'ACTIVE'"));
    b.emit(
        Change::SetMode {
            from: old,
            to: Mode::Active,
            cause: String::new(),
        },
        vec![line],
    );
    // Leaving MANUAL/WAIT (mysql-mmm) or PASSIVE (its cleanup): in ACTIVE mode only ONLINE
    // hosts hold roles, so every other host holding some gets an offline notification.
    for (host, state) in b.work.role_holders_not_online() {
        b.emit(Change::ClearRoles { host, state }, Vec::new());
    }
    Reply::ok("OK: Switched into active mode.")
}

fn set_mode(b: &mut Batch<'_>, to: Mode) -> Reply {
    let old = b.work.mode;
    match to {
        Mode::Manual if old.is_manual() => Reply::ok("OK: Already in manual mode."),
        Mode::Manual => {
            let line = LogLine::info(format!("Admin changed mode from '{old}' to 'MANUAL'"));
            b.emit(
                Change::SetMode {
                    from: old,
                    to,
                    cause: String::new(),
                },
                vec![line],
            );
            Reply::ok("OK: Switched into manual mode.")
        }
        _ if old == Mode::Passive => Reply::ok("OK: Already in passive mode."),
        _ => {
            let cause = "Admin switched to passive mode.".to_string();
            let line = LogLine::info(cause.clone());
            b.emit(
                Change::SetMode {
                    from: old,
                    to: Mode::Passive,
                    cause,
                },
                vec![line],
            );
            Reply::ok("OK: Switched into passive mode.")
        }
    }
}

fn move_role(
    b: &mut Batch<'_>,
    checks: &CheckTable,
    role: &str,
    h: &str,
    force: bool,
    reachable: bool,
) -> Reply {
    let m = match check_move(b, role, h, force, reachable) {
        Ok(Move::Exclusive(m)) => m,
        Ok(Move::Balanced) => {
            // mysql-mmm answers the same when the host holds none of the role's IPs.
            if b.work.roles_of(h).iter().any(|r| r.role == role) {
                b.emit(
                    Change::RemoveRole {
                        host: h.to_string(),
                        role: role.to_string(),
                    },
                    Vec::new(),
                );
            }
            return Reply::ok(format!(
                "OK: Balanced role {role} has been removed from host '{h}'. Now you can wait some time and check new roles info!"
            ));
        }
        Err(reply) => return reply,
    };
    let from = m.owner.clone().unwrap_or_default();
    let admin_line = LogLine::fatal(format!("Admin moved role '{role}' from '{from}' to '{h}'"));
    if force {
        force_online(b, checks, &m, admin_line);
        move_exclusive(b, role, m.ip, h, Vec::new());
        return Reply::ok(format!(
            "OK: Role '{role}' has been moved from '{from}' to '{h}' enforcedly. Now you can wait some time and check new roles info!"
        ));
    }
    move_exclusive(b, role, m.ip, h, vec![admin_line]);
    Reply::ok(format!(
        "OK: Role '{role}' has been moved from '{from}' to '{h}'. Now you can wait some time and check new roles info!"
    ))
}

/// What a validated `move_role` moves.
enum Move {
    /// A balanced role: its IPs leave the host and get redistributed.
    Balanced,
    /// An exclusive role's IP goes to the host.
    Exclusive(ExclusiveMove),
}

/// An exclusive role move that passed mmm_control's checks.
struct ExclusiveMove {
    /// Target host.
    host: String,
    /// Its state now.
    state: HostState,
    /// The role's (first) IP.
    ip: Option<IpAddr>,
    /// Its current owner.
    owner: Option<String>,
}

/// mmm_control's checks of `move_role`, in its order, with its refusals.
fn check_move(
    b: &Batch<'_>,
    role: &str,
    h: &str,
    force: bool,
    reachable: bool,
) -> Result<Move, Reply> {
    let config = b.config;
    if b.work.mode == Mode::Passive {
        return Err(Reply::err(
            "ERROR: This command is not allowed in passive mode",
        ));
    }
    let Some(rc) = config.roles.iter().find(|r| r.name == role) else {
        return Err(Reply::err(format!("ERROR: Unknown role name '{role}'!")));
    };
    let Some(st) = b.work.state_of(h) else {
        return Err(unknown_host(h));
    };
    let am = config.active_master_role.as_deref() == Some(role);
    if force && !am {
        return Err(Reply::err(
            "ERROR: move_role --forced may be used for the active master role only!",
        ));
    }
    if rc.mode == RoleMode::Balanced {
        return Ok(Move::Balanced);
    }
    check_exclusive(b, rc, h, st, force, reachable).map(Move::Exclusive)
}

/// The rest of `move_role`'s checks for an exclusive role.
fn check_exclusive(
    b: &Batch<'_>,
    rc: &crate::config::RoleConfig,
    h: &str,
    st: HostState,
    force: bool,
    reachable: bool,
) -> Result<ExclusiveMove, Reply> {
    let role = rc.name.as_str();
    if force && !matches!(st, HostState::ReplicationFail | HostState::ReplicationDelay) {
        return Err(Reply::err(format!(
            "ERROR: Can't force move of role to host with state {st}."
        )));
    }
    if !force && st != HostState::Online {
        return Err(Reply::err(format!(
            "ERROR: Can't move role to host with state {st}."
        )));
    }
    if !rc.hosts.iter().any(|x| x == h) {
        return Err(Reply::err(format!(
            "ERROR: Host '{h}' can't handle role '{role}'. Only following hosts could: {}",
            rc.hosts.join(", ")
        )));
    }
    // A VIP-less role (no `ips`) has one bare instance.
    let ip = rc.ips.first().copied();
    let owner = b.work.owner_of(role, ip).map(str::to_string);
    if owner.as_deref() == Some(h) {
        return Err(Reply::ok(format!(
            "OK: Role is on '{h}' already. Skipping command."
        )));
    }
    if !reachable {
        return Err(Reply::err(format!(
            "ERROR: Can't reach agent daemon on '{h}'! Can't move roles there!"
        )));
    }
    if !force
        && b.work.mode == Mode::Active
        && let (Some(p), Some(o)) = (rc.prefer.as_deref(), owner.as_deref())
        && p == o
    {
        return Err(Reply::err(format!(
            "ERROR: Role '{role}' is assigned to preferred host '{o}'. Can't move it!"
        )));
    }
    Ok(ExclusiveMove {
        host: h.to_string(),
        state: st,
        ip,
        owner,
    })
}

/// `move_role --force`: the lagging target goes ONLINE, and the old owner leaves ONLINE when
/// its own replication is broken.
fn force_online(b: &mut Batch<'_>, checks: &CheckTable, m: &ExclusiveMove, admin_line: LogLine) {
    let h = &m.host;
    let line = LogLine::fatal(format!(
        "State of host '{h}' changed from {} to ONLINE (because of move_role --force)",
        m.state
    ));
    b.emit(
        Change::SetState {
            host: h.clone(),
            from: m.state,
            to: HostState::Online,
            clear_roles: false,
            clear_flapping: false,
            last_uptime_ms: None,
        },
        vec![admin_line, line],
    );
    let Some(o) = m.owner.as_deref() else {
        return;
    };
    if b.work.state_of(o) != Some(HostState::Online) {
        return;
    }
    let to = if !checks.ok(o, CheckKind::RepThreads) {
        HostState::ReplicationFail
    } else if !checks.ok(o, CheckKind::RepBacklog) {
        HostState::ReplicationDelay
    } else {
        return;
    };
    let line = LogLine::fatal(format!("State of host '{o}' changed from ONLINE to {to}"));
    b.emit(
        Change::SetState {
            host: o.to_string(),
            from: HostState::Online,
            to,
            clear_roles: b.work.mode == Mode::Active,
            clear_flapping: false,
            last_uptime_ms: None,
        },
        vec![line],
    );
}

/// Moves one role IP; the active-master role is released (or retargeted) instead, so it
/// reaches its new host only once the old one is proven fenced (also for `set_ip` in PASSIVE mode).
fn move_exclusive(b: &mut Batch<'_>, role: &str, ip: Option<IpAddr>, h: &str, lines: Vec<LogLine>) {
    let am = b.config.active_master_role.as_deref() == Some(role);
    let owner = b.work.owner_of(role, ip).map(str::to_string);
    let change = match (am, owner) {
        (true, Some(o)) => Change::ReleaseWriter {
            host: o,
            ip,
            target: Some(h.to_string()),
        },
        (true, None) if b.work.writer_release.is_some() => {
            let rel = b.work.writer_release.as_ref();
            if rel.and_then(|r| r.target.as_deref()) == Some(h) {
                // Already on its way there.
                return;
            }
            Change::RetargetWriter { to: h.to_string() }
        }
        (_, owner) => Change::AssignRole {
            role: role.to_string(),
            ip,
            from: owner,
            to: h.to_string(),
        },
    };
    b.emit(change, lines);
}

/// `confirm_fenced HOST`: records the operator's word as the proof the held-back writer
/// role needs to move on.
fn confirm_fenced(b: &mut Batch<'_>, h: &str) -> Reply {
    if b.work.state_of(h).is_none() {
        return unknown_host(h);
    }
    let Some(rel) = b.work.writer_release.clone().filter(|r| r.host == h) else {
        return Reply::err(format!(
            "ERROR: No role is held back until host '{h}' is fenced. Skipping command."
        ));
    };
    if let Some(proof) = rel.proof {
        return Reply::ok(format!(
            "OK: Host '{h}' is already known to be fenced ({proof}). Skipping command."
        ));
    }
    let line = LogLine::fatal(format!(
        "Admin confirmed that host '{h}' cannot take writes any more"
    ));
    let change = Change::ProveFenced {
        host: h.to_string(),
        epoch: rel.epoch,
        proof: crate::state::FenceProof::Operator,
    };
    b.emit(change, vec![line]);
    Reply::ok(format!(
        "OK: Host '{h}' recorded as fenced by the operator. The held-back writer role may move now."
    ))
}

fn set_ip(b: &mut Batch<'_>, ip_s: &str, h: &str) -> Reply {
    if b.work.mode != Mode::Passive {
        return Reply::err("ERROR: This command is only allowed in passive mode");
    }
    let ip: Option<IpAddr> = ip_s.parse().ok();
    let Some((rc, ip)) = ip.and_then(|ip| {
        b.config
            .roles
            .iter()
            .find(|r| r.ips.contains(&ip))
            .map(|r| (r, ip))
    }) else {
        return Reply::err(format!("ERROR: Unknown ip '{ip_s}'!"));
    };
    let Some(st) = b.work.state_of(h) else {
        return unknown_host(h);
    };
    if !rc.hosts.iter().any(|x| x == h) {
        return Reply::err(format!(
            "ERROR: Host '{h}' can't handle role '{}'. Following hosts could: {}",
            rc.name,
            rc.hosts.join(", ")
        ));
    }
    if st != HostState::Online {
        return Reply::err(format!(
            "ERROR: Host '{h}' is '{st}' at the moment. Can't move role with ip '{ip}' there."
        ));
    }
    let role = rc.name.clone();
    if b.work.owner_of(&role, ip) != Some(h) {
        let line = LogLine::fatal(format!("Admin set role '{role}({ip})' to host '{h}'"));
        move_exclusive(b, &role, Some(ip), h, vec![line]);
    }
    Reply::ok(format!("OK: Set role '{role}({ip})' to host '{h}'."))
}
