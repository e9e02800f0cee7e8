//! mysql-mmm's main loop as a pure function: host state transitions, the WAIT epilogue and
//! role distribution, returning the commands the leader proposes.
//!
//! Deliberate differences from mysql-mmm 2.2.1 (reference §11.9 and DESIGN §3):
//!
//! * **Order.** Every loop runs in config-file order (hosts, roles, role IPs, a role's hosts);
//!   Perl's hash order was arbitrary.
//! * **Fencing.** When the active-master role leaves a host it is only *released*; it is
//!   given to another host only once that host provably cannot accept writes, recorded in the
//!   replicated state ([`Change::ProveFenced`]): its agent confirmed (at an epoch ≥ the
//!   release epoch) that it is read-only without the writer IP, or the leader fenced its MySQL
//!   over SQL (the server stores a fencing epoch ≥ the release epoch), or `kill_host_bin`
//!   exited 0 for it, or an operator said so (`confirm_fenced`). No timeout hands it over:
//!   until one of these holds the writer stays orphaned. Going back to the very host it was
//!   released from needs no proof.
//! * **Writer moves** (`move_role`, `prefer` failback, `--force`) release the role first with
//!   a target; it reaches the target like any orphan once fenced, logged with mysql-mmm's
//!   `Orphaned role '…' has been assigned to '…'`. The `is held back until …` line is new.
//! * **Quorum.** Checks come merged from several monitors ([`crate::checks::merge`]); a
//!   monitor cut off from a host cannot fail it alone.
//! * **Fresh observations.** A new leader decides nothing until it has a full round of fresh
//!   observations (`Inputs::fresh`), so it never demotes on an empty check table.
//! * **Incomplete checks.** A host without a status for all four checks is not evaluated.
//! * **Flapping** is replicated, so it survives monitor restarts and leader changes.
//! * **auto_set_online of a flapping host** (after `flap_duration` without a failure) also
//!   clears the flapping flag: the host proved stable for a whole flap window.
//! * **Checker edge bug** (a recovery that stayed "failed") is fixed in [`crate::checks::Tracker`].
//! * **careful_startup** keeps mysql-mmm's real default (on).
//! * **Active master coming back.** A HARD_OFFLINE host that still holds the active-master
//!   role (MANUAL/WAIT keeps roles) goes to AWAITING_RECOVERY, never REPLICATION_*, because
//!   replication checks are ignored on the active master.
//! * **→ HARD_OFFLINE lines** always carry the `(ping: …, mysql: …)` detail.
//! * **Removing all roles from host** is logged whenever a host's roles are cleared, as
//!   mysql-mmm does, even when it holds none.
//! * **`set_ip` of the active-master role** (PASSIVE) releases it towards the named host
//!   instead of moving it at once; it lands there after PASSIVE ends, once fenced.
//! * **`set_active` from PASSIVE** also clears the roles of every non-ONLINE host (as from
//!   MANUAL/WAIT), so ACTIVE mode never leaves roles on failed hosts.
//! * **MANUAL/WAIT assign orphans of exclusive roles too** (mysql-mmm's code, not its
//!   manual) and never obey `prefer`; `prefer` counts for orphans only in ACTIVE mode.
//! * **Balancing** moves the last IP (config order) of the role held by the busiest host
//!   (ties: earliest host) — the choice the seed report's logs show.
//! * **60-second rule:** the agent's uptime is recorded when the host leaves ONLINE
//!   (mysql-mmm recorded it on every reply while ONLINE); unknown uptime disables the rule.
//! * **restart_after** stays accepted and without effect, as in mysql-mmm 2.2.1.
//! * The PASSIVE kill-hook quirk is gone: the core never runs hooks; in PASSIVE a failing
//!   host's roles are still cleared in the replicated state (pushed when PASSIVE ends).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::checks::{CheckKind, CheckTable};
use crate::command::{Change, Command, PostChangeStep, apply};
use crate::config::{Config, HostMode, RoleMode};
use crate::invariant::{self, Violation};
use crate::log::{LogLine, fmt_secs};
use crate::state::{ClusterState, FenceProof, HookVerdict, HostState, Mode, WriterRelease};
use crate::time::Timestamp;

/// Grace after a peer went ONLINE during which replication failures are ignored.
const PEER_GRACE: Duration = Duration::from_secs(60);

/// What the leader knows about one host's agent (not replicated).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentFacts {
    /// Whether the last call to the agent got an answer; None while the leader does not
    /// call it (its host fails ping: mysql-mmm does not even try, so that says nothing).
    pub reachable: Option<bool>,
    /// The agent's last reported OS uptime (ms); keep the last value while unreachable.
    pub uptime_ms: Option<u64>,
    /// Highest epoch at which the agent confirmed it is not writable and holds no writer IP.
    pub confirmed_not_writer_epoch: Option<u64>,
    /// Highest fencing epoch the host's MySQL stores after a fence by this leader.
    pub sql_fenced_epoch: Option<u64>,
    /// The release epoch for which `kill_host_bin` exited 0 for the host.
    pub killed_for_epoch: Option<u64>,
    /// The release epoch for which the host's own server lease timer has surely fired while
    /// the host was unreachable (see [`FenceProof::ServerTimer`]).
    pub timer_fenced_for_epoch: Option<u64>,
    /// Highest epoch at which the agent's writer lease ran out (it takes the writer role again
    /// only at a higher epoch).
    pub writer_ran_out_epoch: Option<u64>,
    /// What the agent's latest reply said of its server's lease timer (None before any).
    pub server_timer_on: Option<bool>,
}

/// What proves, from this leader's facts, that `rel.host` cannot accept writes any more.
pub fn release_proof(rel: &WriterRelease, inputs: &Inputs) -> Option<FenceProof> {
    let f = inputs.agents.get(&rel.host)?;
    if let Some(epoch) = f.confirmed_not_writer_epoch.filter(|e| *e >= rel.epoch) {
        return Some(FenceProof::Agent { epoch });
    }
    if let Some(epoch) = f.sql_fenced_epoch.filter(|e| *e >= rel.epoch) {
        return Some(FenceProof::Sql { epoch });
    }
    if f.killed_for_epoch == Some(rel.epoch) {
        return Some(FenceProof::KillHost);
    }
    (f.timer_fenced_for_epoch == Some(rel.epoch)).then_some(FenceProof::ServerTimer)
}

/// The log line of a host's server lease timer becoming usable or unusable.
fn timer_line(i: usize, on: bool, d: &Decider<'_>) -> LogLine {
    let name = &d.work.hosts[i].name;
    if on {
        LogLine::info(format!(
            "Server lease timer on host '{name}' is usable: it fences its server when the writer lease runs out"
        ))
    } else {
        LogLine::warn(format!(
            "Server lease timer on host '{name}' is not usable: an unreachable writer there is not proven fenced by time"
        ))
    }
}

/// Everything `decide` reads besides the replicated state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    /// Merged check statuses.
    pub checks: CheckTable,
    /// Agent facts by host name.
    pub agents: BTreeMap<String, AgentFacts>,
    /// When this node became leader.
    pub leader_since: Timestamp,
    /// The leader has a full round of fresh observations.
    pub fresh: bool,
    /// What this leader's run of the pre-failover hook decided, for the release of that
    /// epoch.
    pub pre_failover: Option<(u64, HookVerdict)>,
    /// This leader's Raft term (a post-change run begun in another term is not this
    /// leader's to finish as run).
    pub term: u64,
    /// The epoch whose post-change hook run this leader saw end, and how it ended.
    pub post_change_ran: Option<(u64, String)>,
}

/// Runs one main-loop iteration and returns the commands to propose, in order.
///
/// Every command is applied to a scratch copy as it is decided, so the batch applies as a
/// whole to `state`. A decided command that does not apply is a bug: it stops debug builds
/// and refuses the whole iteration (nothing to propose) in release builds.
pub fn decide(
    state: &ClusterState,
    inputs: &Inputs,
    now: Timestamp,
    config: &Config,
) -> Result<Vec<Command>, Violation> {
    if !inputs.fresh {
        return Ok(Vec::new());
    }
    let mut d = Decider {
        work: state.scratch(),
        out: Vec::new(),
        violation: None,
        inputs,
        now,
        config,
    };
    d.agents();
    d.hosts();
    if d.work.mode == Mode::Wait {
        d.wait_epilogue();
    }
    if d.work.mode != Mode::Passive {
        d.prove_release();
        d.record_hook();
        d.distribute();
        d.post_change();
    }
    match d.violation {
        Some(v) => Err(v),
        None => Ok(d.out),
    }
}

/// Whether the released writer may now go to `candidate`: back to the host it left, or
/// anywhere once the replicated state records the proof that the old holder is fenced.
pub fn writer_may_move(rel: &WriterRelease, candidate: &str) -> bool {
    rel.host == candidate || rel.proof.is_some()
}

/// Whether the pre-failover hook lets the released writer go to another host: it has no say
/// over an operator's or `prefer`'s move or without a `pre_failover_hook`; after a failure
/// it must have allowed it.
pub fn hook_allows(rel: &WriterRelease, config: &Config) -> bool {
    let configured = config
        .monitor
        .as_ref()
        .is_some_and(|m| m.pre_failover_hook.is_some());
    !rel.failover || !configured || rel.hook.as_ref().is_some_and(|v| v.allowed)
}

/// Whether the leader should run the pre-failover hook for `rel` now: a failover that is
/// proven fenced and only waits for the hook's verdict.
pub fn hook_due(rel: &WriterRelease, config: &Config) -> bool {
    rel.proof.is_some() && rel.hook.is_none() && !hook_allows(rel, config)
}

/// mysql-mmm's peer: the configured `peer`, or the active master for a slave without one.
pub fn peer_of(state: &ClusterState, host: &str, config: &Config) -> Option<String> {
    let hc = config.hosts.iter().find(|h| h.name == host)?;
    match (&hc.peer, hc.mode) {
        (Some(p), _) => Some(p.clone()),
        (None, HostMode::Slave) => state.active_master(config).map(str::to_string),
        (None, HostMode::Master) => None,
    }
}

fn ok_str(b: bool) -> &'static str {
    if b { "OK" } else { "not OK" }
}

/// What §3.3 reads about one host: its merged checks and its peer.
struct HostView {
    /// ping and mysql OK.
    pm: bool,
    /// rep_threads OK.
    t: bool,
    /// rep_backlog OK.
    b: bool,
    /// The peer is ONLINE.
    peer_online: bool,
    /// The peer went ONLINE less than 60 seconds ago.
    peer_in_grace: bool,
    /// The peer's ping and mysql are OK.
    peer_pm: bool,
}

struct Decider<'a> {
    work: ClusterState,
    out: Vec<Command>,
    violation: Option<Violation>,
    inputs: &'a Inputs,
    now: Timestamp,
    config: &'a Config,
}

impl Decider<'_> {
    fn emit(&mut self, change: Change, lines: Vec<LogLine>) {
        let cmd = Command {
            at: self.now,
            change,
            lines,
        };
        if self.violation.is_some() {
            return;
        }
        match apply(&mut self.work, &cmd, self.config) {
            Ok(_) => self.out.push(cmd),
            Err(e) => {
                let broken = invariant::check(false, || {
                    format!("decide produced a command that does not apply ({e}): {cmd:?}")
                });
                self.violation = broken.err();
            }
        }
    }

    fn checks(&self) -> &CheckTable {
        &self.inputs.checks
    }

    fn ok(&self, host: &str, c: CheckKind) -> bool {
        self.checks().ok(host, c)
    }

    fn state_line(host: &str, from: HostState, to: HostState) -> LogLine {
        LogLine::fatal(format!(
            "State of host '{host}' changed from {from} to {to}"
        ))
    }

    fn offline_line(&self, host: &str, from: HostState) -> LogLine {
        LogLine::fatal(format!(
            "State of host '{host}' changed from {from} to HARD_OFFLINE (ping: {}, mysql: {})",
            ok_str(self.ok(host, CheckKind::Ping)),
            ok_str(self.ok(host, CheckKind::Mysql))
        ))
    }

    fn set_state(
        &mut self,
        host: &str,
        from: HostState,
        to: HostState,
        clear: bool,
        line: LogLine,
    ) {
        // Unknown uptime disables the 60-second rule for this departure (0 = unknown).
        let last_uptime_ms = if from == HostState::Online {
            Some(
                self.inputs
                    .agents
                    .get(host)
                    .and_then(|f| f.uptime_ms)
                    .unwrap_or(0),
            )
        } else {
            None
        };
        self.emit(
            Change::SetState {
                host: host.to_string(),
                from,
                to,
                clear_roles: clear,
                clear_flapping: false,
                last_uptime_ms,
            },
            vec![line],
        );
    }

    /// §3.6: agent reachability flags.
    fn agents(&mut self) {
        for i in 0..self.work.hosts.len() {
            let name = self.work.hosts[i].name.clone();
            let down = self.work.hosts[i].agent_down;
            let Some(f) = self.inputs.agents.get(&name) else {
                continue;
            };
            if f.reachable == Some(false) && !down && self.ok(&name, CheckKind::Ping) {
                let line = LogLine::fatal(format!("Can't reach agent on host '{name}'"));
                self.emit(
                    Change::SetAgentDown {
                        host: name.clone(),
                        down: true,
                    },
                    vec![line],
                );
            } else if f.reachable == Some(true) && down {
                let line = LogLine::fatal(format!("Agent on host '{name}' is reachable again"));
                self.emit(
                    Change::SetAgentDown {
                        host: name.clone(),
                        down: false,
                    },
                    vec![line],
                );
            }
            if f.reachable == Some(true) && f.writer_ran_out_epoch >= Some(self.work.epoch) {
                self.regrant_writer(&name);
            }
            if let Some(on) = f.server_timer_on
                && on != self.work.hosts[i].server_timer
            {
                self.emit(
                    Change::SetServerTimer { host: name, on },
                    vec![timer_line(i, on, self)],
                );
            }
        }
    }

    /// The writer's agent let its lease run out at the current epoch (no leader renewed it in
    /// time) and takes the role again only at a newer one: release the role towards the same
    /// host, which needs no fencing wait, so it comes back at once at a new epoch.
    fn regrant_writer(&mut self, name: &str) {
        let Some(am) = self.config.active_master_role.clone() else {
            return;
        };
        let holds = self
            .work
            .host(name)
            .and_then(|h| h.roles.iter().find(|r| r.role == am).cloned())
            .filter(|_| self.work.state_of(name) == Some(HostState::Online));
        let Some(held) = holds else {
            return;
        };
        let ip = held.ip;
        if self.work.mode == Mode::Passive || self.work.writer_release.is_some() {
            return;
        }
        let line = LogLine::warn(format!(
            "Lease of role '{held}' on host '{name}' ran out at epoch {}; granting it again at a new epoch",
            self.work.epoch
        ));
        self.emit(
            Change::ReleaseWriter {
                host: name.to_string(),
                ip,
                target: Some(name.to_string()),
            },
            vec![line],
        );
    }

    fn peer_of(&self, host: &str) -> Option<String> {
        peer_of(&self.work, host, self.config)
    }

    fn can_hold_active_master(&self, host: &str) -> bool {
        let Some(am) = self.config.active_master_role.as_deref() else {
            return false;
        };
        self.config
            .roles
            .iter()
            .any(|r| r.name == am && r.hosts.iter().any(|h| h == host))
    }

    /// §3.3, every host in config order.
    fn hosts(&mut self) {
        let names: Vec<String> = self.work.hosts.iter().map(|h| h.name.clone()).collect();
        for host in names {
            if self.checks().complete(&host) {
                self.host(&host);
            }
        }
    }

    fn host(&mut self, host: &str) {
        let Some(st) = self.work.state_of(host) else {
            return;
        };
        let v = self.view(host);
        match st {
            HostState::AdminOffline | HostState::Unknown => {}
            HostState::Online => self.online(host, &v),
            HostState::AwaitingRecovery => {
                if !v.pm {
                    let line = self.offline_line(host, st);
                    self.set_state(host, st, HostState::HardOffline, false, line);
                } else if v.t && v.b {
                    self.awaiting_recovery_online(host);
                }
            }
            HostState::HardOffline => self.hard_offline(host, &v),
            HostState::ReplicationFail | HostState::ReplicationDelay => {
                self.replication_failed(host, st, &v);
            }
        }
    }

    /// The merged checks of `host` and what its peer looks like.
    fn view(&self, host: &str) -> HostView {
        let p = self.ok(host, CheckKind::Ping);
        let m = self.ok(host, CheckKind::Mysql);
        let peer = self.peer_of(host);
        let peer_status = peer.as_deref().and_then(|p| self.work.host(p));
        HostView {
            pm: p && m,
            t: self.ok(host, CheckKind::RepThreads),
            b: self.ok(host, CheckKind::RepBacklog),
            peer_online: peer_status.is_some_and(|s| s.state == HostState::Online),
            peer_in_grace: peer_status.is_some_and(|s| {
                s.state == HostState::Online
                    && s.online_since
                        .is_some_and(|since| self.now.since(since) < PEER_GRACE)
            }),
            peer_pm: peer
                .as_deref()
                .is_some_and(|p| self.ok(p, CheckKind::Ping) && self.ok(p, CheckKind::Mysql)),
        }
    }

    /// §3.3 ONLINE: failure → HARD_OFFLINE; replication trouble (not on the active master,
    /// not while the peer is in its 60-second grace) → REPLICATION_FAIL/DELAY.
    fn online(&mut self, host: &str, v: &HostView) {
        let st = HostState::Online;
        let clear = !self.work.mode.is_manual();
        if !v.pm {
            let line = self.offline_line(host, st);
            self.set_state(host, st, HostState::HardOffline, clear, line);
            return;
        }
        // The host the writer is on its way to counts as the active master (mysql-mmm moved
        // it at once): `move_role --force` to a REPLICATION_FAIL host must not be undone.
        let incoming = self
            .work
            .writer_release
            .as_ref()
            .is_some_and(|r| r.target.as_deref() == Some(host));
        if self.work.active_master(self.config) == Some(host) || incoming || v.peer_in_grace {
            return;
        }
        let to = if !v.t && v.peer_online && v.peer_pm {
            HostState::ReplicationFail
        } else if !v.b && v.t && v.peer_online && v.peer_pm {
            HostState::ReplicationDelay
        } else {
            return;
        };
        self.set_state(host, st, to, clear, Self::state_line(host, st, to));
    }

    /// §3.3 HARD_OFFLINE with ping and mysql back: AWAITING_RECOVERY, or REPLICATION_* for
    /// a host that cannot become the active master now.
    fn hard_offline(&mut self, host: &str, v: &HostView) {
        if !v.pm {
            return;
        }
        let st = HostState::HardOffline;
        let am = self.work.active_master(self.config);
        let guarded = (am.is_some() && am != Some(host)) || !self.can_hold_active_master(host);
        let to = if guarded && !v.t {
            HostState::ReplicationFail
        } else if guarded && !v.b {
            HostState::ReplicationDelay
        } else {
            HostState::AwaitingRecovery
        };
        self.set_state(host, st, to, false, Self::state_line(host, st, to));
    }

    /// §3.3 REPLICATION_FAIL / REPLICATION_DELAY: between the two, back to ONLINE (or
    /// AWAITING_RECOVERY when flapping), or HARD_OFFLINE.
    fn replication_failed(&mut self, host: &str, st: HostState, v: &HostView) {
        if st == HostState::ReplicationFail && v.pm && !v.b && v.t {
            let to = HostState::ReplicationDelay;
            self.set_state(host, st, to, false, Self::state_line(host, st, to));
        } else if st == HostState::ReplicationDelay && v.pm && !v.t {
            let to = HostState::ReplicationFail;
            self.set_state(host, st, to, false, Self::state_line(host, st, to));
        } else if v.pm && ((v.t && v.b) || !v.peer_online) {
            let flapping = self.work.host(host).is_some_and(|h| h.flapping);
            if flapping {
                let to = HostState::AwaitingRecovery;
                let line = LogLine::fatal(format!(
                    "State of host '{host}' changed from {st} to {to} (because it's flapping)"
                ));
                self.set_state(host, st, to, false, line);
            } else {
                let to = HostState::Online;
                self.set_state(host, st, to, false, Self::state_line(host, st, to));
            }
        } else if !v.pm {
            let line = self.offline_line(host, st);
            self.set_state(host, st, HostState::HardOffline, false, line);
        }
    }

    /// §3.3 AWAITING_RECOVERY 2a–2c, all checks OK.
    fn awaiting_recovery_online(&mut self, host: &str) {
        let Some(h) = self.work.host(host).cloned() else {
            return;
        };
        let mon = self.config.monitor.as_ref();
        let auto = mon.map(|m| m.auto_set_online).unwrap_or_default();
        let flap_duration = mon
            .map(|m| m.flap_duration)
            .unwrap_or(Duration::from_secs(3600));
        let st = HostState::AwaitingRecovery;
        let was_for = fmt_secs(Duration::from_secs(
            self.now.since(h.last_state_change).as_secs(),
        ));
        let change = |d: &mut Self, line: String, clear_flapping: bool| {
            d.emit(
                Change::SetState {
                    host: host.to_string(),
                    from: st,
                    to: HostState::Online,
                    clear_roles: false,
                    clear_flapping,
                    last_uptime_ms: None,
                },
                vec![LogLine::fatal(line)],
            );
        };
        if h.flapping {
            let quiet = self
                .checks()
                .last_change(host)
                .is_some_and(|lc| self.now.since(lc) >= flap_duration);
            if !auto.is_zero() && quiet {
                let line = format!(
                    "State of flapping host '{host}' changed from {st} to ONLINE because of \
                     auto_set_online and flap_duration({}) seconds passed without another \
                     failure. It was in state {st} for {was_for} seconds",
                    fmt_secs(flap_duration)
                );
                change(self, line, true);
            }
            return;
        }
        let uptime = self.inputs.agents.get(host).and_then(|f| f.uptime_ms);
        if let Some(up) = uptime
            && h.last_uptime_ms > 0
            && up > h.last_uptime_ms
            && up - h.last_uptime_ms < 60_000
        {
            let d = fmt_secs(Duration::from_millis(up - h.last_uptime_ms));
            let line = format!(
                "State of host '{host}' changed from {st} to ONLINE because it was down for only {d} seconds"
            );
            change(self, line, false);
            return;
        }
        if !auto.is_zero() && self.now.since(h.last_state_change) >= auto {
            let line = format!(
                "State of host '{host}' changed from {st} to ONLINE because of auto_set_online({} \
                 seconds). It was in state {st} for {was_for} seconds",
                fmt_secs(auto)
            );
            change(self, line, false);
        }
    }

    /// §3.4: WAIT → ACTIVE.
    fn wait_epilogue(&mut self) {
        let Some(am) = self.config.active_master_role.as_deref() else {
            return;
        };
        let Some(role) = self.config.roles.iter().find(|r| r.name == am) else {
            return;
        };
        let (Some(first), Some(second)) = (role.hosts.first(), role.hosts.get(1)) else {
            return;
        };
        let online = |n: &str| self.work.state_of(n) == Some(HostState::Online);
        let (a, b) = (online(first), online(second));
        let line = if a && b {
            LogLine::info(format!(
                "Nodes {first} and {second} are ONLINE, switching from mode 'WAIT' to 'ACTIVE'."
            ))
        } else {
            let wait = self
                .config
                .monitor
                .as_ref()
                .map(|m| m.wait_for_other_master);
            let wait = wait.unwrap_or(Duration::from_secs(120));
            if wait.is_zero() || a == b {
                return;
            }
            let (up, missing) = if a { (first, second) } else { (second, first) };
            let since = self.work.host(up).and_then(|h| h.online_since);
            if since.is_none_or(|s| self.now.since(s) < wait) {
                return;
            }
            LogLine::warn(format!(
                "Master {missing} did not come online for {}(wait_for_other_master) seconds. \
                 Switching from mode 'WAIT' to 'ACTIVE'",
                fmt_secs(wait)
            ))
        };
        self.emit(
            Change::SetMode {
                from: Mode::Wait,
                to: Mode::Active,
                cause: String::new(),
            },
            vec![line],
        );
        self.offline_notifications();
    }

    /// Records in the replicated state what proves the pending release's host fenced.
    fn prove_release(&mut self) {
        let Some(rel) = self.work.writer_release.clone() else {
            return;
        };
        if rel.proof.is_some() {
            return;
        }
        if let Some(proof) = release_proof(&rel, self.inputs) {
            let change = Change::ProveFenced {
                host: rel.host.clone(),
                epoch: rel.epoch,
                proof,
            };
            self.emit(change, Vec::new());
        }
    }

    /// Moves the post-change hook's cursor one step: start after the current epoch when it
    /// was just configured, begin the next epoch's run, finish the run this leader saw end,
    /// or finish as not known to have run one that an earlier leader began.
    fn post_change(&mut self) {
        let configured = self
            .config
            .monitor
            .as_ref()
            .is_some_and(|m| m.post_change_hook.is_some());
        if !configured {
            if self.work.post_change.is_some() {
                self.emit(Change::PostChange(PostChangeStep::Reset), Vec::new());
            }
            return;
        }
        let step = match self.work.post_change {
            None => Some(PostChangeStep::Skip {
                to: self.work.epoch,
            }),
            Some(c) => match c.started {
                None => (c.finished < self.work.epoch).then_some(PostChangeStep::Begin {
                    epoch: c.finished + 1,
                    term: self.inputs.term,
                }),
                Some((epoch, term)) if term != self.inputs.term => Some(PostChangeStep::Finish {
                    epoch,
                    ran: false,
                    how: String::new(),
                }),
                Some((epoch, _)) => self
                    .inputs
                    .post_change_ran
                    .as_ref()
                    .filter(|(e, _)| *e == epoch)
                    .map(|(_, how)| PostChangeStep::Finish {
                        epoch,
                        ran: true,
                        how: how.clone(),
                    }),
            },
        };
        if let Some(step) = step {
            self.emit(Change::PostChange(step), Vec::new());
        }
    }

    /// Records the pre-failover hook's verdict this leader got for the pending release.
    fn record_hook(&mut self) {
        let Some(rel) = self.work.writer_release.as_ref() else {
            return;
        };
        let Some((epoch, verdict)) = self.inputs.pre_failover.as_ref() else {
            return;
        };
        if *epoch != rel.epoch || rel.hook.is_some() || !rel.failover {
            return;
        }
        let change = Change::RecordHookVerdict {
            epoch: *epoch,
            verdict: verdict.clone(),
        };
        self.emit(change, Vec::new());
    }

    /// Clears the roles of every non-ONLINE host that still holds some.
    fn offline_notifications(&mut self) {
        for (host, state) in self.work.role_holders_not_online() {
            self.emit(Change::ClearRoles { host, state }, Vec::new());
        }
    }

    fn eligible(&self, hosts: &[String]) -> Vec<String> {
        hosts
            .iter()
            .filter(|h| {
                self.work
                    .host(h)
                    .is_some_and(|s| s.state == HostState::Online && !s.agent_down)
            })
            .cloned()
            .collect()
    }

    /// §4.2 steps 2–4.
    fn distribute(&mut self) {
        let active = self.work.mode == Mode::Active;
        let am = self.config.active_master_role.clone();
        for mode in [RoleMode::Exclusive, RoleMode::Balanced] {
            for role in self.config.roles.iter().filter(|r| r.mode == mode) {
                for instance in role.instances() {
                    if self.work.owner_of(&role.name, instance.ip).is_some() {
                        continue;
                    }
                    let eligible = self.eligible(&role.hosts);
                    if eligible.is_empty() {
                        break;
                    }
                    let preferred = role.prefer.as_ref().filter(|p| {
                        active && role.mode == RoleMode::Exclusive && eligible.contains(p)
                    });
                    let mut choice = match preferred {
                        Some(p) => p.clone(),
                        None => self.least_loaded(&eligible),
                    };
                    if am.as_deref() == Some(role.name.as_str())
                        && let Some(rel) = self.work.writer_release.clone()
                    {
                        if let Some(t) = rel.target.as_ref().filter(|t| eligible.contains(t)) {
                            choice = t.clone();
                        }
                        if !writer_may_move(&rel, &choice)
                            || (choice != rel.host && !hook_allows(&rel, self.config))
                        {
                            break;
                        }
                    }
                    let line = LogLine::info(format!(
                        "Orphaned role '{instance}' has been assigned to '{choice}'"
                    ));
                    self.emit(
                        Change::AssignRole {
                            role: role.name.clone(),
                            ip: instance.ip,
                            from: None,
                            to: choice,
                        },
                        vec![line],
                    );
                }
            }
        }
        if active {
            self.obey_preferences();
        }
        self.balance();
    }

    fn least_loaded(&self, eligible: &[String]) -> String {
        let mut best: Option<(u32, &String)> = None;
        for h in eligible {
            let c = self.work.role_count_x2(h, self.config);
            if best.is_none_or(|(bc, _)| c < bc) {
                best = Some((c, h));
            }
        }
        best.map(|(_, h)| h.clone()).unwrap_or_default()
    }

    /// §4.2 step 3 (ACTIVE only).
    fn obey_preferences(&mut self) {
        let am = self.config.active_master_role.clone();
        for role in self
            .config
            .roles
            .iter()
            .filter(|r| r.mode == RoleMode::Exclusive)
        {
            let Some(p) = role.prefer.clone() else {
                continue;
            };
            if self.eligible(std::slice::from_ref(&p)).is_empty() || !role.hosts.contains(&p) {
                continue;
            }
            for instance in role.instances() {
                let Some(owner) = self
                    .work
                    .owner_of(&role.name, instance.ip)
                    .map(str::to_string)
                else {
                    continue;
                };
                if owner == p {
                    continue;
                }
                let line = LogLine::info(format!(
                    "Moving role '{instance}' from host '{owner}' to preferred host '{p}'"
                ));
                let change = if am.as_deref() == Some(role.name.as_str()) {
                    Change::ReleaseWriter {
                        host: owner,
                        ip: instance.ip,
                        target: Some(p.clone()),
                    }
                } else {
                    Change::AssignRole {
                        role: role.name.clone(),
                        ip: instance.ip,
                        from: Some(owner),
                        to: p.clone(),
                    }
                };
                self.emit(change, vec![line]);
            }
        }
    }

    /// §4.2 step 4.
    fn balance(&mut self) {
        for role in self
            .config
            .roles
            .iter()
            .filter(|r| r.mode == RoleMode::Balanced)
        {
            let eligible = self.eligible(&role.hosts);
            if eligible.len() < 2 {
                continue;
            }
            let mut counts: Vec<(String, u32)> = eligible
                .iter()
                .map(|h| (h.clone(), self.work.role_count_x2(h, self.config)))
                .collect();
            for _ in 0..1000 {
                let (mut max_i, mut min_i) = (0, 0);
                for (i, (_, c)) in counts.iter().enumerate() {
                    if *c > counts[max_i].1 {
                        max_i = i;
                    }
                    if *c < counts[min_i].1 {
                        min_i = i;
                    }
                }
                if counts[max_i].1 <= counts[min_i].1 + 2 {
                    break;
                }
                let from = counts[max_i].0.clone();
                let to = counts[min_i].0.clone();
                let ip = role
                    .ips
                    .iter()
                    .rev()
                    .find(|ip| self.work.owner_of(&role.name, **ip) == Some(from.as_str()))
                    .copied();
                if let Some(ip) = ip {
                    let line = LogLine::info(format!(
                        "Moving role '{}({ip})' from host '{from}' to host '{to}'",
                        role.name
                    ));
                    self.emit(
                        Change::AssignRole {
                            role: role.name.clone(),
                            ip: Some(ip),
                            from: Some(from),
                            to,
                        },
                        vec![line],
                    );
                }
                counts[max_i].1 -= 2;
                counts[min_i].1 += 2;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::RoleIp;

    fn setup(peer_online_for: u64) -> (Config, ClusterState, Inputs, Timestamp) {
        let c = crate::testing::config(&[]);
        let now = Timestamp::from_secs(10_000);
        let mut st = ClusterState::new(&c, Timestamp::from_secs(0));
        for h in &mut st.hosts {
            h.state = HostState::Online;
            h.online_since = Some(Timestamp::from_secs(0));
        }
        if let Some(h) = st.host_mut("db1") {
            h.roles = vec![RoleIp::new("writer", "10.213.7.100".parse().expect("ip"))];
            h.online_since = Some(Timestamp::from_secs(10_000 - peer_online_for));
        }
        if let Some(h) = st.host_mut("db2") {
            h.roles = vec![RoleIp::new("reader", "10.213.7.101".parse().expect("ip"))];
        }
        if let Some(h) = st.host_mut("db3") {
            h.roles = vec![RoleIp::new("reader", "10.213.7.102".parse().expect("ip"))];
        }
        let mut checks = CheckTable::new();
        for h in ["db1", "db2", "db3"] {
            for k in CheckKind::ALL {
                let ok = !(h == "db2" && k == CheckKind::RepThreads);
                checks.record(h, k, ok, "x", Timestamp::from_secs(0));
            }
        }
        let inputs = Inputs {
            checks,
            agents: BTreeMap::new(),
            leader_since: now,
            fresh: true,
            ..Inputs::default()
        };
        (c, st, inputs, now)
    }

    #[test]
    fn replication_failure_is_ignored_while_the_peer_is_online_for_less_than_60s() {
        let (c, st, inputs, now) = setup(30);
        assert_eq!(decide(&st, &inputs, now, &c), Ok(Vec::new()));
        let (c, st, inputs, now) = setup(61);
        let cmds = decide(&st, &inputs, now, &c).expect("decides");
        assert_eq!(
            cmds[0].lines[0].text,
            "State of host 'db2' changed from ONLINE to REPLICATION_FAIL"
        );
        // Outside MANUAL mode the failing host loses its roles.
        assert!(matches!(
            &cmds[0].change,
            Change::SetState {
                clear_roles: true,
                ..
            }
        ));
    }

    #[test]
    fn a_writer_whose_lease_ran_out_gets_it_back_at_a_new_epoch() {
        let (c, mut st, mut inputs, now) = setup(61);
        inputs.checks.record(
            "db2",
            CheckKind::RepThreads,
            true,
            "x",
            Timestamp::from_secs(0),
        );
        st.epoch = 9;
        let facts = |ran_out| AgentFacts {
            reachable: Some(true),
            uptime_ms: None,
            confirmed_not_writer_epoch: Some(9),
            writer_ran_out_epoch: ran_out,
            ..AgentFacts::default()
        };
        inputs.agents.insert("db1".into(), facts(Some(9)));
        let cmds = decide(&st, &inputs, now, &c).expect("decides");
        let texts: Vec<&str> = cmds
            .iter()
            .flat_map(|c| c.lines.iter().map(|l| l.text.as_str()))
            .collect();
        assert_eq!(
            texts,
            [
                "Lease of role 'writer(10.213.7.100)' on host 'db1' ran out at epoch 9; granting it again at a new epoch",
                "Orphaned role 'writer(10.213.7.100)' has been assigned to 'db1'"
            ]
        );
        let mut after = st.clone();
        for cmd in &cmds {
            apply(&mut after, cmd, &c).expect("apply");
        }
        assert!(after.epoch > 9);
        assert_eq!(
            after.owner_of(
                "writer",
                "10.213.7.100".parse::<std::net::IpAddr>().expect("ip")
            ),
            Some("db1")
        );
        // Once the epoch moved past the run-out, nothing more happens; an older run-out neither.
        assert_eq!(decide(&after, &inputs, now, &c), Ok(Vec::new()));
        inputs.agents.insert("db1".into(), facts(Some(8)));
        assert_eq!(decide(&st, &inputs, now, &c), Ok(Vec::new()));
    }

    #[test]
    fn nothing_is_decided_without_fresh_observations() {
        let (c, st, mut inputs, now) = setup(61);
        inputs.fresh = false;
        assert_eq!(decide(&st, &inputs, now, &c), Ok(Vec::new()));
    }
}
