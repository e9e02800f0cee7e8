//! Host state transitions of mysql-mmm's main loop: each host's checks and agent answers
//! decide whether it stays, fails (HARD_OFFLINE, REPLICATION_*) or comes back
//! (AWAITING_RECOVERY → ONLINE), and a writer whose agent lost its grant is re-granted.

use std::time::Duration;

use crate::checks::CheckKind;
use crate::command::Change;
use crate::log::{LogLine, fmt_secs};
use crate::state::{HostState, Mode};

use super::{Decider, HostView, PEER_GRACE, ok_str, timer_line};

impl Decider<'_> {
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
    pub(super) fn agents(&mut self) {
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

    /// §3.3, every host in config order.
    pub(super) fn hosts(&mut self) {
        let names: Vec<String> = self.work.hosts.iter().map(|h| h.name.clone()).collect();
        for host in names {
            if self.checks().complete(&host) {
                self.host(&host);
            }
        }
    }

    pub(super) fn host(&mut self, host: &str) {
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
}
