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
use crate::config::{Config, HostMode};
use crate::invariant::{self, Violation};
use crate::log::{LogLine, fmt_secs};
use crate::state::{ClusterState, FenceProof, HookVerdict, HostState, Mode, WriterRelease};
use crate::time::Timestamp;

mod hosts;
mod roles;

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
