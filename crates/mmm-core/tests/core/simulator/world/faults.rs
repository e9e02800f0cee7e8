//! The world around the machines: host and monitor faults, the monitors' checks, and the
//! admin commands a simulated operator issues.

use super::*;

impl World {
    pub(super) fn host_faults(&mut self, i: usize) {
        let now = self.now;
        let per_step =
            |r: &mut Rng, per_mille_per_sec: u64| r.below(1000 * PER_SEC) < 2 * per_mille_per_sec;
        let r = &mut self.rng;
        let h = &mut self.hosts[i];
        let mut ev = Vec::new();
        if !h.machine_up && now >= h.down_until {
            h.machine_up = true;
            h.mysql_up = true;
            h.booted = now;
            h.agent.boot();
            ev.push("boots");
        }
        if h.machine_up && per_step(r, 3) {
            h.machine_up = false;
            h.down_until = now.plus(Duration::from_secs(10 + r.below(60)));
            h.agent.boot();
            h.frozen = false;
            h.held.clear();
            ev.push("crashes");
        }
        if h.machine_up && per_step(r, if h.mysql_up { 8 } else { 60 }) {
            h.mysql_up = !h.mysql_up;
            h.agent.mysql_changed();
            ev.push(if h.mysql_up {
                "mysqld up"
            } else {
                "mysqld down"
            });
        }
        if per_step(r, if h.repl_ok { 8 } else { 80 }) {
            h.repl_ok = !h.repl_ok;
            ev.push(if h.repl_ok {
                "replication ok"
            } else {
                "replication stopped"
            });
        }
        if per_step(r, if h.lag_ok { 6 } else { 80 }) {
            h.lag_ok = !h.lag_ok;
            ev.push(if h.lag_ok { "caught up" } else { "lagging" });
        }
        if per_step(r, if h.link_up { 5 } else { 100 }) {
            h.link_up = !h.link_up;
            ev.push(if h.link_up {
                "agent link up"
            } else {
                "agent link cut"
            });
        }
        if per_step(r, if h.replies_up { 3 } else { 100 }) {
            h.replies_up = !h.replies_up;
            ev.push(if h.replies_up {
                "agent answers"
            } else {
                "agent hangs"
            });
        }
        if per_step(r, if h.isolated { 50 } else { 2 }) {
            h.isolated = !h.isolated;
            ev.push(if h.isolated {
                "cut off from every monitor"
            } else {
                "reachable from the monitors again"
            });
        }
        let mut late = Vec::new();
        if h.machine_up && per_step(r, if h.frozen { 100 } else { 3 }) {
            h.frozen = !h.frozen;
            ev.push(if h.frozen {
                "agent frozen"
            } else {
                "agent resumed"
            });
            if !h.frozen {
                late = std::mem::take(&mut h.held);
            }
        }
        let name = h.name.clone();
        for e in ev {
            self.note(format!("{name} {e}"));
        }
        // Requests that waited in the frozen agent's socket arrive late, in order.
        self.stats.late_requests += late.len() as u64;
        for (from, id, call) in late {
            self.agent_request(from, id, &name, &call);
        }
    }

    pub(super) fn monitor_faults(&mut self) {
        for m in 0..self.monitors.len() {
            if self.monitors.len() > 1 && self.rng.below(1000 * PER_SEC) < 8 {
                let cut = if self.monitors[m].cut_off.is_some() {
                    None
                } else {
                    Some(self.rng.pick(&self.hosts).name.clone())
                };
                self.note(format!("mon{} cut off from {cut:?}", m + 1));
                self.monitors[m].cut_off = cut;
            }
            if self.rng.below(1000 * PER_SEC) < 4 {
                let ok = !self.monitors[m].network_ok;
                self.monitors[m].network_ok = ok;
                self.note(format!("mon{} network ok={ok}", m + 1));
                self.feed(m, Event::Network { ok });
            }
        }
        if self.raft.leader.is_some() && self.rng.below(1000 * PER_SEC) < 5 {
            self.depose();
        }
    }

    /// Every monitor checks every host once a second and reports to the leader.
    pub(super) fn observe(&mut self) {
        for m in 0..self.monitors.len() {
            for i in 0..self.hosts.len() {
                self.check(m, i);
            }
        }
        let Some(leader) = self.raft.leader else {
            return;
        };
        for m in 0..self.monitors.len() {
            let mon = &self.monitors[m];
            let table = MonitorTable {
                monitor: format!("mon{}", m + 1),
                network_ok: mon.network_ok,
                observed_at: self.now,
                table: mon.table.clone(),
            };
            if mon.network_ok && self.monitors[leader].leading {
                self.monitors[leader].reported.insert(m);
            }
            self.feed(
                leader,
                Event::Observations {
                    monitor: m as u64 + 1,
                    table,
                },
            );
        }
    }

    pub(super) fn check(&mut self, m: usize, i: usize) {
        let h = &self.hosts[i];
        let mon = &self.monitors[m];
        let reachable =
            h.machine_up && !h.isolated && mon.cut_off.as_deref() != Some(h.name.as_str());
        let sql = reachable && h.mysql_up;
        let lines = [
            if reachable {
                "OK: Pong!"
            } else {
                "ERROR: Could not ping"
            },
            if sql {
                "OK: Database is alive"
            } else {
                "ERROR: Connect error"
            },
            if !sql {
                "UNKNOWN: Connect error"
            } else if h.repl_ok {
                "OK"
            } else {
                "ERROR: Replication is broken"
            },
            if !sql {
                "UNKNOWN: Connect error"
            } else if h.lag_ok {
                "OK"
            } else {
                "ERROR: Backlog is too big"
            },
        ];
        let name = h.name.clone();
        let now = self.now;
        for (k, line) in CheckKind::ALL.into_iter().zip(lines) {
            let trap = k.config(&self.config.checks).trap_period;
            let mon = &mut self.monitors[m];
            let tr = mon.trackers.entry((name.clone(), k)).or_default();
            let res = CheckResult::parse(line);
            let o = tr.observe(&name, k, &res, mon.network_ok, trap, now);
            if let Some(ok) = o.report {
                mon.table.record(&name, k, ok, &res.message, now);
            }
        }
    }

    pub(super) fn admin(&mut self) {
        let Some(leader) = self.raft.leader else {
            return;
        };
        // The operator brings the cluster up in its first seconds, then acts now and then.
        let bring_up = self.secs() < 20.0 && self.rng.below(PER_SEC) == 0;
        if !bring_up && self.rng.below(1000 * PER_SEC) >= 40 {
            return;
        }
        let host = self.rng.pick(&self.hosts).name.clone();
        if bring_up {
            self.request(leader, vec!["set_online".into(), host]);
            return;
        }
        let words: Vec<String> = match self.rng.below(12) {
            0..=2 => vec!["set_online".into(), host],
            3 => vec!["set_offline".into(), host],
            4 | 5 => vec!["move_role".into(), "writer".into(), host],
            6 => vec!["move_role".into(), "reader".into(), host],
            7 => vec!["move_role".into(), "--force".into(), "writer".into(), host],
            8 => vec!["set_manual".into()],
            9 => vec!["set_active".into()],
            10 => vec!["set_passive".into()],
            _ => vec!["set_ip".into(), "10.213.7.100".into(), host],
        };
        let passive = self
            .raft
            .state
            .as_ref()
            .is_some_and(|s| s.mode == Mode::Passive);
        let words = if passive && self.rng.chance(500) {
            vec!["set_active".into()]
        } else {
            words
        };
        self.request(leader, words);
    }

    pub(super) fn request(&mut self, leader: usize, words: Vec<String>) {
        self.stats.admin_requests += 1;
        self.note(format!("admin {}", words.join(" ")));
        self.next_request += 1;
        let id = RequestId(self.next_request);
        self.feed(
            leader,
            Event::Request {
                id,
                request: Request::Command(words),
            },
        );
    }
}
