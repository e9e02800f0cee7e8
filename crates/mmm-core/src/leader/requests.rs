//! mmm_control commands on their way through the leader: the agent ping mysql-mmm does
//! first, then a place in line for the one proposal slot.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::admin::AdminRequest;
use crate::checks::{CheckKind, CheckTable};
use crate::config::Config;

use super::Out;
use super::io::{AgentCall, CallId, CheckRow, Effect, RequestId};

/// A parsed command waiting for its ping or its turn to propose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Waiting {
    /// The driver's id for the reply.
    pub(crate) id: RequestId,
    /// The command.
    pub(crate) request: AdminRequest,
    /// Whether the target host's agent answered the ping (true when none was needed).
    pub(crate) reachable: bool,
    /// Past this (monotonic) time the command is answered "no quorum" instead.
    pub(crate) deadline: Duration,
}

/// Every command between arrival and proposal.
#[derive(Debug, Clone, Default)]
pub(crate) struct Requests {
    pinging: BTreeMap<CallId, Waiting>,
    ready: VecDeque<Waiting>,
}

impl Requests {
    /// Takes a command in: pings its target host's agent first when mysql-mmm does.
    pub(crate) fn admit(&mut self, w: Waiting, config: &Config, out: &mut Out) {
        let target = w
            .request
            .target_host()
            .filter(|h| config.hosts.iter().any(|c| c.name == *h))
            .map(str::to_string);
        match target {
            Some(host) => {
                let id = out.call_id();
                out.effect(Effect::Call {
                    id,
                    host,
                    call: AgentCall::Ping,
                });
                self.pinging.insert(id, w);
            }
            None => self.ready.push_back(w),
        }
    }

    /// The ping `call` finished; false when it was no ping of a waiting command.
    pub(crate) fn pinged(&mut self, call: CallId, reachable: bool) -> bool {
        let Some(mut w) = self.pinging.remove(&call) else {
            return false;
        };
        w.reachable = reachable;
        self.ready.push_back(w);
        true
    }

    /// The next command ready to propose, first come first served.
    pub(crate) fn next(&mut self) -> Option<Waiting> {
        self.ready.pop_front()
    }

    /// Removes and returns the commands whose deadline passed.
    pub(crate) fn expired(&mut self, now: Duration) -> Vec<RequestId> {
        let mut gone = Vec::new();
        self.pinging.retain(|_, w| {
            let keep = now < w.deadline;
            if !keep {
                gone.push(w.id);
            }
            keep
        });
        self.ready.retain(|w| {
            let keep = now < w.deadline;
            if !keep {
                gone.push(w.id);
            }
            keep
        });
        gone
    }

    /// Removes and returns every waiting command (leadership ended).
    pub(crate) fn drain(&mut self) -> Vec<RequestId> {
        let mut gone: Vec<RequestId> = self.pinging.values().map(|w| w.id).collect();
        gone.extend(self.ready.drain(..).map(|w| w.id));
        self.pinging.clear();
        gone
    }
}

/// `checks [host|all [check|all]]`: the rows of the merged table, or mmm_control's error.
pub fn check_rows(
    config: &Config,
    table: &CheckTable,
    host: &str,
    check: &str,
) -> Result<Vec<CheckRow>, String> {
    let all = |s: &str| s.is_empty() || s == "all";
    let hosts: Vec<String> = if all(host) {
        config.hosts.iter().map(|h| h.name.clone()).collect()
    } else if config.hosts.iter().any(|h| h.name == host) {
        vec![host.to_string()]
    } else {
        return Err(format!("ERROR: Unknown host name '{host}'!"));
    };
    let kinds: Vec<CheckKind> = if all(check) {
        CheckKind::ALL.to_vec()
    } else {
        vec![check.parse::<CheckKind>().map_err(|e| e.to_string())?]
    };
    Ok(hosts
        .iter()
        .flat_map(|h| {
            kinds.iter().map(|k| CheckRow {
                host: h.clone(),
                check: *k,
                status: table.get(h, *k).cloned(),
            })
        })
        .collect())
}
