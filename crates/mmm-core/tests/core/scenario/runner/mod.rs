//! Runs a script against the real leader machine ([`mmm_core::leader::Leader`]): the
//! runner plays Raft (it applies every proposal at once), the other monitors (their
//! trackers and tables) and the agents ([`ScriptedAgent`]).

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use mmm_core::checks::{CheckKind, CheckResult, CheckTable, MonitorTable, Tracker};
use mmm_core::command::apply_proposal;
use mmm_core::config::{Config, Program, load_str};
use mmm_core::leader::{
    AgentCall, Answer, CallId, Effect, Event, HookOutcome, Leader, Now, PeerAsk, Replica, Request,
    RequestId, StatusPush, Switches, Timing,
};
use mmm_core::log::{LogLine, format_mmm};
use mmm_core::state::{ClusterState, HostState, Mode, RoleIp};
use mmm_core::time::Timestamp;

use super::agents::ScriptedAgent;
use super::clock::{local, parse_time};

mod script;

/// Node id of the leader's own monitor (monitor 1 of the script).
const ME: u64 = 1;

struct Monitor {
    trackers: BTreeMap<(String, CheckKind), Tracker>,
    table: CheckTable,
    network_ok: bool,
    /// Sends its table to the leader (not between `leader new` and `fresh`).
    reporting: bool,
}

impl Monitor {
    fn new() -> Self {
        Monitor {
            trackers: BTreeMap::new(),
            table: CheckTable::new(),
            network_ok: true,
            reporting: true,
        }
    }
}

/// What the transcript shows besides log lines, replies and dumps.
#[derive(Default)]
struct Trace {
    /// The leader's own log lines.
    log: bool,
    /// Agent calls.
    calls: bool,
    /// Raft switches, elections and transfer messages.
    raft: bool,
}

pub struct Runner {
    config: Option<Config>,
    leader: Option<Leader>,
    /// The replicated state (the runner is Raft); None before the first command.
    state: Option<ClusterState>,
    index: u64,
    /// The state changed outside a proposal (script lines) since the leader last saw it.
    dirty: bool,
    term: u64,
    monitors: Vec<Monitor>,
    quorum: usize,
    now: Timestamp,
    agents: BTreeMap<String, ScriptedAgent>,
    latest_push: BTreeMap<String, (CallId, StatusPush)>,
    next_request: u64,
    trace: Trace,
    /// mysql-mmm status file lines (`stored` inputs), handed to the machine when it starts.
    stored: String,
    /// How the next pre-failover hook runs end (`hook exit N [output]`, `hook hang`).
    hook: HookOutcome,
    pub out: String,
}

impl Runner {
    pub fn new() -> Self {
        Runner {
            config: None,
            leader: None,
            state: None,
            index: 0,
            dirty: false,
            term: 1,
            monitors: vec![Monitor::new()],
            quorum: 1,
            now: Timestamp::from_secs(0),
            agents: BTreeMap::new(),
            latest_push: BTreeMap::new(),
            next_request: 0,
            trace: Trace::default(),
            stored: String::new(),
            hook: HookOutcome {
                code: Some(0),
                output: String::new(),
            },
            out: String::new(),
        }
    }

    fn cfg(&self) -> Result<&Config, String> {
        self.config.as_ref().ok_or_else(|| "config first".into())
    }

    /// The replicated state, created (started) on first use as the scripts' `host` lines
    /// describe a running cluster.
    fn state(&mut self) -> Result<&mut ClusterState, String> {
        if self.state.is_none() {
            let mut st = ClusterState::new(self.cfg()?, self.now);
            st.started = true;
            self.state = Some(st);
        }
        self.dirty = true;
        self.state.as_mut().ok_or_else(|| "state".into())
    }

    fn agent(&mut self, host: &str) -> &mut ScriptedAgent {
        self.agents
            .entry(host.to_string())
            .or_insert_with(|| ScriptedAgent::new(host))
    }

    /// Log lines in mysql-mmm's layout; the lines of a multi-line message (the startup
    /// dump) continue with `+ `.
    fn print(&mut self, lines: &[LogLine]) {
        for l in lines {
            let text = format_mmm(local(self.now), l);
            let mut parts = text.lines();
            if let Some(first) = parts.next() {
                let _ = writeln!(self.out, "{first}");
            }
            for more in parts {
                let _ = writeln!(self.out, "{}", format!("+ {more}").trim_end());
            }
        }
    }

    /// The leader machine, created on first use as the leader since the script's start.
    fn leader(&mut self) -> Result<&mut Leader, String> {
        if self.leader.is_none() {
            let cfg = Arc::new(self.cfg()?.clone());
            let voters = cfg.monitor_nodes.len().max(1);
            let mut timing = Timing::new(
                &cfg,
                voters,
                Duration::from_millis(600),
                Duration::from_secs(3),
            );
            timing.observer_quorum = self.quorum;
            let stored = if self.stored.is_empty() {
                None
            } else {
                Some(mmm_core::status_file::parse(&self.stored).map_err(|e| e.to_string())?)
            };
            let mut l = Leader::new(cfg, ME, timing).with_stored(stored);
            let start = Now::at(Timestamp::from_secs(0));
            for ev in [
                Event::Network { ok: true },
                Event::QuorumFreshness { fresh: true },
                Event::Leadership {
                    leading: true,
                    term: self.term,
                    leader: Some(ME),
                },
            ] {
                l.step(ev, start);
            }
            self.leader = Some(l);
        }
        self.leader.as_mut().ok_or_else(|| "leader".into())
    }

    /// Feeds `event` and everything its effects lead to, in order.
    pub fn feed(&mut self, event: Event) -> Result<(), String> {
        let mut queue = VecDeque::new();
        if self.dirty {
            self.dirty = false;
            self.index += 1;
            queue.push_back(Event::Applied(self.replica()));
        }
        queue.push_back(event);
        while let Some(ev) = queue.pop_front() {
            let now = Now::at(self.now);
            let effects = self.leader()?.step(ev, now);
            for e in effects {
                if let Some(next) = self.effect(e)? {
                    queue.push_back(next);
                }
            }
        }
        Ok(())
    }

    fn replica(&self) -> Replica {
        Replica {
            index: self.index,
            state: self.state.clone(),
        }
    }

    /// Carries out one effect; returns the event that answers it, if any.
    fn effect(&mut self, e: Effect) -> Result<Option<Event>, String> {
        Ok(match e {
            Effect::Propose { id, commands } => {
                let cfg = self.cfg()?.clone();
                let at = commands.first().map_or(self.now, |c| c.at);
                let st = self
                    .state
                    .get_or_insert_with(|| ClusterState::new(&cfg, at));
                let outcome = apply_proposal(st, &commands, &cfg);
                if let Some(why) = &outcome.rejected {
                    return Err(format!("rejected: {why}"));
                }
                self.print(&outcome.lines);
                self.index += 1;
                Some(Event::Committed {
                    proposal: id,
                    outcome,
                    replica: self.replica(),
                })
            }
            Effect::Call { id, host, call } => Some(self.call(id, host, call)?),
            Effect::AskPeer { id, node, ask } => {
                if self.trace.raft {
                    let name = self.node_name(node);
                    let ask = match ask {
                        PeerAsk::HoldElections => "hold your elections",
                        PeerAsk::Campaign => "campaign",
                    };
                    let _ = writeln!(self.out, "> ask {name}: {ask}");
                }
                Some(Event::PeerAnswered {
                    call: id,
                    result: Ok(()),
                })
            }
            Effect::AwaitCaughtUp { id, node } => {
                if self.trace.raft {
                    let name = self.node_name(node);
                    let _ = writeln!(self.out, "> wait until {name} has the whole log");
                }
                Some(Event::CaughtUp {
                    call: id,
                    result: Ok(()),
                })
            }
            Effect::Campaign => {
                if self.trace.raft {
                    let _ = writeln!(self.out, "> campaign");
                }
                Some(Event::Campaigned { result: Ok(()) })
            }
            Effect::SetElections(s) => {
                if self.trace.raft {
                    let _ = writeln!(self.out, "> raft {}", switches(s));
                }
                None
            }
            Effect::Reply { answer, .. } => {
                self.reply(&answer);
                None
            }
            Effect::FenceMysql { id, host, epoch } => {
                if self.trace.calls {
                    let _ = writeln!(self.out, "> fence {host} over SQL at epoch {epoch}");
                }
                let result = self.agent(&host).fence_sql(epoch);
                Some(Event::MysqlFenced {
                    call: id,
                    host,
                    result,
                })
            }
            Effect::KillHost { id, host, ping_ok } => {
                if self.trace.calls {
                    let _ = writeln!(self.out, "> kill_host {host} {}", u8::from(ping_ok));
                }
                let outcome = self.agent(&host).kill();
                Some(Event::HostKilled {
                    call: id,
                    host,
                    outcome,
                })
            }
            Effect::RunPreFailoverHook {
                id, host, epoch, ..
            } => {
                if self.trace.calls {
                    let _ = writeln!(self.out, "> pre_failover_hook {host} {epoch}");
                }
                Some(Event::PreFailoverHookRan {
                    call: id,
                    outcome: self.hook.clone(),
                })
            }
            Effect::RunPostChangeHook {
                id, epoch, writer, ..
            } => {
                if self.trace.calls {
                    let _ = writeln!(self.out, "> post_change_hook {epoch} (writer '{writer}')");
                }
                Some(Event::PostChangeHookRan {
                    call: id,
                    outcome: HookOutcome {
                        code: Some(0),
                        output: String::new(),
                    },
                })
            }
            Effect::Log(line) => {
                if self.trace.log {
                    self.print(&[line]);
                }
                None
            }
        })
    }

    fn node_name(&self, id: u64) -> String {
        self.config
            .as_ref()
            .and_then(|c| c.monitor_nodes.iter().find(|n| n.id == id))
            .map_or_else(|| format!("node {id}"), |n| n.name.clone())
    }

    fn call(&mut self, id: CallId, host: String, call: AgentCall) -> Result<Event, String> {
        if self.trace.calls {
            let _ = writeln!(self.out, "> call {host} {}", describe(&call));
        }
        if let AgentCall::SetStatus(push) = &call {
            self.latest_push.insert(host.clone(), (id, push.clone()));
        }
        let writer = self.cfg()?.active_master_role.clone();
        let result = self.agent(&host).answer(&call, writer.as_deref());
        Ok(Event::AgentAnswered {
            call: id,
            host,
            result,
        })
    }

    /// The agent's facts changed: it answers the latest status it was pushed again.
    fn reanswer(&mut self, host: &str) -> Result<(), String> {
        let Some((id, push)) = self.latest_push.get(host).cloned() else {
            return Ok(());
        };
        let writer = self.cfg()?.active_master_role.clone();
        let result = self
            .agent(host)
            .answer(&AgentCall::SetStatus(push), writer.as_deref());
        self.feed(Event::AgentAnswered {
            call: id,
            host: host.to_string(),
            result,
        })
    }

    fn reply(&mut self, answer: &Answer) {
        let text = match answer {
            Answer::Reply(r) => r.text.clone(),
            Answer::Unavailable(why) => why.clone(),
            Answer::Checks(Ok(rows)) => format!("{} checks", rows.len()),
            Answer::Checks(Err(e)) => e.clone(),
        };
        for l in text.trim_end().lines() {
            let _ = writeln!(self.out, "{}", format!("= {l}").trim_end());
        }
    }

    /// Every monitor that reports sends its table to the leader.
    fn report(&mut self) -> Result<(), String> {
        let reports: Vec<Event> = self
            .monitors
            .iter()
            .enumerate()
            .filter(|(_, m)| m.reporting)
            .map(|(i, m)| Event::Observations {
                monitor: i as u64 + 1,
                table: MonitorTable {
                    monitor: format!("mon{}", i + 1),
                    network_ok: m.network_ok,
                    observed_at: self.now,
                    table: m.table.clone(),
                },
            })
            .collect();
        for r in reports {
            self.feed(r)?;
        }
        Ok(())
    }

    fn request(&mut self, request: Request) -> Result<(), String> {
        self.report()?;
        self.next_request += 1;
        self.feed(Event::Request {
            id: RequestId(self.next_request),
            request,
        })
    }

    fn observe(&mut self, m: usize, host: &str, check: CheckKind, raw: &str) -> Result<(), String> {
        let result = CheckResult::parse(raw);
        let trap = check.config(&self.cfg()?.checks).trap_period;
        let now = self.now;
        let mon = self.monitors.get_mut(m).ok_or("no such monitor")?;
        let tr = mon.trackers.entry((host.to_string(), check)).or_default();
        let o = tr.observe(host, check, &result, mon.network_ok, trap, now);
        if let Some(ok) = o.report {
            mon.table.record(host, check, ok, &result.message, now);
        }
        self.print(&o.lines);
        Ok(())
    }
}

fn describe(call: &AgentCall) -> String {
    match call {
        AgentCall::SetStatus(p) => {
            let roles: Vec<String> = p.status.roles.iter().map(ToString::to_string).collect();
            format!(
                "SetStatus epoch {} {} [{}] active master '{}'",
                p.status.epoch,
                p.status.state,
                roles.join(", "),
                p.status.active_master
            )
        }
        AgentCall::GetStatus => "GetStatus".into(),
        AgentCall::GetSystemStatus => "GetSystemStatus".into(),
        AgentCall::ClearBadRoles(f) => format!("ClearBadRoles epoch {}", f.epoch),
        AgentCall::Ping => "Ping".into(),
    }
}

fn switches(s: Switches) -> String {
    let on = |b: bool| if b { "on" } else { "off" };
    format!("heartbeat {}, elections {}", on(s.heartbeat), on(s.elect))
}
