//! The invariants of ARCHITECTURE.md as named checks, run on every step, every commit and
//! every status push of a simulation. A violation names the invariant it broke.

use std::collections::BTreeMap;

use mmm_core::command::{Change, Command, Outcome, apply, apply_proposal};
use mmm_core::config::Config;
use mmm_core::decide::{Inputs, decide, writer_may_move};
use mmm_core::leader::StatusPush;
use mmm_core::state::{ClusterState, FenceProof, HostState, Mode};
use mmm_core::time::Timestamp;

use super::world::{TICK, World};

/// What the checks remember between steps.
#[derive(Debug, Default)]
pub struct Checker {
    /// Violations found inside effect handling, reported at the end of the step.
    failures: Vec<String>,
    /// Highest replicated epoch seen.
    epoch: u64,
    /// Highest epoch each agent stored.
    agent_epochs: BTreeMap<String, u64>,
    /// (monitor, host) → when the monitor last pushed there, or began to want to.
    last_push: BTreeMap<(usize, String), Timestamp>,
    /// How writer handoffs were fenced.
    pub writer_after_confirm: u64,
    pub writer_after_fence: u64,
    /// Handoffs proven by the old holder's server lease timer (the world shows it read-only).
    pub writer_after_timer: u64,
    pub releases: u64,
    pub state_changes: u64,
}

fn fail(name: &str, what: String) -> Result<(), String> {
    Err(format!("invariant '{name}' broken: {what}"))
}

impl Checker {
    /// A status push leaves monitor `m` for `host`.
    pub fn pushed(&mut self, w: &World, m: usize, host: &str, push: &StatusPush) {
        let mon = &w.monitors[m];
        // Architecture Invariant: the leader pushes statuses only while its quorum contact
        // is fresh.
        if !mon.quorum_fresh || !mon.leading {
            self.failures.push(format!(
                "invariant 'pushes_need_fresh_quorum' broken: mon{} pushed to {host} without a \
                 fresh quorum (leading={}, fresh={})",
                m + 1,
                mon.leading,
                mon.quorum_fresh
            ));
        }
        // The epoch pushed is a committed one: the machine's replica's (in PASSIVE mode an
        // earlier one: the statuses the agents hold are renewed as they are).
        let committed = w.raft.state.as_ref().map_or(0, |s| s.epoch);
        let replica = mon.machine.replica().state.as_ref();
        let seen = replica.map_or(0, |s| s.epoch);
        let passive = replica.is_some_and(|s| s.mode == Mode::Passive);
        if push.status.epoch > committed || (push.status.epoch != seen && !passive) {
            self.failures.push(format!(
                "invariant 'pushed_epoch_is_committed' broken: mon{} pushed epoch {} to {host} \
                 (committed {committed}, its replica {seen})",
                m + 1,
                push.status.epoch
            ));
        }
        let mut sorted = push.status.roles.clone();
        sorted.sort();
        if sorted != push.status.roles {
            self.failures.push(format!(
                "invariant 'desired_sorted' broken: {:?}",
                push.status.roles
            ));
        }
        self.last_push.insert((m, host.to_string()), w.now);
    }

    /// Before a proposal of monitor `from` commits.
    pub fn before_commit(
        &mut self,
        w: &World,
        from: usize,
        commands: &[Command],
    ) -> Result<(), String> {
        let Some(state) = w.raft.state.as_ref() else {
            return Ok(());
        };
        let mut probe = state.scratch();
        for c in commands {
            self.writer_handoff_fenced(w, from, &probe, c)?;
            self.fresh_before_demotion(w, from, c)?;
            match &c.change {
                Change::ReleaseWriter { .. } => self.releases += 1,
                Change::SetState { .. } => self.state_changes += 1,
                _ => {}
            }
            if apply(&mut probe, c, &w.config).is_err() {
                break;
            }
        }
        Ok(())
    }

    /// Architecture Invariant: the writer goes to another host only when every previous
    /// holder provably cannot accept writes: the replicated state records a proof, and the
    /// proof holds in the world — its agent confirmed the drop at an epoch ≥ the release
    /// epoch (to this leader, or to an earlier one and it still holds that epoch without
    /// writing), or its server stores a fencing epoch ≥ the release epoch, or it is down, or
    /// its server's lease timer fenced it (read-only in the world).
    fn writer_handoff_fenced(
        &mut self,
        w: &World,
        from: usize,
        probe: &ClusterState,
        c: &Command,
    ) -> Result<(), String> {
        let Change::AssignRole { role, to, .. } = &c.change else {
            return Ok(());
        };
        let Some(rel) = probe.writer_release.as_ref() else {
            return Ok(());
        };
        if role != "writer" || &rel.host == to {
            return Ok(());
        }
        let machine = &w.monitors[from].machine;
        let confirmed = machine
            .facts()
            .get(&rel.host)
            .and_then(|f| f.confirmed_not_writer_epoch)
            .is_some_and(|e| e >= rel.epoch);
        let old = w.hosts.iter().find(|h| h.name == rel.host);
        let fenced = old.is_some_and(|h| h.agent.fence_epoch() >= rel.epoch);
        let down = old.is_some_and(|h| !h.machine_up);
        let read_only = old.is_some_and(|h| !h.mysql_up || !h.agent.writable());
        let by_timer = rel.proof == Some(FenceProof::ServerTimer);
        // A confirmation an earlier leadership recorded: the agent still holds that epoch or a
        // higher one, and neither writes nor holds the writer IP.
        let dropped = match rel.proof {
            Some(FenceProof::Agent { epoch }) => old.is_some_and(|h| {
                h.agent.epoch() >= epoch && !h.agent.writable() && !h.agent.holds_writer_ip()
            }),
            _ => false,
        };
        if rel.proof.is_none() {
            return fail(
                "writer_handoff_fenced",
                format!(
                    "writer given to {to} without a recorded proof that {} is fenced",
                    rel.host
                ),
            );
        }
        if confirmed || dropped {
            self.writer_after_confirm += 1;
        } else if fenced || down {
            self.writer_after_fence += 1;
        } else if by_timer && read_only {
            self.writer_after_timer += 1;
        } else {
            return fail(
                "writer_handoff_fenced",
                format!(
                    "writer given to {to} while {} is neither confirmed, fenced nor down ({:?})",
                    rel.host, rel.proof
                ),
            );
        }
        Ok(())
    }

    /// Architecture Invariant: a new leader demotes nothing until a quorum of monitors
    /// has reported since it took over.
    fn fresh_before_demotion(&self, w: &World, from: usize, c: &Command) -> Result<(), String> {
        let Change::SetState { from: st, to, .. } = &c.change else {
            return Ok(());
        };
        let by_admin = c.lines.iter().any(|l| l.text.starts_with("Admin "));
        if *st != HostState::Online || *to == HostState::Online || by_admin {
            return Ok(());
        }
        let reported = w.monitors[from].reported.len();
        if reported < w.timing.observer_quorum {
            return fail(
                "fresh_before_demotion",
                format!(
                    "mon{} demoted a host with reports from {reported} monitors since it leads",
                    from + 1
                ),
            );
        }
        Ok(())
    }

    /// After a proposal was applied to the replicated state.
    pub fn after_commit(
        &mut self,
        before: Option<&ClusterState>,
        after: Option<&ClusterState>,
        commands: &[Command],
        outcome: &Outcome,
        config: &Config,
    ) -> Result<(), String> {
        let (Some(before), Some(after)) = (before, after) else {
            return Ok(());
        };
        // Architecture Invariant: a rejected command changes nothing.
        if outcome.rejected.is_some() && before != after {
            return fail(
                "rejected_changes_nothing",
                format!("{:?} changed the state", outcome.rejected),
            );
        }
        // Architecture Invariant: apply is deterministic (every monitor applies the same).
        let mut replay = before.clone();
        let again = apply_proposal(&mut replay, commands, config);
        if &replay != after || &again != outcome {
            return fail("apply_deterministic", "a second replica differs".into());
        }
        // Architecture Invariant: the epoch grows by one with every committed change of
        // host states or roles and never otherwise.
        let mut probe = before.scratch();
        let mut changes = 0;
        if outcome.rejected.is_none() {
            for c in commands {
                let a = apply(&mut probe, c, config).map_err(|e| e.to_string())?;
                changes += u64::from(a.changed);
            }
        }
        if after.epoch != before.epoch + changes {
            return fail(
                "epoch_counts_changes",
                format!(
                    "epoch {} -> {} for {changes} changes",
                    before.epoch, after.epoch
                ),
            );
        }
        Ok(())
    }

    /// After every step.
    pub fn after_step(&mut self, w: &World) -> Result<(), String> {
        if let Some(f) = self.failures.first() {
            return Err(f.clone());
        }
        self.single_writer(w)?;
        self.epochs_monotonic(w)?;
        if let Some(st) = w.raft.state.as_ref() {
            roles_only_on_online_hosts(st)?;
        }
        self.no_stall(w)?;
        no_needless_orphan(w)
    }

    /// Architecture Invariant: at most one host is writable and at most one holds the writer
    /// VIP at any instant.
    fn single_writer(&self, w: &World) -> Result<(), String> {
        let up = w.hosts.iter().filter(|h| h.machine_up);
        let writable: Vec<&str> = up
            .clone()
            .filter(|h| h.mysql_up && h.agent.writable())
            .map(|h| h.name.as_str())
            .collect();
        if writable.len() > 1 {
            return fail("single_writer", format!("writable: {writable:?}"));
        }
        // A host fenced over SQL keeps the VIP until its agent removes it, but takes no
        // writes: it does not count as a second writer.
        // So does a host its server's lease timer fenced while its agent was frozen.
        let vip: Vec<&str> = up
            .filter(|h| h.agent.holds_writer_ip() && h.agent.epoch() > h.agent.fence_epoch())
            .filter(|h| !h.agent.timer_fenced())
            .map(|h| h.name.as_str())
            .collect();
        if vip.len() > 1 {
            return fail("single_writer", format!("writer VIP on {vip:?}"));
        }
        Ok(())
    }

    /// Architecture Invariant: the replicated epoch never goes back, and an agent never
    /// stores a lower epoch than it had.
    fn epochs_monotonic(&mut self, w: &World) -> Result<(), String> {
        let epoch = w.raft.state.as_ref().map_or(0, |s| s.epoch);
        if epoch < self.epoch {
            return fail(
                "epoch_monotonic",
                format!("replicated epoch {} -> {epoch}", self.epoch),
            );
        }
        self.epoch = epoch;
        for h in &w.hosts {
            let e = h.agent.epoch();
            let before = self.agent_epochs.insert(h.name.clone(), e).unwrap_or(0);
            if e < before {
                return fail(
                    "epoch_monotonic",
                    format!("agent on {} went from epoch {before} to {e}", h.name),
                );
            }
        }
        Ok(())
    }

    /// Architecture Invariant: every call has a timeout; a hung agent delays only its own
    /// calls. While the leader pushes to a host, the next push follows within
    /// `status_interval` plus one call bound.
    fn no_stall(&mut self, w: &World) -> Result<(), String> {
        let bound = w.timing.status_interval + w.timing.agent_timeout + TICK * 2;
        for (m, mon) in w.monitors.iter().enumerate() {
            for h in &w.hosts {
                let key = (m, h.name.clone());
                if !mon.machine.pushing_to(&h.name) {
                    self.last_push.remove(&key);
                    continue;
                }
                let since = *self.last_push.entry(key).or_insert(w.now);
                if w.now.since(since) > bound {
                    return fail(
                        "no_stall",
                        format!(
                            "mon{} wants to push to {} but sent nothing for {:?}",
                            m + 1,
                            h.name,
                            w.now.since(since)
                        ),
                    );
                }
            }
        }
        Ok(())
    }
}

/// In ACTIVE mode only ONLINE hosts hold roles, and the active master is never a lagging
/// or broken replica.
fn roles_only_on_online_hosts(st: &ClusterState) -> Result<(), String> {
    for h in &st.hosts {
        let writer = h.roles.iter().any(|r| r.role == "writer");
        if writer
            && matches!(
                h.state,
                HostState::ReplicationFail | HostState::ReplicationDelay
            )
        {
            return fail(
                "active_master_replicates",
                format!("active master {} is {}", h.name, h.state),
            );
        }
        if st.mode == Mode::Active && h.state != HostState::Online && !h.roles.is_empty() {
            return fail(
                "roles_only_on_online_hosts",
                format!("{} is {} with roles {:?}", h.name, h.state, h.roles),
            );
        }
    }
    Ok(())
}

/// When the leader is at rest (nothing in flight, nothing left to decide), no role stays
/// orphaned while a host may take it, except the writer while its old holder is not proven
/// fenced.
fn no_needless_orphan(w: &World) -> Result<(), String> {
    let Some(l) = w.raft.leader else {
        return Ok(());
    };
    let m = &w.monitors[l];
    let (Some(st), Some(merged), Some(since)) = (
        w.raft.state.as_ref(),
        m.machine.merged(),
        m.machine.leader_since(),
    ) else {
        return Ok(());
    };
    let fresh = m.reported.len() >= w.timing.observer_quorum;
    if !st.started || st.mode == Mode::Passive || !fresh || m.machine.proposing() {
        return Ok(());
    }
    let inputs = Inputs {
        checks: merged.clone(),
        agents: m.machine.facts(),
        leader_since: since.wall,
        fresh,
        pre_failover: m.machine.pre_failover(),
        // The simulated cluster configures no post-change hook.
        ..Inputs::default()
    };
    let pending = decide(st, &inputs, w.now, &w.config).map_err(|v| v.to_string())?;
    if !pending.is_empty() {
        return Ok(());
    }
    for orphan in st.orphans(&w.config) {
        let Some(rc) = w.config.roles.iter().find(|r| r.name == orphan.role) else {
            continue;
        };
        let eligible = rc.hosts.iter().any(|h| {
            st.host(h)
                .is_some_and(|s| s.state == HostState::Online && !s.agent_down)
        });
        let held_back = orphan.role == "writer"
            && st
                .writer_release
                .as_ref()
                .is_some_and(|rel| !writer_may_move(rel, ""));
        if eligible && !held_back {
            return fail(
                "no_needless_orphan",
                format!("{orphan} orphaned although a host may take it"),
            );
        }
    }
    Ok(())
}
