//! mysql-mmm's startup vote (reference §5.2 steps 7–9) as a pure function.
//!
//! With Raft the stored state comes from the replicated log; the vote runs only on an
//! unstarted state. The leader asks every agent for its own view and for the real system
//! (writable, role IPs present, replication source) and turns the answers into one
//! [`Change::Startup`] command. Hosts are visited in config order, so ties go to the host
//! listed first (mysql-mmm: "first seen").

use std::net::IpAddr;

use crate::command::{Change, Command};
use crate::config::{Config, HostMode, RoleMode};
use crate::log::LogLine;
use crate::state::{ClusterState, HostState, Mode, RoleIp};
use crate::time::Timestamp;

/// What the leader learnt about one host at startup; None fields mean "could not be asked".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostReport {
    /// Host name.
    pub host: String,
    /// State the agent holds (GetStatus), if it answered.
    pub agent_state: Option<HostState>,
    /// Roles the agent holds (GetStatus).
    pub agent_roles: Vec<RoleIp>,
    /// MySQL accepts writes (GetSystemStatus).
    pub writable: bool,
    /// Role IPs configured on the host's interface (GetSystemStatus).
    pub present: Vec<RoleIp>,
    /// Master_Host of the host's replication, if it is a slave of something.
    pub master_ip: Option<IpAddr>,
}

/// The vote's result: the command to propose and the lines to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupVote {
    /// The `Startup` command (its lines include the startup dump).
    pub command: Command,
    /// The active-master role was found on more than one host.
    pub conflict: bool,
}

fn yes(b: bool) -> &'static str {
    if b { "Yes" } else { "-" }
}

/// Runs the vote over `reports` (any order; missing hosts count as unreachable).
pub fn vote(
    state: &ClusterState,
    reports: &[HostReport],
    now: Timestamp,
    config: &Config,
) -> StartupVote {
    let mut v = Vote {
        state,
        reports,
        config,
        states: initial_states(state, reports),
        table: Vec::new(),
        lines: Vec::new(),
        conflict: false,
    };
    for mode in [RoleMode::Exclusive, RoleMode::Balanced] {
        for role in config.roles.iter().filter(|r| r.mode == mode) {
            for instance in role.instances() {
                v.role_ip(&role.hosts, instance);
            }
        }
    }
    let dump = v.dump();
    let Vote {
        mut lines,
        states,
        conflict,
        ..
    } = v;
    lines.push(LogLine::info(dump.clone()));
    let careful = config.monitor.as_ref().is_none_or(|m| m.careful_startup);
    let (mode, cause) = if conflict && careful {
        (
            Mode::Passive,
            format!("Conflicting roles during startup:\n{dump}"),
        )
    } else {
        (state.mode, state.passive_cause.clone())
    };
    lines.push(LogLine::info(format!(
        "Monitor started in {} mode.",
        mode.as_str().to_lowercase()
    )));
    StartupVote {
        command: Command {
            at: now,
            change: Change::Startup {
                hosts: states,
                mode,
                cause,
            },
            lines,
        },
        conflict,
    }
}

/// One row of the startup dump's role table: role, host, stored, system, agent.
type RoleRow = (RoleIp, String, bool, bool, bool);

/// The vote in progress.
struct Vote<'a> {
    state: &'a ClusterState,
    reports: &'a [HostReport],
    config: &'a Config,
    /// (host, state, roles won) in config order.
    states: Vec<(String, HostState, Vec<RoleIp>)>,
    table: Vec<RoleRow>,
    lines: Vec<LogLine>,
    conflict: bool,
}

/// Step 7: each host's state from the stored and the agent's state, first match wins.
fn initial_states(
    state: &ClusterState,
    reports: &[HostReport],
) -> Vec<(String, HostState, Vec<RoleIp>)> {
    state
        .hosts
        .iter()
        .map(|h| {
            let stored = (h.state != HostState::Unknown).then_some(h.state);
            let agent = reports
                .iter()
                .find(|r| r.host == h.name)
                .and_then(|r| r.agent_state);
            let either = |s: HostState| stored == Some(s) || agent == Some(s);
            let st = [
                HostState::AdminOffline,
                HostState::HardOffline,
                HostState::ReplicationFail,
                HostState::ReplicationDelay,
                HostState::Online,
            ]
            .into_iter()
            .find(|s| either(*s))
            .unwrap_or(HostState::AwaitingRecovery);
            (h.name.clone(), st, Vec::new())
        })
        .collect()
}

impl Vote<'_> {
    fn report(&self, host: &str) -> Option<&HostReport> {
        self.reports.iter().find(|r| r.host == host)
    }

    fn state_of(&self, host: &str) -> HostState {
        self.states
            .iter()
            .find(|(n, _, _)| n == host)
            .map_or(HostState::AwaitingRecovery, |(_, s, _)| *s)
    }

    fn is_active_master(&self, role: &str) -> bool {
        self.config.active_master_role.as_deref() == Some(role)
    }

    /// Step 8 for one role IP: the votes of every candidate host, the winner takes it.
    fn role_ip(&mut self, hosts: &[String], ri: RoleIp) {
        let role = ri.role.as_str();
        let configured_on = hosts
            .iter()
            .filter(|h| self.report(h).is_some_and(|r| r.present.contains(&ri)))
            .count();
        if configured_on > 1 {
            self.lines.push(LogLine::warn(format!(
                "Role '{ri}' was configured on {configured_on} hosts during monitor startup."
            )));
            self.conflict |= self.is_active_master(role);
        }
        let mut best: Option<(&String, u32)> = None;
        for h in hosts {
            let votes = self.votes(&ri, h);
            if votes > 0 && best.is_none_or(|(_, b)| votes > b) {
                best = Some((h, votes));
            }
        }
        if let Some((winner, _)) = best {
            self.award(&ri, winner);
        }
    }

    /// How many votes host `h` gets for `ri` (and its row in the dump).
    fn votes(&mut self, ri: &RoleIp, h: &str) -> u32 {
        let r = self.report(h);
        let stored = self.state.roles_of(h).contains(ri);
        let system = r.is_some_and(|r| r.present.contains(ri));
        let agent = r.is_some_and(|r| r.agent_roles.contains(ri));
        let writable = r.is_some_and(|r| r.writable);
        self.table
            .push((ri.clone(), h.to_string(), stored, system, agent));
        let st = self.state_of(h);
        let manual = self.state.mode.is_manual();
        if self.is_active_master(&ri.role) {
            if st == HostState::AdminOffline || (st == HostState::HardOffline && !manual) {
                return 0;
            }
            let slaves = self.slaves_of(h);
            4 * u32::from(writable)
                + 2 * u32::from(system)
                + u32::from(stored)
                + u32::from(agent)
                + slaves
        } else {
            let zero = st == HostState::AdminOffline
                || (!manual && !matches!(st, HostState::Online | HostState::AwaitingRecovery));
            if zero {
                return 0;
            }
            4 * u32::from(system) + 2 * u32::from(stored) + u32::from(agent)
        }
    }

    /// Slave hosts whose Master_Host is `h`'s IP.
    fn slaves_of(&self, h: &str) -> u32 {
        let my_ip = self.config.hosts.iter().find(|c| c.name == h).map(|c| c.ip);
        self.reports
            .iter()
            .filter(|s| {
                self.config
                    .hosts
                    .iter()
                    .any(|c| c.name == s.host && c.mode == HostMode::Slave)
                    && s.master_ip.is_some()
                    && s.master_ip == my_ip
            })
            .count() as u32
    }

    /// The winner gets the role IP; it may become ONLINE with it.
    fn award(&mut self, ri: &RoleIp, winner: &str) {
        let am = self.is_active_master(&ri.role);
        let manual = self.state.mode.is_manual();
        let Some(entry) = self.states.iter_mut().find(|(n, _, _)| n == winner) else {
            return;
        };
        entry.2.push(ri.clone());
        let promote = if am && manual {
            matches!(
                entry.1,
                HostState::ReplicationFail | HostState::ReplicationDelay
            )
        } else if am {
            entry.1 != HostState::AdminOffline
        } else {
            entry.1 == HostState::AwaitingRecovery
        };
        if promote {
            entry.1 = HostState::Online;
        }
    }

    /// The startup dump, as mysql-mmm logs it.
    fn dump(&self) -> String {
        let mut dump = String::from("Startup status:\nRoles:\n");
        dump.push_str(&format!(
            "{:<28} {:<12} {:<6} {:<6} {:<6}\n",
            "Role", "Host", "Stored", "System", "Agent"
        ));
        for (ri, h, s, y, a) in &self.table {
            dump.push_str(&format!(
                "{:<28} {:<12} {:<6} {:<6} {:<6}\n",
                ri.to_string(),
                h,
                yes(*s),
                yes(*y),
                yes(*a)
            ));
        }
        dump.push_str("Hosts:\n");
        dump.push_str(&format!(
            "{:<12} {:<12} {:<8} {:<18} {:<18}\n",
            "Host", "Master", "Writable", "Stored state", "Agent state"
        ));
        for h in &self.state.hosts {
            dump.push_str(&self.host_row(h));
        }
        dump.trim_end().to_string()
    }

    fn host_row(&self, h: &crate::state::HostStatus) -> String {
        let r = self.report(&h.name);
        let master = r
            .and_then(|r| r.master_ip)
            .and_then(|ip| self.config.hosts.iter().find(|c| c.ip == ip))
            .map(|c| c.name.clone())
            .unwrap_or_else(|| "-".into());
        let agent = r
            .and_then(|r| r.agent_state)
            .map(|s| s.as_str())
            .unwrap_or("?");
        let stored = if h.state == HostState::Unknown {
            "-"
        } else {
            h.state.as_str()
        };
        format!(
            "{:<12} {:<12} {:<8} {:<18} {:<18}\n",
            h.name,
            master,
            yes(r.is_some_and(|r| r.writable)),
            stored,
            agent
        )
    }
}

/// The cleanup order after the vote (reference §5.2 step 9): the passive master first, then
/// every non-master host, the active master last — so a second holder of the active-master
/// IP drops it (CLEAR_BAD_ROLES) before the winner is told to keep it. Empty in PASSIVE.
pub fn cleanup_order(state: &ClusterState, config: &Config) -> Vec<String> {
    if state.mode == Mode::Passive {
        return Vec::new();
    }
    let am = state.active_master(config).map(str::to_string);
    let masters = config
        .hosts
        .iter()
        .filter(|h| h.mode == HostMode::Master && Some(&h.name) != am.as_ref());
    let others = config
        .hosts
        .iter()
        .filter(|h| h.mode != HostMode::Master && Some(&h.name) != am.as_ref());
    let mut order: Vec<String> = masters.chain(others).map(|h| h.name.clone()).collect();
    order.extend(am.clone());
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::apply_all;

    fn cfg(careful: bool) -> Config {
        crate::testing::config(&[("careful_startup", if careful { "1" } else { "0" })])
    }

    fn w() -> RoleIp {
        RoleIp::new("writer", "10.213.7.100".parse().expect("ip"))
    }

    fn r1() -> RoleIp {
        RoleIp::new("reader", "10.213.7.101".parse().expect("ip"))
    }

    fn rep(h: &str, writable: bool, present: Vec<RoleIp>, master: Option<&str>) -> HostReport {
        HostReport {
            host: h.into(),
            agent_state: Some(HostState::Unknown),
            agent_roles: Vec::new(),
            writable,
            present,
            master_ip: master.map(|m| m.parse().expect("ip")),
        }
    }

    #[test]
    fn fresh_cluster_votes_the_writable_master() {
        let c = cfg(true);
        let st = ClusterState::new(&c, Timestamp::from_secs(0));
        let reports = vec![
            rep("db1", true, vec![w(), r1()], Some("10.213.7.12")),
            rep("db2", false, vec![], Some("10.213.7.11")),
            rep("db3", false, vec![], Some("10.213.7.11")),
        ];
        let v = vote(&st, &reports, Timestamp::from_secs(5), &c);
        assert!(!v.conflict);
        let mut st = st;
        apply_all(&mut st, std::slice::from_ref(&v.command), &c).expect("startup applies");
        assert!(st.started);
        assert_eq!(st.mode, Mode::Active);
        assert_eq!(st.state_of("db1"), Some(HostState::Online));
        assert_eq!(st.roles_of("db1"), &[r1(), w()]);
        assert_eq!(st.state_of("db2"), Some(HostState::AwaitingRecovery));
        assert_eq!(cleanup_order(&st, &c), vec!["db2", "db3", "db1"]);
        let last = v.command.lines.last().map(|l| l.text.as_str());
        assert_eq!(last, Some("Monitor started in active mode."));
    }

    #[test]
    fn writer_on_two_hosts_is_a_conflict_and_careful_startup_goes_passive() {
        let reports = vec![
            rep("db1", true, vec![w()], None),
            rep("db2", true, vec![w()], None),
            rep("db3", false, vec![], Some("10.213.7.11")),
        ];
        let c = cfg(true);
        let st = ClusterState::new(&c, Timestamp::from_secs(0));
        let v = vote(&st, &reports, Timestamp::from_secs(5), &c);
        assert!(v.conflict);
        let Change::Startup { hosts, mode, cause } = &v.command.change else {
            panic!("not a startup command")
        };
        assert_eq!(*mode, Mode::Passive);
        assert!(cause.starts_with("Conflicting roles during startup:\nStartup status:"));
        // db1 wins: db3 replicates from it.
        assert_eq!(hosts[0].2, vec![w()]);
        assert!(hosts[1].2.is_empty());
        assert_eq!(
            v.command.lines[0].text,
            "Role 'writer(10.213.7.100)' was configured on 2 hosts during monitor startup."
        );
        let c = cfg(false);
        let st = ClusterState::new(&c, Timestamp::from_secs(0));
        let v = vote(&st, &reports, Timestamp::from_secs(5), &c);
        let Change::Startup { mode, .. } = &v.command.change else {
            panic!("not startup")
        };
        assert_eq!(*mode, Mode::Active);
    }

    #[test]
    fn stored_admin_offline_keeps_its_state_and_gets_no_votes() {
        let c = cfg(true);
        let mut st = ClusterState::new(&c, Timestamp::from_secs(0));
        if let Some(h) = st.host_mut("db2") {
            h.state = HostState::AdminOffline;
            h.roles = vec![w()];
        }
        let reports = vec![
            rep("db1", false, vec![], None),
            rep("db2", true, vec![w()], None),
            rep("db3", false, vec![], None),
        ];
        let v = vote(&st, &reports, Timestamp::from_secs(5), &c);
        let Change::Startup { hosts, .. } = &v.command.change else {
            panic!("not startup")
        };
        assert_eq!(hosts[1].1, HostState::AdminOffline);
        assert!(hosts.iter().all(|(_, _, roles)| !roles.contains(&w())));
    }
}
