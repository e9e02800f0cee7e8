//! A new cluster's first leader (mysql-mmm §5.2 steps 6–9): ask every agent for its own
//! view and for the real system, all at once; vote; then clean up — SET_STATUS and
//! CLEAR_BAD_ROLES to every host but the active master concurrently, the active master
//! last. A host whose agent answered neither question is left to the regular pushes, so a
//! hung agent costs the startup one call bound and no more.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::config::Config;
use crate::desired::desired_status;
use crate::log::LogLine;
use crate::startup::{HostReport, cleanup_order};
use crate::state::ClusterState;

use super::Out;
use super::hosts::Hosts;
use super::io::{AgentAnswer, AgentCall, CallFailure, CallId, Effect, Fence, Now, StatusPush};

/// One startup question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ask {
    Agent,
    System,
}

/// One cleanup step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clean {
    Status,
    ClearBadRoles,
}

/// Where the startup is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Startup {
    /// Waiting for the agents' answers.
    Asking {
        pending: BTreeMap<CallId, (String, Ask)>,
        reports: BTreeMap<String, HostReport>,
        /// Hosts whose agent failed a question without answering (transport, timeout).
        silent: BTreeMap<String, usize>,
    },
    /// The vote is proposed; waiting for its commit.
    Voting {
        /// Hosts whose agent answered no question: no cleanup for them.
        skip: BTreeSet<String>,
    },
    /// The vote committed; cleaning up.
    Cleaning {
        pending: BTreeMap<CallId, (String, Clean)>,
        /// The active master, cleaned when every other host is done.
        last: Option<String>,
    },
}

/// What the cleanup sends: the leader's stamp on statuses and CLEAR_BAD_ROLES.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamp {
    pub(crate) term: u64,
    pub(crate) leader_id: u64,
    pub(crate) lease: Duration,
}

/// What a cleanup step reads and where its pushes go.
pub(crate) struct Ctx<'a> {
    pub(crate) state: &'a ClusterState,
    pub(crate) config: &'a Config,
    pub(crate) hosts: &'a mut Hosts,
    pub(crate) stamp: Stamp,
    pub(crate) now: Now,
}

impl Startup {
    /// Asks every host's agent both questions at once.
    pub(crate) fn begin(config: &Config, out: &mut Out) -> Startup {
        let mut pending = BTreeMap::new();
        let mut reports = BTreeMap::new();
        for h in &config.hosts {
            for (ask, call) in [
                (Ask::Agent, AgentCall::GetStatus),
                (Ask::System, AgentCall::GetSystemStatus),
            ] {
                let id = out.call_id();
                out.effect(Effect::Call {
                    id,
                    host: h.name.clone(),
                    call,
                });
                pending.insert(id, (h.name.clone(), ask));
            }
            reports.insert(
                h.name.clone(),
                HostReport {
                    host: h.name.clone(),
                    ..HostReport::default()
                },
            );
        }
        Startup::Asking {
            pending,
            reports,
            silent: BTreeMap::new(),
        }
    }

    /// Every question answered: the reports to vote on, and the hosts to skip in cleanup.
    pub(crate) fn ready_to_vote(&self) -> Option<(Vec<HostReport>, BTreeSet<String>)> {
        match self {
            Startup::Asking {
                pending,
                reports,
                silent,
            } if pending.is_empty() => Some((
                reports.values().cloned().collect(),
                silent
                    .iter()
                    .filter(|(_, n)| **n >= 2)
                    .map(|(h, _)| h.clone())
                    .collect(),
            )),
            _ => None,
        }
    }

    /// Whether the cleanup is under way (no regular pushes meanwhile).
    pub(crate) fn cleaning(&self) -> bool {
        matches!(self, Startup::Cleaning { .. })
    }

    /// The vote committed on `state`: starts the cleanup; None when there is nothing to
    /// clean (PASSIVE, or every host skipped).
    pub(crate) fn committed(
        skip: &BTreeSet<String>,
        ctx: &mut Ctx<'_>,
        out: &mut Out,
    ) -> Option<Startup> {
        let am = ctx.state.active_master(ctx.config).map(str::to_string);
        let order: Vec<String> = cleanup_order(ctx.state, ctx.config)
            .into_iter()
            .filter(|h| !skip.contains(h))
            .collect();
        for h in skip {
            out.log(LogLine::warn(format!(
                "Host '{h}' is left out of the startup cleanup: its agent did not answer"
            )));
        }
        let mut next = Startup::Cleaning {
            pending: BTreeMap::new(),
            last: am.clone().filter(|a| order.contains(a)),
        };
        for h in order.iter().filter(|h| Some(*h) != am.as_ref()) {
            next.send_status(h, ctx, out);
        }
        next.advance(ctx, out)
    }

    fn send_status(&mut self, host: &str, ctx: &mut Ctx<'_>, out: &mut Out) {
        let Startup::Cleaning { pending, .. } = self else {
            return;
        };
        let Some(status) = desired_status(ctx.state, host, ctx.config) else {
            return;
        };
        let push = StatusPush {
            status,
            term: ctx.stamp.term,
            leader_id: ctx.stamp.leader_id,
            lease: ctx.stamp.lease,
            basis: None,
        };
        match ctx.hosts.push_now(host, push, ctx.now, out) {
            Some(id) => {
                pending.insert(id, (host.to_string(), Clean::Status));
            }
            None => out.log(LogLine::warn(format!(
                "Startup status for host '{host}' not sent: a push is still in flight"
            ))),
        }
    }

    /// Starts the active master's cleanup once every other host is done; None when all is.
    fn advance(mut self, ctx: &mut Ctx<'_>, out: &mut Out) -> Option<Startup> {
        let Startup::Cleaning { pending, last } = &mut self else {
            return Some(self);
        };
        if !pending.is_empty() {
            return Some(self);
        }
        let am = last.take()?;
        self.send_status(&am, ctx, out);
        match &self {
            Startup::Cleaning { pending, .. } if pending.is_empty() => None,
            _ => Some(self),
        }
    }

    /// An agent answered: a startup question or a cleanup step. `pushed` is what the push
    /// bookkeeping made of the answer (Some(delivered) for a push). Returns what is left.
    pub(crate) fn answered(
        mut self,
        answer: (CallId, &str, &Result<AgentAnswer, CallFailure>),
        pushed: Option<bool>,
        ctx: &mut Ctx<'_>,
        out: &mut Out,
    ) -> Option<Startup> {
        let (call, host, result) = answer;
        match &mut self {
            Startup::Asking { .. } => {
                self.absorb(call, host, result, ctx.hosts, out);
                Some(self)
            }
            Startup::Voting { .. } => Some(self),
            Startup::Cleaning { pending, .. } => {
                let Some((_, step)) = pending.remove(&call) else {
                    return Some(self);
                };
                if step == Clean::Status && pushed == Some(true) {
                    let id = out.call_id();
                    out.effect(Effect::Call {
                        id,
                        host: host.to_string(),
                        call: AgentCall::ClearBadRoles(Fence {
                            epoch: ctx.state.epoch,
                            term: ctx.stamp.term,
                            leader_id: ctx.stamp.leader_id,
                        }),
                    });
                    pending.insert(id, (host.to_string(), Clean::ClearBadRoles));
                } else {
                    log_cleanup(host, step, result, out);
                }
                self.advance(ctx, out)
            }
        }
    }

    /// Files an answer to a startup question into the host's report.
    fn absorb(
        &mut self,
        call: CallId,
        host: &str,
        result: &Result<AgentAnswer, CallFailure>,
        hosts: &mut Hosts,
        out: &mut Out,
    ) {
        let Startup::Asking {
            pending,
            reports,
            silent,
        } = self
        else {
            return;
        };
        let Some((_, ask)) = pending.remove(&call) else {
            return;
        };
        let Some(r) = reports.get_mut(host) else {
            return;
        };
        match (ask, result) {
            (Ask::Agent, Ok(AgentAnswer::Agent(v))) => {
                r.agent_state = v.state;
                r.agent_roles = v.roles.clone();
                hosts.set_reachable(host, true);
            }
            (Ask::System, Ok(AgentAnswer::System(v))) => {
                r.writable = v.writable;
                r.present = v.present.clone();
                r.master_ip = v.master_ip;
            }
            (_, Ok(other)) => out.log(LogLine::error(format!(
                "Host '{host}' answered a startup question with {other:?}"
            ))),
            (_, Err(e)) => {
                if matches!(e, CallFailure::Unreachable(_)) {
                    *silent.entry(host.to_string()).or_default() += 1;
                }
                let what = match ask {
                    Ask::Agent => {
                        hosts.set_reachable(host, false);
                        format!("the agent on host '{host}'")
                    }
                    Ask::System => format!("the system '{host}'"),
                };
                out.log(LogLine::error(format!(
                    "The status of {what} could not be determined (answer was: {}).",
                    e.message()
                )));
            }
        }
    }
}

/// The cleanup's lines for one finished step.
fn log_cleanup(host: &str, step: Clean, result: &Result<AgentAnswer, CallFailure>, out: &mut Out) {
    match (step, result) {
        (Clean::Status, Err(e)) => out.log(LogLine::warn(format!(
            "Startup status for host '{host}' not delivered: {}",
            e.message()
        ))),
        (Clean::Status, Ok(_)) => {}
        (Clean::ClearBadRoles, Ok(AgentAnswer::Cleared(msg))) => out.log(LogLine::info(format!(
            "Startup cleanup of host '{host}': {msg}"
        ))),
        (Clean::ClearBadRoles, Ok(other)) => out.log(LogLine::error(format!(
            "CLEAR_BAD_ROLES on host '{host}' was answered with {other:?}"
        ))),
        (Clean::ClearBadRoles, Err(e)) => out.log(LogLine::warn(format!(
            "CLEAR_BAD_ROLES on host '{host}' failed: {}",
            e.message()
        ))),
    }
}
