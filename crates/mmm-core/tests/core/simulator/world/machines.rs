//! The monitors' machines: feeding them events and carrying out their effects over the
//! simulated network and agents.

use super::*;

impl World {
    /// Steps monitor `m`'s machine and carries out what it asks.
    pub fn feed(&mut self, m: usize, event: Event) {
        match &event {
            Event::Leadership { leading, .. } => self.monitors[m].leading = *leading,
            Event::QuorumFreshness { fresh } => self.monitors[m].quorum_fresh = *fresh,
            _ => {}
        }
        let effects = self.monitors[m].machine.step(event, Now::at(self.now));
        for e in effects {
            self.effect(m, e);
        }
    }

    pub(super) fn effect(&mut self, m: usize, e: Effect) {
        match e {
            Effect::Propose { id, commands } => {
                let at = self
                    .now
                    .plus(Duration::from_millis(100 + self.rng.below(300)));
                self.raft.pending.push(Proposal {
                    from: m,
                    term: self.raft.term,
                    id,
                    commands,
                    at,
                });
            }
            Effect::Call { id, host, call } => self.call(m, id, host, call),
            Effect::AskPeer { id, .. } => self.feed(
                m,
                Event::PeerAnswered {
                    call: id,
                    result: Ok(()),
                },
            ),
            Effect::AwaitCaughtUp { id, .. } => self.feed(
                m,
                Event::CaughtUp {
                    call: id,
                    result: Ok(()),
                },
            ),
            Effect::Campaign => self.feed(m, Event::Campaigned { result: Ok(()) }),
            Effect::FenceMysql { id, host, epoch } => self.fence_mysql(m, id, host, epoch),
            Effect::KillHost { id, host, .. } => self.kill_host(m, id, host),
            // The simulated cluster configures no hooks; a run would succeed.
            Effect::RunPostChangeHook { id, .. } => self.feed(
                m,
                Event::PostChangeHookRan {
                    call: id,
                    outcome: mmm_core::leader::HookOutcome {
                        code: Some(0),
                        output: String::new(),
                    },
                },
            ),
            Effect::RunPreFailoverHook { id, .. } => self.feed(
                m,
                Event::PreFailoverHookRan {
                    call: id,
                    outcome: mmm_core::leader::HookOutcome {
                        code: Some(0),
                        output: String::new(),
                    },
                },
            ),
            Effect::SetElections(s) => {
                self.note(format!("mon{} raft switches {s:?}", m + 1));
                let was = self.monitors[m].last_switches;
                self.monitors[m].last_switches = s;
                // A leader that stops its heartbeats is replaced after an election timeout.
                if was.heartbeat && !s.heartbeat && self.raft.leader == Some(m) {
                    self.stats.step_asides += 1;
                    self.depose();
                }
            }
            Effect::Reply { answer, .. } => self.note(format!("mon{} replied {answer:?}", m + 1)),
            Effect::Log(line) => self.note(format!("mon{} log: {}", m + 1, line.text)),
        }
    }

    /// The leader fences `host`'s MySQL over SQL: it works when the server runs and this
    /// monitor reaches the host (not cut off from it, not cut off from every monitor).
    pub(super) fn fence_mysql(&mut self, m: usize, id: CallId, host: String, epoch: u64) {
        let cut = self.monitors[m].cut_off.as_deref() == Some(host.as_str());
        let result = match self.host_index(&host).map(|i| &mut self.hosts[i]) {
            Some(h) if h.machine_up && h.mysql_up && !cut && !h.isolated => {
                let stored = h.agent.sql_fence(epoch);
                self.note(format!("mon{} fenced {host} over SQL at {stored}", m + 1));
                Ok(SqlFenced {
                    epoch: stored,
                    killed: 0,
                })
            }
            _ => Err(format!("Connect error ({host}:3306): timed out")),
        };
        let ev = Event::MysqlFenced {
            call: id,
            host,
            result,
        };
        self.feed(m, ev);
    }

    /// `kill_host_bin`: the machine goes down until it reboots.
    pub(super) fn kill_host(&mut self, m: usize, id: CallId, host: String) {
        if let Some(i) = self.host_index(&host) {
            let h = &mut self.hosts[i];
            h.machine_up = false;
            h.down_until = self.now.plus(Duration::from_secs(30));
            h.agent.boot();
            h.frozen = false;
            h.held.clear();
        }
        let outcome = KillOutcome {
            code: Some(0),
            output: String::new(),
        };
        let ev = Event::HostKilled {
            call: id,
            host,
            outcome,
        };
        self.feed(m, ev);
    }

    pub(super) fn call(&mut self, m: usize, id: CallId, host: String, call: AgentCall) {
        if let AgentCall::SetStatus(push) = &call {
            let mut checker = std::mem::take(&mut self.checker);
            checker.pushed(self, m, &host, push);
            self.checker = checker;
            if self.raft.leader != Some(m) {
                self.stats.stale_pushes += 1;
            }
        }
        if matches!(call, AgentCall::GetStatus) {
            self.stats.startups += 1;
        }
        let reachable = self.host_index(&host).is_some_and(|i| {
            let h = &self.hosts[i];
            h.machine_up && h.link_up && !h.isolated
        });
        let ctx = (
            self.now,
            self.timing.agent_timeout,
            &self.weather,
            &mut self.rng,
        );
        self.net.call(m, id, &host, call, reachable, ctx);
    }

    /// Delivers due messages: agents handle requests, callers get their answers.
    pub(super) fn net_step(&mut self) {
        for msg in self.net.due(self.now) {
            match msg {
                Msg::Request {
                    from,
                    id,
                    host,
                    call,
                } => self.agent_request(from, id, &host, &call),
                Msg::Reply {
                    to,
                    id,
                    host,
                    result,
                } => {
                    if self.net.finish(to, id) {
                        self.feed(
                            to,
                            Event::AgentAnswered {
                                call: id,
                                host,
                                result,
                            },
                        );
                    }
                }
            }
        }
        for done in self.net.expired(self.now) {
            let ev = Event::AgentAnswered {
                call: done.id,
                host: done.host,
                result: done.result,
            };
            self.feed(done.to, ev);
        }
        self.stats.lost = self.net.lost;
        self.stats.duplicated = self.net.duplicated;
    }

    pub(super) fn agent_request(&mut self, from: usize, id: CallId, host: &str, call: &AgentCall) {
        let Some(i) = self.host_index(host) else {
            return;
        };
        let now = self.now;
        let h = &mut self.hosts[i];
        if !h.machine_up {
            return;
        }
        if h.frozen {
            h.held.push((from, id, call.clone()));
            return;
        }
        let uptime = now.since(h.booted);
        let result = h.agent.handle(call, now, h.mysql_up, uptime);
        let replies = h.replies_up;
        if let (AgentCall::SetStatus(p), Err(CallFailure::Refused(_))) = (call, &result) {
            self.stats.refused_pushes += 1;
            self.note(format!("{host} refused epoch {}", p.status.epoch));
        } else if let (AgentCall::SetStatus(p), Ok(AgentAnswer::Status(r))) = (call, &result) {
            let roles: Vec<String> = p.status.roles.iter().map(ToString::to_string).collect();
            self.note(format!(
                "{host} took epoch {} from mon{} [{}] writable={}",
                p.status.epoch,
                from + 1,
                roles.join(","),
                r.writable
            ));
        }
        if replies {
            let ctx = (self.now, &self.weather, &mut self.rng);
            self.net.answer(from, id, host, result, ctx);
        }
    }
}
